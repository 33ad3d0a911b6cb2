/**
 * The gateway ↔ worker protocol: the messages one MSG frame (cluster/link-frames.ts) carries
 * on an authenticated link. The link is ordered, so a worker's pushes and closes reach the
 * gateway before the result of the request that made them.
 *
 * Encoding: `v8.serialize` (structured clone, as the multi-core IPC: Buffers, Dates and Maps a
 * msgpack client sent arrive as they were), except on the echo path of JSON and text clients:
 * a message from such a connection, and the worker's result and pushes for it, are JSON (about 4.5× faster
 * to encode and decode than v8 for these small messages, measured), which changes nothing a
 * client sees since its reply is JSON-encoded anyway. A body starting with `{` is JSON (a v8
 * body starts with its version tag, 0xFF).
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
  /** The answer to `hello`: the gateway's node name, and whether it is a dispatch cluster node. */
  | { t: 'info', node: string, clustered: boolean }
  /** A socket message: request number, connection, message id (absent: no reply wanted), path, data; `j`: sent as JSON, answer in JSON. */
  | { t: 'msg', r: number, conn: ConnInfo, i?: RequestId | null, p: string, d: unknown, j?: 1 }
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
  /** First message after the handshake (the worker speaks first): which connection hooks it has; `draining`: it is stopping (a link made during its drain takes no request). */
  | { t: 'hello', onConnect: boolean, onClose: boolean, draining?: true }
  /** The one result of request `r`; `s`: the session when the action changed it; `h`: an HTTP reply's recorded state. */
  | { t: 'res', r: number, o: Outcome, s?: Record<string, unknown>, h?: HttpReplyState }
  /** A connection's `onConnect` hooks are over (`s`: the session when they changed it); the gateway then reads its messages. */
  | { t: 'sess', c: string, s?: Record<string, unknown> }
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

/**
 * Largest message either end sends: the links' frame limit (the receiver of a larger frame cuts
 * the link, and every request in flight on it with it). A result over it is refused in the worker.
 */
export const MAX_MESSAGE_BYTES = 8 * 1024 * 1024

/** `{`: the first byte of a JSON body. */
const JSON_START = 0x7b

/** Encodes a message, as JSON with `json` (throws what `v8.serialize` or `JSON.stringify` throws: a function, a BigInt…). */
export function encodeMessage (msg: ToWorker | ToGateway, json = false): Buffer {
  return json ? Buffer.from(JSON.stringify(msg), 'utf8') : serialize(msg)
}

/** Decodes a message; undefined when the bytes are not one (the link is then closed). */
export function decodeMessage<T extends ToWorker | ToGateway> (body: Buffer): T | undefined {
  try {
    const msg = (body.length > 0 && body[0] === JSON_START ? JSON.parse(body.toString('utf8')) : deserialize(body)) as unknown
    if (typeof msg !== 'object' || msg === null || typeof (msg as { t?: unknown }).t !== 'string') return undefined
    return msg as T
  } catch {
    return undefined
  }
}
