/**
 * What the pipeline runs on a business worker: per request, a small connection (a socket
 * message's) or exchange (an HTTP request's) that is also its reply sink. Each sends exactly
 * one result to its gateway: the reply, the error, or "done, no reply" (`ReplySink.done`).
 * `this.send` and `this.close()` go to the gateway on the same ordered link, so they arrive
 * before the result. The session travels with each message; when the action changed it (a
 * JSON snapshot taken on first access differs at the end), the result carries it back and the
 * gateway stores it: between concurrent requests of one connection the last result wins. On a
 * JSON or text connection the result (session included) travels as JSON: session values are
 * plain data (a Date comes back as its ISO string, as the client would see it). A raw request
 * (one with the port's codec) is answered with the client's bytes, encoded here by that codec,
 * and the session as JSON.
 */
import type { Codec } from '../connection/codec.js'
import type { TransportName } from '../core/contract.js'
import { SdError, type ErrorBody } from '../core/errors.js'
import { HttpReply, type HttpExchange, type HttpRequest } from '../core/http-exchange.js'
import { Html } from '../core/html.js'
import type { ReplySink, RequestId } from '../core/pipeline.js'
import type { SessionData } from '../core/session.js'
import { encodeMessage, encodeRawResult, MAX_MESSAGE_BYTES, type ConnInfo, type Outcome, type ToGateway } from './protocol.js'
import type { WorkerLink } from './worker-link.js'

/** A result as a sink sends it: the outcome, or an encoding error thrown to the pipeline. */
function outcomeOf (value: unknown): Outcome {
  return value instanceof Html ? { k: 'ok', v: value.html, html: true } : { k: 'ok', v: value }
}

/**
 * Encodes a result. A value that cannot be encoded (v8 refuses a function) or is over the
 * link's frame limit throws (the pipeline answers the request `SD_ERR_INTERNAL` instead, through
 * `replyError`); an error or "no reply" that cannot go (its session's or reply settings' fault)
 * becomes a bare `SD_ERR_INTERNAL`, so the one answer always goes and nothing throws out of the
 * pipeline's error path.
 */
function encodeResult (msg: ToGateway & { t: 'res' }, json: boolean): Buffer {
  let body: Buffer | undefined
  try {
    body = encodeMessage(msg, json)
  } catch (err) {
    if (msg.o.k === 'ok') throw err
  }
  if (body !== undefined && body.length <= MAX_MESSAGE_BYTES) return body
  if (msg.o.k === 'ok') throw new Error(`a result of ${body?.length ?? 0} bytes is over the gateway link's ${MAX_MESSAGE_BYTES} byte limit`)
  const internal = new SdError('SD_ERR_INTERNAL')
  return encodeMessage({ t: 'res', r: msg.r, o: { k: 'err', e: internal.toJSON(), st: internal.status } }, json)
}

/** A session's snapshot, to tell at the end whether the action changed it. */
function snapshot (session: SessionData): string {
  try { return JSON.stringify(session) } catch { return '' }
}

/** The connection of one request (or one connection event) on a worker. */
export class WorkerConnection implements ReplySink {
  readonly id: string
  readonly transport: TransportName
  readonly remoteAddress: string
  /** Set by a bind or unbind made through this request. */
  uid: string | undefined
  pending = 0
  /** The gateway that holds the connection. */
  readonly gateway: WorkerLink
  /** The link session the request came on (see worker-link.ts). */
  readonly epoch: number
  /** Request number; undefined for a connection event. */
  readonly #r: number | undefined
  readonly #session: SessionData
  #snapshot: string | undefined
  #answered = false

  /** Answer in JSON (the request came as JSON). */
  readonly #json: boolean
  /** A raw request's codec: replies are encoded here, to the client's bytes. */
  readonly #codec: Codec | undefined

  constructor (gateway: WorkerLink, info: ConnInfo, r?: number, json = false, codec?: Codec) {
    this.gateway = gateway
    this.epoch = gateway.epoch
    this.#json = json
    this.#codec = codec
    this.id = info.c
    this.transport = info.tr as TransportName
    this.remoteAddress = info.a
    this.uid = info.u
    this.#session = info.s ?? {}
    this.#r = r
  }

  get session (): SessionData {
    this.#snapshot ??= snapshot(this.#session)
    return this.#session
  }

  /** The session as it came, without taking the snapshot `session` takes (a read-only look). */
  peekSession (): SessionData {
    return this.#session
  }

