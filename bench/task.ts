/**
 * `node --import tsx bench/task.ts`: the cost of a task call through SD against a raw worker
 * thread, measured in the same run.
 *
 * - SD: `app.tasks.proxy(NoopTask).noop(payload)`, what `this.task(NoopTask).noop(payload)` does
 *   in a controller: the proxy, the pool's bookkeeping and per-call timeout (the default
 *   `tasks.timeoutMs`), the pool's message to its thread, and in the worker SD's runtime making
 *   a new `NoopTask` and calling `noop` (bench/tasks/NoopTask.ts).
 * - raw: `worker_threads` Workers that answer each message at once with its id and first
 *   argument through `postMessage` (bench/lib/echo-worker.mjs); the main thread matches replies
 *   to callers by id. Messages have the same shape as SD's calls, so both sides clone the same data.
 *
 * Both sides run the same number of threads and keep the same number of calls in flight, in
 * time-boxed segments that alternate (raw, SD, SD, raw, …) after a warm-up of each; each round
 * starts a fresh app and fresh raw workers. Every result is checked; a wrong one fails the run.
 * The target (SD / raw) applies to one call in flight per thread, which measures the round
 * trip. More calls in flight than threads is shown too: a raw worker then gets all of them at
 * once, while SD's pool posts at most `CALLS_PER_THREAD` to a thread and keeps the rest.
 *
 * Settings through env: BENCH_ROUNDS (3), BENCH_SEGMENTS (4 per side, scenario and round),
 * BENCH_SEGMENT_MS (400), BENCH_WARMUP_MS (400 per side, scenario and round, in two
 * interleaved halves), BENCH_THREADS (1), BENCH_IN_FLIGHT (`1,8`: calls in flight per scenario).
 */
import { availableParallelism, cpus } from 'node:os'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { createApp, type Application } from '../framework/index.js'
import { CALLS_PER_THREAD } from '../framework/task/pool.js'
import { cpuPercent, sampleMachine } from './lib/cpu.js'
import { drive, type Op } from './lib/drive.js'
import { int, pct, table } from './lib/table.js'
import { NoopTask } from './tasks/NoopTask.js'

/** SD calls/s over raw calls/s at or above which a round-trip scenario passes (SD time ≤ 1.2 × raw). */
const TARGET = 0.83

interface Settings {
  rounds: number
  segments: number
  segmentMs: number
  warmupMs: number
  threads: number
  inFlight: number[]
}

const settings: Settings = {
  rounds: Number(process.env.BENCH_ROUNDS ?? 3),
  segments: Number(process.env.BENCH_SEGMENTS ?? 4),
  segmentMs: Number(process.env.BENCH_SEGMENT_MS ?? 400),
  warmupMs: Number(process.env.BENCH_WARMUP_MS ?? 400),
  threads: Number(process.env.BENCH_THREADS ?? 1),
  inFlight: (process.env.BENCH_IN_FLIGHT ?? '1,8').split(',').map(Number),
}

const root = fileURLToPath(new URL('..', import.meta.url))
const payload = { msg: 'hello', n: 42 }
const ok = (value: unknown): boolean => (value as typeof payload | undefined)?.n === 42 && (value as typeof payload).msg === 'hello'

/** The sides, in the order of a forward block of segments. */
const sideNames = ['raw', 'SD'] as const
type SideName = typeof sideNames[number]

/** One call; resolves true when the result is right. */

/** The baseline: raw workers echoing messages, calls matched to replies by id, spread in turn. */
class RawWorkers {
  readonly #workers: Worker[]
  readonly #pending = new Map<number, (value: unknown) => void>()
  #id = 0
  #turn = 0

  constructor (count: number) {
    this.#workers = Array.from({ length: count }, () => {
      const w = new Worker(new URL('./lib/echo-worker.mjs', import.meta.url))
      w.on('message', (msg: { id: number, value: unknown }) => {
        const resolve = this.#pending.get(msg.id)
        this.#pending.delete(msg.id)
        resolve?.(msg.value)
      })
      w.on('error', (err) => { throw err })
      return w
    })
  }

  call (call: object): Promise<unknown> {
    const id = ++this.#id
    const worker = this.#workers[this.#turn++ % this.#workers.length]
    return new Promise((resolve) => {
      this.#pending.set(id, resolve)
      worker.postMessage({ id, ...call })
    })
  }

  async close (): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()))
  }
}

