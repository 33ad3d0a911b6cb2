/**
 * Request throughput of SD against a baseline per transport, measured in the same run: each
 * server in its own process (CPU 0), one load generator process (CPU 1) that warms up both and
 * then loads them alternately in short segments (baseline, SD, SD, baseline, …), so both see
 * the same machine. Reported per side: the median segment; the ratio is SD median / baseline
 * median.
 */
import { startChild } from './lib/child.js'
import { cpuPercent, sampleCpu, sampleMachine, type CpuSample } from './lib/cpu.js'
import { fastifyBare, portOf, sdServer, startServer, tcpMinimal, wsRaw, type RunningServer, type ServerSpec } from './lib/servers.js'
import { int, pct, table } from './lib/table.js'
import type { LoadMessage, LoadPlan, LoadTransport } from './load/main.js'

/** CPU the servers are pinned to (the load generator gets LOAD_CPU). */
export const SERVER_CPU = 0
const LOAD_CPU = 1
/** Median CPU of other processes (% of one core) above which a row is flagged as measured on a busy machine. */
const NOISY_OTHER_CPU = 15

/** Settings of a throughput run (env: BENCH_ROUNDS, BENCH_SEGMENTS, BENCH_SEGMENT_MS, BENCH_WARMUP_MS, BENCH_SETTLE_MS). */
export interface ThroughputSettings {
  /**
   * Rounds, each with fresh server processes: one process's JIT and memory layout can move a
   * server's throughput by ±10%, so one pair of processes is not enough to compare.
   */
  rounds: number
  /** Measuring segments per side. */
  segments: number
  segmentMs: number
  warmupMs: number
  settleMs: number
}

/** A load shape: connections, each with `pipelining` requests in flight. */
export interface Scenario { name: string, connections: number, pipelining: number }
/** One transport against its baseline, with the ratio it must reach. */
export interface TransportCase { transport: LoadTransport, baseline: ServerSpec, target: number }

/** The load shapes of `npm run bench`. */
export const scenarios: Scenario[] = [
  { name: '8 conn x 32 pipelined', connections: 8, pipelining: 32 },
  { name: '64 conn x 1 in flight', connections: 64, pipelining: 1 },
]

const cases: TransportCase[] = [
  { transport: 'tcp', baseline: tcpMinimal, target: 0.85 },
  { transport: 'ws', baseline: wsRaw, target: 0.85 },
  { transport: 'http', baseline: fastifyBare, target: 0.90 },
]

/** One measuring segment of one server. */
export interface Segment {
  rps: number
  /** % of one core used by the server. */
  serverCpu: number | undefined
  /** % of one core used by the load generator. */
  loadCpu: number
  /** % of one core used by every other process (machine total minus server and load). */
  otherCpu: number | undefined
}

/** Results of one transport and scenario. */
export interface ThroughputRow {
  transport: LoadTransport
  scenario: string
  baseline: string
  target: number
  /** Round (fresh processes) this row was measured in. */
  round: number
  /** Segments in the order they ran; `sd` tells whose each one is. */
  segments: Array<Segment & { sd: boolean }>
}

/** Segment order 0 1 1 0 0 1 …: each side goes first equally often. */
function alternate (perSide: number): number[] {
  const order: number[] = []
  for (let i = 0; i < perSide; i++) order.push(...(i % 2 === 0 ? [0, 1] : [1, 0]))
  return order
}

