/**
 * Slow readers (issue 15, finding 2): 200 clients in one chat room stop reading while one TCP
 * client floods `/chat/say` to that room; healthy clients in another room do `/bench/echo` round
 * trips the whole time. Printed per run: server RSS at start, peak (sampled from /proc), after
 * the readers closed (as is, then after a full gc), healthy latency (p50/p99/max), and how many
 * readers the output budget closed. Runs over WebSocket readers, then TCP readers, for main's
 * defaults and for the output budget (`server.maxTotalSendBufferBytes`, default).
 *
 * `npm run bench:slow-readers`. Env: BENCH_SLOW_SECONDS (flood length, 20), BENCH_SLOW_READERS
 * (200), BENCH_SLOW_TRANSPORTS (`ws,tcp`), BENCH_SLOW_VARIANTS (`main,budget`),
 * BENCH_BASELINE_ROOT (a checkout of main with node_modules: "main" runs that code; without it,
 * "main" is this code with the budget off). The server runs with --trace-gc: the longest GC
 * pause and the total time in GC during the run are printed too.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { int, table } from './lib/table.js'
import { connectRpc, type RpcClient } from './slow-readers/clients.js'
import type { SlowServerStats } from './slow-readers/server.js'

const SECONDS = Number(process.env.BENCH_SLOW_SECONDS ?? 20)
const READERS = Number(process.env.BENCH_SLOW_READERS ?? 200)
const TRANSPORTS = (process.env.BENCH_SLOW_TRANSPORTS ?? 'ws,tcp').split(',') as Array<'ws' | 'tcp'>
const VARIANTS = (process.env.BENCH_SLOW_VARIANTS ?? 'main,budget').split(',')
const BASELINE_ROOT = process.env.BENCH_BASELINE_ROOT
const repoRoot = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '')
/** Says in flight from the flooder at any time. */
const WINDOW = 16
/** The longest text the chat takes: the most bytes per say. */
const TEXT = 'x'.repeat(4000)
const HEALTHY: Array<'ws' | 'tcp'> = ['ws', 'ws', 'tcp', 'tcp']
const SETTLE_MS = 5000

interface Variant { name: string, root: string, server: Record<string, unknown> }

/**
 * This checkout's demo limits 200 sockets per address (the scenario opens 205 from 127.0.0.1);
 * its rate limit is off under SD_BENCH=1 (set for the server child), so what is measured here is
 * the output budget alone, as on main.
 */
const OPEN = { maxConnectionsPerIp: 100_000 }

