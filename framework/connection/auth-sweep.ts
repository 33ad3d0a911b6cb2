/**
 * A connection's authentication state and the one sweep timer that enforces it where the
 * connections are held (a direct process or a gateway). The state lives in the session under
 * `$auth` (`{uid, exp}`), so it travels with the session in the gateway split as `$sd` does:
 * a worker sets it (`/sd/auth`), the gateway's sweep reads it. The sweep closes connections not
 * authenticated within `timeoutMs` (SD_ERR_AUTH_TIMEOUT); when a token expires it pushes
 * SD_ERR_TOKEN_EXPIRED once (an error without id) and closes the connection `expiryGraceMs`
 * later unless a new token arrived.
 */
import { SdError } from '../core/errors.js'
import type { Connection } from './connection.js'
import type { ConnectionTable } from './table.js'

/** `session.$auth`: who the connection is, and until when (ms since the epoch; absent: no expiry). */
export interface AuthState {
  uid: string
  exp?: number
}

/** The session key of the state (reserved, like `$sd`). */
export const AUTH_KEY = '$auth'

/** The state in `session`, if it holds a well-formed one. */
export function authStateOf (session: Record<string, unknown> | undefined): AuthState | undefined {
  const a = session?.[AUTH_KEY] as Partial<AuthState> | undefined
  if (typeof a !== 'object' || a === null || typeof a.uid !== 'string') return undefined
  return a.exp === undefined || typeof a.exp === 'number' ? a as AuthState : undefined
}

/**
 * Replaces a connection's session with one a worker sent back (gateway split), keeping the
 * newer `$auth`: a request that began before `/sd/auth` (or before a refresh) carries the older
 * state back, and its result, arriving last, must not undo an authentication it knew nothing of.
 * Newer = a later expiry (none: never expires); a connection's uid never changes.
 */
export function adoptSession (conn: { session: Record<string, unknown> }, next: Record<string, unknown>): void {
  const kept = authStateOf(conn.session)
  if (kept !== undefined) {
    const incoming = authStateOf(next)
    if (incoming === undefined || (incoming.exp ?? Infinity) < (kept.exp ?? Infinity)) next[AUTH_KEY] = conn.session[AUTH_KEY]
  }
  conn.session = next
}

/** What the sweep enforces. */
export interface AuthSweepOptions {
  timeoutMs: number
  expiryGraceMs: number
}

/** Starts the sweep over `table`; returns a function that stops it. */
export function startAuthSweep (table: ConnectionTable, options: AuthSweepOptions): () => void {
  const { timeoutMs, expiryGraceMs } = options
  // the expiry a connection was told about, so it is told once per token
  const told = new WeakMap<Connection, number>()
  const shortest = Math.min(timeoutMs > 0 ? timeoutMs : Infinity, expiryGraceMs > 0 ? expiryGraceMs : Infinity)
  const every = Math.min(1000, Math.max(10, Math.floor(shortest / 4)))
  const timer = setInterval(() => {
    const now = Date.now()
    for (const conn of table.all()) {
      if (conn.status !== 'open') continue
      const auth = authStateOf(conn.peekSession())
      if (auth === undefined) {
        if (timeoutMs > 0 && now - conn.openedAtMs >= timeoutMs) conn.close(new SdError('SD_ERR_AUTH_TIMEOUT', timeoutMs))
        continue
      }
      const exp = auth.exp
      if (exp === undefined || now < exp) continue
      if (now >= exp + expiryGraceMs) {
        conn.close(new SdError('SD_ERR_TOKEN_EXPIRED', 'no new token in time'))
      } else if (told.get(conn) !== exp) {
        told.set(conn, exp)
        conn.replyError(undefined, new SdError('SD_ERR_TOKEN_EXPIRED', 'send /sd/auth with a new token').toJSON())
      }
    }
  }, every).unref()
  return () => clearInterval(timer)
}
