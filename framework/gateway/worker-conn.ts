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
import type { ErrorBody } from '../core/errors.js'
import { HttpReply, type HttpExchange, type HttpRequest } from '../core/http-exchange.js'
import { Html } from '../core/html.js'
import type { ReplySink, RequestId } from '../core/pipeline.js'
import type { SessionData } from '../core/session.js'
import { encodeMessage, encodeRawResult, type ConnInfo, type Outcome, type ToGateway } from './protocol.js'
import type { WorkerLink } from './worker-link.js'

/** A result as a sink sends it: the outcome, or an encoding error thrown to the pipeline. */
function outcomeOf (value: unknown): Outcome {
  return value instanceof Html ? { k: 'ok', v: value.html, html: true } : { k: 'ok', v: value }
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

  push (data: unknown): boolean {
    return this.gateway.send({ t: 'send', c: this.id, d: data })
  }

  close (): void {
    this.gateway.send({ t: 'end', c: this.id })
  }

  /** No-op: the gateway holds the client's reading (`server.maxPendingPerConnection`). */
  hold (): void { /* the gateway counts and holds */ }
  release (): void { /* the gateway counts and releases */ }

  reply (id: RequestId | null, value: unknown): void {
    // the codec throws what the port's codec would (the pipeline answers SD_ERR_INTERNAL)
    if (this.#codec !== undefined) this.#rawResult(this.#codec.reply(id, value))
    else this.#result(outcomeOf(value))
  }

  replyError (id: RequestId | undefined | null, body: ErrorBody, status: number): void {
    if (this.#codec !== undefined) this.#rawResult(this.#codec.error(id, body))
    else this.#result({ k: 'err', e: body, st: status })
  }

  done (): void {
    if (this.#answered) return
    if (this.#codec !== undefined) this.#rawResult(undefined)
    else this.#result({ k: 'none' })
  }

  /** Sends a raw request's one result: the client's bytes (undefined: no reply). */
  #rawResult (bytes: string | Buffer | undefined): void {
    if (this.#answered || this.#r === undefined) return
    const body = encodeRawResult(this.#r, this.#changedJson(), bytes)
    this.#answered = true
    if (this.gateway.inflight > 0) this.gateway.inflight--
    this.gateway.sendEncoded(body)
  }

  /** Encodes and sends the one result (throws, sending nothing, when the value cannot be encoded). */
  #result (o: Outcome): void {
    if (this.#answered || this.#r === undefined) return
    const s = this.changedSession()
    const msg: ToGateway = s === undefined ? { t: 'res', r: this.#r, o } : { t: 'res', r: this.#r, o, s }
    const body = encodeMessage(msg, this.#json)
    this.#answered = true
    if (this.gateway.inflight > 0) this.gateway.inflight--
    this.gateway.sendEncoded(body)
  }
}

/** One HTTP request on a worker: the controller's exchange and its sink. */
export class WorkerExchange implements HttpExchange, ReplySink {
  readonly request: HttpRequest
  readonly #gateway: WorkerLink
  readonly #r: number
  #response: HttpReply | undefined
  #session: SessionData | undefined
  #answered = false

  constructor (gateway: WorkerLink, r: number, request: HttpRequest) {
    this.#gateway = gateway
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
    const body = encodeMessage(h === undefined ? { t: 'res', r: this.#r, o } : { t: 'res', r: this.#r, o, h })
    this.#answered = true
    if (this.#gateway.inflight > 0) this.#gateway.inflight--
    this.#gateway.sendEncoded(body)
  }
}
