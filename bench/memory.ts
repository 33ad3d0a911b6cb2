/**
 * Memory per idle connection: a server child (with --expose-gc) is measured after gc, then a
 * separate client process opens N idle TCP connections to it, and once the server reports N
 * open connections it is measured again. Reported: (after − before) / N for RSS and heap.
 * Run alone with `npm run bench:memory`; `npm run bench` runs it after the throughput table.
 */
import { fileURLToPath } from 'node:url'
import { startChild } from './lib/child.js'
import type { ServerStats } from './lib/server-child.js'
import { portOf, sdServer, serverStats, startServer, tcpMinimal, type RunningServer, type ServerSpec } from './lib/servers.js'
import { int, table } from './lib/table.js'
import type { IdleClientMessage } from './memory/idle-clients.js'

/** Target for SD, in KB per idle connection (RSS and heap). */
export const TARGET_KB_PER_CONNECTION = 8
const CONNECTIONS = Number(process.env.BENCH_MEMORY_CONNECTIONS ?? 10_000)
const OPEN_TIMEOUT_MS = 60_000
const SETTLE_MS = 500

/** Memory of one server before and after the idle connections. */
export interface MemoryRow {
  server: string
  connections: number
  before: ServerStats
  after: ServerStats
}

function sleep (ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

async function waitForConnections (server: RunningServer, count: number): Promise<void> {
  const deadline = Date.now() + OPEN_TIMEOUT_MS
  for (;;) {
    const stats = await serverStats(server)
    if (stats.connections >= count) return
    if (Date.now() > deadline) throw new Error(`${server.spec.name} reports ${stats.connections} of ${count} connections`)
    await sleep(200)
  }
}

async function measureServer (spec: ServerSpec, count: number): Promise<MemoryRow> {
  const server = await startServer(spec, { cpu: 0, nodeFlags: ['--expose-gc'] })
  try {
    await sleep(SETTLE_MS)
    const before = await serverStats(server)
    if (!before.gc) throw new Error(`${spec.name} runs without --expose-gc`)
    const clients = startChild('memory/idle-clients.ts', { cpu: 1, args: [String(portOf(server, 'tcp')), String(count)] })
    try {
      const opened = await clients.message((m) => {
        const msg = m as IdleClientMessage | null
        return msg?.type === 'open' || msg?.type === 'failed' ? msg : undefined
      }, OPEN_TIMEOUT_MS)
      if (opened.type === 'failed') throw new Error(`idle clients against ${spec.name}: ${opened.error}`)
      await waitForConnections(server, count)
      await sleep(SETTLE_MS)
      const after = await serverStats(server)
      return { server: spec.name, connections: after.connections, before, after }
    } finally {
      await clients.stop()
    }
  } finally {
    await server.child.stop(20_000)
  }
}

/** Measures SD, then the minimal TCP server. */
export async function runMemory (count = CONNECTIONS): Promise<MemoryRow[]> {
  const rows: MemoryRow[] = []
  for (const spec of [sdServer, tcpMinimal]) {
    console.error(`  memory: ${spec.name} with ${int(count)} idle TCP connections`)
    rows.push(await measureServer(spec, count))
  }
  return rows
}

const kb = (bytes: number): string => (bytes / 1024).toFixed(2)
const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1)

/** The memory table; the target applies to SD. */
export function formatMemory (rows: MemoryRow[]): string {
  const body = rows.map((r) => {
    const rss = (r.after.rss - r.before.rss) / r.connections
    const heap = (r.after.heapUsed - r.before.heapUsed) / r.connections
    const result = r.server === sdServer.name
      ? (rss <= TARGET_KB_PER_CONNECTION * 1024 && heap <= TARGET_KB_PER_CONNECTION * 1024 ? 'PASS' : 'BELOW')
      : 'baseline'
    return [r.server, int(r.connections), mb(r.before.rss), mb(r.after.rss), kb(rss), mb(r.before.heapUsed), mb(r.after.heapUsed), kb(heap),
      `<= ${TARGET_KB_PER_CONNECTION}`, result]
  })
  const header = ['server', 'idle conns', 'RSS before MB', 'RSS after MB', 'RSS KB/conn', 'heap before MB', 'heap after MB', 'heap KB/conn', 'target KB', 'result']
  return 'Memory per idle TCP connection (after gc; (after - before) / connections)\n' + table(header, body, new Set([1, 2, 3, 4, 5, 6, 7]))
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows = await runMemory()
  console.log(formatMemory(rows))
}
