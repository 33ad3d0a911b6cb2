/**
 * `npm run bench:metrics`: what counting metrics costs the hot path (issue 21, target ≤ 3%).
 * The SD bench server twice in the same run, side by side on the server CPU: `--metrics=off`
 * (nothing counted, no admin listener) and `--metrics=on --admin-port=0` (production: counters
 * on, the admin listener up with its dashboard sampler, and a scraper here fetching `/metrics`
 * every BENCH_SCRAPE_MS, 1000 by default: Prometheus scrapes every 15 s, so this is harsher).
 * Loaded alternately by one load generator (off, on, on, off, …) with `npm run bench`'s
 * scenarios, fresh processes per transport and round. Reported per transport and scenario:
 * req/s of each, the ratio on/off (median over rounds), the overhead 1 - ratio with PASS/MISS
 * against 3%, the ratio of requests per server CPU-second; and the scrape's own cost: its round
 * trip under load, the render time of `/metrics` in process (median of 20, after the load) and
 * its size. Settings through env as `npm run bench` (BENCH_ROUNDS 3, BENCH_SEGMENTS 4,
 * BENCH_SEGMENT_MS 1000, BENCH_WARMUP_MS 1500, BENCH_SETTLE_MS 150, BENCH_TRANSPORTS, BENCH_PIN,
 * BENCH_RUNTIME).
 */
import { availableParallelism, cpus, loadavg } from 'node:os'
import { benchRuntime, pinning } from './lib/child.js'
import { portOf, startServer, type RunningServer, type ServerSpec } from './lib/servers.js'
import { int, pct, table } from './lib/table.js'
import type { LoadTransport } from './load/main.js'
import { measure, median, pairRatios, scenarios, SERVER_CPU, throughputSettingsFromEnv, type Segment, type ThroughputRow } from './throughput.js'

/** The target: metrics may cost at most this fraction of throughput. */
const TARGET_OVERHEAD = 0.03
const SCRAPE_MS = Number(process.env.BENCH_SCRAPE_MS ?? 1000)
const RENDERS = 20
/** Median CPU of other processes (% of one core) above which a row is flagged as measured on a busy machine. */
const NOISY_OTHER_CPU = 15
const transports: LoadTransport[] = ['tcp', 'ws', 'http']

const off: ServerSpec = { name: 'metrics off', script: 'servers/sd.ts' }
const on: ServerSpec = { name: 'metrics on', script: 'servers/sd.ts' }

/** What the scraper saw: round trips (ms) of successful scrapes, size of the last, failures. */
interface Scrapes { ms: number[], bytes: number, failures: string[] }

