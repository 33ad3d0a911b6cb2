/** Stream positions: order, duplicates, holding and merging with a recovery, gaps, sync, ack after handler. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MAX_HELD, Streams } from '../../framework/client/streams.js'
import type { GapInfo, PushMetaInfo } from '../../framework/client/types.js'
import type { RecoverReply, StreamPosition } from '../../framework/client/wire.js'
import { waitUntil } from '../helpers.js'

function harness (reply?: (req: Record<string, StreamPosition>) => RecoverReply) {
  const log: string[] = []
  const delivered: Array<{ data: unknown, meta: PushMetaInfo }> = []
  const gaps: GapInfo[] = []
  const requests: Array<Record<string, StreamPosition>> = []
  let release: (() => void) | undefined
  const streams = new Streams({
    deliver: async (data, meta) => {
      delivered.push({ data, meta })
      log.push(`handle ${String(data)}`)
      await Promise.resolve()
      log.push(`done ${String(data)}`)
      if (meta.ack !== undefined) log.push(`ack ${meta.ack}`)
    },
    ack: (ack) => { log.push(`ack ${ack}`) },
    recover: async (req) => {
      requests.push(req)
      await new Promise<void>((resolve) => { release = resolve })
      return reply ? reply(req) : { streams: {}, denied: [] }
    },
    gap: (g) => gaps.push(g),
    error: (err) => { throw err },
  })
  return { streams, log, delivered, gaps, requests, release: () => release?.() }
}

const push = (offset: number, data: unknown, ack?: string, epoch = 'e1') => ({ stream: 'uid:1', epoch, offset, data, ack })

test('in order delivered; duplicates dropped but acked again; ack after the handler', async () => {
  const h = harness()
  h.streams.onPush(push(1, 'a', 'o.1'))
  h.streams.onPush(push(2, 'b'))
  h.streams.onPush(push(2, 'b'))
  h.streams.onPush(push(1, 'a', 'o.1'))
  await h.streams.idle()
  assert.deepEqual(h.delivered.map(d => d.data), ['a', 'b'])
  assert.deepEqual(h.log, ['handle a', 'done a', 'ack o.1', 'handle b', 'done b', 'ack o.1'])
  assert.deepEqual(h.streams.positions(), { 'uid:1': { epoch: 'e1', offset: 2 } })
})

test('out of order: held, recovered once, merged in order with live pushes that arrive meanwhile', async () => {
  const h = harness(() => ({ streams: { 'uid:1': { epoch: 'e1', offset: 4, gap: false, entries: [{ offset: 2, data: 'b' }, { offset: 3, data: 'c' }] } }, denied: [] }))
  h.streams.onPush(push(1, 'a'))
  h.streams.onPush(push(4, 'd'))
  h.streams.onPush(push(5, 'e'))
  await waitUntil(() => h.requests.length === 1)
  assert.deepEqual(h.requests[0], { 'uid:1': { epoch: 'e1', offset: 1 } })
  h.streams.onPush(push(6, 'f'))
  await h.streams.idle()
  assert.deepEqual(h.delivered.map(d => d.data), ['a'])
  h.release()
  await waitUntil(() => h.delivered.length === 6)
  await h.streams.idle()
  assert.deepEqual(h.delivered.map(d => d.data), ['a', 'b', 'c', 'd', 'e', 'f'])
  assert.deepEqual(h.delivered.map(d => d.meta.recovered), [false, true, true, false, false, false])
  assert.equal(h.requests.length, 1)
  assert.deepEqual(h.gaps, [])
})

test('a gap in the reply (other epoch) is reported and the new epoch adopted', async () => {
  const h = harness(() => ({ streams: { 'uid:1': { epoch: 'e2', offset: 2, gap: true, entries: [{ offset: 1, data: 'x' }, { offset: 2, data: 'y' }] } }, denied: [] }))
  h.streams.onPush(push(3, 'a'))
  h.streams.onPush(push(2, 'y', undefined, 'e2'))
  await waitUntil(() => h.requests.length === 1)
  h.release()
  await waitUntil(() => h.delivered.length === 3)
  await h.streams.idle()
  assert.deepEqual(h.delivered.map(d => d.data), ['a', 'x', 'y'])
  assert.deepEqual(h.gaps, [{ stream: 'uid:1', epoch: 'e2', offset: 2 }])
  assert.deepEqual(h.streams.positions(), { 'uid:1': { epoch: 'e2', offset: 2 } })
})

test('a first sync sets the position: older pushes become duplicates, the next one is in order', async () => {
  const h = harness()
  h.streams.onPush({ stream: 'uid:1', epoch: 'e1', offset: 5, sync: true })
  h.streams.onPush({ stream: 'uid:1', epoch: 'e1', offset: 3, sync: true })
  h.streams.onPush(push(5, 'old'))
  h.streams.onPush(push(6, 'new'))
  await h.streams.idle()
  assert.deepEqual(h.delivered.map(d => d.data), ['new'])
  assert.equal(h.requests.length, 0)
})

test('a sync ahead of a known position (a join after a reconnect) recovers what lies between, never skips it', async () => {
  const h = harness(() => ({ streams: { 'uid:1': { epoch: 'e1', offset: 4, gap: false, entries: [{ offset: 2, data: 'b' }, { offset: 3, data: 'c' }, { offset: 4, data: 'd' }] } }, denied: [] }))
  h.streams.onPush(push(1, 'a'))
  h.streams.onPush({ stream: 'uid:1', epoch: 'e1', offset: 2, skip: true }) // the next offset, left out (its own push): passed over
  h.streams.onPush({ stream: 'uid:1', epoch: 'e1', offset: 4, sync: true }) // 3 and 4 exist: recovered
  await waitUntil(() => h.requests.length === 1)
  assert.deepEqual(h.requests[0], { 'uid:1': { epoch: 'e1', offset: 2 } })
  h.release()
  await waitUntil(() => h.delivered.length === 3)
  await h.streams.idle()
  assert.deepEqual(h.delivered.map(d => d.data), ['a', 'c', 'd'])
  assert.deepEqual(h.streams.positions(), { 'uid:1': { epoch: 'e1', offset: 4 } })
  assert.deepEqual(h.gaps, [])
})

test('a skip inside a hole is held, and the recovered entry of that offset passed over, not delivered', async () => {
  const h = harness(() => ({ streams: { 'uid:1': { epoch: 'e1', offset: 4, gap: false, entries: [{ offset: 2, data: 'b' }, { offset: 3, data: 'own' }, { offset: 4, data: 'd' }] } }, denied: [] }))
  h.streams.onPush(push(1, 'a'))
  h.streams.onPush({ stream: 'uid:1', epoch: 'e1', offset: 3, skip: true })
  await waitUntil(() => h.requests.length === 1)
  assert.deepEqual(h.requests[0], { 'uid:1': { epoch: 'e1', offset: 1 } })
  h.streams.onPush(push(4, 'd'))
  h.release()
  await waitUntil(() => h.delivered.length === 3)
  await h.streams.idle()
  assert.deepEqual(h.delivered.map(d => d.data), ['a', 'b', 'd'])
  assert.deepEqual(h.streams.positions(), { 'uid:1': { epoch: 'e1', offset: 4 } })
})

test('a sync of another epoch for a known stream is recovered (the server answers the gap)', async () => {
  const h = harness(() => ({ streams: { 'uid:1': { epoch: 'e2', offset: 1, gap: true, entries: [{ offset: 1, data: 'new' }] } }, denied: [] }))
  h.streams.onPush(push(3, 'a'))
  h.streams.onPush({ stream: 'uid:1', epoch: 'e2', offset: 1, sync: true })
  await waitUntil(() => h.requests.length === 1)
  assert.deepEqual(h.requests[0], { 'uid:1': { epoch: 'e1', offset: 3 } })
  h.release()
  await waitUntil(() => h.delivered.length === 2)
  assert.deepEqual(h.delivered.map(d => d.data), ['a', 'new'])
  assert.equal(h.gaps.length, 1)
  assert.deepEqual(h.streams.positions(), { 'uid:1': { epoch: 'e2', offset: 1 } })
})

test('held pushes are bounded: past MAX_HELD the hole is reported as a gap and the held pushes delivered', async () => {
  const h = harness()
  h.streams.onPush(push(1, 1))
  for (let i = 3; i <= MAX_HELD + 3; i++) h.streams.onPush(push(i, i))
  await h.streams.idle()
  assert.equal(h.requests.length, 1)
  assert.deepEqual(h.gaps, [{ stream: 'uid:1', epoch: 'e1', offset: 2 }])
  assert.equal(h.delivered.length, MAX_HELD + 2)
  assert.deepEqual(h.streams.positions(), { 'uid:1': { epoch: 'e1', offset: MAX_HELD + 3 } })
})

test('a denied stream is forgotten and what was held delivered', async () => {
  const h = harness(() => ({ streams: {}, denied: ['uid:1'] }))
  h.streams.onPush(push(1, 'a'))
  h.streams.onPush(push(3, 'c'))
  await waitUntil(() => h.requests.length === 1)
  h.release()
  await waitUntil(() => h.delivered.length === 2)
  assert.deepEqual(h.delivered.map(d => d.data), ['a', 'c'])
  assert.deepEqual(h.streams.positions(), { 'uid:1': { epoch: 'e1', offset: 3 } })
})

test('streams a reply leaves out (more: its size limit) are asked for again, not taken for gaps', async () => {
  const h = harness((req): RecoverReply => 'group:g' in req
    ? { streams: { 'group:g': { epoch: 'g1', offset: 2, gap: false, entries: [{ offset: 2, data: 'g2' }] } }, denied: [], more: ['uid:1'] }
    : { streams: { 'uid:1': { epoch: 'e1', offset: 3, gap: false, entries: [{ offset: 2, data: 'b' }, { offset: 3, data: 'c' }] } }, denied: [] })
  h.streams.onPush(push(1, 'a'))
  h.streams.onPush({ stream: 'group:g', epoch: 'g1', offset: 1, data: 'g1' })
  const done = h.streams.recoverStreams()
  await waitUntil(() => h.requests.length === 1)
  h.streams.onPush(push(4, 'd'))
  h.release()
  await waitUntil(() => h.requests.length === 2)
  assert.deepEqual(h.requests[1], { 'uid:1': { epoch: 'e1', offset: 1 } })
  h.release()
  await done
  await h.streams.idle()
  assert.deepEqual(h.delivered.map(d => d.data), ['a', 'g1', 'g2', 'b', 'c', 'd'])
  assert.deepEqual(h.gaps, [])
})

test('a hole above where the server stood when it answered is asked for again, not taken for a gap', async () => {
  // pushes 4 and 5 come from two processes: 5 overtakes 4, and arrives after the server read its position (3)
  const h = harness((req): RecoverReply => req['uid:1'].offset === 1
    ? { streams: { 'uid:1': { epoch: 'e1', offset: 3, gap: false, entries: [{ offset: 2, data: 'b' }, { offset: 3, data: 'c' }] } }, denied: [] }
    : { streams: { 'uid:1': { epoch: 'e1', offset: 5, gap: false, entries: [{ offset: 4, data: 'd' }, { offset: 5, data: 'e' }] } }, denied: [] })
  h.streams.onPush(push(1, 'a'))
  h.streams.onPush(push(3, 'c'))
  await waitUntil(() => h.requests.length === 1)
  h.streams.onPush(push(5, 'e'))
  h.release()
  await waitUntil(() => h.requests.length === 2)
  assert.deepEqual(h.requests[1], { 'uid:1': { epoch: 'e1', offset: 3 } })
  h.streams.onPush(push(4, 'd'))
  h.release()
  await waitUntil(() => h.delivered.length === 5)
  await h.streams.idle()
  assert.deepEqual(h.delivered.map(d => d.data), ['a', 'b', 'c', 'd', 'e'])
  assert.deepEqual(h.gaps, [])
})
