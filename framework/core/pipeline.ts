/**
 * The one path of a request, for socket messages and HTTP requests alike:
 * route → transport guard → admin guard → shutdown guard → auth guard → validate → controller → middleware and action →
 * settle → reply. Where the answer goes is a `ReplySink`: a socket connection is its own sink
 * (it replies by message id); an HTTP request has one sink that writes the response. Nothing a
 * client sends makes it throw: every failure becomes an error reply.
 */
import type { ConnectionRef } from './contract.js'
import type { BaseController, ControllerClass, ControllerHost } from './controller.js'
import { isPublicError, SdError, type ErrorBody } from './errors.js'
import { runMiddleware, type Middleware } from './hooks.js'
import type { HttpExchange } from './http-exchange.js'
import { NOT_FOUND_ROUTE, type ActionMeter } from './meter.js'
import type { Route, RouteMatch, Router } from './router.js'

/** A client's request id (`{"id":7,…}`). */
export type RequestId = number | string

/** A transport's name, as controllers see it. */
type TransportName = ConstructorParameters<ControllerClass>[2]

/** Where one request's outcome goes. */
export interface ReplySink {
  /** Sends the action's result; throws when it cannot be encoded (the client then gets `SD_ERR_INTERNAL`). */
  reply (id: RequestId | null, value: unknown): void
  /** Sends an error as clients see it; `status` is its HTTP status. */
  replyError (id: RequestId | undefined | null, body: ErrorBody, status: number): void
  /**
   * Called once when the request is over: after its reply or error was sent, or when it ended
   * with no reply (a message without id). A sink that must answer every request somewhere
   * else (a business worker's, gateway/) uses it; others leave it out.
   */
  done? (): void
}

/** A message from a socket or WebSocket connection. */
export interface PipelineMessage {
  /** `undefined`: no reply expected; `null`: reply without id (packs that carry none). */
  readonly id: RequestId | undefined | null
  readonly path: string
  readonly data: unknown
}

/**
 * A socket or WebSocket connection as the pipeline uses it: the controller's connection, its
 * own reply sink, and the count of its running requests, which holds its reading at
 * `server.maxPendingPerConnection`.
 */
export type PipelineConnection = NonNullable<ConstructorParameters<ControllerClass>[1]> & ReplySink & {
  readonly transport: TransportName
  /** Requests of this connection still running. */
  pending: number
  /** Stops reading until `release`. */
  hold (): void
  release (): void
}

/**
 * Decides whether a caller may run an admin action (`static admin`): `undefined` lets it run,
 * an error refuses it. `conn` for socket and WebSocket messages, `http` for HTTP requests.
 */
export interface AdminCheck {
  check (conn: ConnectionRef | null, http: HttpExchange | null): SdError | undefined
}

/**
 * The auth guard: asked before every route once client authentication is on (server/auth.ts
 * implements it; core knows no tokens). `undefined` lets the request go on, an `SdError`
 * refuses it; a promise of either (an HTTP token checked the first time) is waited for.
 */
export interface AuthGuard {
  check (route: Route, path: string, conn: PipelineConnection | null, http: HttpExchange | null): SdError | undefined | Promise<SdError | undefined>
}

/** What the pipeline needs from the application. */
export interface PipelineHost extends ControllerHost {
  readonly router: Router
  /** The admin guard; without one, admin actions are refused (`SD_ERR_FORBIDDEN`). */
  readonly admin?: AdminCheck
  /** The auth guard (undefined: authentication is off). */
  readonly auth?: AuthGuard | undefined
  readonly config: ControllerHost['config'] & { readonly server: { readonly maxPendingPerConnection: number } }
  /** Counts each request's latency by route and each error by code (undefined: metrics off). */
  readonly meter?: ActionMeter | undefined
}

/**
 * Maps what an action threw to what the client gets, given by the server layer (which maps
 * MySQL and Redis failures to `SD_ERR_DB_*` / `SD_ERR_REDIS_UNAVAILABLE` and logs their cause).
 */
export type ErrorMapper = (thrown: unknown, action: string) => unknown

/** The error body and HTTP status a client may see for any thrown value (never a stack). */
export function errorBody (err: unknown): { status: number, body: ErrorBody } {
  if (isPublicError(err)) return { status: err.status, body: err.toJSON() }
  const internal = new SdError('SD_ERR_INTERNAL')
  return { status: internal.status, body: internal.toJSON() }
}

