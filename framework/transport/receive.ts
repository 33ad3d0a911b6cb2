/**
 * The one step every message-carrying transport shares: decode a payload with the
 * connection's codec, answer decode failures with `SD_ERR_BAD_MESSAGE`, apply the rate limit,
 * mark the connection active, and hand the message to the host. A host with `dispatchRaw` (a
 * gateway, which relays client bytes to a business worker) gets the payload undecoded instead.
 */
import type { RateLimitConfig } from './options.js'
import { SdError } from '../core/errors.js'
import type { Connection } from '../connection/connection.js'
import { activityClock } from '../connection/heartbeat.js'
import { BadMessageError, type MessageId } from './packs.js'
import { takeToken } from './rate-limit.js'
import type { TransportHost } from './transport.js'

/** Decodes and dispatches one payload; `isText` skips UTF-8 validation already done by ws. */
export function receive (host: TransportHost, conn: Connection, payload: Buffer, isText = false): void {
  if (conn.status !== 'open') return
  const traffic = conn.traffic
  traffic.messagesIn++
  traffic.bytesIn += payload.length
  if (host.dispatchRaw !== undefined) return relay(host, conn, payload, isText)
  const limit = host.config.server.rateLimit
  let msg
  try {
    msg = conn.codec.decode(payload, isText)
  } catch (err) {
    const bad = err instanceof SdError ? err : new BadMessageError('undecodable payload')
    const id = bad instanceof BadMessageError ? bad.id : undefined
    // garbage costs a token too: a flood of it is refused and closed like any other flood
    if (limit.messagesPerSecond > 0 && !takeToken(conn, limit)) refuse(conn, id, limit)
    else {
      conn.traffic.errors.count(bad.code)
      conn.replyError(id, bad.toJSON())
    }
    return
  }
  if (limit.messagesPerSecond > 0 && !takeToken(conn, limit)) {
    refuse(conn, msg.id, limit)
    return
  }
  conn.lastActiveMs = activityClock.now
  host.dispatch(conn, msg)
}

/** The raw path: rate limit and activity clock as `receive`, no decoding (but for a refusal's message id). */
function relay (host: TransportHost, conn: Connection, payload: Buffer, isText: boolean): void {
  const limit = host.config.server.rateLimit
  if (limit.messagesPerSecond > 0 && !takeToken(conn, limit)) {
    refuse(conn, payloadId(conn, payload, isText), limit)
    return
  }
  conn.lastActiveMs = activityClock.now
  host.dispatchRaw?.(conn, payload, isText)
}

/**
 * The message id of a raw payload, for an answer that must carry it (decoded with the
 * connection's codec; an undecodable payload gives the id its decoder could read, if any).
 */
export function payloadId (conn: Connection, payload: Buffer, isText: boolean): MessageId | undefined | null {
  try {
    return conn.codec.decode(payload, isText).id
  } catch (err) {
    return err instanceof BadMessageError ? err.id : undefined
  }
}

/** Answers `SD_ERR_RATE_LIMITED`; sustained (`maxRejected` refusals without a pause that refills the bucket), closes. */
function refuse (conn: Connection, id: MessageId | undefined | null, limit: RateLimitConfig): void {
  conn.traffic.errors.count('SD_ERR_RATE_LIMITED')
  conn.replyError(id, new SdError('SD_ERR_RATE_LIMITED', `over ${limit.messagesPerSecond} messages/s (burst ${limit.burst})`).toJSON())
  const max = limit.maxRejected
  if (max > 0 && ++conn.rejected >= max) conn.close(new SdError('SD_ERR_RATE_LIMITED', `${max} messages refused`))
}
