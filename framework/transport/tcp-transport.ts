/**
 * Raw TCP ports through node:net: the TCP RPC port (`length` framing + `json`) and any other
 * socket port (the text port uses it with `eof` framing + `text`, see text-transport.ts).
 * Output is queued per event-loop turn and written as one buffer, so pipelined replies leave
 * in one write system call.
 */
import { createServer, type Server, type Socket } from 'node:net'
import type { TransportName } from '../core/contract.js'
import type { Framing, SocketPortConfig } from './options.js'
import { SdError } from '../core/errors.js'
import { Connection, dropsAtOnce, type CloseListener, type ConnectionLimits } from '../connection/connection.js'
import { frameLength, frameLines, frameTelnetLines, LengthDecoder, LineDecoder, type FrameDecoder } from './framing.js'
import { createCodec, type Codec } from './packs.js'
import { receive } from './receive.js'
import { TelnetFilter } from './telnet.js'
import type { ListenAddress, Transport, TransportHost } from './transport.js'
import { acceptTls, type TlsFiles } from './tls.js'

/** Unsent bytes above which a connection stops being read until the client catches up. */
const READ_PAUSE_BYTES = 1024 * 1024
/**
 * Buffers at least this long (a broadcast's shared bytes) are written as they are after their
 * own header instead of being copied into the turn's buffer: a client that does not read then
 * holds a reference, not a copy per client. Smaller ones are cheaper to copy than to queue.
 */
const SHARE_MIN_BYTES = 1024

function flushConnection (conn: SocketConnection): void {
  conn.flush()
}

/** Dispatches the frames the decoder held back, then reads the socket again if none is left. */
function resumeDecoder (conn: SocketConnection): void {
  const decoder = conn.decoder
  if (decoder === null || conn.status !== 'open' || conn.held) return
  const err = decoder.resume()
  if (err) conn.close(err)
  else if (!decoder.stopped && !conn.held) conn.socket.resume()
}


/** Writes a turn's queue with `length` framing, large Buffers by reference (one writev: corked). */
function writeSharing (socket: Socket, queue: ReadonlyArray<string | Buffer>): void {
  socket.cork()
  let from = 0
  for (let i = 0; i < queue.length; i++) {
    const p = queue[i]
    if (typeof p === 'string' || p.length < SHARE_MIN_BYTES) continue
    if (i > from) socket.write(frameLength(queue.slice(from, i)))
    const header = Buffer.allocUnsafe(4)
    header.writeUInt32BE(p.length)
    socket.write(header)
    socket.write(p)
    from = i + 1
  }
  if (from < queue.length) socket.write(frameLength(queue.slice(from)))
  socket.uncork()
}

/** A connection on a net.Socket. */
export class SocketConnection extends Connection {
  readonly socket: Socket
  /** Its frame decoder; frames it holds back while the connection is held are read on release. */
  decoder: FrameDecoder | null = null
  /** Output of this event-loop turn, written as one buffer when the turn ends. */
  #queue: Array<string | Buffer> = []
  #queuedBytes = 0
  /** `socket.writableLength` after the last flush: only ever shrinks until the next flush. */
  #socketBytes = 0
  #drainHeld = false
  /** Buffers of this turn's queue written by reference (length framing only). */
  #shared = 0
  readonly #length: boolean
  readonly #frame: (parts: ReadonlyArray<string | Buffer>) => string | Buffer

  constructor (id: string, transport: TransportName, socket: Socket, framing: Framing, codec: Codec, limits: ConnectionLimits, onClose: CloseListener, telnet = false) {
    // a 4-byte length header, or a line ending (`\r\n` at most)
    super(id, transport, socket.remoteAddress ?? '', codec, limits, onClose, framing === 'length' ? 4 : 2)
    this.socket = socket
    this.#length = framing === 'length'
    this.#frame = framerFor(framing, telnet)
  }

  get bufferedBytes (): number {
    return this.socket.writableLength + this.#queuedBytes
  }

