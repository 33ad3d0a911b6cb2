/**
 * `npm run bench:gateway`: the gateway/worker split (`sd start --split`) of the demo app
 * against direct mode (`sd start`), real processes, in the same run. Two parts:
 *  1. Echo: `/bench/echo` on TCP and on WebSocket (16 connections × 16 pipelined) through
 *     `--split --workers 1` (client → gateway → worker → gateway → client) and through
 *     `--workers 1` (one hop), alternating; the median ratio split/direct against the target
 *     ≥ 0.70.
 *  2. Reload under load: BENCH_IDLE idle TCP connections plus active clients on TCP, WebSocket
 *     and the text port (bounded outstanding each) while `sd reload` replaces the workers of
 *     `--split --workers 2`, and, as the baseline, of direct `--workers 2` (where a replaced
 *     worker closes its clients). Requests/s per 250 ms window, p50/p99 latency, connections
 *     the server closed, requests never answered, error answers by code; targets in split mode:
 *     0 dropped, 0 lost.
 * On this 2-core machine the load generator shares the CPUs with the servers.
 * Env: BENCH_ROUNDS (3), BENCH_SEGMENT_MS (2000), BENCH_IDLE (10000), BENCH_PART (echo|reload|both),
 * BENCH_MODES (split,direct: the reload runs to make).
 */
import { availableParallelism } from 'node:os'
import { runPipelined, type Wire } from './load/pipelined-client.js'
import { tcpWire } from './load/tcp-wire.js'
import { wsWire } from './load/ws-wire.js'
import { int, table } from './lib/table.js'
import { openFileLimit } from './lib/fd-limit.js'
import { startSdRun, type SdRun } from './lib/sd-run.js'
import { formatSeries, loadThroughReload, type ReloadReport } from './lib/reload-load.js'

const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const segmentMs = Number(process.env.BENCH_SEGMENT_MS ?? 2000)
const part = process.env.BENCH_PART ?? 'both'
const ECHO_TARGET = 0.7
/** Descriptors kept free besides the idle connections (active clients, Redis, stdio, …). */
const FD_HEADROOM = 1000

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

async function echoRate (wire: Wire, port: number): Promise<number> {
  const r = await runPipelined(wire, { port, connections: 16, pipelining: 16, settleMs: 100, durationMs: segmentMs, onWindowStart: () => {} })
  if (r.mismatches > 0 || r.errors > 0) throw new Error(`echo: ${r.mismatches} mismatched replies, ${r.errors} socket errors`)
  return r.requests / r.seconds
}

/** Part 1: echo rates of split and direct, alternating inside each round. */
async function echoPart (): Promise<void> {
  const rates = { tcp: { split: [] as number[], direct: [] as number[] }, ws: { split: [] as number[], direct: [] as number[] } }
  for (let round = 0; round < rounds; round++) {
    const split = await startSdRun(['--split', '--workers', '1'])
    const direct = await startSdRun(['--workers', '1']).catch(async (err: unknown) => { await split.stop(); throw err })
    try {
      for (const [name, wire, port] of [['tcp', tcpWire, 'tcp'], ['ws', wsWire, 'http']] as const) {
        // warm-up, then split/direct in an order that alternates by round
        await runPipelined(wire, { port: split.ports[port], connections: 16, pipelining: 16, settleMs: 100, durationMs: 300, onWindowStart: () => {} })
        await runPipelined(wire, { port: direct.ports[port], connections: 16, pipelining: 16, settleMs: 100, durationMs: 300, onWindowStart: () => {} })
        const order: Array<[SdRun, 'split' | 'direct']> = round % 2 === 0 ? [[split, 'split'], [direct, 'direct']] : [[direct, 'direct'], [split, 'split']]
        for (const [s, mode] of [...order, ...[...order].reverse()]) rates[name][mode].push(await echoRate(wire, s.ports[port]))
        console.error(`round ${round + 1} ${name}: split ${int(rates[name].split.at(-1) ?? 0)}, direct ${int(rates[name].direct.at(-1) ?? 0)} req/s`)
      }
    } finally {
      await Promise.all([split.stop(), direct.stop()])
    }
  }
  const rows = (['tcp', 'ws'] as const).map((name) => {
    const s = median(rates[name].split)
    const d = median(rates[name].direct)
    const ratio = s / d
    return [`/bench/echo ${name === 'tcp' ? 'TCP' : 'WebSocket'} req/s (16 conn × 16 pipelined)`, int(d), int(s), ratio.toFixed(2), ratio >= ECHO_TARGET ? 'PASS' : 'FAIL']
  })
  console.log(table(['echo', 'direct --workers 1', '--split --workers 1', 'split/direct', `≥ ${ECHO_TARGET}`], rows, new Set([1, 2, 3])))
}

