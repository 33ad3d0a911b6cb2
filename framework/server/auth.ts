/**
 * Client authentication in a running application (`config.auth`): the pipeline's auth guard
 * (private routes need `session.$auth` on sockets, a Bearer token per HTTP request), `/sd/auth`,
 * the WebSocket upgrade's token, the uid bound at open, and the sweep where connections are held.
 * Made only when auth is on; core sees it through its `AuthGuard` contract.
 */
import type { IncomingMessage } from 'node:http'
import type { AuthReply } from '../client/wire.js'
import type { Logger } from 'pino'
import { authEnabled, checkAuth, type AuthConfig, type AuthInfo } from '../connection/auth-options.js'
import { AUTH_KEY, authStateOf, startAuthSweep, type AuthState } from '../connection/auth-sweep.js'
import type { Bus } from '../connection/bus.js'
import type { Connection } from '../connection/connection.js'
import type { ConnectionTable } from '../connection/table.js'
import { SdError } from '../core/errors.js'
import type { HttpExchange } from '../core/http-exchange.js'
import type { AuthGuard, PipelineConnection } from '../core/pipeline.js'
import type { Route } from '../core/router.js'
import { makeVerifier, type Verify } from './auth-jwt.js'

/** Verified HTTP tokens kept (by token string, until their exp). */
const MAX_CACHED = 10_000

/** What auth needs of the application. */
export interface AuthHost {
  readonly config: { readonly auth: AuthConfig }
  readonly root: string
  readonly log: Logger
  readonly bus: Bus
}

/** `Bearer <token>` of an Authorization header, else undefined. */
export function bearerToken (header: string | string[] | undefined): string | undefined {
  const h = Array.isArray(header) ? header[0] : header
  if (h === undefined || h.length < 8 || h.slice(0, 7).toLowerCase() !== 'bearer ') return undefined
  const token = h.slice(7).trim()
  return token === '' ? undefined : token
}

/** The application's auth: made by `makeAuth` when `config.auth` turns it on. */
export class Auth implements AuthGuard {
  readonly config: AuthConfig
  readonly #host: AuthHost
  readonly #verify: Verify
  readonly #exact = new Set<string>()
  readonly #prefixes: string[] = []
  readonly #cache = new Map<string, AuthState>()

  constructor (host: AuthHost) {
    this.#host = host
    this.config = host.config.auth
    this.#verify = makeVerifier(this.config, host.root)
    for (const p of this.config.public) {
      if (p.endsWith('*')) this.#prefixes.push(p.slice(0, -1))
      else this.#exact.add(p)
    }
  }

  /** Checks a token (hook or JWT); rejects with an SdError. */
  verify (token: string, info: AuthInfo): Promise<AuthState> {
    return this.#verify(token, info)
  }

  #isPublic (route: Route, path: string): boolean {
    if (route.isPublic || route.isAdmin) return true
    if (this.#exact.has(path)) return true
    for (const p of this.#prefixes) if (path.startsWith(p)) return true
    return false
  }

  /** The pipeline's guard: public and admin routes pass; others need a live authentication. */
  check (route: Route, path: string, conn: PipelineConnection | null, http: HttpExchange | null): SdError | undefined | Promise<SdError | undefined> {
    if (this.#isPublic(route, path)) return undefined
    if (conn !== null) {
      const auth = authStateOf(conn.peekSession !== undefined ? conn.peekSession() : conn.session)
      if (auth === undefined) return new SdError('SD_ERR_UNAUTHENTICATED', `${path} needs authentication (/sd/auth)`)
      if (auth.exp !== undefined && auth.exp <= Date.now()) return new SdError('SD_ERR_TOKEN_EXPIRED', 'send /sd/auth with a new token')
      return undefined
    }
    if (http === null) return new SdError('SD_ERR_UNAUTHENTICATED', path)
    const token = bearerToken(http.request.headers.authorization)
    if (token === undefined) return new SdError('SD_ERR_UNAUTHENTICATED', `${path} needs an Authorization: Bearer token`)
    const cached = this.#cache.get(token)
    if (cached !== undefined) {
      if (cached.exp === undefined || cached.exp > Date.now()) {
        http.session[AUTH_KEY] = cached
        return undefined
      }
      this.#cache.delete(token)
    }
    return this.#verify(token, { transport: 'http', remoteAddress: http.request.ip }).then((state) => {
      if (this.#cache.size >= MAX_CACHED) this.#cache.delete(this.#cache.keys().next().value as string)
      this.#cache.set(token, state)
      http.session[AUTH_KEY] = state
      return undefined
    }, (err: unknown) => err instanceof SdError ? err : new SdError('SD_ERR_UNAUTHENTICATED', 'token refused'))
  }

  /**
   * `/sd/auth`: verifies the token, keeps the state in the session and binds its uid. A
   * connection keeps its uid: a token for another one is refused.
   */
  async authenticate (token: unknown, conn: { session: Record<string, unknown>, uid: string | undefined, transport: string, remoteAddress?: string }, bind: (uid: string) => Promise<void>): Promise<AuthReply> {
    const state = await this.#verify(token as string, { transport: conn.transport, remoteAddress: conn.remoteAddress ?? '' })
    const before = authStateOf(conn.session)
    if (before !== undefined && before.uid !== state.uid) throw new SdError('SD_ERR_UNAUTHENTICATED', 'this connection is authenticated as another uid')
    conn.session[AUTH_KEY] = state
    if (conn.uid !== state.uid) await bind(state.uid)
    return { uid: state.uid, exp: state.exp ?? null }
  }

  /**
   * Asked by the WebSocket transport about each upgrade: no token (header or query parameter),
   * undefined (the connection opens unauthenticated); else a promise of what to do with the
   * connection before it opens, rejected with an SdError (the upgrade is answered 401).
   */
  upgrade (request: IncomingMessage): Promise<(conn: Connection) => void> | undefined {
    let token = bearerToken(request.headers.authorization)
    if (token === undefined) {
      const url = request.url ?? ''
      const q = url.indexOf('?')
      if (q !== -1) token = new URLSearchParams(url.slice(q + 1)).get(this.config.queryParam) ?? undefined
    }
    if (token === undefined) return undefined
    return this.#verify(token, { transport: 'ws', remoteAddress: request.socket.remoteAddress ?? '' }).then((state) => (conn: Connection) => { conn.session[AUTH_KEY] = state })
  }

  /** A connection opened: one authenticated at its upgrade gets its uid bound (its reading held until then). */
  opened (conn: Connection): void {
    const state = authStateOf(conn.peekSession())
    if (state === undefined || conn.uid === state.uid) return
    conn.hold()
    this.#host.bus.bindUid(conn, state.uid).catch((err: unknown) => this.#host.log.warn({ err, connectionId: conn.id }, 'auth: binding the token\'s uid failed')).finally(() => conn.release())
  }

  /** Starts the sweep of `table` (timeout, expiry, grace); returns its stop. */
  sweep (table: ConnectionTable): () => void {
    return startAuthSweep(table, this.config)
  }
}

/** The application's Auth when `config.auth` turns it on (checked first), else undefined. */
export function makeAuth (host: AuthHost): Auth | undefined {
  checkAuth(host.config.auth)
  return authEnabled(host.config.auth) ? new Auth(host) : undefined
}
