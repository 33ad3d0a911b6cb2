/**
 * The admin decision: who may run admin actions (`static admin = ['status']`, the demo's
 * `/status`) and use the admin listener (`/metrics`, the dashboard, `/sd/publish`), which show
 * internals and push to users. `config/admin.ts` holds its options. Default (no token):
 * loopback callers only (127.0.0.0/8, ::1, ::ffff:127.*), and on HTTP a `Host` naming loopback
 * (a DNS rebinding guard). With `admin.token` (env
 * `SD_ADMIN_TOKEN`): `Authorization: Bearer <token>` from anywhere, loopback included, compared
 * in constant time. Socket and WebSocket messages carry no headers, so with a token they are
 * refused; without one they pass from loopback like HTTP requests.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { BlockList, isIP } from 'node:net'
import { SdError } from '../core/errors.js'

/** `config/admin.ts`: who may call admin actions, and the admin listener. */
export interface AdminConfig {
  /**
   * Bearer token of admin actions and the admin listener (16-1024 printable ASCII characters,
   * no spaces); env `SD_ADMIN_TOKEN`. Empty: loopback callers only. @default ''
   */
  token: string
  /** Run the admin listener (`/metrics`, the dashboard, `POST /sd/publish`); `SD_ADMIN_PORT` turns it on. @default false */
  enabled: boolean
  /** Address of the admin listener; env `SD_ADMIN_HOST`. @default '127.0.0.1' */
  host: string
  /** Port of the admin listener (0: any free port); env `SD_ADMIN_PORT`. @default 9990 */
  port: number
}

/** Defaults of `config.admin`. */
export function adminDefaults (): AdminConfig {
  return { token: '', enabled: false, host: '127.0.0.1', port: 9990 }
}

/** Shortest admin token accepted. */
export const MIN_ADMIN_TOKEN_CHARS = 16
/** Longest admin token accepted (and longest `Authorization` header read). */
export const MAX_ADMIN_TOKEN_CHARS = 1024

/** Checks what the key-by-key merge cannot; throws SD_ERR_CONFIG_INVALID naming the key. */
export function checkAdmin (c: AdminConfig): void {
  if (!Number.isInteger(c.port) || c.port < 0 || c.port > 65535) throw new SdError('SD_ERR_CONFIG_INVALID', `admin.port (SD_ADMIN_PORT) must be a port number, got ${JSON.stringify(c.port)}`)
  if (typeof c.host !== 'string' || c.host === '') throw new SdError('SD_ERR_CONFIG_INVALID', 'admin.host (SD_ADMIN_HOST) must be an address to listen on')
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

/**
 * True for a `Host` header naming loopback: `localhost`, 127.0.0.0/8 or `[::1]`, with or
 * without a port. Without a token a loopback caller must also name one: a page of another
 * site that a browser on this machine resolves to 127.0.0.1 (DNS rebinding) sends its own name.
 */
export function isLoopbackHost (host: string): boolean {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::\d{1,5})?$/.exec(host)
  if (m === null) return false
  const name = (m[1] ?? m[2]).toLowerCase()
  return name === 'localhost' || name === 'localhost.' || isLoopback(name)
}

/** What the admin decision looks at: the caller's address and its `Authorization` header (HTTP only). */
export interface AdminRequest {
  /** The caller's address as the socket saw it ('' when unknown: refused). */
  ip: string
  /** The `Authorization` header; `undefined` on sockets (no headers), an array when sent twice (refused). */
  authorization?: string | readonly string[]
  /** The `Host` header of an HTTP request: without a token it must name loopback (`isLoopbackHost`). @default undefined (not checked) */
  host?: string
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
export function adminAllows (request: AdminRequest, config: Pick<AdminConfig, 'token'>, tokenDigest = config.token === '' ? undefined : digest(config.token)): true | SdError {
  if (tokenDigest === undefined) {
    if (!isLoopback(request.ip)) return new SdError('SD_ERR_FORBIDDEN', 'admin actions answer loopback clients only (set admin.token / SD_ADMIN_TOKEN to allow others with it)')
    if (request.host !== undefined && !isLoopbackHost(request.host)) return new SdError('SD_ERR_FORBIDDEN', 'without admin.token / SD_ADMIN_TOKEN, admin requests must name a loopback host (Host: localhost or 127.0.0.1)')
    return true
  }
  const presented = bearer(request.authorization)
  // both sides hashed to 32 bytes: the compare takes the same time whatever was sent
  if (presented !== undefined && timingSafeEqual(digest(presented), tokenDigest)) return true
  return new SdError('SD_ERR_FORBIDDEN', 'admin actions need Authorization: Bearer <admin token> (HTTP)')
}


/** The digest `adminAllows` compares with (undefined without a token), computed once per config. */
export function adminTokenDigest (config: Pick<AdminConfig, 'token'>): Buffer | undefined {
  return config.token === '' ? undefined : digest(config.token)
}
