/**
 * A pipelining load generator for message protocols over one socket (TCP framing, WebSocket):
 * each connection keeps `pipelining` requests in flight and sends a new one for every valid
 * reply. Replies to one chunk are answered with one write. Replies are counted over a fixed
 * window that opens `settleMs` after the connections are up; then the connections are closed.
 */
import { connect, type Socket } from 'node:net'
import { connect as connectTls } from 'node:tls'
import { once } from 'node:events'
import { replyId } from './payload.js'

/** How requests are framed and replies unframed on one protocol. */
export interface Wire {
  /** Largest framed request. */
  readonly maxRequestBytes: number
  /** Writes the framed request with id `digits` at `off`; returns the end offset. */
  encode (out: Buffer, off: number, digits: string): number
  /**
   * Calls `onPayload` for each complete reply in `buf` from `off`; returns where the first
   * incomplete frame starts (`buf.length` when none). Throws on a protocol error.
   */
  scan (buf: Buffer, off: number, onPayload: (buf: Buffer, start: number, end: number) => void): number
  /** Runs after connect (e.g. the WebSocket upgrade); resolves with bytes read past it. */
  handshake? (socket: Socket): Promise<Buffer>
}

/** Options of a load run. */
export interface LoadOptions {
  port: number
  connections: number
  pipelining: number
  /** Time between connecting and opening the window (not counted). */
  settleMs: number
  /** Length of the window; 0 only warms up. */
  durationMs: number
  /** Called when the measuring window opens. */
  onWindowStart: () => void
  /** Connect over TLS (any certificate accepted: a loopback benchmark). @default false */
  tls?: boolean
}

/** Outcome of a load run. */
export interface LoadResult {
  /** Valid replies inside the window. */
  requests: number
  seconds: number
  /** Socket errors and unexpected closes. */
  errors: number
  /** Replies that were not the echo of an outstanding request. */
  mismatches: number
}

interface Counters {
  running: boolean
  completed: number
  errors: number
  mismatches: number
}

async function open (wire: Wire, port: number, tls = false): Promise<{ socket: Socket, rest: Buffer }> {
  const socket: Socket = tls ? connectTls({ host: '127.0.0.1', port, rejectUnauthorized: false }) : connect({ host: '127.0.0.1', port, noDelay: true })
  if (tls) socket.setNoDelay(true)
  await once(socket, tls ? 'secureConnect' : 'connect')
  const rest = wire.handshake ? await wire.handshake(socket) : Buffer.alloc(0)
  return { socket, rest }
}

function drive (wire: Wire, socket: Socket, rest: Buffer, depth: number, counters: Counters): void {
  const outstanding = new Set<number>()
  let nextId = 1
  let toSend = 0
  let pending: Buffer | null = rest.length > 0 ? rest : null
  const sendBatch = (count: number): void => {
    const out = Buffer.allocUnsafe(count * wire.maxRequestBytes)
    let off = 0
    for (let i = 0; i < count; i++) {
      const id = nextId++
      outstanding.add(id)
      off = wire.encode(out, off, String(id))
    }
    socket.write(out.subarray(0, off))
  }
  const onPayload = (buf: Buffer, start: number, end: number): void => {
    const id = replyId(buf, start, end)
    if (id < 0 || !outstanding.delete(id)) {
      counters.mismatches++
      return
    }
    counters.completed++
    if (counters.running) toSend++
  }
  socket.on('data', (chunk: Buffer) => {
    const buf = pending === null ? chunk : Buffer.concat([pending, chunk])
    let off: number
    try {
      off = wire.scan(buf, 0, onPayload)
    } catch (err) {
      counters.errors++
      socket.destroy(err as Error)
      return
    }
    pending = off < buf.length ? buf.subarray(off) : null
    if (toSend > 0) {
      sendBatch(toSend)
      toSend = 0
    }
  })
  socket.on('error', () => { if (counters.running) counters.errors++ })
  socket.on('close', () => { if (counters.running) counters.errors++ })
  sendBatch(depth)
}

function sleep (ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Runs the load and returns what the window counted. */
export async function runPipelined (wire: Wire, options: LoadOptions): Promise<LoadResult> {
  const sockets = await Promise.all(Array.from({ length: options.connections }, () => open(wire, options.port, options.tls)))
  const counters: Counters = { running: true, completed: 0, errors: 0, mismatches: 0 }
  for (const { socket, rest } of sockets) drive(wire, socket, rest, options.pipelining, counters)
  await sleep(options.settleMs)
  const base = { completed: counters.completed, errors: counters.errors, mismatches: counters.mismatches }
  const t0 = process.hrtime.bigint()
  options.onWindowStart()
  await sleep(options.durationMs)
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  const result: LoadResult = {
    requests: counters.completed - base.completed,
    seconds,
    errors: counters.errors - base.errors,
    mismatches: counters.mismatches - base.mismatches,
  }
  counters.running = false
  for (const { socket } of sockets) socket.destroy()
  return result
}
