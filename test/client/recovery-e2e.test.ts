/**
 * Recovery end to end in one process, the SDK through a dropping proxy (test/proxy.ts): a cut
 * client gets the room and private messages it missed exactly once, in order, then the live
 * ones, never its own excluded room message (tcp and ws); acks from a connected, a cut and a
 * plain client; a trimmed history reports a gap and delivers what was kept.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ApiController } from '../e2e/recovery-app/app/controllers/ApiController.js'
import { portOf, startApp, TcpClient, waitUntil } from '../helpers.js'
import { startProxy, type TestProxy } from '../proxy.js'
import { cut, restore, user } from './recovery-user.js'
import type { Application } from '../../framework/index.js'
import type { RecoveryConfig } from '../../framework/connection/recovery-options.js'

const recovery = { uids: true, groups: ['room*'] }

interface Setup { app: Application, proxy: TestProxy, url: string, direct: string }

/** The app with the test controller, a proxy to its tcp or http port; urls through the proxy and direct. */
async function setup (t: { after: (fn: () => unknown) => void }, via: 'tcp' | 'ws', extra: Partial<RecoveryConfig> = {}): Promise<Setup> {
  const app = await startApp({ recovery: { ...recovery, ...extra } }, { controllers: [ApiController] })
  t.after(() => app.stop())
  const port = portOf(app, via === 'tcp' ? 'tcp' : 'http')
  const proxy = await startProxy(port)
  t.after(() => proxy.close())
  const at = (p: number): string => via === 'tcp' ? `tcp://127.0.0.1:${p}` : `ws://127.0.0.1:${p}/ws`
  return { app, proxy, url: at(proxy.port), direct: at(port) }
}

for (const via of ['tcp', 'ws'] as const) {
  test(`over ${via}: a cut client gets the missed room and private messages once, in order, then live ones; never its own excluded message`, async (t) => {
    const { url, direct, proxy } = await setup(t, via)
    const alice = await user(url, 'alice', 'room1')
    t.after(() => alice.client.close())
    const bob = await user(direct, 'bob', 'room1')
    t.after(() => bob.client.close())
    const room = (u: typeof alice, data: string, self = true): Promise<unknown> => u.client.call('/api/toRoom', { room: 'room1', data, self })
    const priv = (data: string): Promise<unknown> => bob.client.call('/api/toUid', { uid: 'alice', data })

    assert.equal(await room(bob, 'b1'), 2)
    await waitUntil(() => alice.seen.length >= 1, 3000, 'b1 at alice')
    // alice's own message, the last before the cut: her client passes over it (a skip message)
    assert.equal(await room(alice, 'a1', false), 1, 'bob only')

    await cut(proxy, alice)
    await room(bob, 'b2')
    await priv('p1')
    await room(bob, 'b3')
    await priv('p2')
    await restore(proxy, alice)
    await waitUntil(() => alice.seen.length >= 5, 5000, 'the missed messages at alice')

    assert.equal(await room(alice, 'a2', false), 1)
    await room(bob, 'b4')
    assert.equal(await priv('p3'), 1)
    await waitUntil(() => alice.seen.length >= 7 && bob.seen.length >= 6, 3000, 'the live messages')
    // a last message through each stream: anything sent twice would have come before it
    await room(bob, 'b5')
    await priv('p4')
    await waitUntil(() => alice.seen.length >= 9, 3000, 'the last messages')

    assert.deepEqual(alice.of('group:room1'), [['b1', false], ['b2', true], ['b3', true], ['b4', false], ['b5', false]])
    assert.deepEqual(alice.of('uid:alice'), [['p1', true], ['p2', true], ['p3', false], ['p4', false]])
    assert.equal(alice.seen.length, 9, `nothing else: ${JSON.stringify(alice.seen)}`)
    assert.deepEqual(alice.gaps, [])
    assert.deepEqual(bob.of('group:room1').map(([d]) => d), ['b1', 'a1', 'b2', 'b3', 'a2', 'b4', 'b5'])
  })
}

test('acks: a connected client acks after its handler ran (1); a cut client recovers the message, handles it once and acks it; a plain client never acks (0)', async (t) => {
  const { app, url, direct, proxy } = await setup(t, 'tcp')
  const alice = await user(url, 'alice')
  t.after(() => alice.client.close())
  const bob = await user(direct, 'bob')
  t.after(() => bob.client.close())
  const send = (uid: string, data: string, timeoutMs: number): Promise<unknown> =>
    bob.client.call('/api/toUid', { uid, data, ack: true, timeoutMs }, { timeoutMs: timeoutMs + 5000 })

  assert.equal(await send('alice', 'k1', 5000), 1)
  assert.deepEqual(alice.of('uid:alice'), [['k1', false]], 'the handler ran before the ack')

  await cut(proxy, alice)
  const pending = send('alice', 'k2', 2500) // reached no connection: it waits the whole timeout, then counts the acks
  await bob.client.call('/api/where') // the send above has pushed to no connection by now
  await restore(proxy, alice)
  assert.equal(await pending, 1, 'acknowledged after the reconnect')
  assert.equal(await send('alice', 'k3', 5000), 1)
  assert.deepEqual(alice.of('uid:alice'), [['k1', false], ['k2', true], ['k3', false]])
  assert.equal(alice.seen.length, 3)

  const plain = await TcpClient.connect(portOf(app, 'tcp'))
  t.after(() => plain.close())
  assert.equal((await plain.request('/api/login', { uid: 'plain' })).data, true)
  assert.equal(await send('plain', 'k4', 300), 0, 'a plain client never acknowledges')
  assert.equal((await plain.next((m) => m.id === undefined)).data, 'k4', 'yet it got the push')
})

test('a trimmed history (maxCount 3): a gap event, then the last kept entries', async (t) => {
  const { url, direct, proxy } = await setup(t, 'tcp', { maxCount: 3 })
  const alice = await user(url, 'alice')
  t.after(() => alice.client.close())
  const bob = await user(direct, 'bob')
  t.after(() => bob.client.close())
  await bob.client.call('/api/toUid', { uid: 'alice', data: 't0' })
  await waitUntil(() => alice.seen.length >= 1, 3000, 't0')
  await cut(proxy, alice)
  for (const data of ['t1', 't2', 't3', 't4', 't5']) assert.equal(await bob.client.call('/api/toUid', { uid: 'alice', data }), 0)
  await restore(proxy, alice)
  await waitUntil(() => alice.seen.length >= 4, 5000, 'the kept entries')
  assert.deepEqual(alice.of('uid:alice'), [['t0', false], ['t3', true], ['t4', true], ['t5', true]])
  assert.deepEqual(alice.gaps.map((g) => g.stream), ['uid:alice'])
  await bob.client.call('/api/toUid', { uid: 'alice', data: 't6' })
  await waitUntil(() => alice.seen.length >= 5, 3000, 't6')
  assert.deepEqual(alice.seen[4], { data: 't6', stream: 'uid:alice', recovered: false })
})
