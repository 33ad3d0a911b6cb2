/**
 * The HTTP side of the dispatch pipeline: one `HttpSink` per request is the controller's view
 * of it (`this.request`, `this.reply`, `this.session`, as plain data) and the pipeline's reply
 * sink, which applies what the action recorded on `this.reply` to fastify's reply and sends the
 * result (JSON, a view's HTML, or a string/buffer with the content type the action set) or the
 * error (`{error: {code, message}}` with its status, never a stack).
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ErrorBody } from '../core/errors.js'
import { HttpReply, type HttpExchange, type HttpRequest } from '../core/http-exchange.js'
import type { ReplySink, RequestId } from '../core/pipeline.js'
import type { SessionData } from '../core/session.js'
import { Html } from '../core/html.js'

/** The path of a request URL, without its query string. */
export function httpPath (url: string): string {
  const q = url.indexOf('?')
  return q === -1 ? url : url.slice(0, q)
}

/** Data of an HTTP request: the query merged with a JSON object body. */
export function httpData (request: FastifyRequest): unknown {
  const body = request.body
  if (request.url.indexOf('?') === -1) return body ?? {}
  const query = request.query as Record<string, unknown>
  if (body === undefined || body === null) return query
  if (typeof body === 'object' && !Array.isArray(body)) return { ...query, ...body }
  return body
}

/** `this.request`: fastify's request as plain data (own copies, so it survives the request). */
export function toHttpRequest (request: FastifyRequest): HttpRequest {
  const out: { -readonly [K in keyof HttpRequest]: HttpRequest[K] } = {
    method: request.method,
    url: request.url,
    query: { ...(request.query as HttpRequest['query']) },
    headers: { ...(request.headers as HttpRequest['headers']) },
    cookies: { ...(request.cookies as HttpRequest['cookies'] | undefined) },
    ip: request.ip,
  }
  if (request.body !== undefined) out.body = request.body
  return out
}

/** Sends an action's result over HTTP. */
export function sendHttpResult (reply: FastifyReply, value: unknown): void {
  if (reply.sent) return
  if (value instanceof Html) {
    if (!reply.hasHeader('content-type')) void reply.header('content-type', 'text/html; charset=utf-8')
    void reply.send(value.html)
    return
  }
  if (reply.hasHeader('content-type') && (typeof value === 'string' || Buffer.isBuffer(value))) {
    void reply.send(value)
    return
  }
  void reply.header('content-type', 'application/json; charset=utf-8').send(JSON.stringify(value === undefined ? null : value))
}

/** Sends an error body as `{error: {code, message}}` with its HTTP status. */
export function sendHttpError (reply: FastifyReply, body: ErrorBody, status: number): void {
  if (reply.sent) return
  void reply.code(status).header('content-type', 'application/json; charset=utf-8').send(JSON.stringify({ error: body }))
}

/**
 * Applies what an action recorded on `this.reply` to fastify's reply; true when that sent the
 * response (a redirect), so the result or error is not sent.
 */
export function applyHttpReply (recorded: HttpReply, reply: FastifyReply): boolean {
  const state = recorded.toJSON()
  if (state.statusCode !== undefined) void reply.code(state.statusCode)
  for (const name in state.headers) void reply.header(name, state.headers[name])
  for (const c of state.cookies) {
    const { expires, ...rest } = c.options ?? {}
    const opts = c.options === undefined ? undefined : expires === undefined ? rest : { ...rest, expires: new Date(expires) }
    if (c.clear) void reply.clearCookie(c.name, opts)
    else void reply.setCookie(c.name, c.value, opts)
  }
  if (state.redirect === undefined) return false
  void reply.redirect(state.redirect.url, state.redirect.code)
  return true
}

/** One HTTP request in the pipeline: what its controller sees, and where its answer goes. */
export class HttpSink implements HttpExchange, ReplySink {
  readonly #request: FastifyRequest
  readonly #reply: FastifyReply
  #sdRequest: HttpRequest | undefined
  #response: HttpReply | undefined
  #session: SessionData | undefined

  constructor (request: FastifyRequest, reply: FastifyReply) {
    this.#request = request
    this.#reply = reply
  }

  get request (): HttpRequest {
    this.#sdRequest ??= toHttpRequest(this.#request)
    return this.#sdRequest
  }

  get response (): HttpReply {
    this.#response ??= new HttpReply()
    return this.#response
  }

  /** A fresh session per request. */
  get session (): SessionData {
    this.#session ??= {}
    return this.#session
  }

  reply (_id: RequestId | null, value: unknown): void {
    if (this.#applied()) return
    sendHttpResult(this.#reply, value)
  }

  replyError (_id: RequestId | undefined | null, body: ErrorBody, status: number): void {
    if (this.#applied()) return
    sendHttpError(this.#reply, body, status)
  }

  /** Applies the recorded reply settings, if any; true when the response is already sent. */
  #applied (): boolean {
    const recorded = this.#response
    if (recorded === undefined || this.#reply.sent) return false
    this.#response = undefined
    return applyHttpReply(recorded, this.#reply)
  }
}
