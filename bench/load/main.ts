/**
 * Entry of a load-generator child: `load/main.ts '<LoadPlan JSON>'`. Warms up every target
 * (interleaved), then runs one measuring segment per entry of `plan.order` (a fresh set of
 * connections each time), so two servers are measured alternately by the same warm generator.
 * Reports over IPC (JSON lines on stdout when run by hand): `window` when a segment's window
 * opens, `segment` with its result and this process's CPU use, then `done`.
 */
import { runHttp } from './http-load.js'
import { runPipelined, type LoadOptions, type LoadResult } from './pipelined-client.js'
import { tcpWire } from './tcp-wire.js'
import { wsWire } from './ws-wire.js'

/** Transports the load generator speaks (`tls`: the TCP framing over TLS, on the tcp port). */
export type LoadTransport = 'tcp' | 'tls' | 'ws' | 'http'

/** What the parent asks for. */
export interface LoadPlan {
  transport: LoadTransport
  /** Ports of the servers to load (all speaking `transport`). */
  ports: number[]
  connections: number
  pipelining: number
  /** Load on each target before any segment (in two passes), not counted. */
  warmupMs: number
  /** Per segment, between connecting and opening the window (socket transports). */
  settleMs: number
  /** Length of each segment's window. */
  segmentMs: number
  /** Index into `ports` of each segment, in order. */
  order: number[]
}

/** Messages a load child sends. */
export type LoadMessage =
  | { type: 'window', segment: number }
  | { type: 'segment', segment: number, target: number, result: LoadResult, cpuPercent: number }
  | { type: 'done' }
  | { type: 'failed', error: string }

const WARMUP_PASSES = 2

function run (transport: LoadTransport, options: LoadOptions): Promise<LoadResult> {
  switch (transport) {
    case 'tcp': return runPipelined(tcpWire, options)
    case 'tls': return runPipelined(tcpWire, { ...options, tls: true })
    case 'ws': return runPipelined(wsWire, options)
    case 'http': return runHttp(options)
  }
}

/** Reports over IPC, or prints JSON lines when run by hand. */
function send (msg: LoadMessage): void {
  if (process.send) process.send(msg)
  else console.log(JSON.stringify(msg))
}

async function main (plan: LoadPlan): Promise<void> {
  const shape = { connections: plan.connections, pipelining: plan.pipelining }
  // Two interleaved passes (A B A B), so that no target is much colder when the segments begin.
  for (let pass = 0; pass < WARMUP_PASSES; pass++) {
    for (const port of plan.ports) {
      await run(plan.transport, { ...shape, port, settleMs: plan.warmupMs / WARMUP_PASSES, durationMs: 0, onWindowStart: () => {} })
    }
  }
  // autocannon connects within its run; its settle would only be another set of connections.
  const settleMs = plan.transport === 'http' ? 0 : plan.settleMs
  for (const [segment, target] of plan.order.entries()) {
    let cpuStart = process.cpuUsage()
    let wallStart = process.hrtime.bigint()
    const result = await run(plan.transport, {
      ...shape,
      port: plan.ports[target],
      settleMs,
      durationMs: plan.segmentMs,
      onWindowStart: () => {
        cpuStart = process.cpuUsage()
        wallStart = process.hrtime.bigint()
        send({ type: 'window', segment })
      },
    })
    const cpu = process.cpuUsage(cpuStart)
    const wallUs = Number(process.hrtime.bigint() - wallStart) / 1000
    send({ type: 'segment', segment, target, result, cpuPercent: (100 * (cpu.user + cpu.system)) / wallUs })
  }
  send({ type: 'done' })
}

try {
  await main(JSON.parse(process.argv[2] ?? '{}') as LoadPlan)
} catch (err) {
  send({ type: 'failed', error: err instanceof Error ? err.message : String(err) })
}
process.disconnect?.()
