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
 *
 * A socket message of a built-in transport (tcp, text, ws) travels raw instead: a small binary
 * header and the client's payload bytes as they came (first byte 0x01); the worker decodes
 * them with the port's codec and answers with the client's reply bytes, encoded by that codec
 * (0x02): the gateway decodes and encodes nothing on that path.
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
  /** The port's pack (`json`, `msgpack`, `text`): a raw request's payload is in it, and so is its reply. */
  pk?: string
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
  /** A socket message as its client's payload bytes (`x`: a WebSocket text frame, UTF-8 already checked). */
  | RawRequest

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
  /** The result of a raw request. */
  | RawResult

/** A socket message relayed as bytes (binary, first byte `RAW_REQUEST`). */
export interface RawRequest { t: 'raw', r: number, conn: ConnInfo, x: boolean, b: Buffer }
/** The result of a raw request: the client's reply bytes (`b`, absent: no reply), the session JSON when changed (`s`). */
export interface RawResult { t: 'out', r: number, s?: string, b?: Buffer }

/**
 * Largest message either end sends: the links' frame limit (the receiver of a larger frame cuts
 * the link, and every request in flight on it with it). A result over it is refused in the worker.
 */
export const MAX_MESSAGE_BYTES = 8 * 1024 * 1024

/** `{`: the first byte of a JSON body. */
const JSON_START = 0x7b

/** First bytes of the binary messages. */
const RAW_REQUEST = 0x01
const RAW_RESULT = 0x02
/** Flags of a raw message's second byte. */
const F_TEXT = 1
const F_UID = 2
const F_SESSION = 4
const F_BYTES = 8
/** Type byte, flags, 6-byte request number. */
const RAW_HEAD = 8

/** The part of a raw request that is the same for every message of a connection: id, transport, address. */
export function rawConnHead (c: string, tr: string, a: string, pk: string): Buffer {
  const parts = [c, tr, a, pk].map((v) => Buffer.from(v, 'utf8'))
  const out = Buffer.allocUnsafe(parts.reduce((n, b) => n + 2 + b.length, 0))
  let off = 0
  for (const b of parts) {
    off = out.writeUInt16BE(b.length, off)
    off += b.copy(out, off)
  }
  return out
}

/** Encodes a raw request: `head` from `rawConnHead`, the uid, the session as JSON (when non-empty), the payload. */
export function encodeRawRequest (r: number, head: Buffer, uid: string | undefined, session: string | undefined, isText: boolean, payload: Buffer): Buffer {
  const lu = uid === undefined ? 0 : 2 + Buffer.byteLength(uid)
  const ls = session === undefined ? 0 : 4 + Buffer.byteLength(session)
  const out = Buffer.allocUnsafe(RAW_HEAD + head.length + lu + ls + payload.length)
  out[0] = RAW_REQUEST
  out[1] = (isText ? F_TEXT : 0) | (uid === undefined ? 0 : F_UID) | (session === undefined ? 0 : F_SESSION)
  out.writeUIntBE(r, 2, 6)
  let off = RAW_HEAD + head.copy(out, RAW_HEAD)
  if (uid !== undefined) {
    off = out.writeUInt16BE(lu - 2, off)
    off += out.write(uid, off)
  }
  if (session !== undefined) {
    off = out.writeUInt32BE(ls - 4, off)
    off += out.write(session, off)
  }
  payload.copy(out, off)
  return out
}

/** Encodes a raw result: the session JSON when changed, the reply bytes (undefined: no reply). */
export function encodeRawResult (r: number, session: string | undefined, bytes: string | Buffer | undefined): Buffer {
  const ls = session === undefined ? 0 : 4 + Buffer.byteLength(session)
  const lb = bytes === undefined ? 0 : typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.length
  const out = Buffer.allocUnsafe(RAW_HEAD + ls + lb)
  out[0] = RAW_RESULT
  out[1] = (session === undefined ? 0 : F_SESSION) | (bytes === undefined ? 0 : F_BYTES)
  out.writeUIntBE(r, 2, 6)
  let off = RAW_HEAD
  if (session !== undefined) {
    off = out.writeUInt32BE(ls - 4, off)
    off += out.write(session, off)
  }
  if (typeof bytes === 'string') out.write(bytes, off)
  else if (bytes !== undefined) bytes.copy(out, off)
  return out
}

