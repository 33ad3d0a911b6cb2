/**
 * `sd token`: an HS256 JWT for a try of an app with authentication on (the demo chat with
 * SD_AUTH_JWT_SECRET set). Signed through jose with the same secret the server verifies with.
 */
import { SignJWT } from 'jose'

/** Longest `--ttl` accepted (a try token, not a credential to keep). */
export const MAX_TTL_MS = 366 * 24 * 3600_000
/** Longest `--sub` accepted (a uid). */
export const MAX_SUB = 128

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 }

/** `90s`, `15m`, `1h`, `7d`, `500ms` or plain seconds (`3600`) → milliseconds; throws on anything else. */
export function parseTtl (text: string): number {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(text.trim())
  if (!m) throw new Error(`--ttl must be a number with an optional unit (ms, s, m, h, d), like 1h; got "${text}"`)
  const ms = Number(m[1]) * UNITS[m[2] ?? 's']
  if (!(ms > 0) || ms > MAX_TTL_MS) throw new Error(`--ttl must be more than 0 and at most 366d; got "${text}"`)
  return ms
}

/** What one token holds. */
export interface TokenRequest {
  /** The token's `sub`: the connection's uid once it authenticates. */
  sub: string
  /** HS256 secret (the server's SD_AUTH_JWT_SECRET / `auth.jwt.secret`). */
  secret: string
  /** Lifetime. @default 3600000 (1 hour) */
  ttlMs?: number
  /** Optional `iss` claim (set it when the server checks `auth.jwt.issuer`). */
  issuer?: string
  /** Optional `aud` claim (set it when the server checks `auth.jwt.audience`). */
  audience?: string
  /** Issue time. @default Date.now() */
  nowMs?: number
}

/** A compact HS256 JWT with `sub`, `iat`, `exp` (and `iss`/`aud` when given). */
export async function makeToken (req: TokenRequest): Promise<string> {
  if (!req.sub || req.sub.length > MAX_SUB) throw new Error(`--sub must be 1-${MAX_SUB} characters`)
  if (!req.secret) throw new Error('no secret: set SD_AUTH_JWT_SECRET or pass --secret')
  const now = Math.floor((req.nowMs ?? Date.now()) / 1000)
  const jwt = new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(req.sub)
    .setIssuedAt(now)
    .setExpirationTime(now + Math.max(1, Math.round((req.ttlMs ?? 3600_000) / 1000)))
  if (req.issuer) jwt.setIssuer(req.issuer)
  if (req.audience) jwt.setAudience(req.audience)
  return jwt.sign(new TextEncoder().encode(req.secret))
}
