/**
 * The cluster on one machine over unix sockets only, with real processes: a private
 * `redis-server` with no TCP port (`REDIS_URL=unix:<path>` for every node), `sd start --dispatch`
 * with `SD_DISPATCH_PATH` on a path where a stale socket file was left, and two servers of the
 * test app whose `cluster.dispatchers` is `['unix:<path>']`. A cross-server sendToUid is
 * delivered through the socket link; stopping the dispatcher removes its socket file.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, lstatSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { findBinary } from '../data/private-servers.js'
import { startUnixRedis, type UnixRedis } from '../data/unix-redis.js'
import { staleSocketFile } from '../cluster/link-helpers.js'
import { waitUntil } from '../helpers.js'
import type { SdServer } from './sd-process.js'
import { ApiClient, startClusterServer, startDispatcher, type DispatchProc } from './cluster-procs.js'

const haveRedis = Boolean(findBinary('redis-server'))

interface Where { node: string, cluster: { dispatchers: Array<{ address: string, name: string, status: string }> } }

describe('cluster over unix sockets: Redis and dispatch links (real processes)', { timeout: 90_000, skip: haveRedis ? false : 'redis-server not installed' }, () => {
  let ux: UnixRedis
  let socket: string
  let dispatcher: DispatchProc | undefined
  const servers: SdServer[] = []
  const clients: ApiClient[] = []

  before(async () => {
    ux = await startUnixRedis()
    socket = join(ux.dir, 'dispatch.sock')
    await staleSocketFile(socket) // a dispatcher that died of SIGKILL left it
    // the servers' config: the test app's name (same cluster) and the dispatcher's socket
    const configDir = join(ux.dir, 'config')
    mkdirSync(configDir)
    writeFileSync(join(configDir, 'app.mjs'), "export default { name: 'sd-cluster-test', logLevel: 'info' }\n")
    writeFileSync(join(configDir, 'cluster.mjs'), `export default { dispatchers: [${JSON.stringify(`unix:${socket}`)}] }\n`)
    const env = { REDIS_URL: `unix:${ux.path}` }
    dispatcher = await startDispatcher('ux-d', { ...env, SD_DISPATCH_PATH: socket })
    for (const name of ['ux-a', 'ux-b']) servers.push(await startClusterServer(name, { ...env, SD_CONFIG_DIR: configDir }))
  })

  after(async () => {
    for (const c of clients) c.close()
    await Promise.allSettled([...servers.map((s) => s.stop()), dispatcher?.stop()])
    await ux?.stop()
  })

  test('the dispatcher replaced the stale socket file and listens there', () => {
    assert.ok(lstatSync(socket).isSocket())
    assert.ok(dispatcher!.output().includes(` and unix:${socket}`), 'its log says where it listens')
  })

  test('a sendToUid from server A reaches a user on server B through the socket link', async () => {
    const [a, b] = await Promise.all(servers.map((s) => ApiClient.connect(s.ports.tcp)))
    clients.push(a, b)
    for (const c of [a, b]) {
      const where = await waitUntil(async () => {
        const w = await c.call<Where>('where')
        return w.cluster.dispatchers.some((d) => d.status === 'ready') ? w : undefined
      }, 5000, 'a ready link to the dispatcher')
      assert.deepEqual(where.cluster.dispatchers.map((d) => [d.address, d.name, d.status]), [[`unix:${socket}`, 'ux-d', 'ready']])
    }
    await b.call('bind', { uid: 'ux-bob' })
    await a.call('bind', { uid: 'ux-ann' })
    assert.equal(await a.call('toUid', { uid: 'ux-bob', data: { hi: 'from a' } }), 1)
    assert.deepEqual(await b.push(), { hi: 'from a' })
    assert.equal(await b.call('toUid', { uid: 'ux-ann', data: 'from b' }), 1)
    assert.equal(await a.push(), 'from b')
    assert.equal(await a.call('online', { uid: 'ux-bob' }), true, 'the registry (over the Redis socket) knows bob')
  })

  test('stopping the dispatcher removes its socket file', async () => {
    await dispatcher!.stop()
    dispatcher = undefined
    assert.equal(existsSync(socket), false)
  })
})
