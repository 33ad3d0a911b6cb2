/**
 * The one step every message-carrying transport shares: decode a payload with the
 * connection's codec, answer decode failures with `SD_ERR_BAD_MESSAGE`, mark the connection
 * active, and hand the message to the host.
 */
import { SdError } from '../core/errors.js'
import type { Connection } from '../connection/connection.js'
import { activityClock } from '../connection/heartbeat.js'
import { BadMessageError } from './packs.js'
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
  conn.lastActiveMs = activityClock.now
  host.dispatch(conn, msg)
}
