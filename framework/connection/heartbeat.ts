/**
 * Heartbeats: one sweep timer for all connections (not a timer per connection) closes those
 * that sent no complete message for `heartbeatIdleMs` and have no request running; an optional second timer pushes
 * `pingData` every `pingIntervalMs`, as GatewayWorker's server ping does.
 */
import { Outgoing } from './connection.js'
import type { ConnectionTable } from './table.js'
import { SdError } from '../core/errors.js'

/**
 * A clock read on every message (`lastActiveMs`), advanced by the idle sweep instead of a
 * `Date.now()` per message; it lags real time by at most one sweep interval (≤ idle/4).
 */
export const activityClock = { now: Date.now() }

/** Heartbeat settings (from `config.server`). */
export interface HeartbeatOptions {
  heartbeatIdleMs: number
  pingIntervalMs: number
  pingData: unknown
}

/** Starts the timers; returns a function that stops them. */
export function startHeartbeat (table: ConnectionTable, options: HeartbeatOptions): () => void {
  const timers: NodeJS.Timeout[] = []
  const idle = options.heartbeatIdleMs
  activityClock.now = Date.now()
  if (idle > 0) {
    const every = Math.min(1000, Math.max(10, Math.floor(idle / 4)))
    timers.push(setInterval(() => {
      activityClock.now = Date.now()
      const deadline = activityClock.now - idle
      for (const conn of table.all()) {
        if (conn.lastActiveMs < deadline && conn.pending === 0 && conn.status === 'open') conn.close(new SdError('SD_ERR_IDLE_TIMEOUT', idle))
      }
    }, every).unref())
  }
  if (options.pingIntervalMs > 0) {
    timers.push(setInterval(() => {
      const out = new Outgoing(options.pingData)
      for (const conn of table.all()) conn.pushOutgoing(out)
    }, options.pingIntervalMs).unref())
  }
  return () => { for (const t of timers) clearInterval(t) }
}