/** Both sides, fresh for a round. */
interface Sides {
  app: Application
  raw: RawWorkers
  ops: Record<SideName, Op>
}

async function createSides (): Promise<Sides> {
  const app = await createApp({
    root,
    configDir: false,
    controllers: [],
    overrides: { app: { logLevel: 'warn' }, tasks: { dir: 'bench/tasks', minWorkers: settings.threads, maxWorkers: settings.threads } },
  })
  const ref = app.tasks.registry.get(NoopTask)
  const call = (): object => ({ file: ref.file, exportName: ref.exportName, method: 'noop', args: [payload] })
  const raw = new RawWorkers(settings.threads)
  const proxy = app.tasks.proxy(NoopTask)
  const ops: Record<SideName, Op> = {
    raw: async () => ok(await raw.call(call())),
    SD: async () => ok(await proxy.noop(payload)),
  }
  // first calls: threads started and modules loaded on every side
  for (const name of sideNames) await Promise.all(Array.from({ length: settings.threads * 4 }, ops[name]))
  if (app.tasks.pool.threads !== settings.threads) throw new Error(`SD runs ${app.tasks.pool.threads} threads, expected ${settings.threads}`)
  return { app, raw, ops }
}

async function closeSides (s: Sides): Promise<void> {
  await Promise.all([s.app.stop(), s.raw.close()])
}

/** One measuring segment of one side. */
interface Segment {
  side: SideName
  callsPerSecond: number
  /** CPU of this process (main thread and workers), % of one core. */
  processCpu: number
  /** CPU microseconds of this process per call. */
  cpuUsPerCall: number
  /** CPU of every other process on the machine, % of one core. */
  otherCpu: number | undefined
}

async function segment (op: Op, side: SideName, inFlight: number): Promise<Segment> {
  const machineFrom = sampleMachine()
  const cpuFrom = process.cpuUsage()
  const at = process.hrtime.bigint()
  const r = await drive(op, inFlight, settings.segmentMs)
  const cpu = process.cpuUsage(cpuFrom)
  const wallUs = Number(process.hrtime.bigint() - at) / 1e3
  const machineCpu = cpuPercent(machineFrom, sampleMachine())
  if (r.wrong > 0) throw new Error(`${side}: ${r.wrong} of ${r.ops} results were wrong`)
  const cpuUs = cpu.user + cpu.system
  const processCpu = (100 * cpuUs) / wallUs
  return {
    side,
    callsPerSecond: r.ops / r.seconds,
    processCpu,
    cpuUsPerCall: cpuUs / r.ops,
    otherCpu: machineCpu === undefined ? undefined : Math.max(0, machineCpu - processCpu),
  }
}

/** Segment order: raw SD, SD raw, …: each side goes first and last equally often. */
function alternate (perSide: number): SideName[] {
  const order: SideName[] = []
  for (let i = 0; i < perSide; i++) order.push(...(i % 2 === 0 ? sideNames : [...sideNames].reverse()))
  return order
}

/** Results of one scenario in one round. */
interface ScenarioRound { inFlight: number, segments: Segment[] }

async function measure (sides: Sides, inFlight: number): Promise<ScenarioRound> {
  const half = settings.warmupMs / 2
  for (const name of [...sideNames, ...sideNames]) await drive(sides.ops[name], inFlight, half)
  const row: ScenarioRound = { inFlight, segments: [] }
  for (const side of alternate(settings.segments)) {
    const s = await segment(sides.ops[side], side, inFlight)
    row.segments.push(s)
    console.error(`  ${settings.threads} thread(s) x ${String(inFlight).padStart(2)} in flight  ${side.padEnd(7)} ` +
      `${int(s.callsPerSecond).padStart(8)} calls/s  process cpu ${pct(s.processCpu).padStart(4)} (${s.cpuUsPerCall.toFixed(1)} µs/call)  other cpu ${pct(s.otherCpu).padStart(4)}`)
  }
  return row
}

