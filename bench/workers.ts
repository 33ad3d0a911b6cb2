/**
 * `npm run bench:workers`: the demo app under `sd start --workers 2` against `--workers 1`, in
 * the same run. Two numbers:
 *  1. TCP echo (`/bench/echo`, 16 connections × 16 pipelined) on each server, alternating.
 *  2. `sendToUid` delivered pushes/s: senders on one worker push to receivers bound on the
 *     other (through the primary's registry and relay), against the same senders and
 *     receivers on the single worker of `--workers 1` (a local delivery).
 * On this 2-core machine the load generator shares the CPUs with the workers, so the echo ratio
 * says what the second worker buys under that contention, not what it buys on a larger host.
 * Env: BENCH_ROUNDS (3), BENCH_SEGMENT_MS (2000).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir, availableParallelism } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Client } from './lib/framed-client.js'
import { runPipelined } from './load/pipelined-client.js'
import { tcpWire } from './load/tcp-wire.js'
import { int, table } from './lib/table.js'

const repo = fileURLToPath(new URL('..', import.meta.url))
const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const segmentMs = Number(process.env.BENCH_SEGMENT_MS ?? 2000)

interface Server { workers: number, child: ChildProcess, runDir: string, tcp: number }

async function startServer (workers: number): Promise<Server> {
  const runDir = await mkdtemp(join(tmpdir(), 'sd-bench-run-'))
  const child = spawn(process.execPath, ['bin/sd.js', 'start', '--workers', String(workers)], {
    cwd: repo,
    env: { ...process.env, SD_BENCH: '1', SD_TCP_PORT: '0', SD_TEXT_PORT: '0', SD_HTTP_PORT: '0', SD_RUN_DIR: runDir, NODE_ENV: 'production' },
    stdio: 'ignore',
  })
  const deadline = Date.now() + 60_000
  for (;;) {
    const text = await readFile(join(runDir, 'state.json'), 'utf8').catch(() => undefined)
    if (text) return { workers, child, runDir, tcp: (JSON.parse(text) as { ports: { tcp: number } }).ports.tcp }
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`sd start --workers ${workers} did not start`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

async function stopServer (s: Server): Promise<void> {
  const exited = once(s.child, 'exit')
  s.child.kill('SIGTERM')
  await exited
  await rm(s.runDir, { recursive: true, force: true })
}

async function echoRate (s: Server): Promise<number> {
  const r = await runPipelined(tcpWire, { port: s.tcp, connections: 16, pipelining: 16, settleMs: 100, durationMs: segmentMs, onWindowStart: () => {} })
  return r.requests / r.seconds
}

/** Pairs of (sender, receiver); with `cross`, each pair spans two workers. */
async function pushPairs (s: Server, pairs: number, cross: boolean): Promise<Array<{ sender: Client, receiver: Client, uid: string }>> {
  const byPid = new Map<number, Client[]>()
  for (let i = 0; i < pairs * 8 && [...byPid.values()].filter((l) => l.length >= pairs).length < (cross ? 2 : 1); i++) {
    const c = await Client.connect(s.tcp)
    const { pid } = await c.request('/bench/where') as { pid: number }
    const list = byPid.get(pid) ?? []
    list.push(c)
    byPid.set(pid, list)
  }
  const groups = [...byPid.values()].filter((l) => l.length >= pairs)
  if (groups.length < (cross ? 2 : 1)) throw new Error('could not place clients on the workers')
  const senders = groups[0].slice(0, pairs)
  const receivers = cross ? groups[1].slice(0, pairs) : groups[0].slice(pairs, pairs * 2)
  if (receivers.length < pairs) {
    for (let i = receivers.length; i < pairs; i++) receivers.push(await Client.connect(s.tcp))
  }
  return Promise.all(senders.map(async (sender, i) => {
    const uid = `bench-${i}`
    await receivers[i].request('/bench/bind', { uid })
    return { sender, receiver: receivers[i], uid }
  }))
}

async function pushRate (s: Server, cross: boolean): Promise<number> {
  const pairs = await pushPairs(s, 4, cross)
  let running = true
  const loops = pairs.map(async ({ sender, uid }) => {
    const inflight = 16
    const one = async (): Promise<void> => { while (running) await sender.request('/bench/push', { to: uid, data: { n: 1 } }) }
    await Promise.all(Array.from({ length: inflight }, one))
  })
  await new Promise((resolve) => setTimeout(resolve, 200))
  const before = pairs.reduce((n, p) => n + p.receiver.pushes, 0)
  const t0 = process.hrtime.bigint()
  await new Promise((resolve) => setTimeout(resolve, segmentMs))
  const after = pairs.reduce((n, p) => n + p.receiver.pushes, 0)
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  running = false
  await Promise.all(loops)
  for (const p of pairs) { p.sender.close(); p.receiver.close() }
  return (after - before) / seconds
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

console.log(`Workers benchmark: node ${process.version}, ${availableParallelism()} CPUs; the load generator runs in this process, ` +
  `sharing the CPUs with the workers; ${rounds} rounds of ${segmentMs} ms per measurement`)
const echo = { one: [] as number[], two: [] as number[] }
const push = { local: [] as number[], cross: [] as number[] }
for (let round = 0; round < rounds; round++) {
  const one = await startServer(1)
  const two = await startServer(2)
  try {
    await echoRate(one)
    await echoRate(two)
    const order = round % 2 === 0 ? [one, two] : [two, one]
    for (const s of [...order, ...order.reverse()]) (s === one ? echo.one : echo.two).push(await echoRate(s))
    push.local.push(await pushRate(one, false))
    push.cross.push(await pushRate(two, true))
    console.error(`round ${round + 1}: echo ${int(echo.one.at(-1) ?? 0)} / ${int(echo.two.at(-1) ?? 0)} req/s; push ${int(push.local.at(-1) ?? 0)} / ${int(push.cross.at(-1) ?? 0)} msg/s`)
  } finally {
    await Promise.all([stopServer(one), stopServer(two)])
  }
}
console.log(table(['measurement', '--workers 1', '--workers 2', 'ratio 2/1'], [
  ['TCP echo req/s (16 conn × 16 pipelined)', int(median(echo.one)), int(median(echo.two)), (median(echo.two) / median(echo.one)).toFixed(2)],
  ['sendToUid pushes/s (1: same worker, 2: across workers)', int(median(push.local)), int(median(push.cross)), (median(push.cross) / median(push.local)).toFixed(2)],
], new Set([1, 2, 3])))
