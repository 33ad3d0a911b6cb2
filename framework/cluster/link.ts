/**
 * One cluster link: a persistent TCP connection between a server and a dispatch server, used
 * the same way at both ends. Frames queued during an event-loop turn go out as one socket
 * write (one buffer, one copy); a link over `maxBufferedBytes` refuses new frames instead of
 * growing without bound. PING/PONG keeps idle links honest: a peer silent for
 * `pingTimeoutMs` is cut. The connecting side that keeps a link up is `LinkClient`
 * (link-client.ts).
 */
import { EventEmitter } from 'node:events'
import type { Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import {
  FrameType, LinkFrameDecoder, FRAME_HEADER_BYTES, frameTypeName, writeFrameHeader,
  decodeAck, decodeData, encodeAck, encodeData, HANDSHAKE_MAX_FRAME_BYTES,
  type AckEntry, type DataMessage, type FrameTypeValue, type LinkRole,
} from './link-frames.js'

/** The authenticated other end of a link. */
export interface PeerInfo {
  name: string
  role: LinkRole
}

/** Lifecycle of a link: `handshaking` → `ready` → `closing` → `closed`. */
export type LinkStatus = 'handshaking' | 'ready' | 'closing' | 'closed'

/** Options of a link (both ends). */
export interface LinkOptions {
  /** Largest frame payload accepted once authenticated. @default 8388608 (8 MiB) */
  maxFrameBytes?: number
  /** Send a PING after this long without receiving anything. @default 1000 */
  pingIntervalMs?: number
  /** Close the link after this long without receiving anything (PONGs included). @default 5000 */
  pingTimeoutMs?: number
  /** Refuse new frames while this many bytes wait to be sent (queued + socket buffer). @default 67108864 (64 MiB) */
  maxBufferedBytes?: number
}

/** Counters of one link (for status pages). */
export interface LinkStats {
  framesIn: number
  framesOut: number
  bytesIn: number
  bytesOut: number
  /** Socket writes: one per event-loop turn that had frames to send. */
  writes: number
  /** Round trip of the last PING, in ms (undefined before the first PONG). */
  rttMs: number | undefined
}

/** Events of a link. */
export interface LinkEvents {
  status: [status: LinkStatus]
  /** A DATA frame: decoded, and its raw payload (relay `body` as it is with `relay()`). */
  data: [msg: DataMessage, body: Buffer]
  ack: [entries: AckEntry[]]
  /** A MSG frame's body (gateway ↔ worker links). */
  msg: [body: Buffer]
  /** The socket's buffer drained after `congested` was true. */
  drain: []
  close: [reason: string]
}

/** Called once the frame was handed to the kernel (`err` when the link died first). */
export type WrittenCallback = (err?: Error | null) => void

/** ACK entries per ACK frame (keeps each ACK frame far below any sane frame limit). */
const ACKS_PER_FRAME = 8192
/** Time a closing link may take to flush before it is destroyed. */
const CLOSE_GRACE_MS = 1000

/** One link over one socket. Starts `handshaking`; `acceptHandshake`/`connectHandshake` make it `ready`. */
export class Link extends EventEmitter<LinkEvents> {
  readonly socket: Socket
  readonly #maxFrameBytes: number
  readonly #pingIntervalMs: number
  readonly #pingTimeoutMs: number
  readonly #maxBuffered: number
  readonly #decoder: LinkFrameDecoder
  #status: LinkStatus = 'handshaking'
  #peer: PeerInfo | undefined
  #handshake: ((type: FrameTypeValue, body: Buffer) => void) | undefined
  #closeReason: string | undefined
  #pingTimer: NodeJS.Timeout | undefined
  #lastReceived = performance.now()
  // the batch of this turn
  #types: FrameTypeValue[] = []
  #bodies: Buffer[] = []
  #queuedBytes = 0
  #callbacks: WrittenCallback[] = []
  #acks: AckEntry[] = []
  #scheduled = false
  readonly stats: LinkStats = { framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0, writes: 0, rttMs: undefined }

  constructor (socket: Socket, options: LinkOptions = {}) {
    super()
    this.socket = socket
    this.#maxFrameBytes = options.maxFrameBytes ?? 8 * 1024 * 1024
    this.#pingIntervalMs = options.pingIntervalMs ?? 1000
    this.#pingTimeoutMs = options.pingTimeoutMs ?? 5000
    this.#maxBuffered = options.maxBufferedBytes ?? 64 * 1024 * 1024
    this.#decoder = new LinkFrameDecoder(HANDSHAKE_MAX_FRAME_BYTES, (type, body) => this.#onFrame(type, body))
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => {
      this.stats.bytesIn += chunk.length
      this.#lastReceived = performance.now()
      const err = this.#decoder.push(chunk)
      if (err) this.destroy(`protocol error: ${err.message}`)
    })
    socket.on('drain', () => this.emit('drain'))
    socket.on('error', (err) => { this.#closeReason ??= err.message })
    socket.on('close', () => this.#onClose())
    if (socket.destroyed) queueMicrotask(() => this.#onClose())
  }

  get status (): LinkStatus { return this.#status }
  /** The authenticated peer (undefined while handshaking). */
  get peer (): PeerInfo | undefined { return this.#peer }
  /** True while the socket's buffer is over its high-water mark: new frames still queue, up to `maxBufferedBytes`. */
  get congested (): boolean { return this.socket.writableNeedDrain }
  /** Bytes waiting to be sent (this turn's batch + the socket's buffer). */
  get bufferedBytes (): number { return this.#queuedBytes + this.socket.writableLength }

  #setStatus (status: LinkStatus): void {
    if (this.#status === status) return
    this.#status = status
    this.emit('status', status)
  }

  // ---- used by the handshake (link-auth.ts) ----------------------------------------------

  /** Routes every frame to `handler` until `authenticated()` (link-auth only). */
  expectHandshake (handler: (type: FrameTypeValue, body: Buffer) => void): void {
    this.#handshake = handler
  }

  /** The handshake succeeded: the link is `ready`, frames up to `maxFrameBytes` are accepted. */
  authenticated (peer: PeerInfo): void {
    if (this.#status !== 'handshaking') return
    this.#handshake = undefined
    this.#peer = peer
    this.#decoder.maxFrameBytes = this.#maxFrameBytes
    this.#lastReceived = performance.now()
    const every = Math.max(10, Math.min(this.#pingIntervalMs, this.#pingTimeoutMs / 2))
    this.#pingTimer = setInterval(() => this.#tick(), every)
    this.#pingTimer.unref()
    this.#setStatus('ready')
  }

  /** Sends DENY with `reason`, then closes. */
  deny (reason: string): void {
    this.sendFrame(FrameType.DENY, Buffer.from(reason.slice(0, 200), 'utf8'))
    void this.close(`denied: ${reason}`)
  }

  // ---- sending ---------------------------------------------------------------------------

  /**
   * Queues a frame for this turn's write. False (and nothing queued) when the link is closing
   * or over `maxBufferedBytes`. `onWritten` hears when the bytes reached the kernel.
   */
  sendFrame (type: FrameTypeValue, body: Buffer, onWritten?: WrittenCallback): boolean {
    if (this.#status === 'closing' || this.#status === 'closed') return false
    if (this.#queuedBytes + this.socket.writableLength + body.length > this.#maxBuffered) return false
    this.#types.push(type)
    this.#bodies.push(body)
    this.#queuedBytes += FRAME_HEADER_BYTES + body.length
    if (onWritten) this.#callbacks.push(onWritten)
    this.#schedule()
    return true
  }

  /** Sends a DATA message (only once `ready`). */
  send (msg: DataMessage, onWritten?: WrittenCallback): boolean {
    if (this.#status !== 'ready') return false
    return this.sendFrame(FrameType.DATA, encodeData(msg), onWritten)
  }

  /** Sends a received DATA payload on as the same bytes (the dispatcher's relay). */
  relay (body: Buffer, onWritten?: WrittenCallback): boolean {
    if (this.#status !== 'ready') return false
    return this.sendFrame(FrameType.DATA, body, onWritten)
  }

  /** Sends an opaque MSG frame (only once `ready`); false when closing or full. */
  sendMsg (body: Buffer): boolean {
    if (this.#status !== 'ready') return false
    return this.sendFrame(FrameType.MSG, body)
  }

  /** Queues a receipt; a turn's receipts go out together in one ACK frame. */
  ack (entry: AckEntry): void {
    if (this.#status !== 'ready') return
    this.#acks.push(entry)
    this.#schedule()
  }

  #schedule (): void {
    if (this.#scheduled) return
    this.#scheduled = true
    setImmediate(() => this.flush())
  }

  /** Writes what is queued now, as one buffer. */
  flush (): void {
    this.#scheduled = false
    if (this.#acks.length > 0) {
      const acks = this.#acks
      this.#acks = []
      for (let i = 0; i < acks.length; i += ACKS_PER_FRAME) {
        const body = encodeAck(acks.slice(i, i + ACKS_PER_FRAME))
        this.#types.push(FrameType.ACK)
        this.#bodies.push(body)
        this.#queuedBytes += FRAME_HEADER_BYTES + body.length
      }
    }
    const n = this.#types.length
    if (n === 0 || this.socket.destroyed) return this.#dropQueued()
    const out = Buffer.allocUnsafe(this.#queuedBytes)
    let off = 0
    for (let i = 0; i < n; i++) {
      const body = this.#bodies[i]
      off = writeFrameHeader(out, off, this.#types[i], body.length)
      off += body.copy(out, off)
    }
    const callbacks = this.#callbacks
    this.#types = []
    this.#bodies = []
    this.#callbacks = []
    this.#queuedBytes = 0
    this.stats.framesOut += n
    this.stats.bytesOut += out.length
    this.stats.writes++
    if (callbacks.length === 0) this.socket.write(out)
    else this.socket.write(out, (err) => { for (const cb of callbacks) cb(err) })
  }

  #dropQueued (): void {
    const callbacks = this.#callbacks
    this.#types = []
    this.#bodies = []
    this.#callbacks = []
    this.#queuedBytes = 0
    if (callbacks.length === 0) return
    const err = new Error('link closed')
    for (const cb of callbacks) cb(err)
  }

  // ---- receiving -------------------------------------------------------------------------

  #onFrame (type: FrameTypeValue, body: Buffer): void {
    this.stats.framesIn++
    if (this.#status === 'handshaking') {
      if (this.#handshake) this.#handshake(type, body)
      else this.destroy(`${frameTypeName[type]} frame before authentication`)
      return
    }
    if (this.#status !== 'ready') return
    switch (type) {
      case FrameType.DATA: {
        const msg = decodeData(body)
        if (!msg) return this.destroy('protocol error: malformed DATA frame')
        this.emit('data', msg, body)
        return
      }
      case FrameType.ACK: {
        const entries = decodeAck(body)
        if (!entries) return this.destroy('protocol error: malformed ACK frame')
        this.emit('ack', entries)
        return
      }
      case FrameType.MSG:
        this.emit('msg', body)
        return
      case FrameType.PING:
        this.sendFrame(FrameType.PONG, body)
        return
      case FrameType.PONG:
        if (body.length === 8) this.stats.rttMs = performance.now() - body.readDoubleBE(0)
        return
      default:
        // HELLO / WELCOME / DENY after the handshake
        this.destroy(`protocol error: ${frameTypeName[type]} frame after authentication`)
    }
  }

  #tick (): void {
    const idle = performance.now() - this.#lastReceived
    if (idle > this.#pingTimeoutMs) {
      this.destroy(`no frame from the peer for ${Math.round(idle)} ms (ping timeout ${this.#pingTimeoutMs} ms)`)
    } else if (idle >= this.#pingIntervalMs) {
      const body = Buffer.allocUnsafe(8)
      body.writeDoubleBE(performance.now())
      this.sendFrame(FrameType.PING, body)
    }
  }

  // ---- closing ---------------------------------------------------------------------------

  /** Flushes what is queued, then closes; resolves once the socket is closed. */
  close (reason = 'closed'): Promise<void> {
    if (this.#status === 'closed') return Promise.resolve()
    const closed = new Promise<void>((resolve) => this.socket.once('close', () => resolve()))
    if (this.#status !== 'closing') {
      this.#closeReason ??= reason
      this.flush()
      this.#setStatus('closing')
      this.#decoder.stop()
      this.socket.end()
      setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref()
    }
    return closed
  }

  /** Closes at once; queued frames are dropped. */
  destroy (reason = 'destroyed'): void {
    this.#closeReason ??= reason
    this.#decoder.stop()
    if (this.#status !== 'closed') this.#setStatus('closing')
    this.socket.destroy()
  }

  #onClose (): void {
    if (this.#status === 'closed') return
    clearInterval(this.#pingTimer)
    this.#decoder.stop()
    this.#dropQueued()
    this.#acks = []
    this.#setStatus('closed')
    this.emit('close', this.#closeReason ?? 'closed by the peer')
  }
}
