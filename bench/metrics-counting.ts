/**
 * The counting path of metrics alone, per request (no I/O): what `metrics.enabled` adds to a
 * request on the hot path, in ns of CPU, to set against a request's cost in `npm run bench`
 * (e.g. 1.75 µs per request on TCP pipelined at 570k req per CPU-second). Counted as the
 * server does for one echo: two clock reads and a histogram update (core/meter.ts via
 * core/pipeline.ts) and four traffic counters (connection/traffic.ts). Also each clock on its
 * own. `node --import tsx bench/metrics-counting.ts` (BENCH_COUNTING_N, 5,000,000).
 */
import { Traffic } from '../framework/connection/traffic.js'
import { ActionMeter } from '../framework/core/meter.js'
import { table } from './lib/table.js'

const N = Number(process.env.BENCH_COUNTING_N ?? 5_000_000)
const meter = new ActionMeter()
const traffic = new Traffic().of('tcp')

/** CPU time (ns) per call of `f`, `N` calls in a row. */
function cpuNs (f: () => number): number {
  let sink = 0
  const from = process.cpuUsage()
  for (let i = 0; i < N; i++) sink += f()
  const d = process.cpuUsage(from)
  if (sink === -1) console.log(sink)
  return (d.user + d.system) * 1e3 / N
}

const cases: Array<[string, () => number]> = [
  ['nothing (loop)', () => 1],
  ['one request counted (2 clock reads, histogram, 4 counters)', () => {
    const t0 = performance.now()
    traffic.messagesIn++
    traffic.bytesIn += 40
    traffic.messagesOut++
    traffic.bytesOut += 40
    meter.observe('/bench/echo', t0)
    return 0
  }],
  ['4 traffic counters', () => { traffic.messagesIn++; traffic.bytesIn += 40; traffic.messagesOut++; traffic.bytesOut += 40; return 0 }],
  ['meter.observe (1 clock read inside)', () => { meter.observe('/bench/echo', 1); return 0 }],
  ['performance.now()', () => performance.now()],
  ['process.hrtime()', () => process.hrtime()[1]],
  ['Date.now()', () => Date.now()],
]
const results = new Map<string, number[]>(cases.map(([name]) => [name, []]))
for (let round = 0; round < 5; round++) for (const [name, f] of cases) results.get(name)?.push(cpuNs(f))
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
console.log(`metrics counting path, node ${process.version}: CPU ns per call, median of 5 runs of ${N.toLocaleString('en-US')}`)
console.log(table(['what', 'ns'], [...results].map(([name, xs]) => [name, median(xs).toFixed(1)]), new Set([1])))