/** Loads two running servers alternately (index 0 is the baseline, 1 is `sd` in the row) with one scenario. */
export async function measure (servers: [RunningServer, RunningServer], tc: TransportCase, scenario: Scenario, settings: ThroughputSettings, round: number): Promise<ThroughputRow> {
  const plan: LoadPlan = {
    transport: tc.transport,
    ports: servers.map((s) => portOf(s, tc.transport === 'tls' ? 'tcp' : tc.transport)),
    connections: scenario.connections,
    pipelining: scenario.pipelining,
    warmupMs: settings.warmupMs,
    settleMs: settings.settleMs,
    segmentMs: settings.segmentMs,
    order: alternate(settings.segments),
  }
  const row: ThroughputRow = { transport: tc.transport, scenario: scenario.name, baseline: tc.baseline.name, target: tc.target, round, segments: [] }
  const load = startChild('load/main.ts', { cpu: LOAD_CPU, args: [JSON.stringify(plan)] })
  const budget = 2 * plan.warmupMs + plan.order.length * (plan.settleMs + plan.segmentMs) + 60_000
  let cpuFrom: CpuSample | undefined
  let machineFrom: CpuSample | undefined
  try {
    const end = await load.message((m) => {
      const msg = m as LoadMessage
      if (msg.type === 'window') {
        cpuFrom = sampleCpu(servers[plan.order[msg.segment]].child.pid)
        machineFrom = sampleMachine()
      }
      if (msg.type !== 'segment') return msg.type === 'done' || msg.type === 'failed' ? msg : undefined
      const server = servers[msg.target]
      const r = msg.result
      if (r.errors > 0 || r.mismatches > 0) {
        return { type: 'failed', error: `${server.spec.name}: ${r.errors} errors, ${r.mismatches} wrong replies` } as const
      }
      const serverCpu = cpuPercent(cpuFrom, sampleCpu(server.child.pid))
      const machineCpu = cpuPercent(machineFrom, sampleMachine())
      const otherCpu = machineCpu === undefined || serverCpu === undefined ? undefined : Math.max(0, machineCpu - serverCpu - msg.cpuPercent)
      const segment = { rps: r.requests / r.seconds, serverCpu, loadCpu: msg.cpuPercent, otherCpu, sd: msg.target === 1 }
      row.segments.push(segment)
      console.error(`  ${tc.transport.padEnd(4)} ${scenario.name}  ${server.spec.name.padEnd(12)} ${int(segment.rps).padStart(9)} req/s` +
        `  server cpu ${pct(segment.serverCpu).padStart(4)}  load cpu ${pct(segment.loadCpu).padStart(4)}  other cpu ${pct(segment.otherCpu).padStart(4)}`)
      return undefined
    }, budget)
    if (end.type === 'failed') throw new Error(`${tc.transport} ${scenario.name}: ${end.error}`)
  } finally {
    await load.stop()
  }
  return row
}

/** Runs every transport (of `only`: the default cases) and scenario, `rounds` times with fresh servers; logs each segment to stderr. */
export async function runThroughput (settings: ThroughputSettings, transports: TransportCase[] = cases): Promise<ThroughputRow[]> {
  const rows: ThroughputRow[] = []
  const only = process.env.BENCH_TRANSPORTS?.split(',')
  for (let round = 0; round < settings.rounds; round++) {
    console.error(`round ${round + 1} of ${settings.rounds} (fresh server processes)`)
    for (const tc of transports) {
      if (only && !only.includes(tc.transport)) continue
      // Both sides get a fresh process per transport: a process that already served another
      // transport's load runs the next one slower (see docs/benchmarks.md), and the baselines
      // only ever serve one.
      const [base, sd] = await Promise.all([startServer(tc.baseline, { cpu: SERVER_CPU }), startServer(sdServer, { cpu: SERVER_CPU })])
      try {
        for (const scenario of scenarios) rows.push(await measure([base, sd], tc, scenario, settings, round))
      } finally {
        await Promise.all([base.child.stop(), sd.child.stop()])
      }
    }
  }
  return rows
}

/** Rows of the same transport and scenario (one per round), pooled: segments of every round. */
function pooled (rows: ThroughputRow[]): Array<{ rows: ThroughputRow[], all: ThroughputRow }> {
  const groups = new Map<string, ThroughputRow[]>()
  for (const r of rows) {
    const key = `${r.transport} ${r.scenario}`
    groups.set(key, [...(groups.get(key) ?? []), r])
  }
  return [...groups.values()].map((g) => ({ rows: g, all: { ...g[0], segments: g.flatMap((r) => r.segments) } }))
}

/** SD median / baseline median within one round. */
function roundRatio (r: ThroughputRow): number {
  const { sd, base } = sides(r)
  return median(sd.map((s) => s.rps)) / median(base.map((s) => s.rps))
}

