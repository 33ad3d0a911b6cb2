/**
 * Client traffic of one process by transport, as plain numbers: connections opened and closed,
 * messages and bytes in and out. Counted where the bytes pass (transport/receive.ts in,
 * `Connection.send` out, the HTTP port for requests), read by the Prometheus registry at a
 * scrape. A connection not attached to a `Traffic` (metrics off) counts into a discarded one.
 */
import { ErrorCounts } from '../core/meter.js'

/** What one transport carried since the process started. */
export class TransportTraffic {
  opened = 0
  closed = 0
  messagesIn = 0
  messagesOut = 0
  bytesIn = 0
  bytesOut = 0
  /** Error replies sent by the transport itself (undecodable message, rate limit): shared with the action meter. */
  readonly errors: ErrorCounts
  /** Bytes of sockets still open that are not counted above (HTTP reads them at a scrape). */
  live: (() => { bytesIn: number, bytesOut: number }) | undefined = undefined

  constructor (errors: ErrorCounts) {
    this.errors = errors
  }
}

/** Every transport's traffic of one process. */
export class Traffic {
  readonly byTransport = new Map<string, TransportTraffic>()
  readonly errors: ErrorCounts

  constructor (errors = new ErrorCounts()) {
    this.errors = errors
  }

  /** The counts of `transport` (made on first use). */
  of (transport: string): TransportTraffic {
    let t = this.byTransport.get(transport)
    if (t === undefined) this.byTransport.set(transport, (t = new TransportTraffic(this.errors)))
    return t
  }
}

/** Where connections not attached to an application's traffic count (never read). */
export const DISCARDED_TRAFFIC = new TransportTraffic(new ErrorCounts())
