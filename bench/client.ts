/**
 * `npm run bench:client`: call throughput of the client SDK (`sd-framework/client`) against two
 * clients that speak the protocol without it, in this same process, against the same server
 * (`sd start --workers 1`, the demo app), at the same concurrency: 16 connections × 16 calls in
 * flight of `/bench/echo`, over TCP and WebSocket. The baselines: a minimal hand-written JSON
 * client (bench/load/json-client.ts: JSON.stringify per call, a Map of pending ids, JSON.parse
 * per reply; the target SDK/JSON ≥ 0.9 is against it) and bench/load's byte-level clients
 * (prebuilt requests, replies compared as bytes, nothing parsed: an upper bound no client that
 * reads its replies reaches; SDK/raw is shown too). Per round a fresh server; a warm-up of each,
 * then raw, JSON, SDK, SDK, JSON, raw (the order flips every round), each over BENCH_SEGMENT_MS.
 * Env: BENCH_ROUNDS (3), BENCH_SEGMENT_MS (2000), BENCH_CONNECTIONS (16), BENCH_INFLIGHT (16).
 */
import { availableParallelism } from 'node:os'
import { runPipelined, type LoadResult, type Wire } from './load/pipelined-client.js'
import { runSdkCalls } from './load/sdk-client.js'
import { runJsonCalls } from './load/json-client.js'
import { tcpWire } from './load/tcp-wire.js'
import { wsWire } from './load/ws-wire.js'
import { int, pct, table } from './lib/table.js'
import { startSdRun } from './lib/sd-run.js'
import { Client } from './lib/framed-client.js'
import { cpuPercent, sampleCpu } from './lib/cpu.js'

const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const segmentMs = Number(process.env.BENCH_SEGMENT_MS ?? 2000)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 16)
const inflight = Number(process.env.BENCH_INFLIGHT ?? 16)
const TARGET = 0.9
const WARMUP_MS = 500

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

/** raw: bench/load's byte-level clients (prebuilt requests, replies compared as bytes); json: a minimal hand-written JSON client; sdk: the SDK. */
type Side = 'raw' | 'json' | 'sdk'
interface Sample { rate: number, cpu: number, server: number | undefined }

/** The pid of the worker that answers on the TCP port. */
async function workerPid (tcp: number): Promise<number> {
  const c = await Client.connect(tcp)
  try {
    return (await c.request('/bench/where') as { pid: number }).pid
  } finally {
    c.close()
  }
}

/** One measured segment; `cpu` is this process's CPU and `server` the worker's, in percent of one core (whole run, settling included). */
async function measure (run: (durationMs: number) => Promise<LoadResult>, durationMs: number, pid: number): Promise<Sample> {
  const before = process.cpuUsage()
  const server = sampleCpu(pid)
  const t0 = process.hrtime.bigint()
  const r = await run(durationMs)
  const used = process.cpuUsage(before)
  const wall = Number(process.hrtime.bigint() - t0) / 1e3
  if (r.mismatches > 0 || r.errors > 0) throw new Error(`${r.mismatches} wrong replies, ${r.errors} errors`)
  return { rate: r.requests / r.seconds, cpu: (100 * (used.user + used.system)) / wall, server: cpuPercent(server, sampleCpu(pid)) }
}

console.log(`Client SDK benchmark: node ${process.version}, ${availableParallelism()} CPUs; both clients run in this process against ` +
  `one sd start --workers 1; ${connections} connections × ${inflight} calls in flight; ${rounds} rounds of ${segmentMs} ms per measurement`)
const transports = [
  { name: 'TCP', wire: tcpWire, url: (p: { tcp: number }) => `tcp://127.0.0.1:${p.tcp}`, port: (p: { tcp: number, http: number }) => p.tcp },
  { name: 'WebSocket', wire: wsWire, url: (p: { http: number }) => `ws://127.0.0.1:${p.http}/ws`, port: (p: { tcp: number, http: number }) => p.http },
] as const
const samples = new Map<string, Record<Side, Sample[]>>(transports.map((t) => [t.name, { raw: [], json: [], sdk: [] }]))
for (let round = 0; round < rounds; round++) {
  const server = await startSdRun(['--workers', '1'])
  try {
    const pid = await workerPid(server.ports.tcp)
    for (const t of transports) {
      const raw = (wire: Wire, port: number) => (durationMs: number) =>
        runPipelined(wire, { port, connections, pipelining: inflight, settleMs: 100, durationMs, onWindowStart: () => {} })
      const sides: Record<Side, (durationMs: number) => Promise<LoadResult>> = {
        raw: raw(t.wire, t.port(server.ports)),
        json: (durationMs) => runJsonCalls({ url: t.url(server.ports), connections, inflight, settleMs: 100, durationMs }),
        sdk: (durationMs) => runSdkCalls({ url: t.url(server.ports), connections, inflight, settleMs: 100, durationMs }),
      }
      await sides.raw(WARMUP_MS)
      await sides.json(WARMUP_MS)
      await sides.sdk(WARMUP_MS)
      const order: Side[] = round % 2 === 0 ? ['raw', 'json', 'sdk'] : ['sdk', 'json', 'raw']
      const s = samples.get(t.name) as Record<Side, Sample[]>
      for (const side of [...order, ...[...order].reverse()]) s[side].push(await measure(sides[side], segmentMs, pid))
      console.error(`round ${round + 1} ${t.name}: raw ${s.raw.slice(-2).map((x) => int(x.rate)).join(', ')}; ` +
        `hand-written JSON ${s.json.slice(-2).map((x) => int(x.rate)).join(', ')}; SDK ${s.sdk.slice(-2).map((x) => int(x.rate)).join(', ')} calls/s`)
    }
  } catch (err) {
    console.error(server.tail())
    throw err
  } finally {
    await server.stop()
  }
}
const rows = transports.map((t) => {
  const s = samples.get(t.name) as Record<Side, Sample[]>
  const rate = (side: Side): number => median(s[side].map((x) => x.rate))
  const cpu = (side: Side): string => pct(median(s[side].map((x) => x.cpu)))
  const server = (side: Side): string => pct(median(s[side].map((x) => x.server ?? NaN)))
  const [raw, json, sdk] = [rate('raw'), rate('json'), rate('sdk')]
  return [`/bench/echo ${t.name} (${connections} conn × ${inflight} in flight)`, int(raw), int(json), int(sdk),
    (sdk / json).toFixed(2), sdk / json >= TARGET ? 'PASS' : 'FAIL', (sdk / raw).toFixed(2),
    `${cpu('raw')} / ${cpu('json')} / ${cpu('sdk')}`, `${server('raw')} / ${server('json')} / ${server('sdk')}`]
})
console.log(table(['calls/s, median', 'raw bytes', 'hand-written JSON', 'SDK', 'SDK/JSON', `≥ ${TARGET}`, 'SDK/raw bytes',
  'CPU load gen raw / JSON / SDK', 'CPU server raw / JSON / SDK'], rows, new Set([1, 2, 3, 4, 6])))
