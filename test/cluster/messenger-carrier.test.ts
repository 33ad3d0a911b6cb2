/**
 * The messenger's reliability above the carrier seam, on an in-memory carrier: a frame lost
 * without its route going down is re-sent after `retryMs`; a route that goes down has what went
 * through it re-sent through another at once; a target no route reaches settles as not reached
 * after every route missed it; a request nothing answers times out; a duplicate frame runs
 * nothing twice; a request waiting for a route goes out when one comes up.
 */
import { afterEach, test } from 'node:test'
import assert from 'node:assert/strict'
import { Kind, Messenger } from '../../framework/cluster/messenger.js'
import { waitUntil } from '../helpers.js'
import { FakeNetwork, type FakeCarrier } from './fake-carrier.js'

const messengers: Messenger[] = []

afterEach(async () => {
  for (const m of messengers.splice(0)) await m.close()
})

interface Node { m: Messenger, c: FakeCarrier, ran: string[] }

function nodes (names: string[], options: { retryMs?: number, requestTimeoutMs?: number } = {}): Node[] {
  const net = new FakeNetwork()
  return names.map((name) => {
    const c = net.carrier(name)
    const m = new Messenger({ name, carrier: c, retryMs: options.retryMs ?? 200, requestTimeoutMs: options.requestTimeoutMs ?? 3000 })
    const ran: string[] = []
    m.onRequest = (source, body) => {
      ran.push(`${source}:${body}`)
      return body.length
    }
    messengers.push(m)
    return { m, c, ran }
  })
}

const code = (err: unknown): string | undefined => (err as { code?: string }).code

test('a frame lost without its route going down is re-sent after retryMs; the receiver runs it once', async () => {
  const [a, b] = nodes(['a', 'b'])
  b.c.route('r1').dropNext = 1 // b's first reply vanishes
  const started = Date.now()
  assert.equal(await a.m.requestOne('b', 'hello'), 5)
  assert.ok(Date.now() - started >= 150, 'answered by the re-send, not the first frame')
  assert.equal(a.m.resent, 1)
  assert.deepEqual(b.ran, ['a:hello'], 'the re-send was answered from memory')
  assert.equal(b.c.route('r1').sent.filter((f) => f.kind === Kind.REPLY).length, 2)
})

test('a route that goes down: what went through it is re-sent through another at once', async () => {
  const [a, b] = nodes(['a', 'b'], { retryMs: 10_000 })
  a.c.route('r1').dropNext = 1 // lost with the route
  const pending = a.m.requestOne('b', 'once')
  await waitUntil(() => a.c.route('r1').sent.length === 1, 1000, 'the frame through r1')
  a.c.set('r1', false)
  assert.equal(await pending, 4)
  assert.equal(a.c.route('r2').sent.length, 1, 'sent again through r2')
  assert.deepEqual(b.ran, ['a:once'])
})

test('a target no route reaches is tried through each route once, then settles as not reached', async () => {
  const [a, b] = nodes(['a', 'b'])
  const replies = await a.m.request(['ghost', 'b'], 'hi')
  assert.deepEqual([...replies], [['ghost', undefined], ['b', 2]])
  assert.equal(a.m.resent, 1, 'ghost tried again through r2, b not')
  assert.deepEqual(a.c.route('r2').sent.map((f) => f.targets), [['ghost']])
  assert.deepEqual(b.ran, ['a:hi'])
})

test('a request nothing answers fails with SD_ERR_CLUSTER_UNAVAILABLE after requestTimeoutMs, naming the target', async () => {
  const [a, b] = nodes(['a', 'b'], { retryMs: 100, requestTimeoutMs: 400 })
  for (const r of a.c.all) r.dropKinds.add(Kind.REQUEST)
  const started = Date.now()
  await assert.rejects(a.m.requestOne('b', 'lost'), (err: Error) => code(err) === 'SD_ERR_CLUSTER_UNAVAILABLE' && /from b within 400 ms/.test(err.message))
  assert.ok(Date.now() - started >= 350)
  assert.ok(a.m.resent >= 1, 're-sent while waiting')
  assert.deepEqual(b.ran, [])
})

test('a duplicate frame delivered late runs nothing twice', async () => {
  const [a, b] = nodes(['a', 'b'])
  assert.equal(await a.m.requestOne('b', 'first'), 5)
  const old = a.c.route('r1').sent[0]
  // the same bytes again, while the sender still remembers it, then after it moved on
  b.c.onData({ ...old, payload: Buffer.from(old.payload) }, b.c.route('r1'))
  assert.equal(await a.m.requestOne('b', 'second'), 6)
  b.c.onData({ ...old, payload: Buffer.from(old.payload) }, b.c.route('r2'))
  assert.equal(await a.m.requestOne('b', 'third'), 5)
  assert.deepEqual(b.ran, ['a:first', 'a:second', 'a:third'])
})

test('no route up: a request fails at once; one in flight when the routes go waits and goes out when one is back', async () => {
  const [a, b] = nodes(['a', 'b'], { retryMs: 10_000 })
  a.c.route('r1').dropNext = 1
  const pending = a.m.requestOne('b', 'waits')
  await waitUntil(() => a.c.route('r1').sent.length === 1, 1000, 'the frame through r1')
  a.c.set('r1', false)
  a.c.set('r2', false)
  await assert.rejects(a.m.requestOne('b', 'now'), (err: Error) => code(err) === 'SD_ERR_CLUSTER_UNAVAILABLE' && /no fake route is up/.test(err.message))
  a.c.set('r2', true)
  assert.equal(await pending, 5)
  assert.deepEqual(b.ran, ['a:waits'])
})

test('a node gone settles what waits for it as not reached', async () => {
  const [a] = nodes(['a', 'b'])
  for (const r of a.c.all) r.dropKinds.add(Kind.REQUEST)
  const pending = a.m.request(['b'], 'x')
  await waitUntil(() => a.c.route('r1').sent.length === 1, 1000, 'sent')
  a.m.nodeGone('b')
  assert.deepEqual([...await pending], [['b', undefined]])
})