  /** The session when the action changed it, else undefined. */
  changedSession (): SessionData | undefined {
    if (this.#snapshot === undefined) return undefined
    return snapshot(this.#session) === this.#snapshot ? undefined : this.#session
  }

  /** The session's JSON when the action changed it (and it can be JSON), else undefined. */
  #changedJson (): string | undefined {
    if (this.#snapshot === undefined) return undefined
    const now = snapshot(this.#session)
    return now === this.#snapshot || now === '' ? undefined : now
  }

  /** The session when it changed since the last call (a connection event's, sent once its sync part and again once it settled). */
  sessionUpdate (): SessionData | undefined {
    const s = this.changedSession()
    if (s !== undefined) this.#snapshot = snapshot(s)
    return s
  }

  /** On a JSON or text connection the push travels as JSON: what JSON cannot encode throws here, in the action, as in direct mode. */
  push (data: unknown): boolean {
    return this.gateway.sendEncoded(encodeMessage({ t: 'send', c: this.id, d: data }, this.#json), this.epoch)
  }

  close (): void {
    this.gateway.sendEncoded(encodeMessage({ t: 'end', c: this.id }), this.epoch)
  }

  /** No-op: the gateway holds the client's reading (`server.maxPendingPerConnection`). */
  hold (): void { /* the gateway counts and holds */ }
  release (): void { /* the gateway counts and releases */ }

  reply (id: RequestId | null, value: unknown): void {
    // the codec throws what the port's codec would (the pipeline answers SD_ERR_INTERNAL)
    if (this.#codec !== undefined) this.#rawResult(this.#codec, id, this.#codec.reply(id, value), true)
    else this.#result(outcomeOf(value))
  }

  replyError (id: RequestId | undefined | null, body: ErrorBody, status: number): void {
    if (this.#codec !== undefined) this.#rawResult(this.#codec, id, this.#codec.error(id, body), false)
    else this.#result({ k: 'err', e: body, st: status })
  }

  done (): void {
    if (this.#answered) return
    if (this.#codec !== undefined) this.#rawResult(this.#codec, undefined, undefined, false)
    else this.#result({ k: 'none' })
  }

  /**
   * Sends a raw request's one result: the client's bytes (undefined: no reply). A reply over the
   * link's limit throws (the pipeline answers `SD_ERR_INTERNAL`); an error or "no reply" over it
   * (a huge session's fault) goes as a bare `SD_ERR_INTERNAL`, so the one answer always goes.
   */
  #rawResult (codec: Codec, id: RequestId | undefined | null, bytes: string | Buffer | undefined, isReply: boolean): void {
    if (this.#answered || this.#r === undefined) return
    let body = encodeRawResult(this.#r, this.#changedJson(), bytes)
    if (body.length > MAX_MESSAGE_BYTES) {
      if (isReply) throw new Error(`a result of ${body.length} bytes is over the gateway link's ${MAX_MESSAGE_BYTES} byte limit`)
      body = encodeRawResult(this.#r, undefined, codec.error(id, new SdError('SD_ERR_INTERNAL').toJSON()))
    }
    this.#answered = true
    this.gateway.finish(body, this.epoch)
  }

  /** Encodes and sends the one result (throws, sending nothing, when the value cannot be encoded or is over the link's limit). */
  #result (o: Outcome): void {
    if (this.#answered || this.#r === undefined) return
    const s = this.changedSession()
    const msg: ToGateway & { t: 'res' } = s === undefined ? { t: 'res', r: this.#r, o } : { t: 'res', r: this.#r, o, s }
    const body = encodeResult(msg, this.#json)
    this.#answered = true
    this.gateway.finish(body, this.epoch)
  }
}

/** One HTTP request on a worker: the controller's exchange and its sink. */
export class WorkerExchange implements HttpExchange, ReplySink {
  readonly request: HttpRequest
  readonly #gateway: WorkerLink
  readonly #epoch: number
  readonly #r: number
  #response: HttpReply | undefined
  #session: SessionData | undefined
  #answered = false

  constructor (gateway: WorkerLink, r: number, request: HttpRequest) {
    this.#gateway = gateway
    this.#epoch = gateway.epoch
    this.#r = r
    this.request = request
  }

  get response (): HttpReply {
    this.#response ??= new HttpReply()
    return this.#response
  }

  /** A fresh session per request (as in direct mode). */
  get session (): SessionData {
    this.#session ??= {}
    return this.#session
  }

  reply (_id: RequestId | null, value: unknown): void {
    this.#result(outcomeOf(value))
  }

  replyError (_id: RequestId | undefined | null, body: ErrorBody, status: number): void {
    this.#result({ k: 'err', e: body, st: status })
  }

  done (): void {
    if (!this.#answered) this.#result({ k: 'none' })
  }

  #result (o: Outcome): void {
    if (this.#answered) return
    const h = this.#response?.toJSON()
    const body = encodeResult(h === undefined ? { t: 'res', r: this.#r, o } : { t: 'res', r: this.#r, o, h }, false)
    this.#answered = true
    this.#gateway.finish(body, this.#epoch)
  }
}
