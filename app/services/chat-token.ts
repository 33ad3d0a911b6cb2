/**
 * Resume tokens of the chat: `/chat/login` hands one out, `/chat/resume {token}` (after a
 * reconnect) gives the same uid, name and room back without a new login. A token is
 * `<payload>.<signature>`, both base64url: the payload is the JSON `{uid, name, room, exp}`
 * (exp: ms since 1970), the signature HMAC-SHA256 of the payload text with the secret.
 *
 * The secret: `CHAT_TOKEN_SECRET` or config `chat.tokenSecret`; else, with Redis, a random one
 * kept in Redis (`SET NX`: every process of the app shares the first one written); else a
 * random one per process, so a restarted server refuses old tokens and the page logs in afresh.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { RedisClient } from '../../framework/index.js'

/** What a token carries. */
export interface TokenClaims {
  uid: string
  name: string
  room: string
}

/** Longest token accepted (a valid one is far shorter: names and rooms are ≤ 32 characters). */
export const MAX_TOKEN = 1024
/** How long a token is valid. @default 7 days */
export const DEFAULT_TOKEN_TTL_MS = 7 * 24 * 3600_000
/** Redis key of the shared random secret (under the app's key prefix). */
export const SECRET_KEY = 'chat:token-secret'

const b64 = (b: Buffer | string): string => Buffer.from(b).toString('base64url')

/** Signs and checks tokens with one secret (given, or fetched once from `source`). */
export class ChatTokens {
  readonly #ttlMs: number
  readonly #source: () => Promise<string>
  #secret: Promise<string> | undefined

  constructor (source: string | (() => Promise<string>), ttlMs = DEFAULT_TOKEN_TTL_MS) {
    this.#source = typeof source === 'string' ? async () => source : source
    this.#ttlMs = ttlMs
  }

  /** The secret; a failed fetch (Redis down) is tried again on the next call. */
  #key (): Promise<string> {
    this.#secret ??= this.#source().catch((err: unknown) => { this.#secret = undefined; throw err })
    return this.#secret
  }

  /** A token for `claims`, valid for the TTL from `now`. */
  async sign (claims: TokenClaims, now = Date.now()): Promise<string> {
    const payload = b64(JSON.stringify({ uid: claims.uid, name: claims.name, room: claims.room, exp: now + this.#ttlMs }))
    return `${payload}.${b64(createHmac('sha256', await this.#key()).update(payload).digest())}`
  }

  /** The claims of a token signed with this secret and not expired, else undefined. */
  async verify (token: unknown, now = Date.now()): Promise<TokenClaims | undefined> {
    if (typeof token !== 'string' || token.length > MAX_TOKEN) return undefined
    const dot = token.indexOf('.')
    if (dot <= 0 || dot !== token.lastIndexOf('.')) return undefined
    const payload = token.slice(0, dot)
    const given = Buffer.from(token.slice(dot + 1), 'base64url')
    const expected = createHmac('sha256', await this.#key()).update(payload).digest()
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined
    let body: unknown
    try { body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) } catch { return undefined }
    const { uid, name, room, exp } = (body ?? {}) as Record<string, unknown>
    if (typeof uid !== 'string' || typeof name !== 'string' || typeof room !== 'string' || typeof exp !== 'number') return undefined
    if (!(exp > now)) return undefined
    return { uid, name, room }
  }
}

/** A random secret kept in Redis: the first process to write it wins, the others read it. */
export function redisSecret (redis: RedisClient): () => Promise<string> {
  return async () => {
    await redis.set(SECRET_KEY, randomBytes(32).toString('base64url'), 'NX')
    const secret = await redis.get(SECRET_KEY)
    if (!secret) throw new Error('the chat token secret is not in Redis')
    return secret
  }
}

/** The chat section's token options (`config/chat.ts`). */
export interface TokenConfig {
  /** Signing secret; empty: from Redis, or random per process. @default '' (or env CHAT_TOKEN_SECRET) */
  tokenSecret?: string
  /** How long a token is valid. @default 604800000 (7 days) */
  tokenTtlMs?: number
}

/** The tokens for this process: the configured secret, else Redis's, else a random one. */
export function chatTokensFor (config: TokenConfig | undefined, redis: RedisClient | undefined): ChatTokens {
  const ttl = typeof config?.tokenTtlMs === 'number' && config.tokenTtlMs > 0 ? config.tokenTtlMs : DEFAULT_TOKEN_TTL_MS
  const given = process.env.CHAT_TOKEN_SECRET || config?.tokenSecret
  if (given) return new ChatTokens(given, ttl)
  if (redis) return new ChatTokens(redisSecret(redis), ttl)
  return new ChatTokens(randomBytes(32).toString('base64url'), ttl)
}
