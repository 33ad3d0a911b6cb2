/**
 * WebSocket on the HTTP port (ws, through @fastify/websocket): one text frame is one JSON
 * payload with the same envelope as TCP (binary frames when the pack is msgpack).
 * Oversized messages close with 1009 and invalid UTF-8 with 1007 (both enforced by ws before
 * the message is handed over).
 */
import type { FastifyInstance } from 'fastify'
import type { WebSocket } from 'ws'
import type { WsConfig } from '../core/config.js'
import { SdError } from '../core/errors.js'
import { Connection, type CloseListener, type ConnectionLimits } from '../connection/connection.js'
import { createCodec, type Codec } from './packs.js'
import { receive } from './receive.js'
import type { ListenAddress, Transport, TransportHost } from './transport.js'

/** WebSocket close code for an SD error: 1001 on shutdown, 1008 (policy) otherwise. */
function closeCode (error: SdError): number {
  return error.code === 'SD_ERR_SHUTTING_DOWN' ? 1001 : 1008
}

/** A connection on a ws WebSocket. */
export class WsConnection extends Connection {
  readonly socket: WebSocket

  constructor (id: string, socket: WebSocket, remoteAddress: string, codec: Codec, limits: ConnectionLimits, onClose: CloseListener) {
    super(id, 'ws', remoteAddress, codec, limits, onClose)
    this.socket = socket
  }

  get bufferedBytes (): number {
    return this.socket.bufferedAmount
  }

  protected write (bytes: string | Buffer): void {
    this.socket.send(bytes)
  }

  pauseReading (): void {
    this.socket.pause()
  }

  resumeReading (): void {
    this.socket.resume()
  }

  protected end (error: SdError | undefined, notify: boolean): void {
    if (error?.code === 'SD_ERR_SEND_BUFFER_FULL') {
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

  constructor (host: TransportHost, config: WsConfig) {
    this.#host = host
    this.#config = config
    this.#codec = createCodec({ pack: config.pack })
  }

  /** Adds the upgrade route to fastify (before it listens). */
  async register (app: FastifyInstance, address: () => ListenAddress | undefined): Promise<void> {
    this.#address = address
    const { default: websocket } = await import('@fastify/websocket')
    // In its own scope, so the plugin's onRequest/onResponse hooks run for the upgrade route
    // only, not for every HTTP action.
    await app.register(async (scope) => {
      await scope.register(websocket, { options: { maxPayload: this.#config.maxFrameBytes } })
      scope.get(this.#config.path, { websocket: true }, (socket, request) => this.#accept(socket, request.ip))
    })
  }

  #accept (socket: WebSocket, remoteAddress: string): void {
    const host = this.#host
    const conn = new WsConnection(host.newConnectionId(), socket, remoteAddress, this.#codec, host.config.server, (c) => {
      this.#conns.delete(c as WsConnection)
      host.connectionClosed(c)
    })
    socket.on('message', (data: Buffer, isBinary: boolean) => receive(host, conn, data, !isBinary))
    socket.on('ping', () => { conn.lastActiveMs = Date.now() })
    socket.on('error', (err) => host.log.debug({ err, connectionId: conn.id }, 'websocket error'))
    socket.on('close', () => conn.closed())
    this.#conns.add(conn)
    host.connectionOpened(conn)
  }

  async start (): Promise<void> {}

  address (): ListenAddress | undefined {
    return this.#address()
  }

  async stopAccepting (): Promise<void> {}

  async close (): Promise<void> {
    const closing = [...this.#conns].map((conn) => new Promise<void>((resolve) => {
      conn.socket.once('close', () => resolve())
      conn.close(new SdError('SD_ERR_SHUTTING_DOWN'))
      setTimeout(() => { conn.socket.terminate(); resolve() }, 2000).unref()
    }))
    await Promise.all(closing)
  }
}
