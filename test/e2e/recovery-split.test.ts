/**
 * Recovery in split mode (`sd start --split`, real processes, the shared Redis as the history
 * store): an SDK client cut by the proxy from the gateway gets the room and private messages
 * it missed exactly once, in order, while `sd reload` replaces every worker in between.
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { root, waitUntil } from '../helpers.js'
import { startProxy } from '../proxy.js'
import { deleteRedisKeys, redisUrl, testKeyPrefix } from '../stores.js'
import { cut, restore, user, type User } from '../client/recovery-user.js'
import { reload, startGatewayRun, workerPidsOf } from './gateway-procs.js'

const recoveryApp = join(root, 'test/e2e/recovery-app')
const prefix = testKeyPrefix('recovery-split')
const cluster = `rec-e2e-split-${process.pid}-${Date.now()}`
const cleanups: Array<() => unknown> = []

after(async () => {
  for (const c of cleanups.reverse()) await c()
  await deleteRedisKeys(prefix)
  await deleteRedisKeys(`sd:{${cluster}}`)
})

test('split mode: a cut client recovers room and private messages once, in order, across an `sd reload` of the workers', { timeout: 60_000 }, async () => {
  const env = { REDIS_URL: redisUrl, REC_E2E_CLUSTER: cluster, REC_E2E_PREFIX: prefix, REC_E2E_STORE: 'redis' }
  const server = await startGatewayRun(recoveryApp, ['--split', '--workers', '2'], env)
  cleanups.push(() => server.stop())
  const proxy = await startProxy(server.ports.tcp)
  cleanups.push(() => proxy.close())
  const login = async (port: number, uid: string): Promise<User> => {
    const u = await user(`tcp://127.0.0.1:${port}`, uid, 'room1')
    cleanups.push(() => u.client.close())
    return u
  }
  const alice = await login(proxy.port, 'alice')
  const bob = await login(server.ports.tcp, 'bob')
  const room = (u: User, data: string, self = true): Promise<unknown> => u.client.call('/api/toRoom', { room: 'room1', data, self }, { timeoutMs: 20_000 })
  const priv = (data: string): Promise<unknown> => bob.client.call('/api/toUid', { uid: 'alice', data }, { timeoutMs: 20_000 })

  await room(bob, 'b1')
  await priv('p1')
  await waitUntil(() => alice.seen.length >= 2, 3000, 'the first messages')
  assert.equal(await room(alice, 'a1', false), 1, 'her own, excluded: not recovered later')

  await cut(proxy, alice)
  await room(bob, 'b2')
  await priv('p2')
  // messages go on while every worker is replaced
  const before = await workerPidsOf(server)
  let reloaded = false
  const reloading = reload(server).then(() => { reloaded = true })
  const sent: string[] = []
  // a pair every 75 ms (paced, not waited on; a reload takes ~4 s here), at most 90: the streams stay under maxCount (100)
  for (let i = 0; (!reloaded || i < 2) && i < 90; i++) {
    await room(bob, `r${i}`)
    await priv(`q${i}`)
    sent.push(`${i}`)
    await new Promise((resolve) => setTimeout(resolve, 75))
  }
  await reloading
  const afterPids = await workerPidsOf(server)
  assert.ok(afterPids.filter((p) => !before.includes(p)).length >= 2, `two new workers: ${JSON.stringify({ before, afterPids })}`)

  await restore(proxy, alice)
  const missed = 2 + 2 * sent.length
  await waitUntil(() => alice.seen.length >= 2 + missed, 10_000, 'the missed messages')
  assert.equal(await room(alice, 'a2', false), 1)
  await room(bob, 'b3')
  await priv('p3')
  await waitUntil(() => alice.seen.length >= 4 + missed, 3000, 'the live messages')

  assert.deepEqual(alice.of('group:room1'), [['b1', false], ['b2', true], ...sent.map((i) => [`r${i}`, true]), ['b3', false]])
  assert.deepEqual(alice.of('uid:alice'), [['p1', false], ['p2', true], ...sent.map((i) => [`q${i}`, true]), ['p3', false]])
  assert.equal(alice.seen.length, 4 + missed, JSON.stringify(alice.seen))
  assert.deepEqual(alice.gaps, [])
  assert.deepEqual(bob.of('group:room1').map(([d]) => d), ['b1', 'a1', 'b2', ...sent.map((i) => `r${i}`), 'a2', 'b3'])
})
