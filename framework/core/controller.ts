/**
 * The Controller base class: one instance per request (or per hook call), holding the message
 * and the API to answer it, push to others and query who is online. Every call goes through the
 * bus, so the same controller works standalone, multi-core and clustered.
 */
import type { ClusterNode } from '../cluster/cluster-node.js'
import type { ClusterOverview } from '../cluster/overview.js'
import type { Logger } from 'pino'
import type { Bus, BindOptions, SendOptions, Uid } from '../connection/bus.js'
import type { Connection } from '../connection/connection.js'
import type { Config, TransportName } from '../server/config.js'
import { SdError } from './errors.js'
import type { Schema } from './validation.js'
import type { HttpExchange, HttpReply, HttpRequest } from './http-exchange.js'
import type { SessionData } from './session.js'
import type { Knex } from 'knex'
import type { DataServices, Model, ModelClass } from '../data/model.js'
import type { RedisClient } from '../data/redis.js'
import type { Tasks } from '../task/tasks.js'
import type { Task, TaskClass } from '../task/task.js'
import type { TaskCallOptions, TaskProxy } from '../task/proxy.js'
import type { Html, Views } from '../view/views.js'
import type { NodeStats } from '../server/application.js'

/** What a controller needs from the application. */
export interface ControllerHost {
  readonly bus: Bus
  readonly log: Logger
  readonly config: Config
  readonly data: DataServices
  readonly views: Views
  /** Task classes and the worker pool. */
  readonly tasks: Tasks
  stats (): NodeStats
  /** This server's cluster membership (`sd start --cluster`), else undefined. */
  readonly cluster?: ClusterNode | undefined
}

export type { HttpExchange } from './http-exchange.js'

/** A controller class as the router stores it. */
export type ControllerClass = (new (...args: ConstructorParameters<typeof Controller>) => Controller) & {
  /** Transports allowed per action, e.g. `{ text: ['text'] }`; unlisted actions allow all. */
  transports?: Partial<Record<string, TransportName[]>>
  /** JSON schema (or TypeBox schema) of an action's data, e.g. `{ login: {...} }`; checked on every transport. */
  schemas?: Partial<Record<string, Schema>>
}

/** Base class of every controller (`ChatController extends Controller`). */
export class Controller {
  /** The message's data (also the action's first argument). */
  readonly data: unknown
  /** Path the message was routed by. */
  readonly path: string
  /** Params captured by a custom route (`/users/:id` → `{id}`). */
  readonly params: Record<string, string>
  /** Transport the message came in on. */
  readonly transport: TransportName
  readonly #host: ControllerHost
  readonly #conn: Connection | null
  readonly #http: HttpExchange | null

  constructor (host: ControllerHost, conn: Connection | null, transport: TransportName, path: string, data: unknown, params: Record<string, string>, http: HttpExchange | null) {
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

  #connection (what: string): Connection {
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

  /** A model (`this.model(MessageModel)`), made per call: models hold no request state. */
  model<M extends Model> (cls: ModelClass<M>): M {
    return new cls(this.#host.data)
  }

  /**
   * A task (`await this.task(StatsTask).build(args)`): each public method runs in a worker
   * thread and returns a promise of its result; `.detach(args)` runs it without waiting.
   */
  task<T extends Task> (cls: TaskClass<T>, options?: TaskCallOptions): TaskProxy<T> {
    // a connection's calls count toward its share of the task queue (tasks.maxQueuePerConnection)
    return this.#host.tasks.proxy(cls, options, this.#conn ?? undefined)
  }

  /** knex on the MySQL primary. */
  get db (): Knex {
    return this.#host.data.mysql.primary
  }

  /** The shared Redis connection. */
  get redis (): RedisClient {
    return this.#host.data.redis.shared
  }

  /** The application's configuration (custom sections included). */
  get config (): Config {
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

  /** Every live node of the cluster with its figures (as `sd status --cluster` shows them); undefined when not clustered. */
  async clusterStatus (): Promise<ClusterOverview | undefined> {
    return this.#host.cluster?.overview()
  }

  /** Renders `app/views/<name>.eta` with `data`; HTTP sends it as `text/html`. */
  view (name: string, data: object = {}): Html {
    return this.#host.views.render(name, data)
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

  /** Pushes to every connection of `uid`; resolves to how many got it. */
  sendToUid (uid: Uid, data: unknown): Promise<number> {
    return this.#host.bus.sendToUid(uid, data)
  }

  /** Pushes to every connection of each uid. */
  sendToUids (uids: readonly Uid[], data: unknown): Promise<number> {
    return this.#host.bus.sendToUids(uids, data)
  }

  /** Pushes to every connection, minus `exclude`. */
  sendToAll (data: unknown, options?: SendOptions): Promise<number> {
    return this.#host.bus.sendToAll(data, options)
  }

  /** Pushes to every member of `group`, minus `exclude`. */
  sendToGroup (group: string, data: unknown, options?: SendOptions): Promise<number> {
    return this.#host.bus.sendToGroup(group, data, options)
  }

  /** Pushes to one connection by id (`this.connectionId` of another request), on any node; resolves to 1 or 0. */
  sendToConnection (connectionId: string, data: unknown): Promise<number> {
    return this.#host.bus.sendToConnection(connectionId, data)
  }

  /** Closes one connection by id, on any node, with `SD_ERR_KICKED`; false when it is not open. */
  closeConnection (connectionId: string, reason?: string): Promise<boolean> {
    return this.#host.bus.closeConnection(connectionId, reason)
  }

  /** Closes every connection of `uid`. */
  kickUid (uid: Uid, reason?: string): Promise<number> {
    return this.#host.bus.kickUid(uid, reason)
  }

  /** Closes the caller's connection (after what is already queued is sent). */
  close (): void {
    this.#connection('close').close()
  }

  /** True when `uid` has a connection anywhere. */
  isUidOnline (uid: Uid): Promise<boolean> {
    return this.#host.bus.isUidOnline(uid)
  }

  /** Distinct uids online. */
  onlineCount (): Promise<number> {
    return this.#host.bus.onlineCount()
  }

  /** Distinct uids in a group. */
  groupMembers (group: string): Promise<string[]> {
    return this.#host.bus.groupMembers(group)
  }

  /** Connections in a group. */
  groupCount (group: string): Promise<number> {
    return this.#host.bus.groupCount(group)
  }

  /** Groups with members. */
  groups (): Promise<string[]> {
    return this.#host.bus.groups()
  }
}
