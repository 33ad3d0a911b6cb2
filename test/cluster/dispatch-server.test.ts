/**
 * A dispatcher on 127.0.0.1 relaying DATA frames between link clients: payload bytes arrive
 * as sent, ACKs name what was delivered and what missed, `all` reaches every other server,
 * a node cannot send as another, a target that stops reading is reported missed once its
 * link is full, and the clients link again by themselves after the dispatcher restarts on
 * the same port.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import type { Dispatcher } from '../../framework/cluster/dispatch-server.js'
import type { LinkClient } from '../../framework/cluster/link-client.js'
import { waitUntil } from '../helpers.js'
import { newSecret, ready, startClient, startDispatcher, type Inbox } from './link-helpers.js'

const secret = newSecret()
let dispatcher: Dispatcher
let port: number
const clients: Record<'a' | 'b' | 'c', { client: LinkClient, inbox: Inbox }> = {} as never
let seq = 0

before(async () => {
  ({ dispatcher, port } = await startDispatcher({ secret }))
  for (const n of ['a', 'b', 'c'] as const) clients[n] = startClient({ name: n, port, secret })
  for (const n of ['a', 'b', 'c'] as const) await ready(clients[n].client)
  await waitUntil(() => dispatcher.nodes().length === 3, 2000, 'three links')
})

after(async () => {
  for (const { client } of Object.values(clients)) await client.close()
  await dispatcher.close()
})

function send (from: 'a' | 'b' | 'c', targets: string[] | 'all', payload: Buffer | string, kind = 7, quiet = false): number {
  const id = ++seq
  assert.ok(clients[from].client.send({ id, source: from, targets, kind, payload: Buffer.from(payload), quiet }), 'queued')
  return id
}

function ackOf (from: 'a' | 'b' | 'c', id: number): Promise<{ delivered: number, missed: readonly string[] }> {
  return waitUntil(() => clients[from].inbox.acks.find((e) => e.id === id), 3000, `ACK of ${id}`)
}

test('DATA goes to its target with the payload bytes, id and kind it was sent with; the sender gets an ACK', async () => {
  const payload = Buffer.from([0, 1, 2, 250, 255, 0x7b, 0x22])
  const id = send('a', ['b'], payload, 42)
  const got = await waitUntil(() => clients.b.inbox.data.find((d) => d.msg.id === id), 3000, 'delivery to b')
  assert.deepEqual(got.msg.payload, payload)
  assert.equal(got.msg.kind, 42)
  assert.equal(got.msg.source, 'a')
  assert.deepEqual(await ackOf('a', id), { id, delivered: 1, missed: [] })
  assert.ok(!clients.c.inbox.data.some((d) => d.msg.id === id), 'a unicast reaches only its target')

  const back = send('b', ['a'], 'reply')
  await waitUntil(() => clients.a.inbox.data.some((d) => d.msg.id === back && d.payload === 'reply'), 3000, 'delivery to a')
  assert.equal((await ackOf('b', back)).delivered, 1)
})

test('unknown targets are not refused: the ACK lists them as missed', async () => {
  const none = send('a', ['nobody'], 'lost')
  assert.deepEqual(await ackOf('a', none), { id: none, delivered: 0, missed: ['nobody'] })
  const some = send('a', ['b', 'nobody', 'c', 'b'], 'two of three')
  assert.deepEqual(await ackOf('a', some), { id: some, delivered: 2, missed: ['nobody'] })
  await waitUntil(() => clients.b.inbox.data.some((d) => d.msg.id === some) && clients.c.inbox.data.some((d) => d.msg.id === some), 3000, 'b and c')
  assert.equal(clients.b.inbox.data.filter((d) => d.msg.id === some).length, 1, 'a target named twice gets it once')
  assert.equal(dispatcher.nodes().length, 3, 'no link was closed')
})

test('QUIET frames: no ACK when every target got the frame, an ACK naming the misses otherwise', async () => {
  const ok = send('a', ['b'], 'quiet one', 7, true)
  const got = await waitUntil(() => clients.b.inbox.data.find((d) => d.msg.id === ok), 3000, 'delivery to b')
  assert.equal(got.msg.quiet, true, 'the flag is relayed as sent')
  const partly = send('a', ['c', 'nobody'], 'quiet two', 7, true)
  assert.deepEqual(await ackOf('a', partly), { id: partly, delivered: 1, missed: ['nobody'] })
  // ACKs of one link arrive in order: the later one came, so the first one was never sent
  assert.equal(clients.a.inbox.acks.some((e) => e.id === ok), false)
})

test('`all` reaches every other server, not the sender', async () => {
  const id = send('c', 'all', 'everyone')
  assert.deepEqual(await ackOf('c', id), { id, delivered: 2, missed: [] })
  await waitUntil(() => clients.a.inbox.data.some((d) => d.msg.id === id) && clients.b.inbox.data.some((d) => d.msg.id === id), 3000, 'a and b')
  assert.ok(!clients.c.inbox.data.some((d) => d.msg.id === id))
})

test('a burst sent in one turn is one socket write, arrives in order, and every message is ACKed', async () => {
  const link = clients.a.client.link
  assert.ok(link)
  const writes = link.stats.writes
  const first = seq + 1
  const n = 5000
  for (let i = 0; i < n; i++) send('a', ['b'], `m${i}`)
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(link.stats.writes, writes + 1, 'the burst went out as one write')
  await waitUntil(() => clients.b.inbox.data.filter((d) => d.msg.id >= first).length === n, 5000, `${n} deliveries`)
  const got = clients.b.inbox.data.filter((d) => d.msg.id >= first)
  assert.deepEqual(got.map((d) => d.payload), Array.from({ length: n }, (_, i) => `m${i}`))
  await waitUntil(() => clients.a.inbox.acks.filter((e) => e.id >= first).length === n, 5000, `${n} ACKs`)
  assert.ok(clients.a.inbox.acks.filter((e) => e.id >= first).every((e) => e.delivered === 1))
  // the dispatcher relayed with few writes too (ACKs are batched per turn as well)
  const toB = dispatcher.linkOf('b')
  assert.ok(toB && toB.stats.writes < n / 10, `dispatcher → b: ${toB?.stats.writes} writes for ${n} frames`)
})

test('a node that sends DATA as another node loses its link', async () => {
  const link = clients.c.client.link
  assert.ok(link)
  const down = clients.c.inbox.down.length
  link.send({ id: ++seq, source: 'a', targets: ['b'], kind: 0, payload: Buffer.from('spoofed') })
  await waitUntil(() => clients.c.inbox.down.length > down, 2000, 'c to be cut')
  assert.ok(!clients.b.inbox.data.some((d) => d.payload === 'spoofed'))
  await ready(clients.c.client)
})

test('a target that stops reading is reported missed once its link is full; others are served', async () => {
  // a separate dispatcher with a small per-link buffer and no ping timeout during the test
  const small = await startDispatcher({ secret, name: 'dispatch-small', maxBufferedBytes: 256 * 1024, pingTimeoutMs: 60_000 })
  const fast = startClient({ name: 'fast', port: small.port, secret, pingTimeoutMs: 60_000 })
  const stuck = startClient({ name: 'stuck', port: small.port, secret, pingTimeoutMs: 60_000 })
  const other = startClient({ name: 'other', port: small.port, secret, pingTimeoutMs: 60_000 })
  try {
    await Promise.all([ready(fast.client), ready(stuck.client), ready(other.client)])
    await waitUntil(() => small.dispatcher.nodes().length === 3, 2000, 'three links')
    stuck.client.link?.socket.pause()
    const chunk = Buffer.alloc(64 * 1024, 1)
    let id = 0
    // keep sending until the dispatcher reports `stuck` missed (kernel buffers fill first)
    await waitUntil(() => {
      for (let i = 0; i < 8; i++) fast.client.send({ id: ++id, source: 'fast', targets: ['stuck'], kind: 0, payload: chunk })
      return fast.inbox.acks.some((e) => e.missed.includes('stuck'))
    }, 8000, 'a missed ACK for the stuck target')
    const toStuck = small.dispatcher.linkOf('stuck')
    assert.ok(toStuck && toStuck.bufferedBytes <= 256 * 1024 + chunk.length + 64, `dispatcher holds ${toStuck?.bufferedBytes} bytes for it`)
    assert.equal(toStuck.status, 'ready', 'the slow link is kept, only frames are refused')
    const fine = ++id
    fast.client.send({ id: fine, source: 'fast', targets: ['other'], kind: 0, payload: Buffer.from('fine') })
    await waitUntil(() => other.inbox.data.some((d) => d.msg.id === fine), 3000, 'delivery to the other node')
  } finally {
    for (const c of [fast, stuck, other]) await c.client.close()
    await small.dispatcher.close()
  }
})

test('clients link again by themselves after the dispatcher restarts on the same port', async () => {
  const before = { a: clients.a.client.connects, b: clients.b.client.connects }
  await dispatcher.close()
  await waitUntil(() => clients.a.client.status !== 'ready' && clients.b.client.status !== 'ready', 2000, 'links to drop')
  assert.equal(clients.a.client.send({ id: ++seq, source: 'a', targets: ['b'], kind: 0, payload: Buffer.alloc(1) }), false, 'nothing is queued while down')
  ;({ dispatcher } = await startDispatcher({ secret, port }))
  await Promise.all([ready(clients.a.client, 5000), ready(clients.b.client, 5000)])
  assert.ok(clients.a.client.connects > before.a && clients.b.client.connects > before.b, 're-authenticated on a new connection')
  await waitUntil(() => dispatcher.nodes().includes('a') && dispatcher.nodes().includes('b'), 2000, 'links on the new dispatcher')
  const id = send('a', ['b'], 'after restart')
  await waitUntil(() => clients.b.inbox.data.some((d) => d.msg.id === id), 3000, 'relay after restart')
  assert.equal((await ackOf('a', id)).delivered, 1)
})
