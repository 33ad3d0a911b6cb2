/**
 * Scale of connections: memory per idle connection with 100,000 idle TCP and 100,000 idle
 * WebSocket connections to one server process, SD beside the hand-written TCP server and raw
 * `ws`, and the time to open them. Each server runs alone, with --expose-gc and a raised
 * descriptor limit; it is warmed up (a batch of connections opened and closed), measured
 * empty after gc, then several client processes (each its own source address 127.0.0.x, so
 * the ephemeral ports of one address do not run out) open their share at once, and the server
 * is measured again after gc. SD runs with heartbeats on: its idle sweep runs every second
 * over every connection, with an idle limit (10 min) longer than the run.
 * `npm run bench:connections`; `BENCH_CONNECTIONS` sets the count per server, `BENCH_TRANSPORTS`
 * (`tcp`, `ws`) limits the transports.
 */
import { fileURLToPath } from 'node:url'
import { startChild, type Child } from './lib/child.js'
import { canRaiseOpenFiles, openFileLimit } from './lib/fd-limit.js'
import type { ServerStats } from './lib/server-child.js'
import { portOf, sdServer, serverStats, startServer, tcpMinimal, wsRaw, type RunningServer, type ServerSpec } from './lib/servers.js'
import { int, table } from './lib/table.js'
import type { IdleClientGo, IdleClientMessage } from './memory/idle-clients.js'

/** Targets for SD, in KB per idle connection above the empty server (RSS and heap). */
export const TARGET_KB = { tcp: 4, ws: 6 } as const
const REQUESTED = Number(process.env.BENCH_CONNECTIONS ?? 100_000)
/** Connections per client process (and per source address). */
const PER_CLIENT = Number(process.env.BENCH_CONNECTIONS_PER_CLIENT ?? 12_500)
/** Connects in flight at a time over all client processes. */
const IN_FLIGHT = 400
/**
 * Connections opened but not yet counted by the server, at most (over all clients): below the
 * listen backlog (511), so the accept queue never overflows.
 */
const WINDOW = 450
const WARMUP_CONNECTIONS = 1000
const HEARTBEAT_IDLE_MS = 600_000
/** Descriptors a process needs besides its connections. */
const FD_MARGIN = 200
const OPEN_TIMEOUT_MS = 120_000
/** Longer than one heartbeat sweep (1 s), so the sweep has run over the full table. */
const SETTLE_MS = 1200
const POLL_MS = 20

type Transport = 'tcp' | 'ws'

interface Case {
  transport: Transport
  spec: ServerSpec
  args?: string[]
}

/** What one server measured. */
export interface ConnectionsRow {
  transport: Transport
  server: string
  connections: number
  openMs: number
  empty: ServerStats
  full: ServerStats
}

const sdArgs = [`--heartbeat-idle-ms=${HEARTBEAT_IDLE_MS}`]
const cases: Case[] = [
  { transport: 'tcp', spec: sdServer, args: sdArgs },
  { transport: 'tcp', spec: tcpMinimal },
  { transport: 'ws', spec: sdServer, args: sdArgs },
  { transport: 'ws', spec: wsRaw },
]

