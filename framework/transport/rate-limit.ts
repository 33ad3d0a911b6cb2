/**
 * The per-connection rate limit (`server.rateLimit`): a token bucket kept in numbers on the
 * connection and refilled from the per-turn clock, so a message costs a few arithmetic
 * operations and no allocation. HTTP has none: each request is its own exchange and the
 * admission limits (connections per IP) bound it; put a proxy's limit in front if needed.
 */
import type { RateLimitConfig } from './options.js'
import { turnNow } from '../core/clock.js'
import type { Connection } from '../connection/connection.js'

/**
 * Takes one token from `conn`'s bucket; false when there is none (the message is refused).
 * A bucket that refills to `burst` forgives the refusals counted so far.
 */
export function takeToken (conn: Connection, limit: RateLimitConfig): boolean {
  const now = turnNow()
  let tokens = conn.tokens
  if (now !== conn.tokensAtMs) {
    // a connection's first message finds tokensAtMs 0: the bucket starts full
    tokens += (now - conn.tokensAtMs) * limit.messagesPerSecond / 1000
    if (tokens >= limit.burst) {
      tokens = limit.burst
      conn.rejected = 0
    }
    conn.tokensAtMs = now
  }
  if (tokens >= 1) {
    conn.tokens = tokens - 1
    return true
  }
  conn.tokens = tokens
  return false
}
