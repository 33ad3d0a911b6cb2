/**
 * The server side of a benchmark child: announce the ports (one JSON line on stdout, and over
 * IPC when there is a channel), answer `stats` requests (memory after gc, open connections) and
 * stop cleanly on SIGTERM.
 */
import type { Server } from 'node:http'

/** Ports a server listens on, by transport (`admin`: SD's admin listener, when it runs one). */
export type Ports = Partial<Record<'tcp' | 'ws' | 'http' | 'admin', number>>

/** What a server child reports about itself. */
export interface ServerStats {
  rss: number
  heapUsed: number
  connections: number
  /** False when the child was started without `--expose-gc`. */
  gc: boolean
}

/** Messages a server child sends. */
export type ServerMessage = { type: 'ready', ports: Ports } | { type: 'stats', stats: ServerStats }

/** Options of `serve`. */
export interface ServeOptions {
  ports: Ports
  /** Open client connections right now. */
  connections: () => number
  /** Closes the server (called once, on SIGTERM or when the parent goes away). */
  stop: () => Promise<void>
}

function collect (): boolean {
  const gc = (globalThis as { gc?: () => void }).gc
  if (!gc) return false
  for (let i = 0; i < 3; i++) gc()
  return true
}

/** Wires a started server to its parent. */
export function serve (options: ServeOptions): void {
  let stopping = false
  const stop = (): void => {
    if (stopping) return
    stopping = true
    const force = setTimeout(() => process.exit(1), 10_000)
    force.unref()
    options.stop().then(() => process.exit(0), (err: unknown) => {
      console.error(err)
      process.exit(1)
    })
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  process.on('disconnect', stop)
  process.on('message', (msg: unknown) => {
    const request = msg as { type?: unknown, gc?: unknown } | null
    if (request?.type !== 'stats') return
    // `gc: false`: a cheap poll (of the connection count) that collects nothing
    const gc = request.gc !== false && collect()
    const mem = process.memoryUsage()
    const reply: ServerMessage = { type: 'stats', stats: { rss: mem.rss, heapUsed: mem.heapUsed, connections: options.connections(), gc } }
    process.send?.(reply)
  })
  const ready: ServerMessage = { type: 'ready', ports: options.ports }
  process.stdout.write(JSON.stringify(ready.ports) + '\n')
  process.send?.(ready)
}

/** A listening HTTP server with a `close()`: a fastify baseline. */
export interface HttpBaseline {
  server: Server
  close: () => Promise<unknown>
}

/** Wires a listening fastify baseline: its port, its open connections, its stop. */
export function serveHttp (app: HttpBaseline): void {
  let open = 0
  app.server.on('connection', (socket) => {
    open++
    socket.once('close', () => { open-- })
  })
  const addr = app.server.address()
  serve({
    ports: { http: typeof addr === 'object' && addr ? addr.port : 0 },
    connections: () => open,
    stop: async () => { await app.close() },
  })
}