function median (values: number[]): number {
  const s = [...values].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

const of = (segments: Segment[], side: SideName): Segment[] => segments.filter((s) => s.side === side)
const medianOf = (segments: Segment[], key: 'callsPerSecond' | 'processCpu' | 'cpuUsPerCall'): number => median(segments.map((s) => s[key]))
const rate = (segments: Segment[], side: SideName): number => medianOf(of(segments, side), 'callsPerSecond')

/** `a` median / `b` median within one round. */
function roundRatio (r: ScenarioRound, a: SideName, b: SideName): number {
  return rate(r.segments, a) / rate(r.segments, b)
}

/** SD / raw within each block of back-to-back segments (raw SD or SD raw). */
function blockRatios (r: ScenarioRound): number[] {
  const out: number[] = []
  const n = sideNames.length
  for (let i = 0; i + n <= r.segments.length; i += n) {
    const block = r.segments.slice(i, i + n)
    out.push(rate(block, 'SD') / rate(block, 'raw'))
  }
  return out
}

function format (rows: ScenarioRound[]): string {
  const groups = settings.inFlight.map((inFlight) => {
    const rounds = rows.filter((r) => r.inFlight === inFlight)
    return { inFlight, rounds, segments: rounds.flatMap((r) => r.segments) }
  })
  const body = groups.map(({ inFlight, rounds, segments }) => {
    const ratios = rounds.map((r) => roundRatio(r, 'SD', 'raw'))
    const ratio = median(ratios)
    const blocks = rounds.flatMap(blockRatios)
    const roundTrip = inFlight === settings.threads
    const us = (side: SideName): string => (1e6 * inFlight / rate(segments, side)).toFixed(1)
    const cpuUs = (side: SideName): string => medianOf(of(segments, side), 'cpuUsPerCall').toFixed(1)
    return [
      `${settings.threads} x ${inFlight}`, int(rate(segments, 'SD')), int(rate(segments, 'raw')),
      ratio.toFixed(2), ratios.map((x) => x.toFixed(2)).join(' '), `${Math.min(...blocks).toFixed(2)}-${Math.max(...blocks).toFixed(2)}`,
      `${us('SD')} / ${us('raw')}`, `${cpuUs('SD')} / ${cpuUs('raw')}`,
      roundTrip ? `>= ${TARGET.toFixed(2)}` : '-', roundTrip ? (ratio >= TARGET ? 'PASS' : 'BELOW') : 'info',
    ]
  })
  const header = ['threads x in flight', 'SD calls/s', 'raw calls/s', 'SD/raw', 'round SD/raw', 'block range',
    'µs/call SD/raw', 'CPU µs/call SD/raw', 'target', 'result']
  const others = rows.flatMap((r) => r.segments).map((s) => s.otherCpu).filter((v): v is number => v !== undefined)
  return `Tasks: ${settings.rounds} rounds with fresh pools and raw workers; per round and scenario ${settings.segments} segments of ${settings.segmentMs} ms per side, ` +
    `run alternately after ${settings.warmupMs} ms of warm-up each.\n` +
    `SD = app.tasks.proxy(NoopTask).noop(payload) (default 30 s timeout per call; at most ${CALLS_PER_THREAD} calls in flight per thread);\n` +
    'raw = worker_threads Workers echoing postMessage. Ratios = median over rounds of (median calls/s of one side / of the other);\n' +
    'calls/s = median of every segment; block range = min-max of SD/raw over blocks of back-to-back segments; µs/call = calls in flight / calls per second;\n' +
    'CPU µs/call = CPU time of this process (main thread and workers) per call.\n' +
    table(header, body, new Set([1, 2, 3])) +
    (others.length > 0 ? `\nOther processes on the machine: median ${pct(median(others))} of a core during the segments (max ${pct(Math.max(...others))}).` : '')
}

const started = Date.now()
console.log(`SD task benchmark: node ${process.version}, ${availableParallelism()} CPUs (${cpus()[0]?.model ?? 'unknown'}), ` +
  `${settings.threads} worker thread(s) per side, main thread and workers in one process, no CPU pinning`)
const rows: ScenarioRound[] = []
for (let round = 0; round < settings.rounds; round++) {
  console.error(`round ${round + 1} of ${settings.rounds} (fresh pools and raw workers)`)
  const sides = await createSides()
  try {
    for (const inFlight of settings.inFlight) rows.push(await measure(sides, inFlight))
  } finally {
    await closeSides(sides)
  }
}
console.log('')
console.log(format(rows))
console.log(`\nTotal time ${((Date.now() - started) / 1000).toFixed(0)} s`)