/** Part 2: one reload under load of `sd start ...args`. */
async function reloadRun (args: string[], idle: number): Promise<{ report: ReloadReport, reloadOut: string }> {
  const server = await startSdRun(args)
  try {
    let reloadOut = ''
    const report = await loadThroughReload(server.ports, {
      idle,
      beforeMs: 2000,
      afterMs: 2000,
      graceMs: 5000,
      action: async () => { reloadOut = await server.reload() },
    })
    return { report, reloadOut }
  } catch (err) {
    console.error(server.tail())
    throw err
  } finally {
    await server.stop()
  }
}

function ms (n: number): string {
  return Number.isNaN(n) ? '-' : n < 10 ? n.toFixed(1) : String(Math.round(n))
}

async function reloadPart (): Promise<void> {
  let idle = Number(process.env.BENCH_IDLE ?? 10_000)
  const { soft } = openFileLimit()
  if (idle + FD_HEADROOM > soft) {
    console.error(`open-files limit ${soft}: idle connections lowered from ${idle} to ${soft - FD_HEADROOM} (raise it with ulimit -n)`)
    idle = Math.max(0, soft - FD_HEADROOM)
  }
  const runs: Array<[string, ReloadReport]> = []
  const modes = (process.env.BENCH_MODES ?? 'split,direct').split(',')
  for (const [label, args] of [['split --workers 2', ['--split', '--workers', '2']], ['direct --workers 2', ['--workers', '2']]] as const) {
    if (!modes.includes(label.split(' ')[0])) continue
    const { report, reloadOut } = await reloadRun([...args], idle)
    console.error(`${label}: ${reloadOut}`)
    runs.push([label, report])
  }
  console.log(`\nReload under load: ${idle} idle TCP connections + 8 TCP × 8 and 8 WebSocket × 8 outstanding /bench/echo, 8 text-port chat users × 1; ` +
    'load 2 s, sd reload, load 2 s, then 5 s for late answers')
  for (const [label, r] of runs) console.log(`req/s per 250 ms, ${label} (reload in brackets): ${formatSeries(r)}`)
  const errors = (r: ReloadReport): string => Object.entries(r.errors).map(([c, n]) => `${c} ${n}`).join(', ') || '0'
  console.log(table(['reload under load', ...runs.map(([l]) => l), 'split target'], [
    ['sd reload took (ms)', ...runs.map(([, r]) => int(r.reloadMs)), ''],
    ['requests sent / answered', ...runs.map(([, r]) => `${int(r.sent)} / ${int(r.answered)}`), ''],
    ['requests lost (never answered; closed ones too)', ...runs.map(([, r]) => int(r.lost)), '0'],
    ['connections dropped: idle', ...runs.map(([, r]) => `${r.dropped.idle} of ${idle}`), '0'],
    ['connections dropped: active tcp / ws / text', ...runs.map(([, r]) => `${r.dropped.tcp} / ${r.dropped.ws} / ${r.dropped.text}`), '0'],
    ['error answers', ...runs.map(([, r]) => errors(r)), ''],
    ['latency p50 / p99 overall (ms)', ...runs.map(([, r]) => `${ms(r.p50)} / ${ms(r.p99)}`), ''],
    ['latency p50 / p99 during the reload (ms)', ...runs.map(([, r]) => `${ms(r.p50Reload)} / ${ms(r.p99Reload)}`), ''],
  ], new Set([1, 2])))
  const split = runs.find(([l]) => l.startsWith('split'))?.[1]
  if (split === undefined) return
  const ok = split.lost === 0 && split.dropped.idle + split.dropped.tcp + split.dropped.ws + split.dropped.text === 0
  console.log(`split reload: ${ok ? 'PASS' : 'FAIL'} (targets: 0 dropped connections, 0 lost requests)`)
}

console.log(`Gateway benchmark: node ${process.version}, ${availableParallelism()} CPUs; the load generator runs in this process, ` +
  `sharing the CPUs with the servers; echo: ${rounds} rounds of ${segmentMs} ms per measurement`)
if (part !== 'reload') await echoPart()
if (part !== 'echo') await reloadPart()
