/**
 * The admin listener: a fastify instance of its own on `admin.host`:`admin.port` (loopback by
 * default), apart from the client ports. Every request, unknown paths included, passes the
 * admin decision first (loopback only without a token; `Authorization: Bearer <token>` with
 * one), else 403 `SD_ERR_FORBIDDEN`. Routes: `GET /metrics` (Prometheus text),
 * `POST /sd/publish` (push to a uid, uids, a group or everyone; answers `{"reached": n}`),
 * `GET /` (to the dashboard), and what plugins add. Hardened like the HTTP port: body limit,
 * header/request/keep-alive timeouts, a cap on open connections, SD's error body everywhere.
 */
import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { listenError } from '../core/listen-error.js'
import { Admission } from '../transport/admission.js'
import { clientErrorHandler, frameworkErrors, installHttpErrors, replyHttpError } from '../transport/http-errors.js'
import { httpServerFactory } from '../transport/http-server.js'
import { httpDefaults } from '../transport/options.js'
import { adminAllows, adminTokenDigest, checkAdmin, type AdminConfig } from './guard.js'
import type { AdminPlugin } from './plugins.js'
import { parsePublish } from './publish.js'
import type { AdminSources } from './sources.js'

export type { AdminPlugin } from './plugins.js'

/** Content type of the Prometheus text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

/** Limits of the admin listener (not config keys: an embedder or a test may tighten them). */
export interface AdminLimits {
  /** Largest request body; a larger one gets 413 `SD_ERR_BODY_TOO_LARGE`. @default 1048576 */
  bodyLimitBytes: number
  /** Headers not all in after this long: 408 and closed. @default 5000 */
  headersTimeoutMs: number
  /** A request (headers and body) not all in after this long: 408 and closed. @default 10000 */
  requestTimeoutMs: number
  /** An idle keep-alive connection is closed after this long. @default 5000 */
  keepAliveTimeoutMs: number
  /** Open connections at once; one more gets 503 `SD_ERR_TOO_MANY_CONNECTIONS` and is closed. @default 64 */
  maxConnections: number
}

/** Defaults of `AdminLimits`. */
export function adminLimitDefaults (): AdminLimits {
  return { bodyLimitBytes: 1024 * 1024, headersTimeoutMs: 5000, requestTimeoutMs: 10_000, keepAliveTimeoutMs: 5000, maxConnections: 64 }
}

/** Options of `AdminServer`. */
export interface AdminServerOptions {
  /** Token, host and port (`config.admin`); `enabled` is the caller's business. */
  config: Pick<AdminConfig, 'token' | 'host' | 'port'>
  /** What the routes answer from. */
  sources: AdminSources
  log: Logger
  /** Fastify plugins adding routes (the dashboard), registered before listening. @default [] */
  plugins?: readonly AdminPlugin[]
  /** @default adminLimitDefaults() */
  limits?: Partial<AdminLimits>
}

/** Where the admin listener listens. */
export interface AdminAddress { host: string, port: number }

/** The admin listener (see the file comment). */
export class AdminServer {
  readonly #options: AdminServerOptions
  readonly #limits: AdminLimits
  readonly #log: Logger
  #app: FastifyInstance | undefined
  #admission: Admission | undefined
  readonly #sockets = new Set<Socket>()

  /** Checks the options (a bad token or address fails here, naming its key: a dispatch server has no other check). */
  constructor (options: AdminServerOptions) {
    checkAdmin({ enabled: true, ...options.config })
    this.#options = options
    this.#limits = { ...adminLimitDefaults(), ...options.limits }
    this.#log = options.log.child({ listener: 'admin' })
  }

  /** Builds the routes and listens; resolves to the address. A port that cannot be bound throws `SD_ERR_PORT_IN_USE`. */
  async start (): Promise<AdminAddress> {
    if (this.#app !== undefined) throw new Error('the admin listener is already started')
    const { config, sources } = this.#options
    const limits = this.#limits
    const log = this.#log
    const admission = this.#admission = new Admission({ maxConnections: limits.maxConnections, maxConnectionsPerIp: 0 }, log)
    const http = { ...httpDefaults(), host: config.host, port: config.port, staticDir: '', bodyLimitBytes: limits.bodyLimitBytes, headersTimeoutMs: limits.headersTimeoutMs, requestTimeoutMs: limits.requestTimeoutMs, keepAliveTimeoutMs: limits.keepAliveTimeoutMs }
    http.ws = { ...http.ws, enabled: false }
    const app = this.#app = Fastify({
      bodyLimit: limits.bodyLimitBytes,
      logger: false,
      return503OnClosing: true,
      serverFactory: httpServerFactory(http, admission, log),
      frameworkErrors: frameworkErrors(log),
      clientErrorHandler,
    })
    app.server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket)
      socket.once('close', () => this.#sockets.delete(socket))
    })
    installHttpErrors(app, log)
    // JSON only: a text/plain body is refused with 415 instead of reaching a route as a string
    app.removeContentTypeParser('text/plain')
    const digest = adminTokenDigest(config)
    // every request, unknown paths included: nothing of the listener shows before the decision,
    // but for routes a plugin marks `config: { open: true }` (the dashboard's page: no data)
    app.addHook('onRequest', async (request, reply) => {
      if ((request.routeOptions.config as { open?: boolean } | undefined)?.open === true) return
      const allowed = adminAllows({ ip: request.socket.remoteAddress ?? '', authorization: request.headers.authorization, host: request.headers.host }, config, digest)
      if (allowed === true) return
      replyHttpError(log, allowed, reply)
      return reply
    })
    app.get('/metrics', async (_request, reply) => {
      const text = await sources.metrics()
      return reply.header('content-type', PROMETHEUS_CONTENT_TYPE).send(text)
    })
    app.post('/sd/publish', async (request, reply) => {
      const reached = await sources.publish(parsePublish(request.body))
      return reply.header('content-type', 'application/json; charset=utf-8').send(JSON.stringify({ reached }))
    })
    app.get('/', async (_request, reply) => reply.redirect('/dashboard'))
    for (const plugin of this.#options.plugins ?? []) await plugin(app, sources, config)
    await app.listen({ host: config.host, port: config.port }).catch((err: unknown) => {
      throw listenError(err, 'admin', config.host, config.port, { env: 'SD_ADMIN_PORT', key: 'admin.port', file: 'config/admin.ts' })
    })
    const address = this.address() as AdminAddress
    log.info({ host: address.host, port: address.port }, `admin listening on ${address.host}:${address.port}`)
    return address
  }

  /** Where it listens (undefined before `start` and after `stop`). */
  address (): AdminAddress | undefined {
    const addr = this.#app?.server.address()
    return addr !== null && typeof addr === 'object' ? { host: addr.address, port: addr.port } : undefined
  }

  /** Stops listening; connections with no response under way close at once, the others once it is sent. */
  async stop (): Promise<void> {
    const app = this.#app
    if (app === undefined) return
    const closing = app.close()
    for (const socket of this.#sockets) {
      const res = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage
      if (res == null) socket.destroy()
      else if (!res.headersSent) res.setHeader('connection', 'close')
      else res.once('finish', () => socket.destroySoon())
    }
    await closing
    this.#admission?.close()
    this.#app = undefined
  }
}
