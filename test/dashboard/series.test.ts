/**
 * The dashboard's sampler on constructed snapshots: rates and latency quantiles computed by
 * hand (linear inside the bucket, null when nothing ran or a counter went back), ring buffers
 * bounded, node and link series bounded and aged out, `since` filtering, and its timer started
 * and cleared through injected timers.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { bucketQuantile, latencyBetween, pointBetween, Ring, Sampler, type SamplerTimers } from '../../framework/metrics/series.js'
import { emptyLatency, LATENCY_BOUNDS_MS, type NodeFigures, type ProcessSnapshot } from '../../framework/metrics/snapshot.js'

/** A snapshot at `at` with the given counters; `buckets` maps a bucket index to its cumulative count. */
function snap (at: number, fields: Partial<Omit<ProcessSnapshot, 'latency'>> & { buckets?: Record<number, number> } = {}): ProcessSnapshot {
  const latency = emptyLatency()
  for (const [i, n] of Object.entries(fields.buckets ?? {})) latency.buckets[Number(i)] = n
  latency.count = latency.buckets.reduce((a, b) => a + b, 0)
  const { buckets: _, ...rest } = fields
  return { at, processes: 1, connections: {}, messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, links: [], ...rest, latency }
}

/** Timers that run nothing by themselves: the test calls `tick()`. */
function manualTimers (): SamplerTimers & { fn: (() => void) | undefined, ms: number | undefined, cleared: unknown[], handle: object } {
  const handle = {}
  const timers = {
    fn: undefined as (() => void) | undefined,
    ms: undefined as number | undefined,
    cleared: [] as unknown[],
    handle,
    setInterval (fn: () => void, ms: number) { timers.fn = fn; timers.ms = ms; return handle },
    clearInterval (h: unknown) { timers.cleared.push(h) },
  }
  return timers
}

test('quantiles interpolate linearly inside the bucket they fall in', () => {
  const deltas = new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0)
  deltas[3] = 10 // 10 actions in (0.5, 1] ms
  assert.equal(bucketQuantile(deltas, 0.5), 0.75)
  assert.ok(Math.abs((bucketQuantile(deltas, 0.99) as number) - 0.995) < 1e-9)
  // half in [0, 0.1], half in (1, 2.5]
  deltas[3] = 0
  deltas[0] = 50
  deltas[4] = 50
  assert.equal(bucketQuantile(deltas, 0.5), 0.1)
  assert.ok(Math.abs((bucketQuantile(deltas, 0.99) as number) - (1 + 1.5 * 49 / 50)) < 1e-9)
  // above the highest bound: the highest bound (the open bucket has no upper end)
  const slow = new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0)
  slow[LATENCY_BOUNDS_MS.length] = 3
  assert.equal(bucketQuantile(slow, 0.5), 10000)
  // nothing counted: no figure, not 0
  assert.equal(bucketQuantile(new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0), 0.5), null)
})

test('latency between two cumulative histograms uses the deltas; nothing ran → null; a counter that went back → null', () => {
  const a = snap(0, { buckets: { 3: 100, 6: 7 } }).latency
  const b = snap(1000, { buckets: { 3: 110, 6: 7 } }).latency
  assert.deepEqual(latencyBetween(a, b), { p50Ms: 0.75, p99Ms: 0.995 })
  assert.deepEqual(latencyBetween(b, b), { p50Ms: null, p99Ms: null })
  assert.deepEqual(latencyBetween(b, a), { p50Ms: null, p99Ms: null })
})