function variant (name: string): Variant {
  if (name === 'main') {
    return BASELINE_ROOT
      ? { name: 'main', root: BASELINE_ROOT, server: {} }
      : { name: 'main (budget off)', root: repoRoot, server: { maxTotalSendBufferBytes: 0, ...OPEN } }
  }
  return { name: 'budget 64 MiB', root: repoRoot, server: { ...OPEN } }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(0)

/** VmRSS and VmHWM (peak) of a process, in bytes. */
function procMemory (pid: number): { rss: number, hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (key: string): number => Number(/\s(\d+) kB/.exec(status.slice(status.indexOf(key)))?.[1] ?? 0) * 1024
  return { rss: kb('VmRSS:'), hwm: kb('VmHWM:') }
}

/** `…MB, 12.3 / 0.0 ms` in a --trace-gc line: the pause. */
const GC_PAUSE = /(Scavenge|Mark-Compact|Mark-sweep)\b.* MB, (?:pooled: [\d.]+ MB, )?([\d.]+) \/ [\d.]+ ms/

class Server {
  readonly proc: ChildProcess
  /** GC pauses seen so far (ms). */
  gcMax = 0
  gcTotal = 0
  constructor (proc: ChildProcess) { this.proc = proc }

  static async start (v: Variant): Promise<{ server: Server, ports: { tcp: number, http: number } }> {
    const script = fileURLToPath(new URL('./slow-readers/server.ts', import.meta.url))
    const proc = spawn(process.execPath, ['--expose-gc', '--trace-gc', '--import', 'tsx', script, v.root, JSON.stringify(v.server)], {
      cwd: v.root, stdio: ['ignore', 'pipe', 'inherit', 'ipc'], env: { ...process.env, SD_BENCH: '1' },
    })
    const lines = createInterface({ input: proc.stdout! })
    const server = new Server(proc)
    const ports = await new Promise<{ tcp: number, http: number }>((resolve, reject) => {
      proc.once('exit', () => reject(new Error('the server child exited before announcing its ports')))
      lines.on('line', (l: string) => {
        if (l.startsWith('{')) return resolve(JSON.parse(l))
        const m = GC_PAUSE.exec(l)
        if (!m) return
        const ms = Number(m[2])
        server.gcTotal += ms
        server.gcMax = Math.max(server.gcMax, ms)
      })
    })
    return { server, ports }
  }

  stats (gc = false): Promise<SlowServerStats> {
    const answer = new Promise<SlowServerStats>((resolve) => {
      const on = (m: { type?: string, stats: SlowServerStats }): void => {
        if (m?.type !== 'stats') return
        this.proc.off('message', on)
        resolve(m.stats)
      }
      this.proc.on('message', on)
    })
    this.proc.send({ type: 'stats', gc })
    return answer
  }

  async stop (): Promise<void> {
    const exited = once(this.proc, 'exit')
    this.proc.kill('SIGTERM')
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(t)
  }
}

interface Row {
  variant: string
  readers: string
  start: number
  peak: number
  after: number
  afterGc: number
  p50: number
  p99: number
  max: number
  says: number
  /** Readers the budget closed (undefined: code without a budget). */
  dropped: number | undefined
  /** Longest GC pause and time in GC during the flood (ms). */
  gcMax: number
  gcTotal: number
}

async function connectMany (n: number, transport: 'ws' | 'tcp', ports: { tcp: number, http: number }, room: string, tag: string): Promise<RpcClient[]> {
  const out: RpcClient[] = []
  for (let i = 0; i < n; i += 20) {
    out.push(...await Promise.all(Array.from({ length: Math.min(20, n - i) }, async (_, j) => {
      const c = await connectRpc(transport, ports)
      await c.request('/chat/login', { name: `${tag}${i + j}`, room })
      return c
    })))
  }
  return out
}

/** Sequential echo round trips until `until()`; returns each latency in ms. */
async function echoLoop (c: RpcClient, until: () => boolean): Promise<number[]> {
  const lat: number[] = []
  while (!until()) {
    const t0 = performance.now()
    await c.request('/bench/echo', { t: t0 })
    lat.push(performance.now() - t0)
  }
  return lat
}

/** Keeps WINDOW says in flight until `until()`; returns how many were answered. */
async function flood (c: RpcClient, until: () => boolean): Promise<number> {
  let answered = 0
  const lane = async (): Promise<void> => {
    while (!until()) {
      await c.request('/chat/say', { text: TEXT }).catch(() => {})
      answered++
    }
  }
  await Promise.all(Array.from({ length: WINDOW }, lane))
  return answered
}

async function scenario (v: Variant, transport: 'ws' | 'tcp'): Promise<Row> {
  const { server, ports } = await Server.start(v)
  const pid = server.proc.pid!
  try {
    await sleep(1500)
    const start = (await server.stats()).rss
    server.gcMax = 0
    server.gcTotal = 0
    const readers = await connectMany(READERS, transport, ports, 'slow', 'reader')
    for (const r of readers) r.stopReading()
    const healthy = await Promise.all(HEALTHY.map(async (t, i) => (await connectMany(1, t, ports, 'healthy', `ok${i}`))[0]))
    const [flooder] = await connectMany(1, 'tcp', ports, 'slow', 'flood')
    let peak = procMemory(pid).rss
    const sampler = setInterval(() => { peak = Math.max(peak, procMemory(pid).rss) }, 200)
    let done = false
    const stopAt = Date.now() + SECONDS * 1000
    const stopper = setInterval(() => { if (Date.now() >= stopAt) done = true }, 50)
    const [says, ...lats] = await Promise.all([flood(flooder, () => done), ...healthy.map((h) => echoLoop(h, () => done))])
    clearInterval(stopper)
    const dropped = (await server.stats()).slowReadersClosed
    const gcMax = server.gcMax
    const gcTotal = server.gcTotal
    for (const r of readers) r.close()
    const deadline = Date.now() + 15_000
    while ((await server.stats()).connections > HEALTHY.length + 1 && Date.now() < deadline) await sleep(200)
    await sleep(SETTLE_MS)
    clearInterval(sampler)
    peak = Math.max(peak, procMemory(pid).hwm)
    const after = await server.stats()
    const gc = await server.stats(true)
    for (const c of [...healthy, flooder]) c.close()
    const all = (lats as number[][]).flat().sort((a, b) => a - b)
    const q = (p: number): number => all[Math.min(all.length - 1, Math.floor(p * all.length))] ?? NaN
    console.error(`  ${v.name} / ${transport}: external after ${mb(after.external)} MB, heap ${mb(after.heapTotal)} MB; after gc rss ${mb(gc.afterGc?.rss ?? 0)} heap ${mb(gc.afterGc?.heapTotal ?? 0)} external ${mb(gc.afterGc?.external ?? 0)} MB`)
    return {
      variant: v.name, readers: transport, start, peak, after: after.rss, afterGc: gc.afterGc?.rss ?? NaN,
      p50: q(0.5), p99: q(0.99), max: all[all.length - 1] ?? NaN, says: says as number, dropped, gcMax, gcTotal,
    }
  } finally {
    await server.stop()
  }
}

const rows: Row[] = []
for (const name of VARIANTS) {
  for (const transport of TRANSPORTS) {
    const v = variant(name)
    console.error(`slow readers: ${v.name}, ${READERS} ${transport} readers, ${SECONDS} s of /chat/say`)
    rows.push(await scenario(v, transport))
  }
}
console.log(table(
  ['server', 'readers', 'RSS start MB', 'peak MB', 'growth MB', 'after close MB', 'after gc MB', 'echo p50 ms', 'p99 ms', 'max ms', 'says', 'closed by budget', 'GC max ms', 'GC total ms'],
  rows.map((r) => [r.variant, `${READERS} ${r.readers}`, mb(r.start), mb(r.peak), mb(r.peak - r.start), mb(r.after), mb(r.afterGc),
    r.p50.toFixed(1), r.p99.toFixed(1), r.max.toFixed(1), int(r.says), r.dropped === undefined ? '-' : String(r.dropped), r.gcMax.toFixed(0), int(r.gcTotal)]),
  new Set([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]),
))
