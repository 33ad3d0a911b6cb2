/**
 * The application: loads config and controllers, starts every configured port, routes each
 * message to its action, and shuts down gracefully. One request's lifecycle is `dispatch`:
 * route → middleware → action → reply, with one error handler.
 */
import { hostname } from 'node:os'
import { resolve } from 'node:path'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { pino, type Logger } from 'pino'
import { ClusterBus } from '../cluster/cluster-bus.js'
import { ClusterNode, type ClusterNodeStatus } from '../cluster/cluster-node.js'
import { LocalBus, type Bus } from '../connection/bus.js'
import type { Connection } from '../connection/connection.js'
import { startHeartbeat } from '../connection/heartbeat.js'
import { SendBudget } from '../connection/send-budget.js'
import { ConnectionTable } from '../connection/table.js'
import { DataErrorLog, toDataError } from '../data/errors.js'
import { listenError, type PortSetting } from '../core/listen-error.js'
import { Migrations } from '../data/migrations.js'
import type { DataServices } from '../data/model.js'
import { Mysql } from '../data/mysql.js'
import { RedisConnections } from '../data/redis.js'
import { Tasks } from '../task/tasks.js'
import { Timers } from '../timer/timers.js'
import { Admission } from '../transport/admission.js'
import { HttpSink, httpData, httpPath } from '../transport/http-sink.js'
import type { PortOptions } from '../transport/options.js'
import type { InboundMessage } from '../transport/packs.js'
import { transportEntries } from '../transport/registry.js'
import type { ListenAddress, Transport, TransportHost } from '../transport/transport.js'
import { Views } from '../view/views.js'
import type { Gateway } from '../gateway/gateway.js'
import type { GatewayWorker } from '../gateway/worker.js'
import { clusterName, type Config } from './config.js'
import { Controller, type ServerHost } from './controller.js'
import type { AppContract, AppStatus, NodeStats, TransportName } from '../core/contract.js'
import { BaseController, type ControllerClass } from '../core/controller.js'
import { isPublicError, SdError } from '../core/errors.js'
import type { HookName, Hooks, Middleware } from '../core/hooks.js'
import { isThenable, Pipeline } from '../core/pipeline.js'
import { loadClasses } from '../core/modules.js'
import { noParams, Router } from '../core/router.js'
import { memory } from './memory.js'
import { Recovery } from './recovery.js'
import { AdminGuard } from './admin.js'
import { AppMetrics } from './app-metrics.js'
import { withFigures } from '../metrics/node-figures.js'
import { Ops } from './ops.js'
import { makeAuth, type Auth } from './auth.js'
import { announceGateway, makeGateway, makeWorker, registryDirectory } from './roles.js'
import type { GatewayRegistry } from '../gateway/registry.js'

export type { AppStatus, NodeStats } from '../core/contract.js'

// stats() adds this node's cluster figures (see core/contract.ts)
declare module '../core/contract.js' {
  interface NodeStats {
    /** This node in its cluster (`sd start --cluster` only). */
    cluster?: ClusterNodeStatus
  }
}

/** Hooks as apps add them: with the full Controller and this Application. */
type AppHooks = Hooks<Controller, Application>
type HookList = { [K in HookName]: Array<AppHooks[K]> }
/** The port a transport owns, for a listen error. */
interface PortEntry { key: string, options: PortOptions, setting: PortSetting }