export function median (values: number[]): number {
  const s = [...values].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

function medianOf (segments: Segment[], key: 'serverCpu' | 'loadCpu' | 'otherCpu'): number | undefined {
  const values = segments.map((s) => s[key]).filter((v): v is number => v !== undefined)
  return values.length > 0 ? median(values) : undefined
}

/** SD / baseline of each consecutive pair of segments (each pair ran back to back). */
export function pairRatios (row: ThroughputRow): number[] {
  const out: number[] = []
  for (let i = 0; i + 1 < row.segments.length; i += 2) {
    const [a, b] = [row.segments[i], row.segments[i + 1]]
    const sd = a.sd ? a : b
    const base = a.sd ? b : a
    out.push(sd.rps / base.rps)
  }
  return out
}

/** Requests per second of server CPU (rps / fraction of a core used), or undefined. */
function perCpu (s: Segment): number | undefined {
  return s.serverCpu === undefined || s.serverCpu <= 0 ? undefined : s.rps / (s.serverCpu / 100)
}

function medianDefined (values: Array<number | undefined>): number | undefined {
  const known = values.filter((v): v is number => v !== undefined)
  return known.length > 0 ? median(known) : undefined
}

function sides (r: ThroughputRow): { sd: Segment[], base: Segment[] } {
  return { sd: r.segments.filter((s) => s.sd), base: r.segments.filter((s) => !s.sd) }
}

/** The result table: throughput ratio against the target. */
export function formatThroughput (rows: ThroughputRow[], settings: ThroughputSettings): string {
  const body = pooled(rows).map(({ rows: rounds, all: r }) => {
    const { sd, base } = sides(r)
    const sdRps = median(sd.map((s) => s.rps))
    const baseRps = median(base.map((s) => s.rps))
    const ratios = rounds.map(roundRatio)
    const ratio = median(ratios)
    const pairs = rounds.flatMap(pairRatios)
    return [
      r.transport, r.scenario, int(sdRps), r.baseline, int(baseRps), ratio.toFixed(2), ratios.map((x) => x.toFixed(2)).join(' '),
      `${Math.min(...pairs).toFixed(2)}-${Math.max(...pairs).toFixed(2)}`, `>= ${r.target.toFixed(2)}`, ratio >= r.target ? 'PASS' : 'BELOW',
    ]
  })
  const header = ['transport', 'scenario', 'SD req/s', 'baseline', 'base req/s', 'ratio', 'round ratios', 'pair range', 'target', 'result']
  return `Throughput: ${settings.rounds} rounds with fresh server processes; per round ${settings.segments} segments of ${settings.segmentMs} ms per side, run alternately after ${settings.warmupMs} ms of warm-up each.\n` +
    'ratio = median over rounds of (SD median / baseline median); req/s = median of every segment; pair range = min-max of SD/baseline over back-to-back segment pairs.\n' +
    table(header, body, new Set([2, 4, 5]))
}

/** How busy each process was (medians, % of one core) and throughput per server CPU-second. */
export function formatCpu (perRound: ThroughputRow[]): string {
  const rows = pooled(perRound).map((g) => g.all)
  const body = rows.map((r) => {
    const { sd, base } = sides(r)
    const sdPer = medianDefined(sd.map(perCpu))
    const basePer = medianDefined(base.map(perCpu))
    const pair = (a: number | undefined, b: number | undefined): string => `${pct(a)} / ${pct(b)}`
    return [
      r.transport, r.scenario,
      pair(medianOf(sd, 'serverCpu'), medianOf(base, 'serverCpu')),
      pair(medianOf(sd, 'loadCpu'), medianOf(base, 'loadCpu')),
      pair(medianOf(sd, 'otherCpu'), medianOf(base, 'otherCpu')),
      sdPer === undefined ? '?' : int(sdPer), basePer === undefined ? '?' : int(basePer),
      sdPer === undefined || basePer === undefined ? '?' : (sdPer / basePer).toFixed(2),
    ]
  })
  const header = ['transport', 'scenario', 'server CPU SD/base', 'load CPU SD/base', 'other CPU SD/base', 'SD req/CPU-s', 'base req/CPU-s', 'per-CPU ratio']
  const noisy = rows.filter((r) => (medianOf(r.segments, 'otherCpu') ?? 0) > NOISY_OTHER_CPU).map((r) => `${r.transport} ${r.scenario}`)
  const warning = noisy.length > 0
    ? `\nWARNING: other processes took over ${NOISY_OTHER_CPU}% of a core (median) during: ${noisy.join('; ')}. Rerun on a quiet machine.`
    : ''
  return 'CPU during the windows (median % of one core; other = every other process on the machine),\n' +
    'and requests per second of server CPU (what each server would do with its core saturated):\n' +
    table(header, body, new Set([5, 6, 7])) + warning
}

/** Throughput settings from the environment (BENCH_ROUNDS, BENCH_SEGMENTS, BENCH_SEGMENT_MS, BENCH_WARMUP_MS, BENCH_SETTLE_MS), as every throughput bench reads them. */
export function throughputSettingsFromEnv (): ThroughputSettings {
  return {
    rounds: Number(process.env.BENCH_ROUNDS ?? 3),
    segments: Number(process.env.BENCH_SEGMENTS ?? 4),
    segmentMs: Number(process.env.BENCH_SEGMENT_MS ?? 1000),
    warmupMs: Number(process.env.BENCH_WARMUP_MS ?? 1500),
    settleMs: Number(process.env.BENCH_SETTLE_MS ?? 150),
  }
}
