/**
 * WebSocket on the HTTP port (ws on the HTTP server's upgrade event): one text frame is one JSON
 * payload with the same envelope as TCP (binary frames when the pack is msgpack).
 * Oversized messages close with 1009 and invalid UTF-8 with 1007 (both enforced by ws before
 * the message is handed over).
 */
import type { IncomingMessage, Server as HttpServer } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket } from 'ws'
import type { WsConfig } from './options.js'
import { SdError } from '../core/errors.js'
import { Connection, dropsAtOnce, type CloseListener, type ConnectionLimits } from '../connection/connection.js'
import { createCodec, type Codec } from './packs.js'
import { receive } from './receive.js'
import { isRefusedSocket } from './http-server.js'
import type { ListenAddress, Transport, TransportHost } from './transport.js'

/** WebSocket close code for an SD error: 1001 on shutdown, 1008 (policy) otherwise. */
function closeCode (error: SdError): number {
  return error.code === 'SD_ERR_SHUTTING_DOWN' ? 1001 : 1008
}

/** Dispatches the messages held back while the connection was held. */
function drainWaiting (conn: WsConnection): void {
  conn.drainWaiting()
}

/**
 * Error listener of upgraded sockets. A module-level function: an arrow made inside the upgrade
 * handler would share its context, which holds the upgrade request, and so keep the request
 * and its headers (about 1.1 KB) alive as long as the connection.
 */
function ignoreSocketError (): void {}

const TEXT_FRAME = { binary: false }
const BINARY_FRAME = { binary: true }

/** A connection on a ws WebSocket. */
export class WsConnection extends Connection {
  readonly socket: WebSocket
  readonly #receive: (data: Buffer, isText: boolean) => void
  /**
   * Messages that arrived while held: `pause()` stops the socket, but ws still emits the
   * messages of the chunk it is parsing. Kept in order (`#next` is the first not yet run).
   */
  #waiting: Array<{ data: Buffer, isText: boolean }> | null = null
  #next = 0

  constructor (id: string, socket: WebSocket, remoteAddress: string, codec: Codec, limits: ConnectionLimits, onClose: CloseListener, receive: (conn: WsConnection, data: Buffer, isText: boolean) => void) {
    // a server frame's header is 10 bytes at most
    super(id, 'ws', remoteAddress, codec, limits, onClose, 10)
    this.socket = socket
    this.#receive = (data, isText) => receive(this, data, isText)
  }