/** An SD application: ports, router, controllers, bus. */
export class Application implements TransportHost, ServerHost, AppContract {
  readonly config: Config
  readonly log: Logger
  readonly router = new Router()
  readonly root: string
  readonly connections: ConnectionTable
  /** Unsent output of every connection of this process, capped by `server.maxTotalSendBufferBytes`. */
  readonly sendBudget: SendBudget
  bus: Bus
  /** This server's membership of a dispatch cluster (`cluster.enabled`), else undefined. */
  readonly cluster: ClusterNode | undefined
  /** MySQL and Redis of this process (connections open on first use). */
  readonly data: DataServices
  /** eta templates of `app/views`. */
  readonly views: Views
  /** The timers of `config/timers.ts`: they start after `start()` and stop first in `stop()`. */
  readonly timers: Timers
  /** Task classes of `tasks.dir` and the worker pool that runs them (started by the first call, closed in `stop()`). */
  readonly tasks: Tasks
  /** Admission control of client sockets (`server.maxConnections`, `maxConnectionsPerIp`). */
  readonly admission: Admission
  /** History of recoverable pushes, acks and the built-in `/sd/*` paths (`config.recovery`). */
  readonly recovery: Recovery
  /** Who may call admin actions (`static admin`): loopback, or `admin.token` (`config.admin`). */
  readonly admin: AdminGuard
  /** Client authentication (`config.auth`), the pipeline's auth guard; undefined when off. */
  readonly auth: Auth | undefined
  /** Asked about each WebSocket upgrade when auth is on (its token, header or query). */
  readonly upgradeAuth: Auth['upgrade'] | undefined
  /** Prometheus registry and snapshot of this process (`config.metrics`). */
  readonly metrics: AppMetrics
  /** The admin listener when this process runs it (`config.admin.enabled`, not a worker of `sd start`). */
  readonly ops: Ops
  #stopAuth: (() => void) | undefined
  #status: AppStatus = 'created'
  readonly #transports: Transport[] = []
  /** Library errors behind SD_ERR_DB_* / SD_ERR_REDIS_UNAVAILABLE replies, logged at most once per 10 s per code. */
  readonly #dataErrors: DataErrorLog
  readonly #hooks: HookList = { onStart: [], onStop: [], onConnect: [], onClose: [], onNodeGone: [] }
  readonly #middleware: Array<Middleware<Controller>> = []
  /** Route → guards → validate → action → reply, for socket messages and HTTP requests alike. */
  readonly #pipeline = new Pipeline(this, this.#middleware, (thrown, action) => this.#dataError(thrown, action))
  /** Role gateway: where requests and connection events go instead of the pipeline. */
  readonly #gateway: Gateway | undefined
  /** Role worker: the links to the gateways that feed the pipeline. */
  readonly #worker: GatewayWorker | undefined
  /** Role gateway: socket payloads go to a worker undecoded (transport/receive.ts); else undefined. */
  readonly dispatchRaw: ((conn: Connection, payload: Buffer, isText: boolean) => void) | undefined
  /** Role gateway with Redis: where it is announced to workers of other machines. */
  #registry: GatewayRegistry | undefined
  #stopHeartbeat: (() => void) | undefined
  #stopping: Promise<void> | undefined

