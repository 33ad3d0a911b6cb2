/**
 * Messages between a worker and the multi-core primary (`sd start --workers N`), over
 * node:cluster's IPC channel. Workers mirror their connections' membership to the primary;
 * pushes and queries that concern other workers go through it.
 */
import type { NodeStats } from '../core/contract.js'
import { errorCodes, SdError, type ErrorCode } from '../core/errors.js'
import type { Ports } from './ports.js'

/** What a push targets. */
export type Target =
  | { k: 'uid', u: string }
  | { k: 'uids', u: string[] }
  | { k: 'all', x?: string[] }
  | { k: 'group', g: string, x?: string[] }
  | { k: 'conn', c: string }
  | { k: 'kick', u: string, reason: string, except?: string }
  | { k: 'close', c: string, reason: string }

/** Registry queries. */
export type Query =
  | { k: 'online', u: string }
  | { k: 'count' }
  | { k: 'members', g: string }
  | { k: 'groupCount', g: string }
  | { k: 'groups' }
  | { k: 'connections' }

/** Worker → primary. */
export type FromWorker =
  | { t: 'ready', ports: Ports }
  /** The app could not start for a reason a user can act on (an SD error: port in use, config…). */
  | { t: 'failed', code: string, message: string }
  | { t: 'open', c: string }
  | { t: 'close', c: string }
  | { t: 'bind', c: string, u: string, kick?: boolean }
  | { t: 'unbind', c: string }
  | { t: 'join', c: string, g: string }
  | { t: 'leave', c: string, g: string }
  | { t: 'send', r: number, to: Target, d?: unknown }
  | { t: 'query', r: number, q: Query }
  | { t: 'stats', r: number, stats: NodeStats }

/** Primary → worker. */
export type ToWorker =
  | { t: 'deliver', to: Target, d?: unknown }
  | { t: 'result', r: number, v: unknown }
  | { t: 'stats', r: number }
  | { t: 'stop' }

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