  /** One message from ws: run now, or queued behind the held ones. */
  message (data: Buffer, isText: boolean): void {
    if (this.#waiting === null && !this.held) this.#receive(data, isText)
    else (this.#waiting ??= []).push({ data, isText })
  }

  /** Runs held messages until the connection is held again or none is left; then reads again. */
  drainWaiting (): void {
    const waiting = this.#waiting
    if (waiting === null || this.status !== 'open' || this.held) return
    while (this.#next < waiting.length && !this.held) {
      const m = waiting[this.#next++]
      this.#receive(m.data, m.isText)
    }
    if (this.#next < waiting.length) return
    this.#waiting = null
    this.#next = 0
    if (!this.held) this.socket.resume()
  }

  get bufferedBytes (): number {
    return this.socket.bufferedAmount
  }

  protected write (bytes: string | Buffer): void {
    // a shared broadcast Buffer of a JSON pack still goes out as a text frame (DESIGN.md)
    this.socket.send(bytes, this.codec.pack === 'msgpack' ? BINARY_FRAME : TEXT_FRAME)
  }

  protected destroy (): void {
    this.socket.terminate()
  }

  pauseReading (): void {
    this.socket.pause()
  }

  resumeReading (): void {
    // on the next tick: the reply of the request that released us goes out before the held messages run
    if (this.#waiting !== null) process.nextTick(drainWaiting, this)
    else this.socket.resume()
  }

  protected end (error: SdError | undefined, notify: boolean): void {
    if (dropsAtOnce(error)) {
      this.socket.terminate()
      return
    }
    if (error) {
      if (notify) this.socket.send(this.codec.error(undefined, error.toJSON()))
      this.socket.close(closeCode(error), error.code)
    } else {
      this.socket.close(1000)
    }
  }
}

/** The WebSocket endpoint; registered on the HTTP transport's fastify instance. */
export class WsTransport implements Transport {
  readonly name = 'ws' as const
  readonly #host: TransportHost
  readonly #config: WsConfig
  readonly #codec: Codec
  readonly #conns = new Set<WsConnection>()
  #address: () => ListenAddress | undefined = () => undefined
  #wss: WebSocketServer | undefined
  #closing = false

  constructor (host: TransportHost, config: WsConfig) {
    this.#host = host
    this.#config = config
    this.#codec = createCodec({ pack: config.pack })
  }

  /**
   * Answers upgrades on the HTTP server with ws directly (no fastify plugin: its hooks would
   * run for every HTTP action). Upgrades to any other path get 404.
   */
  attach (server: HttpServer, address: () => ListenAddress | undefined): void {
    this.#address = address
    const wss = new WebSocketServer({ noServer: true, clientTracking: false, maxPayload: this.#config.maxFrameBytes })
    this.#wss = wss
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      // Node drops its own error listener once 'upgrade' is emitted; a reset must not crash us.
      socket.on('error', ignoreSocketError)
      if (isRefusedSocket(socket)) return // over the connection limits: its 503 is already written
      const url = request.url ?? ''
      const q = url.indexOf('?')
      if ((q === -1 ? url : url.slice(0, q)) !== this.#config.path || this.#closing) {
        const refused = this.#closing ? new SdError('SD_ERR_SHUTTING_DOWN') : new SdError('SD_ERR_ROUTE_NOT_FOUND', `no WebSocket endpoint at ${url.slice(0, 200)}`)
        const body = JSON.stringify({ error: refused.toJSON() })
        socket.end(`HTTP/1.1 ${this.#closing ? '503 Service Unavailable' : '404 Not Found'}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
        // the parser is done with this socket and no timeout applies: do not wait for the client's FIN
        ;(socket as Socket).destroySoon()
        return
      }
      const auth = this.#host.upgradeAuth?.(request)
      if (auth === undefined) {
        wss.handleUpgrade(request, socket, head, (ws) => this.#accept(ws, request.socket.remoteAddress ?? ''))
        return
      }
      auth.then((before) => {
        if (socket.destroyed || this.#closing) { socket.destroy(); return }
        wss.handleUpgrade(request, socket, head, (ws) => this.#accept(ws, request.socket.remoteAddress ?? '', before))
      }, (err: unknown) => {
        const refused = err instanceof SdError ? err : new SdError('SD_ERR_UNAUTHENTICATED', 'token refused')
        const body = JSON.stringify({ error: refused.toJSON() })
        socket.end(`HTTP/1.1 ${refused.status} ${refused.status === 401 ? 'Unauthorized' : 'Refused'}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
        ;(socket as Socket).destroySoon()
      })
    })
  }

  /** `before`: run on the connection before it opens (the upgrade's authentication). */
  #accept (socket: WebSocket, remoteAddress: string, before?: (conn: WsConnection) => void): void {
    const host = this.#host
    const conn = new WsConnection(host.newConnectionId(), socket, remoteAddress, this.#codec, host.config.server, (c) => {
      this.#conns.delete(c as WsConnection)
      host.connectionClosed(c)
    }, (c, data, isText) => receive(host, c, data, isText))
    socket.on('message', (data: Buffer, isBinary: boolean) => conn.message(data, !isBinary))
    socket.on('ping', () => { conn.lastActiveMs = Date.now() })
    socket.on('error', (err) => host.log.debug({ err, connectionId: conn.id }, 'websocket error'))
    socket.on('close', () => conn.closed())
    this.#conns.add(conn)
    before?.(conn)
    host.connectionOpened(conn)
  }

  async start (): Promise<void> {}

  address (): ListenAddress | undefined {
    return this.#address()
  }

  async stopAccepting (): Promise<void> {
    this.#closing = true
  }

  async close (): Promise<void> {
    this.#closing = true
    await Promise.all([...this.#conns].map((conn) => conn.shutdown(new SdError('SD_ERR_SHUTTING_DOWN'))))
    this.#wss?.close()
  }
}