function sleep (ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Polls the server's connection count (no gc) until it reaches `count`; `tick` sees each count. */
async function waitForCount (server: RunningServer, count: number, failed?: Promise<never>, tick?: (n: number) => void): Promise<void> {
  const deadline = Date.now() + OPEN_TIMEOUT_MS
  for (;;) {
    const stats = await (failed ? Promise.race([serverStats(server, false), failed]) : serverStats(server, false))
    if (stats.connections === count) return
    if (Date.now() > deadline) throw new Error(`${server.spec.name} reports ${stats.connections} of ${count} connections`)
    tick?.(stats.connections)
    await sleep(POLL_MS)
  }
}

/** Client processes for `count` connections, each on its own source address, waiting for `go`. */
function startClients (server: RunningServer, transport: Transport, count: number, firstAddress: number, perClient: number): { clients: Child[], shares: number[] } {
  const port = portOf(server, transport)
  const n = Math.ceil(count / perClient)
  const concurrent = Math.max(10, Math.floor(IN_FLIGHT / n))
  const shares = Array.from({ length: n }, (_, i) => Math.min(perClient, count - i * perClient))
  const clients = shares.map((share, i) => {
    const args = [String(port), String(share), `--from=${address(firstAddress + i)}`, `--concurrent=${concurrent}`, '--wait']
    if (transport === 'ws') args.push('--ws=/ws')
    return startChild('memory/idle-clients.ts', { cpu: 1, nofile: share + FD_MARGIN, args })
  })
  return { clients, shares }
}

/** The `i`th loopback source address from 127.0.0.2 on. */
function address (i: number): string {
  const n = i + 2
  return `127.0.${Math.floor(n / 250)}.${n % 250}`
}

function pick<T extends IdleClientMessage['type']> (type: T) {
  return (m: unknown): Extract<IdleClientMessage, { type: T }> | undefined => {
    const msg = m as IdleClientMessage | null
    return msg?.type === type ? msg as Extract<IdleClientMessage, { type: T }> : undefined
  }
}

/**
 * Opens `count` connections from `clients` at once, each client allowed its share of (server
 * count + WINDOW) at every poll; resolves with the time until the server holds them all.
 */
async function openAll (server: RunningServer, clients: Child[], shares: number[], count: number): Promise<number> {
  await Promise.all(clients.map((c) => c.message(pick('ready'), 20_000)))
  const failed = Promise.race(clients.map((c) => c.message(pick('failed'), OPEN_TIMEOUT_MS * 2).then((m) => { throw new Error(`${server.spec.name}: ${m.error}`) })))
  failed.catch(() => {})
  const sent = shares.map(() => 0)
  const allow = (accepted: number): void => {
    clients.forEach((c, i) => {
      const upTo = Math.min(shares[i], Math.ceil((accepted + WINDOW) * shares[i] / count))
      if (upTo === sent[i]) return
      sent[i] = upTo
      c.send({ type: 'go', upTo } satisfies IdleClientGo)
    })
  }
  const start = performance.now()
  allow(0)
  await waitForCount(server, count, failed, allow)
  return performance.now() - start
}

async function stopAll ({ clients }: { clients: Child[] }): Promise<void> {
  await Promise.all(clients.map((c) => c.stop()))
}

let nextAddress = 0

async function measure (c: Case, count: number, perClient: number): Promise<ConnectionsRow> {
  const server = await startServer(c.spec, { cpu: 0, nodeFlags: ['--expose-gc'], nofile: count + FD_MARGIN, args: c.args })
  try {
    // warm-up: the code paths of accepting and closing run once before the empty measurement
    const warm = startClients(server, c.transport, WARMUP_CONNECTIONS, nextAddress++, WARMUP_CONNECTIONS)
    try {
      await openAll(server, warm.clients, warm.shares, WARMUP_CONNECTIONS)
    } finally {
      await stopAll(warm)
    }
    await waitForCount(server, 0)
    await sleep(SETTLE_MS)
    const empty = await serverStats(server)
    if (!empty.gc) throw new Error(`${c.spec.name} runs without --expose-gc`)
    const clients = startClients(server, c.transport, count, nextAddress, perClient)
    nextAddress += clients.clients.length
    try {
      const openMs = await openAll(server, clients.clients, clients.shares, count)
      await sleep(SETTLE_MS)
      const full = await serverStats(server)
      if (full.connections !== count) throw new Error(`${c.spec.name} holds ${full.connections} of ${count} connections after the settle`)
      return { transport: c.transport, server: c.spec.name, connections: count, openMs, empty, full }
    } finally {
      await stopAll(clients)
    }
  } finally {
    await server.child.stop(20_000)
  }
}

/** The count that fits the descriptor limit, and why it is lower than asked, if it is. */
function feasible (requested: number): { count: number, perClient: number, note?: string } {
  const perClient = Math.min(PER_CLIENT, requested)
  const { hard } = openFileLimit()
  if (requested + FD_MARGIN <= hard || canRaiseOpenFiles(requested + FD_MARGIN)) {
    return { count: requested, perClient: Math.min(perClient, hard - FD_MARGIN) }
  }
  const count = Math.floor((hard - FD_MARGIN) / 100) * 100
  return {
    count,
    perClient: Math.min(perClient, count),
    note: `descriptor hard limit is ${hard} and prlimit may not raise it (no CAP_SYS_RESOURCE): ${int(count)} per server instead of ${int(requested)}`,
  }
}

/** Measures every case, one server at a time. */
export async function runConnections (requested = REQUESTED): Promise<{ rows: ConnectionsRow[], clients: number, note?: string }> {
  const { count, perClient, note } = feasible(requested)
  if (note) console.error(`  connections: ${note}`)
  const rows: ConnectionsRow[] = []
  const transports = process.env.BENCH_TRANSPORTS?.split(',') ?? ['tcp', 'ws']
  for (const c of cases.filter((c) => transports.includes(c.transport))) {
    console.error(`  connections: ${c.spec.name} with ${int(count)} idle ${c.transport} connections`)
    rows.push(await measure(c, count, perClient))
  }
  return { rows, clients: Math.ceil(count / perClient), note }
}

const kb = (bytes: number): string => (bytes / 1024).toFixed(2)
const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1)

/** The table; targets apply to SD. */
export function formatConnections (rows: ConnectionsRow[], clients: number, note?: string): string {
  const body = rows.map((r) => {
    const rss = (r.full.rss - r.empty.rss) / r.connections
    const heap = (r.full.heapUsed - r.empty.heapUsed) / r.connections
    const target = TARGET_KB[r.transport]
    const result = r.server === sdServer.name ? (rss <= target * 1024 && heap <= target * 1024 ? 'PASS' : 'OVER') : 'baseline'
    return [r.transport, r.server, int(r.connections), (r.openMs / 1000).toFixed(1), int(r.connections / (r.openMs / 1000)),
      mb(r.empty.rss), mb(r.full.rss), kb(rss), mb(r.empty.heapUsed), mb(r.full.heapUsed), kb(heap), `<= ${target}`, result]
  })
  const header = ['transport', 'server', 'idle conns', 'open s', 'opened/s', 'RSS empty MB', 'RSS full MB', 'RSS KB/conn',
    'heap empty MB', 'heap full MB', 'heap KB/conn', 'target KB', 'result']
  return [
    `Idle connections per server process (${clients} client processes, one source address each; SD heartbeatIdleMs ${HEARTBEAT_IDLE_MS}, sweep every 1 s)`,
    'per connection = (full - empty) / connections, both after gc; empty = after a warm-up of ' + int(WARMUP_CONNECTIONS) + ' connections opened and closed',
    ...(note ? [`note: ${note}`] : []),
    table(header, body, new Set([2, 3, 4, 5, 6, 7, 8, 9, 10])),
  ].join('\n')
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const started = performance.now()
  const { rows, clients, note } = await runConnections()
  console.log(formatConnections(rows, clients, note))
  console.log(`Total time ${Math.round((performance.now() - started) / 1000)} s`)
}