/** Fetches `/metrics` from the admin port every SCRAPE_MS until stopped (one at a time). */
function startScraper (port: number): { stop: () => Promise<Scrapes> } {
  const seen: Scrapes = { ms: [], bytes: 0, failures: [] }
  let inFlight: Promise<void> = Promise.resolve()
  const scrape = async (): Promise<void> => {
    const started = performance.now()
    try {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`)
      const body = await res.text()
      if (res.status !== 200) throw new Error(`status ${res.status}: ${body.slice(0, 200)}`)
      seen.ms.push(performance.now() - started)
      seen.bytes = Buffer.byteLength(body)
    } catch (err) {
      seen.failures.push(String(err))
    }
  }
  const timer = setInterval(() => { inFlight = inFlight.then(scrape) }, SCRAPE_MS)
  return {
    stop: async () => {
      clearInterval(timer)
      await inFlight
      return seen
    },
  }
}

/** Median time (ms) and size (bytes) of rendering `/metrics` inside the server process. */
async function renderCost (server: RunningServer): Promise<{ medianMs: number, bytes: number }> {
  type Answer = { type: 'render', medianMs?: number, bytes?: number, error?: string }
  const answer = server.child.message((m) => (m as Answer | null)?.type === 'render' ? m as Answer : undefined, 30_000)
  server.child.send({ type: 'render', times: RENDERS })
  const { medianMs, bytes, error } = await answer
  if (error !== undefined || medianMs === undefined || bytes === undefined) throw new Error(`rendering /metrics failed: ${error ?? 'no answer'}`)
  return { medianMs, bytes }
}

/** The scrape's cost per transport (pooled over rounds). */
interface ScrapeRow { transport: LoadTransport, scrapes: Scrapes, renderMs: number[], renderBytes: number }

const settings = throughputSettingsFromEnv()
const only = process.env.BENCH_TRANSPORTS?.split(',')
const rows: ThroughputRow[] = []
const scrapeRows = new Map<LoadTransport, ScrapeRow>()
const loadBefore = loadavg()

console.log(`SD metrics overhead benchmark: node ${process.version}, ${availableParallelism()} CPUs (${cpus()[0]?.model ?? 'unknown'}), ` +
  (pinning ? 'servers pinned to CPU 0 and load generators to CPU 1 (taskset)' : 'no CPU pinning') +
  `, children run ${benchRuntime === 'tsx' ? 'the TypeScript sources through tsx' : 'the tsc build with plain node'}`)
console.error('metrics off vs on (progress):')
for (let round = 0; round < settings.rounds; round++) {
  console.error(`round ${round + 1} of ${settings.rounds} (fresh server processes)`)
  for (const transport of transports) {
    if (only && !only.includes(transport)) continue
    const servers = await Promise.all([
      startServer(off, { cpu: SERVER_CPU, args: ['--metrics=off'] }),
      startServer(on, { cpu: SERVER_CPU, args: ['--metrics=on', '--admin-port=0'] }),
    ])
    try {
      const scraper = startScraper(portOf(servers[1], 'admin'))
      let scrapes: Scrapes
      try {
        for (const scenario of scenarios) {
          rows.push(await measure(servers, { transport, baseline: off, target: 1 - TARGET_OVERHEAD }, scenario, settings, round))
        }
      } finally {
        scrapes = await scraper.stop()
      }
      if (scrapes.failures.length > 0) throw new Error(`${transport}: ${scrapes.failures.length} scrapes failed, first: ${scrapes.failures[0]}`)
      const render = await renderCost(servers[1])
      const row = scrapeRows.get(transport) ?? { transport, scrapes: { ms: [], bytes: 0, failures: [] }, renderMs: [], renderBytes: 0 }
      row.scrapes.ms.push(...scrapes.ms)
      row.scrapes.bytes = scrapes.bytes
      row.renderMs.push(render.medianMs)
      row.renderBytes = render.bytes
      scrapeRows.set(transport, row)
    } finally {
      await Promise.all(servers.map((s) => s.child.stop()))
    }
  }
}

/** Requests per second of server CPU, or undefined when the CPU is unknown. */
const perCpu = (s: Segment): number | undefined => s.serverCpu === undefined || s.serverCpu <= 0 ? undefined : s.rps / (s.serverCpu / 100)
const medianDefined = (values: Array<number | undefined>): number | undefined => {
  const known = values.filter((v): v is number => v !== undefined)
  return known.length > 0 ? median(known) : undefined
}

const groups = new Map<string, ThroughputRow[]>()
for (const r of rows) groups.set(`${r.transport} ${r.scenario}`, [...(groups.get(`${r.transport} ${r.scenario}`) ?? []), r])
const noisy: string[] = []
const body = [...groups.values()].map((rounds) => {
  const segments = rounds.flatMap((r) => r.segments)
  const offSegs = segments.filter((s) => !s.sd)
  const onSegs = segments.filter((s) => s.sd)
  const ratios = rounds.map((r) => median(r.segments.filter((s) => s.sd).map((s) => s.rps)) / median(r.segments.filter((s) => !s.sd).map((s) => s.rps)))
  const ratio = median(ratios)
  const pairs = rounds.flatMap(pairRatios)
  const onCpu = medianDefined(onSegs.map(perCpu))
  const offCpu = medianDefined(offSegs.map(perCpu))
  const other = medianDefined(segments.map((s) => s.otherCpu))
  if ((other ?? 0) > NOISY_OTHER_CPU) noisy.push(`${rounds[0].transport} ${rounds[0].scenario}`)
  const overhead = 1 - ratio
  return [
    rounds[0].transport, rounds[0].scenario, int(median(offSegs.map((s) => s.rps))), int(median(onSegs.map((s) => s.rps))),
    ratio.toFixed(3), ratios.map((x) => x.toFixed(2)).join(' '), `${Math.min(...pairs).toFixed(2)}-${Math.max(...pairs).toFixed(2)}`,
    onCpu === undefined || offCpu === undefined ? '?' : (onCpu / offCpu).toFixed(3), pct(other),
    `${(overhead * 100).toFixed(1)}%`, overhead <= TARGET_OVERHEAD ? 'PASS' : 'MISS',
  ]
})
console.log('')
console.log(`Metrics overhead: ${settings.rounds} rounds with fresh server processes; per round ${settings.segments} segments of ${settings.segmentMs} ms per side, ` +
  `run alternately (off, on, on, off, …) after ${settings.warmupMs} ms of warm-up each; "on" has the admin listener up and is scraped every ${SCRAPE_MS} ms.`)
console.log('ratio = median over rounds of (on median / off median); overhead = 1 - ratio, target <= 3%; per-CPU = ratio of requests per server CPU-second;\n' +
  'pair range = min-max of on/off over back-to-back segment pairs; other CPU = every other process on the machine (median % of one core).')
console.log(table(['transport', 'scenario', 'off req/s', 'on req/s', 'on/off', 'round ratios', 'pair range', 'per-CPU on/off', 'other CPU', 'overhead', 'result'],
  body, new Set([2, 3, 4, 7, 8, 9])))
if (noisy.length > 0) console.log(`WARNING: other processes took over ${NOISY_OTHER_CPU}% of a core (median) during: ${noisy.join('; ')}. Rerun on a quiet machine.`)

console.log('')
console.log(`The scrape's own cost: round trip of GET /metrics under load (median over every scrape), render of /metrics in the server process after the load (median of ${RENDERS} per round, median over rounds), size.`)
console.log(table(['transport', 'scrapes', 'round trip ms', 'render ms', 'bytes'], [...scrapeRows.values()].map((r) => [
  r.transport, String(r.scrapes.ms.length), r.scrapes.ms.length > 0 ? median(r.scrapes.ms).toFixed(2) : '?', median(r.renderMs).toFixed(2), int(r.renderBytes),
]), new Set([1, 2, 3, 4])))
console.log('')
const fmtLoad = (l: number[]): string => l.map((x) => x.toFixed(2)).join(' ')
console.log(`load average (1/5/15 min) before: ${fmtLoad(loadBefore)}, after: ${fmtLoad(loadavg())}`)
