/**
 * The one step every message-carrying transport shares: decode a payload with the
 * connection's codec, answer decode failures with `SD_ERR_BAD_MESSAGE`, apply the rate limit,
 * mark the connection active, and hand the message to the host.
 */
import { SdError } from '../core/errors.js'
import type { Connection } from '../connection/connection.js'
import { activityClock } from '../connection/heartbeat.js'
import { BadMessageError } from './packs.js'
import { takeToken } from './rate-limit.js'
import type { TransportHost } from './transport.js'

/** Decodes and dispatches one payload; `isText` skips UTF-8 validation already done by ws. */
export function receive (host: TransportHost, conn: Connection, payload: Buffer, isText = false): void {
  if (conn.status !== 'open') return
  let msg
  try {
    msg = conn.codec.decode(payload, isText)
  } catch (err) {
    const bad = err instanceof SdError ? err : new BadMessageError('undecodable payload')
    conn.replyError(bad instanceof BadMessageError ? bad.id : undefined, bad.toJSON())
    return
  }
  const limit = host.config.server.rateLimit
  if (limit.messagesPerSecond > 0 && !takeToken(conn, limit)) {
    const max = limit.maxRejected
    const refused = new SdError('SD_ERR_RATE_LIMITED', `over ${limit.messagesPerSecond} messages/s (burst ${limit.burst})`)
    conn.replyError(msg.id, refused.toJSON())
    // sustained: maxRejected refusals and the client never paused long enough to refill
    if (max > 0 && ++conn.rejected >= max) conn.close(new SdError('SD_ERR_RATE_LIMITED', `${max} messages refused`))
    return
  }
  conn.lastActiveMs = activityClock.now
  host.dispatch(conn, msg)
}
