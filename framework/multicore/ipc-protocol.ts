/**
 * Messages between a worker and the multi-core primary (`sd start --workers N`), over
 * node:cluster's IPC channel. Workers mirror their connections' membership to the primary;
 * pushes and queries that concern other workers go through it. Pushes and queries are the bus
 * operations of connection/bus-ops.ts, as they are.
 */
import type { MembershipChange, PushOp, QueryOp } from '../connection/bus-ops.js'
import type { BusTarget } from '../connection/bus-publish.js'
import type { NodeStats } from '../core/contract.js'
import { errorCodes, SdError, type ErrorCode } from '../core/errors.js'
import type { Ports } from './ports.js'
import type { ProcessMetrics } from './metrics-merge.js'

/** What a worker reports of itself (its application's `stats()`). */
export type WorkerStats = NodeStats

/**
 * A membership change as the primary's mirror needs it: the connection and the uid or group
 * (`MembershipChange` without what only the worker's own bookkeeping uses).
 */
export type MembershipMessage =
  | { t: 'open', c: string }
  | { t: 'close', c: string }
  | { t: 'bind', c: string, u: string, kick?: boolean }
  | { t: 'unbind', c: string }
  | { t: 'join', c: string, g: string }
  | { t: 'leave', c: string, g: string }

/** The IPC message of a membership change. */
export function membershipMessage (change: MembershipChange): MembershipMessage {
  switch (change.t) {
    case 'bind': return change.kick ? { t: 'bind', c: change.c, u: change.u, kick: true } : { t: 'bind', c: change.c, u: change.u }
    case 'open': case 'close': case 'unbind': return { t: change.t, c: change.c }
    case 'join': case 'leave': return { t: change.t, c: change.c, g: change.g }
  }
}

/** Worker → primary. */
export type FromWorker =
  | { t: 'ready', ports: Ports }
  /** The app could not start for a reason a user can act on (an SD error: port in use, config…). */
  | { t: 'failed', code: string, message: string }
  | MembershipMessage
  | { t: 'send', r: number, to: PushOp, d?: unknown }
  | { t: 'query', r: number, q: QueryOp }
  | { t: 'stats', r: number, stats: WorkerStats }
  /** Its metrics (undefined: it has no application yet, or they could not be read). */
  | { t: 'metrics', r: number, m: ProcessMetrics | undefined }
  /** Answer to `publish`: the connections reached, or the error the bus threw. */
  | { t: 'published', r: number, n?: number, e?: { code: string, message: string } }

/** Primary → worker. */
export type ToWorker =
  | { t: 'deliver', to: PushOp, d?: unknown }
  | { t: 'result', r: number, v: unknown }
  | { t: 'stats', r: number }
  /** Its metrics; `s`: only the snapshot (the dashboard's sampler asks every second). */
  | { t: 'metrics', r: number, s?: true }
  /** Run an admin publish (`POST /sd/publish` at the primary) on this process's bus. */
  | { t: 'publish', r: number, to: BusTarget, d: unknown, recover?: boolean }
  | { t: 'stop' }
  /** Read the TLS certificate files again (`sd reload` at a kept gateway). */
  | { t: 'tls' }

/** True for an object with a string `t` (anything else on the channel is not ours). */
export function isProtocolMessage (m: unknown): m is { t: string } {
  return typeof m === 'object' && m !== null && typeof (m as { t?: unknown }).t === 'string'
}

/** The SD error a worker reported (`failed`), rebuilt in the primary with the worker's message. */
export function sdErrorFrom (code: string, message: string): Error {
  if (!(code in errorCodes)) return new Error(message)
  const err = new SdError(code as ErrorCode)
  err.message = message
  return err
}