  /** `connectionIdPrefix` keeps connection ids unique across the workers of one server. */
  constructor (config: Config, root: string, logger?: Logger, connectionIdPrefix = '') {
    this.config = config
    this.admin = new AdminGuard(config.admin)
    this.root = root
    if (!config.app.nodeName) config.app.nodeName = `${hostname()}-${process.pid}`
    this.log = logger ?? pino({ name: config.app.name, level: config.app.logLevel, base: { node: config.app.nodeName } })
    this.admission = new Admission(config.server, this.log)
    this.#dataErrors = new DataErrorLog(this.log)
    this.data = { mysql: new Mysql(config.mysql, this.log), redis: new RedisConnections(config.redis, this.log) }
    if (config.cluster.enabled) {
      if (!this.data.redis.configured) throw new SdError('SD_ERR_CONFIG_INVALID', 'cluster.enabled needs Redis (REDIS_URL, or url, cluster or sentinels in config/redis.ts): the cluster registry lives there')
      this.cluster = new ClusterNode({
        config: config.cluster,
        cluster: clusterName(config),
        nodeName: config.app.nodeName,
        redis: this.data.redis.shared,
        connectRedis: () => this.data.redis.dedicated(),
        log: this.log,
        meta: withFigures(() => ({ ...this.stats().connections, uids: this.connections.uidCount(), ports: Object.fromEntries(this.#transports.map((t) => [t.name, t.address()?.port])) }), () => this.metrics.snapshot()),
      })
      // connection ids name their node, so any node can reach a connection by id
      this.connections = new ConnectionTable(`${config.app.nodeName}.`)
      this.bus = new ClusterBus(this.connections, this.cluster, config.cluster.uidCacheMs)
      this.cluster.onUidsLeft = (node, uids) => this.#runNodeGone(node, uids)
    } else {
      // a gateway's connection ids name it, so a worker linked to several can tell which holds one
      this.connections = new ConnectionTable(config.gateway.role === 'gateway' ? `${config.app.nodeName}.` : connectionIdPrefix)
      this.bus = new LocalBus(this.connections)
    }
    this.#gateway = config.gateway.role === 'gateway' ? makeGateway(this) : undefined
    const gateway = this.#gateway
    this.dispatchRaw = gateway === undefined ? undefined : (conn, payload, isText) => gateway.messageRaw(conn, payload, isText)
    this.#worker = config.gateway.role === 'worker' ? makeWorker(this, this.#pipeline, this.#hooks, registryDirectory(this)) : undefined
    if (this.#worker) this.bus = this.#worker.bus
    this.sendBudget = new SendBudget(config.server.maxTotalSendBufferBytes, () => this.connections.all(), this.log)
    this.views = new Views(config.views, root, this.log)
    this.timers = new Timers(this, root)
    this.tasks = new Tasks(config, this.log)
    this.auth = makeAuth(this)
    this.upgradeAuth = this.auth && ((request) => (this.auth as Auth).upgrade(request))
    this.recovery = new Recovery(this)
    this.metrics = new AppMetrics(this)
    this.ops = new Ops(this)
  }

  get status (): AppStatus {
    return this.#status
  }

  /** Role gateway: the gateway side (its workers, requests in flight); else undefined. */
  get gateway (): Gateway | undefined { return this.#gateway }
  /** Role worker: the links to its gateways; else undefined. */
  get gatewayWorker (): GatewayWorker | undefined { return this.#worker }
  /** Where the transports and the pipeline count (undefined: `metrics.enabled` false). */
  get traffic (): AppMetrics['traffic'] { return this.metrics?.traffic }
  get meter (): AppMetrics['actions'] { return this.metrics?.actions }

  #setStatus (status: AppStatus): void {
    this.#status = status
    this.log.debug({ status }, 'application status')
  }

  /** Registers a controller (before `start`): a class extending `Controller` (or core's `BaseController`). */
  addController (controller: ControllerClass, name = controller.name): this {
    if (!(controller.prototype instanceof BaseController)) {
      throw new SdError('SD_ERR_CONTROLLER_INVALID', `${name} does not extend Controller`)
    }
    this.router.addController(controller, name)
    return this
  }

  /** Adds a lifecycle hook. */
  addHook<K extends HookName> (name: K, fn: AppHooks[K]): this {
    this.#hooks[name].push(fn)
    return this
  }

  /** Adds middleware that runs around every action, in the order added. */
  use (mw: Middleware<Controller>): this {
    this.#middleware.push(mw)
    return this
  }

  /** Loads every controller module in `app.controllersDir`. */
  async loadControllers (dir = resolve(this.root, this.config.app.controllersDir)): Promise<void> {
    const isController = (v: unknown): v is ControllerClass => typeof v === 'function' && v.prototype instanceof BaseController
    const found = await loadClasses(dir, isController, (file) => new SdError('SD_ERR_CONTROLLER_INVALID', `${file} exports no class extending Controller`))
    for (const { cls, name } of found) this.addController(cls, name)
  }

  /** This process at a glance: node, uptime, open connections per transport, memory. */
  stats (): NodeStats {
    const connections: Partial<Record<TransportName, number>> = {}
    for (const conn of this.connections.all()) connections[conn.transport] = (connections[conn.transport] ?? 0) + 1
    const mem = memory()
    return {
      node: this.config.app.nodeName,
      pid: process.pid,
      status: this.#status,
      uptimeMs: Math.round(process.uptime() * 1000),
      connections,
      rssBytes: mem.rss,
      heapUsedBytes: mem.heapUsed,
      ...(this.cluster ? { cluster: this.cluster.status() } : {}),
      ...(this.#gateway ? { gateway: this.#gateway.status() } : {}),
      ...(this.#worker ? { gatewayLinks: this.#worker.status() } : {}),
    }
  }

  /** The port of each listening transport that owns one, by its registry key (`sd status`, worker processes). */
  ports (): Record<string, number> {
    const ports: Record<string, number> = {}
    for (const entry of transportEntries()) {
      const port = this.address(entry.names[0])?.port
      if (port !== undefined) ports[entry.key] = port
    }
    const link = this.#gateway?.port
    if (link !== undefined) ports.gateway = link
    return ports
  }

  /** Where a transport listens (after `start`). */
  address (name: TransportName): ListenAddress | undefined {
    return this.#transports.find((t) => t.name === name)?.address()
  }

  /** Reads every TLS port's certificate files again (a kept gateway on `sd reload`); throws, keeping the old ones, when a file is bad. */
  reloadTls (): void {
    for (const t of this.#transports) t.reloadTls?.()
  }

  // ---- TransportHost -------------------------------------------------------------------

  newConnectionId (): string {
    return this.connections.nextId()
  }

  connectionOpened (conn: Connection): void {
    conn.useBudget(this.sendBudget)
    this.metrics.opened(conn)
    this.connections.add(conn)
    this.bus.opened?.(conn)
    this.auth?.opened(conn)
    if (this.#gateway) this.#gateway.opened(conn)
    else if (this.#hooks.onConnect.length > 0) this.#runConnHooks('onConnect', conn)
  }

  connectionClosed (conn: Connection): void {
    const was = { uid: conn.uid, groups: conn.groups }
    this.connections.remove(conn)
    this.bus.closed?.(conn, was)
    if (this.#gateway) this.#gateway.closed(conn)
    else if (this.#hooks.onClose.length > 0) this.#runConnHooks('onClose', conn)
  }

  #runNodeGone (node: string, uids: string[]): void {
    this.log.info({ node, uids: uids.length }, 'cluster: a dead node\'s users left')
    for (const fn of this.#hooks.onNodeGone) {
      Promise.resolve().then(() => fn(this, { node, uids })).catch((err: unknown) => this.log.error({ err, hook: 'onNodeGone' }, 'hook failed'))
    }
  }

  #runConnHooks (name: 'onConnect' | 'onClose', conn: Connection): void {
    const ctx = new Controller(this, conn, conn.transport, '', undefined, noParams, null)
    for (const fn of this.#hooks[name]) {
      try {
        const r = fn(ctx)
        if (isThenable(r)) r.then(undefined, (err: unknown) => this.log.error({ err, hook: name }, 'hook failed'))
      } catch (err) {
        this.log.error({ err, hook: name }, 'hook failed')
      }
    }
  }

  /**
   * Routes one message from a socket or WebSocket connection and replies through it. Nothing a
   * client sends can make it throw: every failure becomes an error reply.
   */
  dispatch (conn: Connection, msg: InboundMessage): void {
    if (this.#gateway) this.#gateway.message(conn, msg)
    else this.#pipeline.message(conn, msg)
  }

  /**
   * Routes an HTTP request, runs its action and sends the result (JSON, or as is when the
   * action set a content type). Unknown paths answer 404 `SD_ERR_ROUTE_NOT_FOUND`.
   */
  dispatchHttp (request: FastifyRequest, reply: FastifyReply): void {
    if (this.#gateway) this.#gateway.http(request, reply)
    else this.#pipeline.http(new HttpSink(request, reply), httpPath(request.url), request.method, httpData(request))
  }

  /** What a client gets for an action's failure: MySQL and Redis failures as SD_ERR_DB_* / SD_ERR_REDIS_UNAVAILABLE, their cause logged. */
  #dataError (thrown: unknown, action: string): unknown {
    const err = toDataError(thrown, this.data.mysql)
    if (isPublicError(err)) this.#dataErrors.note(err, thrown, action)
    return err
  }

  // ---- lifecycle -----------------------------------------------------------------------

  /** Starts every enabled port, then runs `onStart` hooks, then starts the timers. */
  async start (): Promise<void> {
    if (this.#status !== 'created') throw new Error(`cannot start an application that is ${this.#status}`)
    // a timer naming no class fails here, before any port opens (a gateway runs no timers: its workers do)
    if (!this.#gateway) this.timers.prepare()
    this.#setStatus('starting')
    // every role has its bus by now (multi-core workers set theirs after construction)
    this.bus = await this.recovery.start(this.bus)
    const server = this.config.server
    try {
      // a worker opens no client port: its gateways hold the clients
      const ports = this.#worker ? new Map<Transport, PortEntry>() : await this.#makeTransports()
      if (this.cluster) {
        await this.cluster.start()
        // the first cross-server sends should not fail because the links are still handshaking
        if (!await this.cluster.linked(2000)) this.log.warn(`cluster: ${this.cluster.carrier === 'redis' ? 'Redis pub/sub not ready' : 'no dispatch server linked'} yet; cross-server calls answer SD_ERR_CLUSTER_UNAVAILABLE until it is`)
      }
      if (this.#gateway) {
        const g = this.config.gateway
        await this.#gateway.listen().catch((err: unknown) => { throw listenError(err, 'gateway', g.host, g.port, { env: 'SD_GATEWAY_PORT', key: 'gateway.port', file: 'config/gateway.ts' }) })
        this.#registry = await announceGateway(this, this.#gateway.port ?? g.port)
      }
      for (const t of this.#transports) {
        const port = ports.get(t)
        await t.start().catch((err: unknown) => { throw port ? listenError(err, port.key, port.options.host, port.options.port, port.setting) : err })
      }
      await this.#worker?.start()
      await this.ops.start()
    } catch (err) {
      await this.ops.stop()
      await Promise.allSettled(this.#transports.map((t) => t.close()))
      await this.#registry?.close()
      await this.#gateway?.close()
      await this.#worker?.close()
      await this.cluster?.stop().catch(() => {})
      await this.recovery.close()
      this.#setStatus('closed')
      throw err
    }
    this.#stopHeartbeat = startHeartbeat(this.connections, server)
    if (!this.#worker) this.#stopAuth = this.auth?.sweep(this.connections)
    this.#setStatus('running')
    for (const t of this.#transports) {
      const addr = t.address()
      if (addr) this.log.info({ transport: t.name, host: addr.host, port: addr.port }, `${t.name} listening on ${addr.host}:${addr.port}`)
    }
    if (!this.data.mysql.configured) this.log.info('MySQL is off (no mysql.url / MYSQL_URL): model calls on this.db answer SD_ERR_DB_UNAVAILABLE')
    else this.#checkMigrations()
    if (!this.data.redis.configured) this.log.info('Redis is off (no redis.url / REDIS_URL): this.redis answers SD_ERR_REDIS_UNAVAILABLE')
    try {
      for (const fn of this.#hooks.onStart) await fn(this)
      if (!this.#gateway) this.timers.start()
    } catch (err) {
      await this.stop()
      throw err
    }
  }

  /**
   * Makes the transport of every registered port that is enabled. The first transport an entry
   * makes owns the port (a listen error names its key, env variable and config key); the
   * others share it (WebSocket on HTTP).
   */
  async #makeTransports (): Promise<Map<Transport, PortEntry>> {
    const ports = new Map<Transport, PortEntry>()
    const server = this.config.server as unknown as Record<string, PortOptions | undefined>
    for (const entry of transportEntries()) {
      const options = server[entry.key]
      if (options === undefined || !options.enabled) continue
      const made = await entry.create(this, options, this.root)
      if (made.length > 0) ports.set(made[0], { key: entry.key, options, setting: { env: entry.envPort, key: `server.${entry.key}.port`, file: 'config/server.ts' } })
      this.#transports.push(...made)
    }
    return ports
  }

  /** Warns (without delaying the start) when migrations are pending or MySQL is not reachable. */
  #checkMigrations (): void {
    const migrations = new Migrations(this.data.mysql.primary, this.config.mysql, this.root)
    migrations.status().then(({ pending }) => {
      if (pending.length > 0) this.log.warn({ pending }, `${pending.length} migration(s) pending: run \`sd migrate\``)
    }, (err: unknown) => {
      if (this.#status !== 'running') return
      const e = toDataError(err, this.data.mysql) as Error
      this.log.warn({ err: e.message }, 'MySQL is not reachable now: model calls answer SD_ERR_DB_UNAVAILABLE until it is')
    })
  }

  /**
   * Graceful shutdown: stop accepting, let running requests finish (up to
   * `shutdownTimeoutMs`), close every connection, run `onStop` hooks.
   */
  stop (): Promise<void> {
    this.#stopping ??= this.#stop()
    return this.#stopping
  }

  async #stop (): Promise<void> {
    if (this.#status === 'created') {
      // never started: nothing to drain, but pools made by calls before start are closed
      await this.tasks.close()
      await Promise.allSettled([this.data.mysql.close(), this.data.redis.close()])
      this.#setStatus('closed')
      return
    }
    this.#setStatus('closing')
    const timeoutMs = this.config.server.shutdownTimeoutMs
    // a worker refuses requests only once every gateway stopped sending it new ones
    await this.#worker?.drain(timeoutMs)
    this.#pipeline.refusing = true
    await Promise.all(this.#transports.map((t) => t.stopAccepting()))
    await this.timers.stop()
    if (!await this.#pipeline.drain(timeoutMs)) this.log.warn({ inflight: this.#pipeline.inflight, timeoutMs }, 'shutdown timeout: closing with requests still running')
    // workers of other machines stop finding this gateway before it goes
    await this.#registry?.withdraw().catch(() => {})
    await this.#registry?.close()
    // requests still waiting have no ready worker: they are answered now, those at workers finish
    this.#gateway?.refuseWaiting()
    if (this.#gateway && !await this.#gateway.drain(timeoutMs)) this.log.warn({ inflight: this.#gateway.inflight, timeoutMs }, 'shutdown timeout: closing with requests still at workers')
    await this.#worker?.close()
    this.#stopHeartbeat?.()
    this.#stopAuth?.()
    await Promise.all(this.#transports.map((t) => t.close()))
    await this.#gateway?.close()
    await this.ops.stop()
    for (const fn of this.#hooks.onStop) {
      try { await fn(this) } catch (err) { this.log.error({ err, hook: 'onStop' }, 'hook failed') }
    }
    await this.tasks.close()
    await this.cluster?.stop().catch((err: unknown) => this.log.warn({ err }, 'cluster: leaving failed'))
    await this.recovery.close()
    await Promise.allSettled([this.data.mysql.close(), this.data.redis.close()])
    this.admission.close()
    this.#setStatus('closed')
    this.log.info('stopped')
  }
}
