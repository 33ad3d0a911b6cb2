/**
 * The HTTP port on fastify: fastify parses requests and bodies; one catch-all route hands every
 * request to the shared router (the same one TCP, text and WebSocket use). Unknown paths and
 * fastify's own errors (bad or oversized bodies) are mapped to SD error codes.
 */
import { readdir } from 'node:fs/promises'
import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { relative, sep } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import Fastify, { type FastifyInstance } from 'fastify'
import cookie from '@fastify/cookie'
import { addCookieWriter } from './http-cookies.js'
import formbody from '@fastify/formbody'
import fastifyStatic from '@fastify/static'
import type { HttpConfig } from './options.js'
import { clientErrorHandler, frameworkErrors, installHttpErrors, replyHttpError } from './http-errors.js'
import type { ListenAddress, Transport, TransportHost } from './transport.js'
import { WsTransport } from './ws-transport.js'
import { httpServerFactory } from './http-server.js'
import { isClientJs, sendClientJs } from './client-bundle.js'
import type { TlsFiles } from './tls.js'
import type { TransportTraffic } from '../connection/traffic.js'

/** Methods the catch-all route answers; the router decides which ones an action accepts. */
const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']

const noCookies: Record<string, string> = Object.freeze({}) as Record<string, string>

/**
 * Turns off V8's allocation-site pretenuring for this process (once, when an HTTP port starts).
 * Under HTTP load V8 may decide that a site hit on every request makes long-lived objects; from
 * then on every request's objects are promoted, and the process stays slow for its whole life.
 * With pretenuring off, request objects die young. A process started with an explicit
 * `--[no-]allocation-site-pretenuring` keeps its own choice. Why and how it was found:
 * docs/benchmarks.md, "HTTP and V8 pretenuring".
 */
let pretenuringOff = false
function disablePretenuring (): void {
  if (pretenuringOff) return
  pretenuringOff = true
  const given = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((arg) => arg.includes('allocation-site-pretenuring'))
  if (!given) setFlagsFromString('--no-allocation-site-pretenuring')
}

/** The files under `root` by URL path (`/css/site.css` → `css/site.css`); a missing folder has none. */
async function listStatic (root: string): Promise<Map<string, string>> {
  const files = new Map<string, string>()
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => [])
  for (const e of entries) {
    if (!e.isFile()) continue
    const rel = relative(root, `${e.parentPath ?? e.path}${sep}${e.name}`).split(sep).join('/')
    files.set(encodeURI(`/${rel}`), rel)
  }
  return files
}

export { fromFastifyError } from './http-errors.js'

/** The HTTP transport (and, when enabled, the WebSocket endpoint on the same port). */
export class HttpTransport implements Transport {
  readonly name = 'http' as const
  readonly #host: TransportHost
  readonly #config: HttpConfig
  readonly #staticRoot: string | undefined
  readonly #tls: TlsFiles | undefined
  readonly ws: WsTransport | undefined
  #app: FastifyInstance | undefined
  /** Open HTTP connections (upgraded WebSocket ones leave: the WebSocket transport owns them). */
  readonly #sockets = new Set<Socket>()
  /** HTTPS sockets still in their TLS handshake (closed at once on stop). */
  readonly #handshaking = new Set<Socket>()
  /** Where this port's requests and bytes count (metrics on). */
  #traffic: TransportTraffic | undefined

  /** `staticRoot`: absolute folder of static files, if any; `tls`: the certificate when it serves HTTPS (and wss). */
  constructor (host: TransportHost, config: HttpConfig, staticRoot?: string, tls?: TlsFiles) {
    this.#host = host
    this.#config = config
    this.#staticRoot = staticRoot
    this.#tls = tls
    this.ws = config.ws.enabled ? new WsTransport(host, config.ws) : undefined
  }