/** True for a promise or any object with a `then` method. */
export function isThenable (v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function'
}

const asThrown: ErrorMapper = (thrown) => thrown

/**
 * Runs requests through the router into controllers and answers through their sinks. `C`: the
 * controller type middleware sees (the server's full Controller; routes' classes extend it).
 */
export class Pipeline<C extends BaseController = BaseController> {
  /** True once shutdown began: new requests are answered `SD_ERR_SHUTTING_DOWN`. */
  refusing = false
  /** Called (then emptied) when the last running request settles. */
  readonly idleWaiters: Array<() => void> = []
  readonly #host: PipelineHost
  readonly #middleware: ReadonlyArray<Middleware<C>>
  readonly #mapError: ErrorMapper
  #inflight = 0
  /** The route label of the request `#start` just ran synchronously (read by `#run` right after). */
  #route = NOT_FOUND_ROUTE

  /** `middleware`: the application's list, read on every request (so later `use()` calls count). */
  constructor (host: PipelineHost, middleware: ReadonlyArray<Middleware<C>>, mapError: ErrorMapper = asThrown) {
    this.#host = host
    this.#middleware = middleware
    this.#mapError = mapError
  }

  /** Requests whose action has not settled yet. */
  get inflight (): number {
    return this.#inflight
  }

