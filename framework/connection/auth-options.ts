/** Options of client authentication (`config/auth.ts`), with their defaults and checks. */
import { SdError } from '../core/errors.js'

/** What the `authenticate` hook gets besides the token. */
export interface AuthInfo {
  /** Transport of the connection or request (`tcp`, `text`, `ws`, `http`). */
  transport: string
  /** The client's address. */
  remoteAddress: string
}

/** What the `authenticate` hook resolves to: the uid, and when its authentication ends. */
export interface AuthResult {
  uid: string
  /** When it expires (ms since the epoch); absent: never. */
  expiresAtMs?: number
}

/** A custom check of a token (replaces JWT): resolve to the uid, throw (or reject) to refuse. */
export type AuthenticateHook = (token: string, info: AuthInfo) => AuthResult | Promise<AuthResult>

/** `auth.jwt`: built-in JWT verification (jose). Set one of `secret`, `publicKey`, `jwksFile`. */
export interface AuthJwtConfig {
  /** HS256 secret; env `SD_AUTH_JWT_SECRET`. @default '' */
  secret: string
  /** PEM public key file (RS256 / ES256 …), relative to the app root or absolute. @default '' */
  publicKey: string
  /** JWKS JSON file (`{"keys": [...]}`), relative to the app root or absolute. @default '' */
  jwksFile: string
  /** Accepted algorithms; empty: by key kind (HS256; RS256; ES256/384/512 by curve; EdDSA; RS256+ES256 for a JWKS). `none` is never accepted. @default [] */
  algorithms: string[]
  /** Required `iss` (one or several). @default undefined (not checked) */
  issuer?: string | string[]
  /** Required `aud` (one or several). @default undefined (not checked) */
  audience?: string | string[]
  /** Tolerance on `exp` and `nbf` (and the live expiry). @default 30000 */
  clockSkewMs: number
}

/** `config/auth.ts`: client authentication. */
export interface AuthConfig {
  /** On or off. @default true when a JWT secret/key or `authenticate` is set, else false */
  enabled?: boolean
  jwt: AuthJwtConfig
  /** Checks tokens instead of JWT. @default undefined */
  authenticate?: AuthenticateHook
  /** A socket or WebSocket connection not authenticated by then is closed (SD_ERR_AUTH_TIMEOUT); 0: never. @default 10000 */
  timeoutMs: number
  /** After its token expired, a connection that sent no new one by then is closed (SD_ERR_TOKEN_EXPIRED). @default 30000 */
  expiryGraceMs: number
  /** Query parameter of the WebSocket upgrade that may carry the token (browsers cannot set headers). @default 'token' */
  queryParam: string
  /** Paths public besides the controllers' `static public` marks: exact, or a prefix ending in `*`. @default [] */
  public: string[]
}

/** Defaults of `config.auth`. */
export function authDefaults (): AuthConfig {
  return {
    jwt: { secret: '', publicKey: '', jwksFile: '', algorithms: [], clockSkewMs: 30_000 },
    timeoutMs: 10_000,
    expiryGraceMs: 30_000,
    queryParam: 'token',
    public: [],
  }
}

/** Keys of `auth` that may be absent from the defaults, with their type (for the config merge). */
export const authOptionalKeys: Record<string, string> = {
  'auth.enabled': 'boolean',
  'auth.authenticate': 'function',
  'auth.jwt.issuer': 'any',
  'auth.jwt.audience': 'any',
}

/** Whether auth is on: `enabled`, else whether a JWT key or a hook is set. */
export function authEnabled (c: AuthConfig): boolean {
  return c.enabled ?? (c.authenticate !== undefined || c.jwt.secret !== '' || c.jwt.publicKey !== '' || c.jwt.jwksFile !== '')
}

function invalid (key: string, why: string): SdError {
  return new SdError('SD_ERR_CONFIG_INVALID', `${key} ${why}`)
}

function stringOrList (v: unknown): boolean {
  return v === undefined || (typeof v === 'string' && v !== '') || (Array.isArray(v) && v.length > 0 && v.every((s) => typeof s === 'string' && s !== ''))
}

/** Checks what the key-by-key merge cannot; throws SD_ERR_CONFIG_INVALID naming the key. */
export function checkAuth (c: AuthConfig): void {
  const j = c.jwt
  if (!stringOrList(j.issuer)) throw invalid('auth.jwt.issuer', 'must be a non-empty string or array of strings')
  if (!stringOrList(j.audience)) throw invalid('auth.jwt.audience', 'must be a non-empty string or array of strings')
  if (j.algorithms.some((a) => a.toLowerCase() === 'none')) throw invalid('auth.jwt.algorithms', 'must not contain \'none\'')
  if (c.queryParam === '' || c.queryParam.length > 64) throw invalid('auth.queryParam', 'must be 1-64 characters')
  for (const p of c.public) {
    if (!p.startsWith('/') || (p.includes('*') && p.indexOf('*') !== p.length - 1)) throw invalid('auth.public', `${JSON.stringify(p)} must be a path (/name/action), or a prefix ending in *`)
  }
  if (!authEnabled(c) || c.authenticate !== undefined) return
  const keys = [j.secret, j.publicKey, j.jwksFile].filter((k) => k !== '').length
  if (keys === 0) throw invalid('auth.enabled', 'is true but no auth.jwt.secret (SD_AUTH_JWT_SECRET), auth.jwt.publicKey, auth.jwt.jwksFile or auth.authenticate is set')
  if (keys > 1) throw invalid('auth.jwt', 'must set only one of secret, publicKey, jwksFile')
}