/** Reads a length-prefixed string (`n`: 2 or 4 bytes of length) at `at.off`, moving it on. */
function readString (body: Buffer, at: { off: number }, n: 2 | 4): string {
  const len = n === 2 ? body.readUInt16BE(at.off) : body.readUInt32BE(at.off)
  const start = at.off + n
  if (start + len > body.length) throw new RangeError('truncated')
  at.off = start + len
  return body.toString('utf8', start, start + len)
}

/** A connection's head as decoded once: id, transport, address, pack. */
interface ConnHead { c: string, tr: string, a: string, pk: string }

/**
 * Decoded heads by a hash of their bytes, each with a copy of the bytes to check against, so
 * the four strings of a connection's head are decoded once rather than on every request (the
 * hash and the check are plain JS loops over ~40 bytes: no native call, no allocation). One per
 * link; emptied when it reaches `HEAD_CACHE_MAX` entries (connections come and go); a hash
 * collision just replaces the entry.
 */
export type HeadCache = Map<number, { bytes: Buffer, head: ConnHead }>
const HEAD_CACHE_MAX = 4096

/** Reads the connection head at `at.off` (through the cache when given), moving it on. */
function readHead (body: Buffer, at: { off: number }, cache: HeadCache | undefined): ConnHead {
  if (cache === undefined) return { c: readString(body, at, 2), tr: readString(body, at, 2), a: readString(body, at, 2), pk: readString(body, at, 2) }
  const start = at.off
  let end = start
  for (let i = 0; i < 4; i++) {
    if (end + 2 > body.length) throw new RangeError('truncated')
    end += 2 + ((body[end] << 8) | body[end + 1])
  }
  if (end > body.length) throw new RangeError('truncated')
  // FNV-1a
  let hash = 0x811c9dc5
  for (let i = start; i < end; i++) hash = Math.imul(hash ^ body[i], 0x01000193)
  const hit = cache.get(hash)
  if (hit !== undefined && hit.bytes.length === end - start) {
    const bytes = hit.bytes
    let i = 0
    while (i < bytes.length && bytes[i] === body[start + i]) i++
    if (i === bytes.length) { at.off = end; return hit.head }
  }
  const head = { c: readString(body, at, 2), tr: readString(body, at, 2), a: readString(body, at, 2), pk: readString(body, at, 2) }
  if (cache.size >= HEAD_CACHE_MAX) cache.clear()
  cache.set(hash, { bytes: Buffer.from(body.subarray(start, end)), head })
  return head
}

/** Decodes a raw request or result (throws on truncated bytes); `cache`: see `HeadCache`. */
function decodeRaw (body: Buffer, cache?: HeadCache): RawRequest | RawResult {
  if (body.length < RAW_HEAD) throw new RangeError('truncated')
  const flags = body[1]
  const r = body.readUIntBE(2, 6)
  const at = { off: RAW_HEAD }
  if (body[0] === RAW_RESULT) {
    const out: RawResult = { t: 'out', r }
    if ((flags & F_SESSION) !== 0) out.s = readString(body, at, 4)
    if ((flags & F_BYTES) !== 0) out.b = body.subarray(at.off)
    return out
  }
  const h = readHead(body, at, cache)
  const conn: ConnInfo = { c: h.c, tr: h.tr, a: h.a, pk: h.pk }
  if ((flags & F_UID) !== 0) conn.u = readString(body, at, 2)
  if ((flags & F_SESSION) !== 0) conn.s = JSON.parse(readString(body, at, 4)) as Record<string, unknown>
  return { t: 'raw', r, conn, x: (flags & F_TEXT) !== 0, b: body.subarray(at.off) }
}

/** Encodes a message, as JSON with `json` (throws what `v8.serialize` or `JSON.stringify` throws: a function, a BigInt…). */
export function encodeMessage (msg: ToWorker | ToGateway, json = false): Buffer {
  return json ? Buffer.from(JSON.stringify(msg), 'utf8') : serialize(msg)
}

/** Decodes a message; undefined when the bytes are not one (the link is then closed). `cache`: a link's `HeadCache`. */
export function decodeMessage<T extends ToWorker | ToGateway> (body: Buffer, cache?: HeadCache): T | undefined {
  try {
    if (body.length === 0) return undefined
    const first = body[0]
    if (first === RAW_REQUEST || first === RAW_RESULT) return decodeRaw(body, cache) as T
    const msg = (first === JSON_START ? JSON.parse(body.toString('utf8')) : deserialize(body)) as unknown
    if (typeof msg !== 'object' || msg === null || typeof (msg as { t?: unknown }).t !== 'string') return undefined
    return msg as T
  } catch {
    return undefined
  }
}
