/**
 * The base controller: one instance per request (or per hook call), holding the message and the
 * API to answer it, push to others and query who is online. Every call goes through the bus, so
 * the same controller works standalone, multi-core and clustered. server/controller.ts extends
 * it with models, tasks, views and the cluster view (the `Controller` apps extend).
 */
import type { Logger } from 'pino'
import {
  forwardBusCalls, type AppConfigView, type BindOptions, type BusCalls, type ConnectionRef, type ControllerHost,
  type NodeStats, type TransportName, type Uid,
} from './contract.js'
import { SdError } from './errors.js'
import type { Schema } from './validation.js'
import type { HttpExchange, HttpReply, HttpRequest } from './http-exchange.js'
import type { SessionData } from './session.js'

export type { ControllerHost } from './contract.js'

export type { HttpExchange } from './http-exchange.js'

/** A controller class as the router stores it. */
export type ControllerClass<C extends BaseController = BaseController> = (new (...args: ConstructorParameters<typeof BaseController>) => C) & {
  /** Transports allowed per action, e.g. `{ text: ['text'] }`; unlisted actions allow all. */
  transports?: Partial<Record<string, TransportName[]>>
  /** JSON schema (or TypeBox schema) of an action's data, e.g. `{ login: {...} }`; checked on every transport. */
  schemas?: Partial<Record<string, Schema>>
  /** Admin actions (`['status']`, or `true` for all): only callers the admin guard allows run them (config `admin`). */
  admin?: readonly string[] | true
}

// the BusCalls methods, put on the prototype by forwardBusCalls below
// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging
export interface BaseController extends BusCalls {}

/** Base class of every controller; apps extend server's `Controller`, which extends this one. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class BaseController {
  /** The message's data (also the action's first argument). */
  readonly data: unknown
  /** Path the message was routed by. */
  readonly path: string
  /** Params captured by a custom route (`/users/:id` → `{id}`). */
  readonly params: Record<string, string>
  /** Transport the message came in on. */
  readonly transport: TransportName
  readonly #host: ControllerHost
  readonly #conn: ConnectionRef | null
  readonly #http: HttpExchange | null

  constructor (host: ControllerHost, conn: ConnectionRef | null, transport: TransportName, path: string, data: unknown, params: Record<string, string>, http: HttpExchange | null) {
    this.#host = host
    this.#conn = conn
    this.transport = transport
    this.path = path
    this.data = data
    this.params = params
    this.#http = http
  }

  #exchange (what: string): HttpExchange {
    if (this.#http === null) throw new SdError('SD_ERR_NOT_SUPPORTED', what)
    return this.#http
  }

  #connection (what: string): ConnectionRef {
    if (this.#conn === null) throw new SdError('SD_ERR_NOT_SUPPORTED', what)
    return this.#conn
  }

  /** Id of the caller's connection; `undefined` on HTTP. */
  get connectionId (): string | undefined {
    return this.#conn?.id
  }

  /** Uid bound to the caller's connection, if any. */
  get uid (): string | undefined {
    return this.#conn?.uid
  }

  /** Per-connection session object (a fresh empty object per request on HTTP). */
  get session (): SessionData {
    return this.#conn ? this.#conn.session : (this.#http?.session ?? {})
  }

  /** Application logger (pino). */
  get log (): Logger {
    return this.#host.log
  }

  /** The application's configuration (custom sections included). */
  get config (): AppConfigView {
    return this.#host.config
  }

  /** The HTTP request (HTTP only), as plain data: `query`, `body` (JSON or form), `headers`, `cookies`, `method`, `url`, `ip`. */
  get request (): HttpRequest {
    return this.#exchange('this.request').request
  }

  /**
   * The HTTP reply (HTTP only): `code(404)`, `header(k, v)`, `type(ct)`, `setCookie(name, value, opts)`,
   * `clearCookie(name)`, `redirect(url)`, recorded and applied when the action's result (the body) is sent.
   */
  get reply (): HttpReply {
    return this.#exchange('this.reply').response
  }

  /** This process: node name, uptime, connections per transport, memory. */
  nodeStats (): NodeStats {
    return this.#host.stats()
  }

  /**
   * Connections per transport of this whole server: every worker process with `--workers N`
   * (nodeStats() counts this process only).
   */
  async serverConnections (): Promise<Partial<Record<TransportName, number>>> {
    return (await this.#host.bus.serverConnections?.()) ?? this.#host.stats().connections
  }

  /** Ends the action with `SD_ERR_NOT_FOUND` (HTTP 404; an error reply on other transports). */
  notFound (what = this.path): never {
    throw new SdError('SD_ERR_NOT_FOUND', what)
  }

  /** Pushes data to the caller. */
  send (data: unknown): boolean {
    return this.#connection('send').push(data)
  }

  /** Binds a uid to the caller's connection; `{kick: true}` closes the uid's other connections. */
  bindUid (uid: Uid, options?: BindOptions): Promise<void> {
    return this.#host.bus.bindUid(this.#connection('bindUid'), uid, options)
  }

  /** Unbinds the caller's uid. */
  unbindUid (): Promise<void> {
    return this.#host.bus.unbindUid(this.#connection('unbindUid'))
  }

  /** Adds the caller's connection to a group. */
  joinGroup (group: string): Promise<void> {
    return this.#host.bus.joinGroup(this.#connection('joinGroup'), group)
  }

  /** Removes the caller's connection from a group. */
  leaveGroup (group: string): Promise<void> {
    return this.#host.bus.leaveGroup(this.#connection('leaveGroup'), group)
  }

  /** Closes the caller's connection (after what is already queued is sent). */
  close (): void {
    this.#connection('close').close()
  }

  static {
    forwardBusCalls(this, (ctrl) => ctrl.#host.bus)
  }
}