  protected override get bufferedBytesHint (): number {
    return this.#socketBytes + this.#queuedBytes
  }

  protected write (bytes: string | Buffer): void {
    if (this.#queue.length === 0) process.nextTick(flushConnection, this)
    this.#queue.push(bytes)
    this.#queuedBytes += bytes.length
    if (typeof bytes !== 'string' && bytes.length >= SHARE_MIN_BYTES) this.#shared++
  }

  /** Frames and writes what this turn queued: one write, whatever the number of messages. */
  flush (): void {
    const queue = this.#queue
    if (queue.length === 0) return
    this.#queue = []
    this.#queuedBytes = 0
    const shared = this.#shared
    this.#shared = 0
    const socket = this.socket
    if (socket.destroyed) return
    if (shared > 0 && this.#length) writeSharing(socket, queue)
    else socket.write(this.#frame(queue))
    this.#socketBytes = socket.writableLength
    if (!this.#drainHeld && this.#socketBytes > READ_PAUSE_BYTES) {
      this.#drainHeld = true
      this.hold()
      socket.once('drain', () => {
        this.#drainHeld = false
        this.release()
      })
    }
  }

  pauseReading (): void {
    this.socket.pause()
  }

  resumeReading (): void {
    // on the next tick: the reply of the request that released us goes out before the held frames run
    if (this.decoder?.stopped === true) process.nextTick(resumeDecoder, this)
    else this.socket.resume()
  }

  protected end (error: SdError | undefined, notify: boolean): void {
    const socket = this.socket
    if (dropsAtOnce(error)) {
      // dropped for holding too much: its queue is thrown away, not framed into one more copy
      this.#queue = []
      this.#queuedBytes = 0
      socket.destroy()
      return
    }
    if (error && notify) this.write(this.codec.error(undefined, error.toJSON()))
    this.flush()
    socket.end()
  }

  protected destroy (): void {
    this.socket.destroy()
  }
}

/** How a port frames what it writes: length headers, or lines (`\r\n` on a telnet port). */
function framerFor (framing: Framing, telnet: boolean): (parts: ReadonlyArray<string | Buffer>) => string | Buffer {
  return framing === 'length' ? frameLength : telnet ? frameTelnetLines : frameLines
}

/** Unsent bytes past which telnet answers are no longer written. */
const TELNET_REPLY_MAX_UNSENT = 16 * 1024

/** A line decoder behind a telnet filter: commands are answered on the socket, data goes on to the lines. */
function telnetInput (lines: LineDecoder, socket: Socket): FrameDecoder {
  const filter = new TelnetFilter({
    data: (bytes) => lines.push(bytes),
    // answers bypass the output limits, so a client that negotiates without reading gets no
    // more of them once a little is unsent (a reading telnet never has that much waiting)
    reply: (bytes) => { if (!socket.destroyed && socket.writableLength < TELNET_REPLY_MAX_UNSENT) socket.write(bytes) },
    discardLine: () => lines.discard(),
  })
  filter.start()
  return {
    push: (chunk) => filter.push(chunk),
    resume: () => lines.resume(),
    get stopped () { return lines.stopped },
    get buffered () { return lines.buffered },
  }
}

/** A TCP port with configurable framing and pack. */
export class TcpTransport implements Transport {
  readonly name: TransportName
  readonly #host: TransportHost
  readonly #config: SocketPortConfig
  readonly #codec: Codec
  readonly #conns = new Set<SocketConnection>()
  /** TLS sockets still in their handshake (each holds an admission slot). */
  readonly #handshaking = new Set<Socket>()
  readonly #tls: TlsFiles | undefined
  #server: Server | undefined

  /** `tls`: the port's certificate when it serves TLS. */
  constructor (host: TransportHost, name: TransportName, config: SocketPortConfig, tls?: TlsFiles) {
    this.name = name
    this.#host = host
    this.#config = config
    this.#tls = tls
    this.#codec = createCodec({ pack: config.pack, route: config.route, render: config.render })
  }

  start (): Promise<void> {
    // paused on accept: a refused socket is never read (no read start, nothing buffered)
    const server = createServer({ noDelay: true, pauseOnConnect: true }, (socket) => this.#accept(socket))
    this.#server = server
    return new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.#config.port, this.#config.host, () => {
        server.off('error', reject)
        server.on('error', (err) => {
          if (!this.#host.admission.acceptFailed(err)) this.#host.log.error({ err, transport: this.name }, 'listener error')
        })
        resolve()
      })
    })
  }

  address (): ListenAddress | undefined {
    const addr = this.#server?.address()
    return addr && typeof addr === 'object' ? { host: addr.address, port: addr.port } : undefined
  }

  /** Reads the certificate files again (`sd reload` at a kept gateway); new connections get them. */
  reloadTls (): void {
    this.#tls?.reload()
  }

  #accept (socket: Socket): void {
    const host = this.#host
    const address = socket.remoteAddress
    const telnet = this.#config.framing === 'eof' && this.#config.telnet
    const refusal = host.admission.admit(address)
    if (refusal !== undefined && this.#tls !== undefined) {
      // nothing readable can be said before a handshake: closed at once
      socket.on('error', () => {})
      socket.destroy()
      return
    }
    if (refusal !== undefined) {
      // refused before anything is read: the error frame (or line), FIN, then the descriptor is freed
      socket.on('error', () => {})
      socket.end(framerFor(this.#config.framing, telnet)([this.#codec.error(undefined, refusal.toJSON())]))
      socket.destroySoon()
      return
    }
    if (this.#tls === undefined) {
      this.#open(socket, address, telnet)
      return
    }
    // the slot is held through the handshake; a plain client or a stalled one is closed
    let opened = false
    const tls = acceptTls(socket, this.#tls.context, (secure) => {
      opened = true
      this.#handshaking.delete(tls)
      this.#open(secure, address, telnet)
    })
    this.#handshaking.add(tls)
    tls.on('error', (err) => host.log.debug({ err, transport: this.name }, 'tls socket error'))
    tls.once('close', () => {
      this.#handshaking.delete(tls)
      if (!opened) host.admission.release(address)
    })
  }

  #open (socket: Socket, address: string | undefined, telnet: boolean): void {
    const host = this.#host
    const limits = host.config.server
    // runs once, when the socket has closed: its admission slot is freed with it
    const conn = new SocketConnection(host.newConnectionId(), this.name, socket, this.#config.framing, this.#codec, limits, (c) => {
      host.admission.release(address)
      this.#conns.delete(c as SocketConnection)
      host.connectionClosed(c)
    }, telnet)
    // false stops the decoder: the connection has maxPendingPerConnection requests running
    const onFrame = (payload: Buffer): boolean => {
      receive(host, conn, payload)
      return !conn.held
    }
    const max = this.#config.maxFrameBytes
    let decoder: FrameDecoder
    if (this.#config.framing === 'length') {
      decoder = new LengthDecoder(max, onFrame)
    } else {
      const lines = new LineDecoder(max, onFrame)
      decoder = telnet ? telnetInput(lines, socket) : lines
    }
    conn.decoder = decoder
    socket.on('data', (chunk: Buffer) => {
      if (conn.status !== 'open') return
      const err = decoder.push(chunk)
      if (err) conn.close(err)
    })
    socket.on('error', (err) => host.log.debug({ err, connectionId: conn.id }, 'socket error'))
    socket.on('close', () => conn.closed())
    socket.resume() // before onConnect hooks, which may pause it
    this.#conns.add(conn)
    host.connectionOpened(conn)
  }

  /** Closes the listener; its callback would wait for open connections, so none is awaited. */
  async stopAccepting (): Promise<void> {
    if (this.#server?.listening) this.#server.close()
  }

  async close (): Promise<void> {
    await this.stopAccepting()
    for (const s of this.#handshaking) s.destroy()
    await Promise.all([...this.#conns].map((conn) => conn.shutdown(new SdError('SD_ERR_SHUTTING_DOWN'))))
  }
}
