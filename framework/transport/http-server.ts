/**
 * The node:http server under fastify (its `serverFactory`): header, request and keep-alive
 * timeouts from `server.http`, and admission control on every accepted socket. A socket over
 * the limits gets a 503 `SD_ERR_TOO_MANY_CONNECTIONS` at once and is closed; the WebSocket
 * upgrade arrives on an HTTP socket, so it is refused the same way.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { Logger } from 'pino'
import type { HttpConfig } from './options.js'
import type { SdError } from '../core/errors.js'
import type { Admission } from './admission.js'
import { TLS_HANDSHAKE_TIMEOUT_MS, type TlsFiles } from './tls.js'

/** Sockets refused by admission: a request parsed before they close is not handed on. */
const refused = new WeakSet<Duplex>()

/** True when `socket` was refused by admission (its 503 is on its way; nothing else may answer). */
export function isRefusedSocket (socket: Duplex): boolean {
  return refused.has(socket)
}

/** The raw 503 written to a refused socket before anything is read from it. */
function refusalResponse (err: SdError): string {
  const body = JSON.stringify({ error: err.toJSON() })
  return `HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
}

/**
 * How often node checks header and request timeouts: at least every second (node's default
 * is every 30 s, so a slow-header socket lived 30 s and more whatever the timeout).
 */
function checkingIntervalMs (headersMs: number, requestMs: number): number {
  const shortest = requestMs > 0 ? Math.min(headersMs, requestMs) : headersMs
  return Math.max(10, Math.min(1000, Math.floor(shortest / 2)))
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void

/**
 * A fastify `serverFactory` for `config`, counting sockets through `admission`; HTTPS with
 * `tls` (a socket refused by admission is then closed at once: nothing readable can be sent
 * before a handshake; a handshake not done in 10 s closes the socket).
 */
export function httpServerFactory (config: HttpConfig, admission: Admission, log: Logger, tls?: TlsFiles): (handler: Handler) => Server {
  return (handler) => {
    const requestMs = config.requestTimeoutMs
    // node refuses a headers timeout above the request timeout
    const headersMs = requestMs > 0 ? Math.min(config.headersTimeoutMs, requestMs) : config.headersTimeoutMs
    const options = {
      headersTimeout: headersMs,
      requestTimeout: requestMs,
      connectionsCheckingInterval: checkingIntervalMs(headersMs, requestMs),
    }
    const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
      if (refused.has(req.socket)) return
      handler(req, res)
    }
    const server: Server = tls === undefined
      ? createServer(options, onRequest)
      : createHttpsServer({ ...options, ...tls.contents(), handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS }, onRequest) as unknown as Server
    server.keepAliveTimeout = config.keepAliveTimeoutMs
    server.prependListener('connection', (socket: Socket) => {
      const address = socket.remoteAddress
      const refusal = admission.admit(address)
      if (refusal === undefined) {
        socket.once('close', () => admission.release(address))
        return
      }
      refused.add(socket)
      socket.on('error', () => {})
      if (tls !== undefined) {
        socket.destroy()
        return
      }
      socket.end(refusalResponse(refusal))
      socket.destroySoon()
    })
    // after listen (fastify handles listen errors): accept failures, EMFILE logged per interval
    server.once('listening', () => {
      server.on('error', (err: NodeJS.ErrnoException) => {
        if (!admission.acceptFailed(err)) log.error({ err, transport: 'http' }, 'listener error')
      })
    })
    return server
  }
}
