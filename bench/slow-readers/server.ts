/**
 * Server child of bench/slow-readers.ts: the demo app of the checkout at argv[2] (this one, or a
 * snapshot of main) with the server overrides of argv[3] (JSON), on free loopback ports, logs
 * silenced. Prints its ports as one JSON line; answers `stats` over IPC (memory as it is, then
 * after a full gc when started with --expose-gc).
 */
import { pathToFileURL } from 'node:url'

const root = process.argv[2]
const server = JSON.parse(process.argv[3] ?? '{}') as Record<string, unknown>
const { createApp } = await import(pathToFileURL(`${root}/framework/index.ts`).href) as typeof import('../../framework/index.js')
const app = await createApp({
  root,
  overrides: {
    app: { logLevel: 'silent' },
    server: {
      tcp: { host: '127.0.0.1', port: 0 },
      text: { host: '127.0.0.1', port: 0 },
      http: { host: '127.0.0.1', port: 0 },
      heartbeatIdleMs: 0,
      ...server,
    },
  },
})
await app.start()

/** What the parent reads: memory now, and after gc when it can. */
export interface SlowServerStats {
  rss: number
  heapTotal: number
  external: number
  arrayBuffers: number
  connections: number
  /** Connections the output budget closed (undefined on code without one). */
  slowReadersClosed?: number
  afterGc?: { rss: number, heapTotal: number, external: number }
}

process.on('message', (msg: { type?: string, gc?: boolean }) => {
  if (msg?.type !== 'stats') return
  const m = process.memoryUsage()
  const stats: SlowServerStats = { rss: m.rss, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, connections: app.connections.size, slowReadersClosed: (app as { sendBudget?: { closedCount: number } }).sendBudget?.closedCount }
  const gc = (globalThis as { gc?: () => void }).gc
  if (msg.gc && gc) {
    for (let i = 0; i < 3; i++) gc()
    const g = process.memoryUsage()
    stats.afterGc = { rss: g.rss, heapTotal: g.heapTotal, external: g.external }
  }
  process.send?.({ type: 'stats', stats })
})
const stop = (): void => { app.stop().then(() => process.exit(0), () => process.exit(1)) }
process.on('SIGTERM', stop)
process.on('disconnect', stop)
// the parent may be gone (--trace-gc lines go to stdout too)
process.stdout.on('error', () => {})
process.stdout.write(JSON.stringify({ tcp: app.address('tcp')?.port, http: app.address('http')?.port }) + '\n')
