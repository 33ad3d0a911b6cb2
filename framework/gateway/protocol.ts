/**
 * The gateway ↔ worker protocol: the messages one MSG frame (cluster/link-frames.ts) carries
 * on an authenticated link, encoded with `v8.serialize` (structured clone, as the multi-core
 * IPC: Buffers, Dates and Maps a client sent arrive as they were). The link is ordered, so a
 * worker's pushes and closes reach the gateway before the result of the request that made them.
 */
import { deserialize, serialize } from 'node:v8'
import type { PushOp, QueryOp } from '../connection/bus-ops.js'
import type { ErrorBody } from '../core/errors.js'
import type { HttpReplyState, HttpRequest } from '../core/http-exchange.js'
import type { RequestId } from '../core/pipeline.js'

/** A connection as a worker is told about it. */
export interface ConnInfo {
  /** Connection id (`<gateway node>.<n>`). */
  c: string
  /** Transport name. */
  tr: string
  /** Remote address. */
  a: string
  /** Bound uid. */
  u?: string
  /** Session, only when non-empty. */
  s?: Record<string, unknown>
}

/** Gateway → worker. */
export type ToWorker =
  /** After the handshake: the gateway's node name, and whether it is a dispatch cluster node. */
  | { t: 'info', node: string, clustered: boolean }
  /** A socket message: request number, connection, message id (absent: no reply wanted), path, data. */
  | { t: 'msg', r: number, conn: ConnInfo, i?: RequestId | null, p: string, d: unknown }
  /** An HTTP request. */
  | { t: 'http', r: number, q: HttpRequest, p: string, v: string, d: unknown }
  /** A connection opened or closed (only to a worker that has such hooks). */
  | { t: 'open' | 'close', conn: ConnInfo }
  /** The answer to the worker's bus call `k`. */
  | { t: 'ans', k: number, v: unknown }
  /** The drain was marked: no new request will come. */
  | { t: 'drained' }

/** How a request ended on the worker. */
export type Outcome =
  | { k: 'ok', v: unknown, html?: true }
  | { k: 'err', e: ErrorBody, st: number }
  | { k: 'none' }

/** A membership call about one connection. */
export type MemberOp =
  | { m: 'bind', c: string, u: string, kick: boolean }
  | { m: 'unbind', c: string }
  | { m: 'join' | 'leave', c: string, g: string }

/** Worker → gateway. */
export type ToGateway =
  /** After the handshake: which connection hooks the worker has. */
  | { t: 'hello', onConnect: boolean, onClose: boolean }
  /** The one result of request `r`; `s`: the session when the action changed it; `h`: an HTTP reply's recorded state. */
  | { t: 'res', r: number, o: Outcome, s?: Record<string, unknown>, h?: HttpReplyState }
  /** The session of a connection changed by an `onConnect` hook. */
  | { t: 'sess', c: string, s: Record<string, unknown> }
  /** A push (`d`: its data) or a kick/close, answered with the count. */
  | { t: 'push', k: number, op: PushOp, d?: unknown }
  /** A query, answered with its value. */
  | { t: 'query', k: number, op: QueryOp }
  /** A membership call, answered with `null`. */
  | { t: 'member', k: number, op: MemberOp }
  /** `this.send` / `this.close()` of a request's own connection (no answer). */
  | { t: 'send', c: string, d: unknown }
  | { t: 'end', c: string }
  /** Stop routing new requests to this worker; answered `drained`. */
  | { t: 'drain' }

/** Encodes a message (throws what `v8.serialize` throws: a function, a symbol…). */
export function encodeMessage (msg: ToWorker | ToGateway): Buffer {
  return serialize(msg)
}

/** Decodes a message; undefined when the bytes are not one (the link is then closed). */
export function decodeMessage<T extends ToWorker | ToGateway> (body: Buffer): T | undefined {
  try {
    const msg = deserialize(body) as unknown
    if (typeof msg !== 'object' || msg === null || typeof (msg as { t?: unknown }).t !== 'string') return undefined
    return msg as T
  } catch {
    return undefined
  }
}
