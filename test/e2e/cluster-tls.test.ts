/**
 * Cluster links over TLS (`cluster.tls`, issue 20), real processes: a private Redis, a dispatch
 * server serving TLS and two servers linking to it with the certificate as `ca`; a sendToUid
 * crosses servers through the TLS links. A server without TLS cannot link to the TLS dispatch
 * port (its link stays down, the dispatcher counts a refusal and keeps serving the others).
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { findBinary, freePort, PrivateServers } from '../data/private-servers.js'
import { waitUntil } from '../helpers.js'
import { testCert } from '../tls-certs.js'
import type { SdServer } from './sd-process.js'
import { ApiClient, startClusterServer, startDispatcher, type DispatchProc } from './cluster-procs.js'

const haveRedis = Boolean(findBinary('redis-server'))

interface Where { node: string, cluster: { dispatchers: Array<{ name: string, status: string }> } }

/** A config folder: the test app's name, and `cluster` (written as it is). */
function configDir (base: string, name: string, cluster: unknown): string {
  const dir = join(base, name)
  mkdirSync(dir)
  writeFileSync(join(dir, 'app.mjs'), "export default { name: 'sd-cluster-test', logLevel: 'info' }\n")
  writeFileSync(join(dir, 'cluster.mjs'), `export default ${JSON.stringify(cluster)}\n`)
  return dir
}

describe('cluster links over TLS (real processes)', { timeout: 120_000, skip: haveRedis ? false : 'redis-server not installed' }, () => {
  const servers = new PrivateServers()
  const base = mkdtempSync(join(tmpdir(), 'sd-cluster-tls-'))
  let dispatcher: DispatchProc | undefined
  const nodes: SdServer[] = []
  const clients: ApiClient[] = []
  let env: Record<string, string>
  let tlsDir: string
  let plainDir: string

  before(async () => {
    const cert = testCert()
    const redisPort = await freePort()
    await servers.startRedis(redisPort)
    env = { REDIS_URL: `redis://127.0.0.1:${redisPort}`, SD_CLUSTER_CARRIER: 'dispatch' }
    tlsDir = configDir(base, 'tls', { tls: { key: cert.key, cert: cert.cert, ca: cert.cert } })
    plainDir = configDir(base, 'plain', {})
    dispatcher = await startDispatcher('td', { ...env, SD_CONFIG_DIR: tlsDir })
    for (const name of ['ta', 'tb']) nodes.push(await startClusterServer(name, { ...env, SD_CONFIG_DIR: tlsDir }))
  })

  after(async () => {
    for (const c of clients) c.close()
    await Promise.allSettled([...nodes.map((s) => s.stop()), dispatcher?.stop()])
    await servers.cleanup()
    rmSync(base, { recursive: true, force: true })
  })

  async function linked (server: SdServer): Promise<ApiClient> {
    const c = await ApiClient.connect(server.ports.tcp)
    clients.push(c)
    await waitUntil(async () => (await c.call<Where>('where')).cluster.dispatchers.some((d) => d.status === 'ready'), 15_000, `${server.ports.tcp} to link to td`)
    return c
  }

  test('a sendToUid crosses servers through TLS links', async () => {
    const [a, b] = [await linked(nodes[0]), await linked(nodes[1])]
    await b.call('bind', { uid: 'tls-b' })
    await waitUntil(async () => await a.call('online', { uid: 'tls-b' }), 5000, 'tls-b online from a')
    assert.equal(await a.call('toUid', { uid: 'tls-b', data: { over: 'tls' } }), 1)
    assert.deepEqual(await b.push(), { over: 'tls' })
  })

  test('a server without TLS cannot link to the TLS dispatch port; the TLS servers keep their links', async () => {
    const plain = await startClusterServer('tp', { ...env, SD_CONFIG_DIR: plainDir })
    nodes.push(plain)
    const c = await ApiClient.connect(plain.ports.tcp)
    clients.push(c)
    // it finds td in the registry and keeps trying; the handshake never passes
    await waitUntil(async () => (await c.call<Where>('where')).cluster.dispatchers.some((d) => d.name === 'td' || d.status !== 'ready'), 15_000, 'tp to see td')
    // refusals are logged as one summary per 10 s interval
    await waitUntil(() => /"tls handshake failed":\d+/.test(dispatcher!.output()), 25_000, 'the dispatcher to count the refused link')
    const where = await c.call<Where>('where')
    assert.ok(where.cluster.dispatchers.every((d) => d.status !== 'ready'), `tp has no ready link: ${JSON.stringify(where.cluster.dispatchers)}`)
    assert.equal(dispatcher!.child.exitCode, null, 'the dispatcher still runs')
    const a = clients[0]
    assert.equal(await a.call('toUid', { uid: 'tls-b', data: 'still' }), 1)
  })
})