  async start (): Promise<void> {
    disablePretenuring()
    const host = this.#host
    const app = Fastify({
      bodyLimit: this.#config.bodyLimitBytes,
      logger: false,
      return503OnClosing: true,
      serverFactory: httpServerFactory(this.#config, host.admission, host.log, this.#tls),
      frameworkErrors: frameworkErrors(host.log),
      clientErrorHandler,
    })
    this.#app = app
    installHttpErrors(app, host.log)
    const traffic = this.#traffic = host.traffic?.of('http')
    // HTTPS: the TLS socket (the one requests and upgrades arrive on) once its handshake is done
    app.server.on(this.#tls === undefined ? 'connection' : 'secureConnection', (socket: Socket) => {
      this.#sockets.add(socket)
      if (traffic !== undefined) traffic.opened++
      socket.once('close', () => this.#forget(socket))
    })
    // bytes are read off the sockets at a scrape (nothing per request)
    if (traffic !== undefined) traffic.live = () => this.#liveBytes()
    if (this.#tls !== undefined) {
      app.server.on('connection', (raw: Socket) => {
        this.#handshaking.add(raw)
        raw.once('close', () => this.#handshaking.delete(raw))
      })
      app.server.on('secureConnection', (secure: Socket & { _parent?: Socket }) => { if (secure._parent) this.#handshaking.delete(secure._parent) })
    }
    if (this.ws) app.server.on('upgrade', (_request, socket: Socket) => this.#forget(socket))
    this.ws?.attach(app.server, () => this.address())
    await app.register(formbody)
    // cookies are parsed only for requests that carry some (no hook on every request)
    await app.register(cookie, { hook: false })
    addCookieWriter(app)
    // Static files: the folder is listed once at start and its files are answered by the
    // catch-all route below (reply.sendFile), not by routes of their own: fastify with one
    // route is faster (docs/benchmarks.md, "What the measurements changed").
    const staticRoot = this.#staticRoot
    const staticFiles = staticRoot === undefined ? undefined : await listStatic(staticRoot)
    if (staticFiles !== undefined && staticFiles.size > 0) {
      await app.register(fastifyStatic, { root: staticRoot as string, serve: false })
    }
    // One catch-all route: the shared router matches every path (as on the other transports),
    // and fastify keeps a one-route instance, faster than one route per action (same section).
    app.route({
      method: HTTP_METHODS,
      url: '/*',
      handler: (request, reply) => {
        // every request routed here is answered once: one count each way (no per-response hook)
        if (traffic !== undefined) { traffic.messagesIn++; traffic.messagesOut++ }
        if (request.url.charCodeAt(1) === 0x73 && isClientJs(request.method, request.url)) return sendClientJs(reply) // '/s…'
        if (staticFiles !== undefined && staticFiles.size > 0 && (request.method === 'GET' || request.method === 'HEAD')) {
          const url = request.url
          const q = url.indexOf('?')
          const file = staticFiles.get(q === -1 ? url : url.slice(0, q))
          if (file !== undefined) return reply.sendFile(file)
        }
        const header = request.headers.cookie
        request.cookies = header === undefined ? noCookies : app.parseCookie(header)
        host.dispatchHttp(request, reply)
      },
      errorHandler: (error, _request, reply) => replyHttpError(host.log, error, reply),
    })
    await app.listen({ port: this.#config.port, host: this.#config.host })
  }

  /** A socket leaves this port (closed, or upgraded to WebSocket): its bytes so far are counted. */
  #forget (socket: Socket): void {
    if (!this.#sockets.delete(socket)) return
    const traffic = this.#traffic
    if (traffic === undefined) return
    traffic.closed++
    traffic.bytesIn += socket.bytesRead
    traffic.bytesOut += socket.bytesWritten
  }

  /** Bytes of the sockets still open, read at a scrape. */
  #liveBytes (): { bytesIn: number, bytesOut: number } {
    let bytesIn = 0
    let bytesOut = 0
    for (const socket of this.#sockets) {
      bytesIn += socket.bytesRead
      bytesOut += socket.bytesWritten
    }
    return { bytesIn, bytesOut }
  }

  /** Reads the certificate files again (`sd reload` at a kept gateway); new connections get them. */
  reloadTls (): void {
    const tls = this.#tls
    if (tls === undefined || this.#app === undefined) return
    tls.reload() // throws on bad files, before the server's context is touched
    ;(this.#app.server as unknown as { setSecureContext: (o: object) => void }).setSecureContext(tls.contents())
  }

  address (): ListenAddress | undefined {
    const addr = this.#app?.server.address()
    return addr && typeof addr === 'object' ? { host: addr.address, port: addr.port } : undefined
  }

  async stopAccepting (): Promise<void> {
    this.#closeQuietConnections()
  }

  async close (): Promise<void> {
    await this.ws?.close()
    const closing = this.#app?.close()
    this.#closeQuietConnections()
    await closing
  }

  /**
   * Closes every connection with no response in flight now, and the others once their response
   * is sent. Node's closeIdleConnections() (what fastify's close uses) counts a connection that
   * has not sent its first request as active, so a browser's pre-opened connection or an idle
   * TCP client would hold the server open until its headers timeout.
   */
  #closeQuietConnections (): void {
    for (const raw of this.#handshaking) raw.destroy()
    for (const socket of this.#sockets) {
      // the response being written on this socket (Node's own field; null between requests)
      const res = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage
      if (res == null) socket.destroy()
      else if (!res.headersSent) res.setHeader('connection', 'close')
      else res.once('finish', () => socket.destroySoon())
    }
  }
}
