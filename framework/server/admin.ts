/**
 * The admin guard: who may run admin actions (`static admin = ['status']`, the demo's
 * `/status`), which show internals (pids, memory, node names). `config/admin.ts` holds its
 * options. Default (no token): loopback callers only (127.0.0.0/8, ::1, ::ffff:127.*). With
 * `admin.token` (env `SD_ADMIN_TOKEN`): `Authorization: Bearer <token>` from anywhere, loopback
 * included, compared in constant time. Socket and WebSocket messages carry no headers, so with
 * a token they are refused; without one they pass from loopback like HTTP requests.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { BlockList, isIP } from 'node:net'
import type { ConnectionRef } from '../core/contract.js'
import { SdError } from '../core/errors.js'
import type { HttpExchange } from '../core/http-exchange.js'
import type { AdminCheck } from '../core/pipeline.js'

/** `config/admin.ts`: who may call admin actions. */
export interface AdminConfig {
  /**
   * Bearer token of admin actions (16-1024 printable ASCII characters, no spaces); env
   * `SD_ADMIN_TOKEN`. Empty: admin actions answer loopback callers only. @default ''
   */
  token: string
}

/** Defaults of `config.admin`. */
export function adminDefaults (): AdminConfig {
  return { token: '' }
}

/** Shortest admin token accepted. */
export const MIN_ADMIN_TOKEN_CHARS = 16
/** Longest admin token accepted (and longest `Authorization` header read). */
export const MAX_ADMIN_TOKEN_CHARS = 1024

/** Checks what the key-by-key merge cannot; throws SD_ERR_CONFIG_INVALID naming the key. */
export function checkAdmin (c: AdminConfig): void {
  const t = c.token
  if (t === '') return
  if (t.length < MIN_ADMIN_TOKEN_CHARS || t.length > MAX_ADMIN_TOKEN_CHARS || !/^[\x21-\x7e]+$/.test(t)) {
    throw new SdError('SD_ERR_CONFIG_INVALID', `admin.token (SD_ADMIN_TOKEN) must be ${MIN_ADMIN_TOKEN_CHARS}-${MAX_ADMIN_TOKEN_CHARS} printable ASCII characters without spaces, or empty (loopback only)`)
  }
}

const loopback = new BlockList()
loopback.addSubnet('127.0.0.0', 8, 'ipv4')
loopback.addAddress('::1', 'ipv6')

/** True for a loopback address: 127.0.0.0/8, ::1, or an IPv4-mapped 127.* (`::ffff:127.0.0.1`). */
export function isLoopback (ip: string): boolean {
  const family = isIP(ip)
  if (family === 4) return loopback.check(ip, 'ipv4')
  if (family === 6) return loopback.check(ip, 'ipv6')
  return false
}

/** What the admin decision looks at: the caller's address and its `Authorization` header (HTTP only). */
export interface AdminRequest {
  /** The caller's address as the socket saw it ('' when unknown: refused). */
  ip: string
  /** The `Authorization` header; `undefined` on sockets (no headers), an array when sent twice (refused). */
  authorization?: string | readonly string[]
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest()

/** The token an `Authorization: Bearer <token>` header carries, if it is one. */
function bearer (header: string | readonly string[] | undefined): string | undefined {
  if (typeof header !== 'string' || header.length > MAX_ADMIN_TOKEN_CHARS + 16) return undefined
  const m = /^Bearer +(\S+) *$/i.exec(header)
  return m === null ? undefined : m[1]
}

/**
 * The admin decision: `true` when the caller may run an admin action, else the
 * `SD_ERR_FORBIDDEN` error to answer (the message says what is missing, never the token).
 */
export function adminAllows (request: AdminRequest, config: AdminConfig, tokenDigest = config.token === '' ? undefined : digest(config.token)): true | SdError {
  if (tokenDigest === undefined) {
    return isLoopback(request.ip) ? true : new SdError('SD_ERR_FORBIDDEN', 'admin actions answer loopback clients only (set admin.token / SD_ADMIN_TOKEN to allow others with it)')
  }
  const presented = bearer(request.authorization)
  // both sides hashed to 32 bytes: the compare takes the same time whatever was sent
  if (presented !== undefined && timingSafeEqual(digest(presented), tokenDigest)) return true
  return new SdError('SD_ERR_FORBIDDEN', 'admin actions need Authorization: Bearer <admin token> (HTTP)')
}

/** The pipeline's admin guard for one application (core's `AdminCheck`). */
export class AdminGuard implements AdminCheck {
  readonly #config: AdminConfig
  readonly #tokenDigest: Buffer | undefined

  /** Checks the options (at boot: a bad token fails naming `admin.token`). */
  constructor (config: AdminConfig) {
    checkAdmin(config)
    this.#config = config
    this.#tokenDigest = config.token === '' ? undefined : digest(config.token)
  }

  /** `undefined`: the caller may run the admin action; else the error to answer. */
  check (conn: ConnectionRef | null, http: HttpExchange | null): SdError | undefined {
    const request: AdminRequest = http !== null
      ? { ip: http.request.ip, authorization: http.request.headers.authorization }
      : { ip: conn?.remoteAddress ?? '' }
    const verdict = adminAllows(request, this.#config, this.#tokenDigest)
    return verdict === true ? undefined : verdict
  }
}