  /** Resolves true once no request is running, or false after `timeoutMs` with some still running. */
  async drain (timeoutMs: number): Promise<boolean> {
    if (this.#inflight === 0) return true
    let timer: NodeJS.Timeout | undefined
    const drained = await Promise.race([
      new Promise<boolean>((resolve) => this.idleWaiters.push(() => resolve(true))),
      new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), timeoutMs) }),
    ])
    clearTimeout(timer)
    return drained
  }

  /** Runs a message from a socket or WebSocket connection, which is its reply sink. */
  message (conn: PipelineConnection, msg: PipelineMessage): void {
    this.#run(conn, conn, conn.transport, msg.id, msg.path, undefined, msg.data, null)
  }

  /** Runs an HTTP request (`path` without its query string); `exchange` is the controller's view of it and its sink. */
  http (exchange: HttpExchange & ReplySink, path: string, verb: string, data: unknown): void {
    this.#run(exchange, null, 'http', null, path, verb, data, exchange)
  }

  #run (sink: ReplySink, conn: PipelineConnection | null, transport: TransportName, id: RequestId | undefined | null, path: string, verb: string | undefined, data: unknown, http: HttpExchange | null): void {
    const t0 = this.#host.meter === undefined ? 0 : this.#host.meter.start()
    if (!this.#start(sink, conn, transport, id, path, verb, data, http, t0)) this.#end(sink, this.#route, t0)
  }

  /** The request is over: its latency is counted (metrics on: `t0` > 0), its sink told. */
  #end (sink: ReplySink, route: string, t0: number): void {
    if (t0 !== 0) this.#host.meter?.observe(route, t0)
    sink.done?.()
  }

  /** Runs the request up to its action; true when the action went async (its end calls `done` itself). */
  #start (sink: ReplySink, conn: PipelineConnection | null, transport: TransportName, id: RequestId | undefined | null, path: string, verb: string | undefined, data: unknown, http: HttpExchange | null, t0: number): boolean {
    let name = path
    let match: RouteMatch | undefined
    this.#route = NOT_FOUND_ROUTE
    try {
      match = this.#host.router.match(path, verb)
      if (match === undefined) {
        this.#refuse(sink, id, new SdError('SD_ERR_ROUTE_NOT_FOUND', verb === undefined ? path : `${verb} ${path}`))
        return false
      }
      const route = match.route
      name = this.#route = route.name
      if (route.transports !== null && !route.transports.has(transport)) {
        this.#refuse(sink, id, new SdError('SD_ERR_TRANSPORT_NOT_ALLOWED', path))
        return false
      }
      if (route.isAdmin) {
        const refused = this.#host.admin === undefined ? new SdError('SD_ERR_FORBIDDEN', 'admin actions need an admin guard') : this.#host.admin.check(conn, http)
        if (refused !== undefined) {
          this.#refuse(sink, id, refused)
          return false
        }
      }
      if (this.refusing) {
        this.#refuse(sink, id, new SdError('SD_ERR_SHUTTING_DOWN'))
        return false
      }
      const denied = this.#host.auth?.check(route, path, conn, http)
      if (denied !== undefined) {
        if (!isThenable(denied)) {
          this.#refuse(sink, id, denied)
          return false
        }
        // counted as running while the guard waits (shutdown drains it, the connection's pending holds)
        this.#began(conn)
        const matched = match
        denied.then((err) => {
          this.#settled(conn)
          if (err !== undefined) this.#refuse(sink, id, err)
          else if (this.#proceed(sink, conn, transport, id, path, data, http, matched, t0)) return
          this.#end(sink, name, t0)
        }, (err: unknown) => {
          this.#settled(conn)
          this.#fail(sink, conn, id, err, name)
          this.#end(sink, name, t0)
        })
        return true
      }
    } catch (err) {
      this.#fail(sink, conn, id, err, name)
      return false
    }
    return this.#proceed(sink, conn, transport, id, path, data, http, match, t0)
  }

  /** Validates and runs the matched action; true when it went async. */
  #proceed (sink: ReplySink, conn: PipelineConnection | null, transport: TransportName, id: RequestId | undefined | null, path: string, data: unknown, http: HttpExchange | null, match: RouteMatch, t0: number): boolean {
    const route = match.route
    const name = route.name
    try {
      if (route.validate !== null) {
        const invalid = route.validate(data, transport)
        if (invalid !== undefined) {
          this.#refuse(sink, id, invalid)
          return false
        }
      }
      const ctrl = new route.controller(this.#host, conn, transport, path, data, match.params, http)
      const result = this.#invoke(ctrl, route.method)
      if (isThenable(result)) {
        this.#began(conn)
        Promise.resolve(result).then((value) => {
          this.#settled(conn)
          this.#reply(sink, conn, id, value, name)
          this.#end(sink, name, t0)
        }, (err: unknown) => {
          this.#settled(conn)
          this.#fail(sink, conn, id, err, name)
          this.#end(sink, name, t0)
        })
        return true
      }
      this.#reply(sink, conn, id, result, name)
    } catch (err) {
      this.#fail(sink, conn, id, err, name)
    }
    return false
  }

  #began (conn: PipelineConnection | null): void {
    this.#inflight++
    if (conn !== null && ++conn.pending === this.#host.config.server.maxPendingPerConnection) conn.hold()
  }

  #invoke (ctrl: InstanceType<ControllerClass>, method: string): unknown {
    const action = (ctrl as unknown as Record<string, (data: unknown) => unknown>)[method]
    if (this.#middleware.length === 0) return action.call(ctrl, ctrl.data)
    return runMiddleware(this.#middleware, ctrl as C, () => action.call(ctrl, ctrl.data))
  }

  #settled (conn: PipelineConnection | null): void {
    if (conn !== null && conn.pending-- === this.#host.config.server.maxPendingPerConnection) conn.release()
    if (--this.#inflight === 0 && this.idleWaiters.length > 0) {
      for (const wake of this.idleWaiters.splice(0)) wake()
    }
  }

  /**
   * Sends an action's result; a value that cannot be encoded becomes `SD_ERR_INTERNAL`. A
   * socket message without an id (or a `null` result on a pack without ids) gets no reply;
   * an HTTP request always gets one.
   */
  #reply (sink: ReplySink, conn: PipelineConnection | null, id: RequestId | undefined | null, value: unknown, action: string): void {
    if (conn !== null && (id === undefined || (id === null && value === undefined))) return
    try {
      sink.reply(id as RequestId | null, value)
    } catch (err) {
      this.#fail(sink, conn, id, err, action)
    }
  }

  /** A request refused before its action ran. */
  #refuse (sink: ReplySink, id: RequestId | undefined | null, err: SdError): void {
    this.#host.meter?.error(err.code)
    sink.replyError(id, err.toJSON(), err.status)
  }

  #fail (sink: ReplySink, conn: PipelineConnection | null, id: RequestId | undefined | null, thrown: unknown, action: string): void {
    const err = this.#mapError(thrown, action)
    if (!isPublicError(err)) this.#host.log.error(conn === null ? { err, action } : { err, action, connectionId: conn.id }, 'action threw')
    const { status, body } = errorBody(err)
    this.#host.meter?.error(body.code)
    sink.replyError(id, body, status)
  }
}
