/**
 * The admin listener of `sd start` (real processes): the primary runs it (no worker does), a
 * publish reaches clients on both workers of `--workers 2`, and, in a cluster (two `sd start
 * --cluster` servers on the Redis carrier, a private redis-server), a publish at server A's
 * admin listener reaches a client on server B.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { findBinary, freePort, PrivateServers } from '../data/private-servers.js'
import { ApiClient, clusterApp, startClusterServer } from '../e2e/cluster-procs.js'
import { startSd, type SdServer } from '../e2e/sd-process.js'
import { runSd } from '../cli/run-sd.js'
import { root, waitUntil } from '../helpers.js'
import { createPublisher } from '../../framework/client/index.js'

/** A publish's or an error's JSON answer, as the tests read it. */
interface Answer { reached?: number, error: { code: string, message: string } }

const TOKEN = 'procs-admin-token-0123456789'
const haveRedis = Boolean(findBinary('redis-server'))

async function post (port: number, body: unknown): Promise<{ status: number, body: Answer }> {
  const res = await fetch(`http://127.0.0.1:${port}/sd/publish`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(body) })
  return { status: res.status, body: await res.json() as Answer }
}

describe('sd start --workers 2 with SD_ADMIN_PORT', { timeout: 60_000 }, () => {
  let server: SdServer
  let adminPort: number
  const clients: ApiClient[] = []

  before(async () => {
    adminPort = await freePort()
    server = await startSd(['--workers', '2', '--root', clusterApp], { SD_ADMIN_PORT: String(adminPort), SD_ADMIN_TOKEN: TOKEN, NODE_CLUSTER_SCHED_POLICY: 'rr' })
  })
  after(async () => {
    for (const c of clients) c.close()
    await server?.stop()
  })

  test('the primary listens, no worker does; a publish reaches clients on both workers', async () => {
    const listening = server.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('admin listening on'))
    assert.equal(listening.length, 1, server.output())
    assert.equal(listening[0].role, 'primary')
    assert.equal(listening[0].msg, `admin listening on 127.0.0.1:${adminPort}`)
    assert.ok(!server.output().includes(TOKEN), 'the token is never logged')
    // clients until both workers hold some (connection ids start with the worker's `w<id>.`)
    const byWorker = new Map<string, ApiClient[]>()
    await waitUntil(async () => {
      const c = await ApiClient.connect(server.ports.tcp)
      clients.push(c)
      const id = await c.call<string>('bind', { uid: `u${clients.length}` })
      const w = id.slice(0, id.indexOf('.'))
      byWorker.set(w, [...byWorker.get(w) ?? [], c])
      return byWorker.size === 2
    }, 20_000, 'clients on both workers')
    const [first, second] = [...byWorker.values()].map((list) => list[0])
    const everyone = await post(adminPort, { to: { all: true }, data: { hello: 'all' } })
    assert.deepEqual(everyone, { status: 200, body: { reached: clients.length } })
    for (const c of clients) assert.deepEqual(await c.push((d) => (d as { hello?: string }).hello === 'all'), { hello: 'all' })
    // one uid on each worker, several times (the primary picks a worker round robin)
    const uidOf = (c: ApiClient): string => `u${clients.indexOf(c) + 1}`
    for (let i = 0; i < 4; i++) {
      const r = await post(adminPort, { to: { uids: [uidOf(first), uidOf(second)] }, data: { i } })
      assert.deepEqual(r, { status: 200, body: { reached: 2 } })
      assert.deepEqual(await first.push((d) => (d as { i?: number }).i === i), { i })
      assert.deepEqual(await second.push((d) => (d as { i?: number }).i === i), { i })
    }
    const status = await runSd(['status', '--root', clusterApp], root, { SD_RUN_DIR: server.runDir })
    assert.match(status.stdout, new RegExp(`admin 127\\.0\\.0\\.1:${adminPort}`))
  })
})

describe('a publish at one cluster server reaches a client on another (Redis carrier)', { timeout: 90_000, skip: haveRedis ? false : 'redis-server not installed' }, () => {
  const servers = new PrivateServers()
  let a: SdServer
  let b: SdServer
  let adminPort: number
  const clients: ApiClient[] = []

  before(async () => {
    const redisPort = await freePort()
    await servers.startRedis(redisPort)
    adminPort = await freePort()
    const env = { REDIS_URL: `redis://127.0.0.1:${redisPort}`, SD_CLUSTER_CARRIER: 'redis' }
    a = await startClusterServer('a', { ...env, SD_ADMIN_PORT: String(adminPort), SD_ADMIN_TOKEN: TOKEN })
    b = await startClusterServer('b', env)
  })
  after(async () => {
    for (const c of clients) c.close()
    await Promise.allSettled([a?.stop(), b?.stop()])
    await servers.cleanup()
  })

  test('to a uid, a group and everyone: the client on B receives it, reached counts B\'s connections', async () => {
    const onB = await ApiClient.connect(b.ports.tcp)
    clients.push(onB)
    await onB.call('bind', { uid: 'far-user' })
    await onB.call('join', { group: 'far-room' })
    // B's bind is known cluster-wide once A's bus finds the uid online
    const publisher = createPublisher({ url: `http://127.0.0.1:${adminPort}`, token: TOKEN })
    await waitUntil(async () => (await publisher.publish({ uid: 'far-user' }, { probe: true })) === 1, 10_000, 'A to reach the uid on B')
    assert.equal(await publisher.publish({ uid: 'far-user' }, { to: 'uid' }), 1)
    assert.deepEqual(await onB.push((d) => (d as { to?: string }).to === 'uid'), { to: 'uid' })
    assert.deepEqual(await post(adminPort, { to: { group: 'far-room' }, data: { to: 'group' } }), { status: 200, body: { reached: 1 } })
    assert.deepEqual(await onB.push((d) => (d as { to?: string }).to === 'group'), { to: 'group' })
    const onA = await ApiClient.connect(a.ports.tcp)
    clients.push(onA)
    await onA.call('bind', { uid: 'near-user' })
    // everyone = this server's clients and those of every server A's registry view lists as live
    // (polled; a loaded machine can drop B for a poll when its heartbeat is late): wait for both
    await waitUntil(async () => (await publisher.publish({ all: true }, { probe: true })) === 2, 10_000, 'A to count B among the live servers')
    assert.deepEqual(await post(adminPort, { to: { all: true }, data: { to: 'all' } }), { status: 200, body: { reached: 2 } })
    assert.deepEqual(await onB.push((d) => (d as { to?: string }).to === 'all'), { to: 'all' })
    assert.deepEqual(await onA.push((d) => (d as { to?: string }).to === 'all'), { to: 'all' })
    assert.deepEqual(await post(adminPort, { to: { uids: ['far-user', 'near-user'] }, data: { to: 'uids' } }), { status: 200, body: { reached: 2 } })
    assert.deepEqual(await onB.push((d) => (d as { to?: string }).to === 'uids'), { to: 'uids' })
  })
})
