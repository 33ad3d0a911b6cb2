/**
 * What a gateway owes each request it forwards, and how an answer reaches the client: a
 * worker's result (a value, an error, or the client's bytes of a raw request, written as they
 * are), or the gateway's own error (`SD_ERR_NO_WORKER`, `SD_ERR_WORKER_LOST`…), which for a raw
 * request reads the message id from the kept payload only then.
 */
import type { FastifyReply } from 'fastify'
import type { Logger } from 'pino'
import type { Connection } from '../connection/connection.js'
import { adoptSession } from '../connection/auth-sweep.js'
import { SdError } from '../core/errors.js'
import { HttpReply } from '../core/http-exchange.js'
import { Html } from '../core/html.js'
import { applyHttpReply, sendHttpError, sendHttpResult } from '../transport/http-sink.js'
import type { InboundMessage } from '../transport/packs.js'
import { payloadId } from '../transport/receive.js'
import { encodeRawRequest, MAX_MESSAGE_BYTES, rawConnHead, type ConnInfo, type RawResult, type ToGateway, type ToWorker } from './protocol.js'
import type { WorkerPeer } from './worker-peer.js'

/** A request the gateway owes an answer. */
export interface PendingRequest {
  readonly r: number
  /** Undefined for a raw request. */
  readonly msg: (ToWorker & { t: 'msg' | 'http' }) | undefined
  readonly conn: Connection | undefined
  /** For a raw request: read from `raw` only when the gateway itself must answer. */
  readonly id: InboundMessage['id']
  /** A raw request's client payload (framing.ts hands out buffers it does not reuse). */
  readonly raw: Buffer | undefined
  readonly isText: boolean
  readonly http: FastifyReply | undefined
  worker: WorkerPeer | undefined
  /** While waiting for a worker. */
  timer: NodeJS.Timeout | undefined
}

/** A raw request's message, with the connection's uid and session as they are now (`heads`: each connection's constant part, made once). */
export function rawRequest (heads: WeakMap<Connection, Buffer>, req: PendingRequest): Buffer {
    const conn = req.conn as Connection
    let head = heads.get(conn)
    if (head === undefined) {
      head = rawConnHead(conn.id, conn.transport, conn.remoteAddress, conn.codec.pack)
      heads.set(conn, head)
    }
    const s = conn.session
    const body = encodeRawRequest(req.r, head, conn.uid, hasKeys(s) ? JSON.stringify(s) : undefined, req.isText, req.raw as Buffer)
    // the receiver would cut the link (and every request on it) for a larger frame
    if (body.length > MAX_MESSAGE_BYTES) throw new RangeError(`a request of ${body.length} bytes is over the link's ${MAX_MESSAGE_BYTES} byte limit`)
    return body
}

/** Answers a request with the gateway's own error. */
export function deliverError (req: PendingRequest, err: SdError): void {
  if (req.http) sendHttpError(req.http, err.toJSON(), err.status)
  else if (req.conn) req.conn.replyError(req.raw === undefined ? req.id : payloadId(req.conn, req.raw, req.isText), err.toJSON())
}

/** A worker's result of a message or an HTTP request. */
export function deliverResult (req: PendingRequest, res: ToGateway & { t: 'res' }, log: Logger): void {
    const o = res.o
    if (req.http) {
      const reply = req.http
      try {
        if (res.h !== undefined && applyHttpReply(new HttpReply(res.h), reply)) return
        if (o.k === 'ok') sendHttpResult(reply, o.html ? new Html(o.v as string) : o.v)
        else if (o.k === 'err') sendHttpError(reply, o.e, o.st)
        else sendHttpResult(reply, undefined)
      } catch (err) {
        // v8 carried what JSON cannot encode (a BigInt…): the client gets what direct mode sends
        log.error({ err }, 'gateway: an HTTP result could not be sent')
        const internal = new SdError('SD_ERR_INTERNAL')
        sendHttpError(reply, internal.toJSON(), internal.status)
      }
      return
    }
    const conn = req.conn
    if (conn === undefined) return
    if (res.s !== undefined) adoptSession(conn, res.s)
    if (o.k === 'ok') {
      try {
        conn.reply(req.id ?? null, o.html ? new Html(o.v as string) : o.v)
      } catch (err) {
        log.error({ err, connectionId: conn.id }, 'gateway: a result could not be encoded')
        conn.replyError(req.id, new SdError('SD_ERR_INTERNAL').toJSON())
      }
    } else if (o.k === 'err') {
      conn.replyError(req.id, o.e)
    }
}

/** The result of a raw request: the worker's bytes go to the client as they are. */
export function deliverRaw (req: PendingRequest, res: RawResult): void {
    const conn = req.conn
    if (conn === undefined) return
    if (res.s !== undefined) adoptSession(conn, JSON.parse(res.s) as Record<string, unknown>)
    // a text port frames strings faster (line framing joins them)
    if (res.b !== undefined) conn.send(conn.codec.pack === 'text' ? res.b.toString('utf8') : res.b)
}

/** True when `o` has a key (without making the array `Object.keys` makes). */
export function hasKeys (o: object): boolean {
  for (const k in o) if (Object.hasOwn(o, k)) return true
  return false
}

/** A connection as the protocol carries it (the session only when it has keys). */
export function connInfo (conn: Connection): ConnInfo {
  const info: ConnInfo = { c: conn.id, tr: conn.transport, a: conn.remoteAddress }
  if (conn.uid !== undefined) info.u = conn.uid
  const s = conn.session
  if (Object.keys(s).length > 0) info.s = s
  return info
}
