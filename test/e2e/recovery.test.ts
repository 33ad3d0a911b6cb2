/**
 * Recovery with real processes and the shared Redis (`recovery.store: 'redis'`, a key prefix
 * and cluster name of this file's own): an SDK client cut by the proxy gets every room and
 * private message it missed exactly once, in order, across a restart of its server (same
 * ports, messages sent before and after it), and across two cluster servers (Redis carrier)
 * when the proxy sends its reconnect to the other server.
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { root, waitUntil } from '../helpers.js'
import { startProxy, type TestProxy } from '../proxy.js'
import { deleteRedisKeys, redisUrl, testKeyPrefix } from '../stores.js'
import { cut, restore, user, type User } from '../client/recovery-user.js'
import { startSd, type SdServer } from './sd-process.js'

const recoveryApp = join(root, 'test/e2e/recovery-app')
const prefix = testKeyPrefix('recovery')
const clusterNames: string[] = []
const cleanups: Array<() => unknown> = []

after(async () => {
  for (const c of cleanups.reverse()) await c()
  await deleteRedisKeys(prefix)
  for (const name of clusterNames) await deleteRedisKeys(`sd:{${name}}`)
})

/** Env of one test: the shared Redis, the Redis history store, a cluster name of its own. */
function redisEnv (label: string): Record<string, string> {
  const name = `rec-e2e-${label}-${process.pid}-${Date.now()}`
  clusterNames.push(name)
  return { REDIS_URL: redisUrl, REC_E2E_CLUSTER: name, REC_E2E_PREFIX: prefix, REC_E2E_STORE: 'redis' }
}

async function start (args: string[], env: Record<string, string>): Promise<SdServer> {
  const server = await startSd([...args, '--root', recoveryApp], env)
  cleanups.push(() => server.stop())
  return server
}

async function proxyTo (port: number): Promise<TestProxy> {
  const proxy = await startProxy(port)
  cleanups.push(() => proxy.close())
  return proxy
}

async function login (url: string, uid: string): Promise<User> {
  const u = await user(url, uid, 'room1')
  cleanups.push(() => u.client.close())
  return u
}

const tcp = (port: number): string => `tcp://127.0.0.1:${port}`
const room = (u: User, data: string, self = true): Promise<unknown> => u.client.call('/api/toRoom', { room: 'room1', data, self })
const priv = (u: User, uid: string, data: string): Promise<unknown> => u.client.call('/api/toUid', { uid, data })

test('across a restart of the server (Redis history): every missed message once, in order, sent before and after the restart', { timeout: 60_000 }, async () => {
  const env = redisEnv('restart')
  const first = await start([], env)
  const port = first.ports.tcp
  const proxy = await proxyTo(port)
  const alice = await login(tcp(proxy.port), 'alice')
  const bob = await login(tcp(port), 'bob')
  await room(bob, 'b1')
  await priv(bob, 'alice', 'p1')
  await waitUntil(() => alice.seen.length >= 2, 3000, 'the first messages')
  assert.equal(await room(alice, 'a0', false), 1, 'her own, excluded: not recovered later')

  await cut(proxy, alice)
  await room(bob, 'b2')
  await priv(bob, 'alice', 'p2')
  const bobOpens = bob.opens()
  await first.stop()
  await start([], { ...env, SD_TCP_PORT: String(port) })
  await waitUntil(() => bob.opens() > bobOpens, 10_000, 'bob to reconnect to the new server')
  await room(bob, 'b3')
  await priv(bob, 'alice', 'p3')
  await room(bob, 'b4')

  await restore(proxy, alice)
  await waitUntil(() => alice.seen.length >= 7, 5000, 'the missed messages')
  assert.equal(await room(alice, 'a1', false), 1)
  await room(bob, 'b5')
  await priv(bob, 'alice', 'p4')
  await waitUntil(() => alice.seen.length >= 9, 3000, 'the live messages')

  assert.deepEqual(alice.of('group:room1'), [['b1', false], ['b2', true], ['b3', true], ['b4', true], ['b5', false]])
  assert.deepEqual(alice.of('uid:alice'), [['p1', false], ['p2', true], ['p3', true], ['p4', false]])
  assert.equal(alice.seen.length, 9, JSON.stringify(alice.seen))
  assert.deepEqual(alice.gaps, [], 'the epoch outlived the restart')
  assert.deepEqual(bob.of('group:room1').map(([d]) => d), ['b1', 'a0', 'b2', 'b3', 'b4', 'a1', 'b5'])
})

test('across two cluster servers (Redis carrier): cut from A, reconnected to B, every missed message once, in order', { timeout: 60_000 }, async () => {
  const env = { ...redisEnv('cluster'), SD_CLUSTER_CARRIER: 'redis', SD_CLUSTER_SECRET: 'e2e-recovery-secret-0123456789' }
  const [a, b] = await Promise.all([start(['--cluster'], { ...env, SD_NODE_NAME: 'a' }), start(['--cluster'], { ...env, SD_NODE_NAME: 'b' })])
  const proxy = await proxyTo(a.ports.tcp)
  const alice = await login(tcp(proxy.port), 'alice')
  const bob = await login(tcp(b.ports.tcp), 'bob')
  assert.equal((await alice.client.call('/api/where') as { node: string }).node, 'a')
  await waitUntil(async () => await bob.client.call('/api/present', { uid: 'alice', room: 'room1' }), 10_000, 'B to see alice in room1')
  await room(bob, 'b1')
  await priv(bob, 'alice', 'p1')
  await waitUntil(() => alice.seen.length >= 2, 3000, 'the first messages through the cluster')
  assert.equal(await room(alice, 'a0', false), 1, 'her own, excluded: not recovered later')

  await cut(proxy, alice)
  await room(bob, 'b2')
  await priv(bob, 'alice', 'p2')
  await room(bob, 'b3')
  await priv(bob, 'alice', 'p3')
  proxy.retarget(b.ports.tcp)
  await restore(proxy, alice)
  assert.equal((await alice.client.call('/api/where') as { node: string }).node, 'b')
  await waitUntil(() => alice.seen.length >= 6, 5000, 'the missed messages')
  assert.equal(await room(alice, 'a1', false), 1)
  await room(bob, 'b4')
  await priv(bob, 'alice', 'p4')
  await waitUntil(() => alice.seen.length >= 8, 3000, 'the live messages')

  assert.deepEqual(alice.of('group:room1'), [['b1', false], ['b2', true], ['b3', true], ['b4', false]])
  assert.deepEqual(alice.of('uid:alice'), [['p1', false], ['p2', true], ['p3', true], ['p4', false]])
  assert.equal(alice.seen.length, 8, JSON.stringify(alice.seen))
  assert.deepEqual(alice.gaps, [])
  assert.deepEqual(bob.of('group:room1').map(([d]) => d), ['b1', 'a0', 'b2', 'b3', 'a1', 'b4'])
})
