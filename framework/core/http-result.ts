/**
 * How an HTTP action's outcome becomes a response: the request's data (query merged with the
 * body), the result (JSON, a view's HTML, or a string/buffer with the content type the action
 * set) and errors (`{error: {code, message}}` with the code's status, never a stack).
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import { isPublicError, SdError, type ErrorBody } from './errors.js'
import { Html } from './html.js'

/** The error body a client may see for any thrown value. */
export function errorBody (err: unknown): { status: number, body: ErrorBody } {
  if (isPublicError(err)) return { status: err.status, body: err.toJSON() }
  const internal = new SdError('SD_ERR_INTERNAL')
  return { status: internal.status, body: internal.toJSON() }
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

/** Sends an error as `{error: {code, message}}` with its HTTP status. */
export function sendHttpError (reply: FastifyReply, err: unknown): void {
  if (reply.sent) return
  const { status, body } = errorBody(err)
  void reply.code(status).header('content-type', 'application/json; charset=utf-8').send(JSON.stringify({ error: body }))
}