test('a point: connections summed, messages per second over the real interval, quantiles of the interval', () => {
  const a = snap(10_000, { messagesIn: 100, messagesOut: 40, buckets: { 5: 20 } })
  const b = snap(12_000, { connections: { tcp: 3, ws: 2 }, messagesIn: 301, messagesOut: 90, buckets: { 5: 20, 7: 10 } })
  const p = pointBetween(a, b)
  assert.deepEqual(p, { t: 12_000, connections: 5, byTransport: { tcp: 3, ws: 2 }, messagesInPerSec: 100.5, messagesOutPerSec: 25, p50Ms: 17.5, p99Ms: 24.85 })
  // a process restarted: its counters start again, the rate is unknown
  const c = snap(13_000, { messagesIn: 5, messagesOut: 95 })
  assert.equal(pointBetween(b, c).messagesInPerSec, null)
  assert.equal(pointBetween(b, c).messagesOutPerSec, 5)
})

test('a ring keeps the newest points in time order and filters by since', () => {
  const r = new Ring<{ t: number }>(3)
  assert.equal(r.last(), undefined)
  for (let t = 1; t <= 5; t++) r.push({ t })
  assert.equal(r.size, 3)
  assert.deepEqual(r.since(0).map((p) => p.t), [3, 4, 5])
  assert.deepEqual(r.since(3).map((p) => p.t), [4, 5])
  assert.equal(r.last()?.t, 5)
})

test('the sampler: a point per interval from the second sample on, bounded, readable since a time, its timer cleared on stop', async () => {
  const snaps: ProcessSnapshot[] = []
  for (let i = 0; i < 10; i++) snaps.push(snap(1000 * (i + 1), { connections: { tcp: i }, messagesIn: 10 * i * i, buckets: { 2: i } }))
  let next = 0
  const timers = manualTimers()
  const sampler = new Sampler({ node: 'n1', snapshot: async () => snaps[next++] }, { intervalMs: 1000, capacity: 4, timers })
  sampler.start()
  assert.equal(timers.ms, 1000)
  assert.ok(sampler.running)
  await waitSamples(() => next === 1)
  assert.deepEqual(sampler.data().server, [], 'one snapshot is only a baseline')
  for (let i = 1; i < 10; i++) { timers.fn?.(); await waitSamples(() => next === i + 1) }
  const data = sampler.data()
  assert.equal(data.node, 'n1')
  assert.equal(data.windowMs, 4000)
  assert.deepEqual(data.server.map((p) => p.t), [7000, 8000, 9000, 10_000], 'the 4 newest of 9 points')
  assert.equal(data.last, 10_000)
  // messagesIn = 10 i²: from i=8 to i=9, 170 in one second
  assert.equal(data.server[3].messagesInPerSec, 170)
  assert.equal(data.server[3].connections, 9)
  // one action in (0.25, 0.5] each second
  assert.equal(data.server[3].p50Ms, 0.375)
  assert.deepEqual(sampler.data(8000).server.map((p) => p.t), [9000, 10_000])
  assert.deepEqual(sampler.data(10_000).server, [])
  sampler.stop()
  assert.deepEqual(timers.cleared, [timers.handle])
  assert.equal(sampler.running, false)
})

/** Lets the sampler's async sample run (sources here resolve at once). */
async function waitSamples (done: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !done(); i++) await new Promise((resolve) => setImmediate(resolve))
  // and the sample's own continuation after the snapshot resolved
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve))
}

