/**
 * The messenger (requests between servers through dispatchers) in one process, with two real
 * dispatchers on loopback: replies, validation of what a request may carry, a reply that goes
 * back through the link its request came in on (the receiver prefers another dispatcher the
 * sender cannot reach), a request re-sent through the other dispatcher when the first one
 * closes, run once by the receiver; requests of one tick sharing one frame (split above 1 MiB),
 * replies of every JSON type, and a malformed REQUEST frame from a linked peer.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import type { Dispatcher } from '../../framework/cluster/dispatch-server.js'
import { DispatchCarrier } from '../../framework/cluster/dispatch-carrier.js'
import { Messenger } from '../../framework/cluster/messenger.js'
import { waitUntil } from '../helpers.js'
import { Kind } from '../../framework/cluster/messenger.js'
import { newSecret, ready, startClient, startDispatcher } from './link-helpers.js'

const secret = newSecret()
const dispatchers: Array<{ dispatcher: Dispatcher, port: number }> = []
const messengers: Messenger[] = []

function messenger (name: string, maxFrameBytes?: number): { m: Messenger, d: DispatchCarrier, ran: string[] } {
  const d = new DispatchCarrier({ name, secret, link: { reconnectMinMs: 20, reconnectMaxMs: 200, ...(maxFrameBytes ? { maxFrameBytes } : {}) } })
  const m = new Messenger({ name, carrier: d, retryMs: 200, requestTimeoutMs: 3000 })
  const ran: string[] = []
  m.onRequest = (source, body) => {
    ran.push(`${source}:${body}`)
    return body.length
  }
  messengers.push(m)
  return { m, d, ran }
}

before(async () => {
  dispatchers.push(await startDispatcher({ secret, name: 'd1' }), await startDispatcher({ secret, name: 'd2' }))
})

after(async () => {
  for (const m of messengers) await m.close()
  for (const d of dispatchers) await d.dispatcher.close()
})

test('a request runs once on each target and resolves to the replies; nothing to send resolves at once', async () => {
  const a = messenger('m-a')
  const b = messenger('m-b')
  const c = messenger('m-c')
  for (const x of [a, b, c]) x.d.addDispatcher('127.0.0.1', dispatchers[0].port)
  await waitUntil(() => [a, b, c].every((x) => x.m.ready === 1), 3000, 'links')
  const replies = await a.m.request(['m-b', 'm-c'], 'hello')
  assert.deepEqual([...replies].sort(), [['m-b', 5], ['m-c', 5]])
  assert.deepEqual(b.ran, ['m-a:hello'])
  assert.deepEqual(c.ran, ['m-a:hello'])
  assert.equal((await a.m.request([], 'x')).size, 0)
  assert.deepEqual((await a.m.request(['nobody-here'], 'x')).get('nobody-here'), undefined, 'a node no dispatcher knows is not reached')
})

test('what cannot cross is refused before it is queued: a bad node name, a body over the link limit', async () => {
  const a = messenger('v-a', 128 * 1024)
  const b = messenger('v-b', 128 * 1024)
  for (const x of [a, b]) x.d.addDispatcher('127.0.0.1', dispatchers[0].port)
  await waitUntil(() => a.m.ready === 1 && b.m.ready === 1, 3000, 'links')
  await assert.rejects(a.m.request(['x'.repeat(300)], 'x'), (err: Error & { code?: string }) => err.code === 'SD_ERR_CLUSTER_UNAVAILABLE')
  await assert.rejects(a.m.request(['v-b'], 'x'.repeat(100 * 1024)), (err: Error & { code?: string }) => err.code === 'SD_ERR_FRAME_TOO_LARGE')
  // the retry timer (200 ms) finds nothing left behind, and the links stay up
  await new Promise((resolve) => setTimeout(resolve, 500))
  assert.equal(a.m.resent, 0)
  assert.equal(await a.m.request(['v-b'], 'fine').then((r) => r.get('v-b')), 4)
  // a string body is measured in UTF-8 bytes: over the limit by bytes, not by characters
  await assert.rejects(a.m.requestOne('v-b', '✓'.repeat(40 * 1024)), (err: Error & { code?: string }) => err.code === 'SD_ERR_FRAME_TOO_LARGE')
  await assert.rejects(a.m.requestOne('x'.repeat(300), 'x'), (err: Error & { code?: string }) => err.code === 'SD_ERR_CLUSTER_UNAVAILABLE')
})

test('requestOne resolves to the one reply; bodies of any text (multi-byte UTF-8, empty) arrive exactly', async () => {
  const a = messenger('s-a')
  const b = messenger('s-b')
  for (const x of [a, b]) x.d.addDispatcher('127.0.0.1', dispatchers[0].port)
  await waitUntil(() => a.m.ready === 1 && b.m.ready === 1, 3000, 'links')
  const bodies = ['plain', 'héllo ✓ 🚀', '', 'ünïcödé'.repeat(100), '\n{"json": "line"}\n']
  // sent in one tick, so in one REQUEST frame: its text holds every body, split by length
  const replies = await Promise.all(bodies.map((body) => a.m.requestOne('s-b', body)))
  assert.deepEqual(replies, bodies.map((body) => body.length))
  assert.deepEqual(b.ran, bodies.map((body) => `s-a:${body}`))
  assert.equal(await a.m.requestOne('nobody-here', 'x'), undefined, 'a node no dispatcher knows is not reached')
})

test('sendOne calls back once, never before it returns; a callback that throws is caught and does not stop the others', async () => {
  const a = messenger('cb-a')
  const b = messenger('cb-b')
  for (const x of [a, b]) x.d.addDispatcher('127.0.0.1', dispatchers[0].port)
  await waitUntil(() => a.m.ready === 1 && b.m.ready === 1, 3000, 'links')
  const heard: Array<[string, unknown]> = []
  let returned = false
  a.m.sendOne('x'.repeat(300), 'bad name', (err) => heard.push(['bad name', returned ? (err as Error & { code?: string }).code : 'called before returning']))
  returned = true
  // a callback that throws on the refusal path is caught too (else: an uncaught exception)
  a.m.sendOne('x'.repeat(300), 'bad name', () => { throw new Error('a callback bug') })
  // three requests in one frame, so their replies settle in one loop: the first callback throws
  const all = new Promise<void>((resolve) => {
    a.m.sendOne('cb-b', 'one', () => { throw new Error('a callback bug') })
    a.m.sendOne('cb-b', 'two', (err, value) => heard.push(['two', err ?? value]))
    a.m.sendOne('cb-b', 'three', (err, value) => { heard.push(['three', err ?? value]); resolve() })
  })
  await all
  assert.deepEqual(heard, [['bad name', 'SD_ERR_CLUSTER_UNAVAILABLE'], ['two', 3], ['three', 5]])
  assert.deepEqual(b.ran, ['cb-a:one', 'cb-a:two', 'cb-a:three'])
})

test('the reply goes back through the link its request came in on', async () => {
  const a = messenger('r-a')
  const b = messenger('r-b')
  // b prefers d2 (linked first); a reaches d1 only
  b.d.addDispatcher('127.0.0.1', dispatchers[1].port)
  await waitUntil(() => b.m.ready === 1, 3000, 'b on d2')
  b.d.addDispatcher('127.0.0.1', dispatchers[0].port)
  a.d.addDispatcher('127.0.0.1', dispatchers[0].port)
  await waitUntil(() => a.m.ready === 1 && b.m.ready === 2, 3000, 'links')
  assert.equal(b.m.links().find((l) => l.preferred)?.name, 'd2')
  const replies = await a.m.request(['r-b'], 'via d1')
  assert.equal(replies.get('r-b'), 6)
  assert.equal(a.m.resent, 0, 'answered the first time')
})

test('a dispatcher that closes: what went through it is re-sent through the other, and runs once', async () => {
  const extra = await startDispatcher({ secret, name: 'd3' })
  const a = messenger('f-a')
  const b = messenger('f-b')
  a.d.addDispatcher('127.0.0.1', extra.port) // a's preferred route: linked first
  await waitUntil(() => a.m.ready === 1, 3000, 'a on d3')
  a.d.addDispatcher('127.0.0.1', dispatchers[1].port)
  b.d.addDispatcher('127.0.0.1', extra.port)
  b.d.addDispatcher('127.0.0.1', dispatchers[1].port)
  await waitUntil(() => a.m.ready === 2 && b.m.ready === 2, 3000, 'links')
  // b stops answering through d3: its link there is cut right after the request is queued
  const pending = a.m.request(['f-b'], 'once')
  await extra.dispatcher.close()
  assert.equal((await pending).get('f-b'), 4)
  await new Promise((resolve) => setTimeout(resolve, 400)) // retries would land by now
  assert.deepEqual(b.ran, ['f-a:once'], 'run exactly once')
})

test('requests of one tick to one node share one frame, each runs once in order with its own reply', async () => {
  const a = messenger('t-a')
  const b = messenger('t-b')
  for (const x of [a, b]) x.d.addDispatcher('127.0.0.1', dispatchers[0].port)
  await waitUntil(() => a.m.ready === 1 && b.m.ready === 1, 3000, 'links')
  const relayed = dispatchers[0].dispatcher.counters.relayed
  const bodies = Array.from({ length: 50 }, (_, i) => 'x'.repeat(i + 1))
  const replies = await Promise.all(bodies.map((body) => a.m.request(['t-b'], body)))
  assert.deepEqual(replies.map((r) => r.get('t-b')), bodies.map((body) => body.length))
  assert.deepEqual(b.ran, bodies.map((body) => `t-a:${body}`))
  assert.equal(dispatchers[0].dispatcher.counters.relayed - relayed, 2, 'one REQUEST frame there, one REPLY frame back')

  // bodies of 600 KB: two do not fit in one 1 MiB frame, so three frames go out
  const before = dispatchers[0].dispatcher.counters.relayed
  const big = [1, 2, 3].map((n) => String(n).repeat(600 * 1024))
  const bigReplies = await Promise.all(big.map((body) => a.m.request(['t-b'], body)))
  assert.deepEqual(bigReplies.map((r) => r.get('t-b')), [600 * 1024, 600 * 1024, 600 * 1024])
  assert.deepEqual(b.ran.slice(50).map((r) => r.slice(5, 6)), ['1', '2', '3'])
  assert.equal(dispatchers[0].dispatcher.counters.relayed - before, 4, 'three REQUEST frames, one REPLY frame')
})

test('replies of every JSON type come back as they were given', async () => {
  const a = messenger('j-a')
  const b = messenger('j-b')
  const values: unknown[] = [0, -1.5, 2 ** 40, 'text', '', null, true, [1, 'two', { three: 3 }], { nested: { list: [] } }]
  b.m.onRequest = (_source, body) => values[Number(body)]
  for (const x of [a, b]) x.d.addDispatcher('127.0.0.1', dispatchers[0].port)
  await waitUntil(() => a.m.ready === 1 && b.m.ready === 1, 3000, 'links')
  const replies = await Promise.all(values.map((_, i) => a.m.request(['j-b'], String(i))))
  assert.deepEqual(replies.map((r) => r.get('j-b')), values)
  // a handler that returns nothing (or throws) answers null: the sender is not left waiting
  b.m.onRequest = (_source, body) => { if (body.length > 1) throw new Error('boom') }
  assert.deepEqual(await Promise.all(['1', '22'].map((x) => a.m.request(['j-b'], x).then((r) => r.get('j-b')))), [null, null])
})

test('a malformed REQUEST frame from a linked node runs what is whole before the damage and nothing after', async () => {
  const b = messenger('k-b')
  b.d.addDispatcher('127.0.0.1', dispatchers[0].port)
  const { client } = startClient({ name: 'k-raw', role: 'server', port: dispatchers[0].port, secret })
  await ready(client)
  await waitUntil(() => b.m.ready === 1, 3000, 'b linked')
  // entries (id, length in UTF-16 units), then the bodies as one UTF-8 text
  const frame = (watermark: number, entries: Array<[id: number, body: string, lie?: number]>, count = entries.length): Buffer => {
    const head = Buffer.alloc(12 + entries.length * 12)
    head.writeDoubleBE(watermark, 0)
    head.writeUInt32BE(count, 8)
    entries.forEach(([id, body, lie = 0], i) => {
      head.writeDoubleBE(id, 12 + i * 12)
      head.writeUInt32BE(body.length + lie, 20 + i * 12)
    })
    return Buffer.concat([head, Buffer.from(entries.map(([, body]) => body).join(''))])
  }
  // the second entry claims more text than the frame holds; the third is never reached
  client.send({ id: 100, source: 'k-raw', targets: ['k-b'], kind: Kind.REQUEST, payload: frame(1, [[1, 'whole'], [2, 'cut', 1000], [3, 'after']]) })
  // a frame with an id that is not an integer is dropped as a whole
  client.send({ id: 101, source: 'k-raw', targets: ['k-b'], kind: Kind.REQUEST, payload: frame(1, [[1.5, 'fraction']]) })
  // a count of entries the frame does not hold: nothing runs
  client.send({ id: 102, source: 'k-raw', targets: ['k-b'], kind: Kind.REQUEST, payload: frame(1, [[6, 'counted']], 1000) })
  // a frame shorter than its head
  client.send({ id: 103, source: 'k-raw', targets: ['k-b'], kind: Kind.REQUEST, payload: Buffer.alloc(7) })
  await waitUntil(() => b.ran.length >= 1, 3000, 'the whole entry ran')
  await new Promise((resolve) => setTimeout(resolve, 200))
  assert.deepEqual(b.ran, ['k-raw:whole'])
  // b still serves: a normal request from another node is answered
  const a = messenger('k-a')
  a.d.addDispatcher('127.0.0.1', dispatchers[0].port)
  await waitUntil(() => a.m.ready === 1, 3000, 'a linked')
  assert.equal((await a.m.request(['k-b'], 'still')).get('k-b'), 5)
  await client.close()
})