test('node series: one per node from the heartbeat figures, at most maxNodes (least recently heard dropped), gone nodes aged out; links keyed node→peer', async () => {
  let at = 0
  let figures: NodeFigures[] = []
  const sampler = new Sampler({
    node: 'a',
    snapshot: async () => snap(at += 1000),
    nodes: async () => figures,
  }, { capacity: 3, maxNodes: 2, timers: manualTimers() })
  const fig = (node: string, extra: Partial<NodeFigures> = {}): NodeFigures => ({ node, role: 'server', connections: 1, links: [], ...extra })
  figures = [fig('a'), fig('b')]
  await sampler.sample() // baseline
  figures = [fig('a', { messagesInPerSec: 12, p99Ms: 3, links: [{ peer: 'd1', state: 'up', rttMs: 0.4 }] }), fig('b', { links: [{ peer: 'd1', state: 'connecting' }] })]
  await sampler.sample()
  let data = sampler.data()
  assert.deepEqual(Object.keys(data.nodes).sort(), ['a', 'b'])
  assert.deepEqual(data.nodes.a, [{ t: 2000, connections: 1, messagesInPerSec: 12, messagesOutPerSec: null, p50Ms: null, p99Ms: 3 }])
  assert.deepEqual(data.links, { 'a→d1': [{ t: 2000, state: 'up', rttMs: 0.4 }], 'b→d1': [{ t: 2000, state: 'connecting', rttMs: null }] })
  // a third node: the one heard from least recently (a, last at 2000) goes
  figures = [fig('b'), fig('c')]
  await sampler.sample()
  data = sampler.data()
  assert.deepEqual(Object.keys(data.nodes).sort(), ['b', 'c'])
  // b stops publishing: its series stays while it has points in the window (3 s), then goes
  figures = [fig('c')]
  await sampler.sample()
  await sampler.sample()
  assert.ok(sampler.data().nodes.b !== undefined)
  await sampler.sample()
  assert.deepEqual(Object.keys(sampler.data().nodes), ['c'])
  assert.deepEqual(Object.keys(sampler.data().links), [], 'links not heard within the window age out too')
})

test('without cluster figures, the links are this server\'s own (one point per peer and sample); a failing source is reported, not thrown', async () => {
  let at = 0
  let fail = false
  const links = [{ peer: 'gw1', state: 'up', rttMs: 1.5 }, { peer: 'gw1', state: 'up', rttMs: 9 }]
  const sampler = new Sampler({
    node: 'srv',
    snapshot: async () => { if (fail) throw new Error('worker 2 did not answer'); return snap(at += 1000, { links }) },
  }, { timers: manualTimers() })
  await sampler.sample()
  await sampler.sample()
  assert.deepEqual(sampler.data().links, { 'srv→gw1': [{ t: 2000, state: 'up', rttMs: 1.5 }] })
  assert.deepEqual(sampler.data().nodes, {})
  fail = true
  await sampler.sample()
  assert.equal(sampler.data().error, 'worker 2 did not answer')
  fail = false
  await sampler.sample()
  assert.equal(sampler.data().error, undefined)
  assert.equal(sampler.data().server.length, 2)
})

test('a sample still running makes the next one a no-op (slow sources do not pile up)', async () => {
  let calls = 0
  let release: () => void = () => {}
  const sampler = new Sampler({
    node: 'n',
    snapshot: async () => { calls++; await new Promise<void>((resolve) => { release = resolve }); return snap(calls * 1000) },
  }, { timers: manualTimers() })
  const first = sampler.sample()
  await sampler.sample()
  assert.equal(calls, 1)
  release()
  await first
  assert.equal(sampler.data().error, undefined)
})

test('a sample whose sum counts other processes than the previous one (a worker missed or restarted) is a gap, not a spike; a failing cluster view keeps this server\'s points', async () => {
  const snaps = [
    snap(1000, { processes: 2, messagesIn: 1000 }),
    snap(2000, { processes: 2, messagesIn: 1100 }),
    // one worker missed this sample: its lifetime count leaves the sum
    snap(3000, { processes: 1, messagesIn: 600 }),
    // back: its lifetime count returns in one second
    snap(4000, { processes: 2, messagesIn: 1300 }),
    snap(5000, { processes: 2, messagesIn: 1400 }),
  ]
  let i = 0
  const sampler = new Sampler({ node: 'n', snapshot: async () => snaps[i++], nodes: async () => { throw new Error('redis down') } }, { timers: manualTimers() })
  for (let k = 0; k < snaps.length; k++) await sampler.sample()
  const rates = sampler.data(0).server.map((p) => [p.t, p.messagesInPerSec])
  assert.deepEqual(rates, [[2000, 100], [5000, 100]])
  assert.match(sampler.data(0).error ?? '', /cluster view: redis down/)
})
