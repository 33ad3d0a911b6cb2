/**
 * Every error the HTTP port answers, fastify's own included, in SD's shape:
 * `{"error":{"code":"SD_ERR_…","message":…}}`. Also the JSON body parser, which refuses what
 * the socket transports refuse (invalid UTF-8, nesting deeper than `MAX_NESTING_DEPTH`) with
 * `SD_ERR_BAD_MESSAGE` instead of accepting replacement characters or overflowing later.
 */
import { isUtf8 } from 'node:buffer'
import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import { isPublicError, SdError, type ErrorBody } from '../core/errors.js'
import { sendHttpError } from './http-sink.js'
import { jsonTooDeep, MAX_NESTING_DEPTH } from './packs.js'

/** Maps an error fastify raised (body parsing, limits, bad URLs) to an SD error. */
export function fromFastifyError (err: FastifyError): SdError | undefined {
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new SdError('SD_ERR_BODY_TOO_LARGE', err.message)
  if (err.code?.startsWith('FST_ERR_CTP_') || (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500)) {
    return new SdError('SD_ERR_BAD_MESSAGE', err.message)
  }
  return undefined
}

/** Sends `err` in SD's shape: public errors as they are, fastify's mapped, anything else logged and `SD_ERR_INTERNAL`. */
export function replyHttpError (log: Logger, err: unknown, reply: FastifyReply): void {
  let status: number
  let body: ErrorBody
  if (isPublicError(err)) {
    status = err.status
    body = err.toJSON()
  } else {
    const fst = err as FastifyError
    const mapped = fromFastifyError(fst)
    if (mapped === undefined) log.error({ err }, 'http error')
    const sd = mapped ?? new SdError('SD_ERR_INTERNAL')
    // fastify's status is the more precise one (415 media type, 431 …)
    status = mapped !== undefined ? (fst.statusCode ?? sd.status) : sd.status
    body = sd.toJSON()
  }
  sendHttpError(reply, body, status)
}

/** Installs SD's error shape on every path fastify answers by itself, and the JSON body parser. */
export function installHttpErrors (app: FastifyInstance, log: Logger): void {
  const onError = (err: unknown, _request: FastifyRequest, reply: FastifyReply): void => replyHttpError(log, err, reply)
  app.setErrorHandler(onError)
  // methods the catch-all route does not take (e.g. TRACE) reach the not-found handler
  app.setNotFoundHandler((request, reply) => {
    const q = request.url.indexOf('?')
    replyHttpError(log, new SdError('SD_ERR_ROUTE_NOT_FOUND', `${request.method} ${q === -1 ? request.url : request.url.slice(0, q)}`), reply)
  })
  const jsonParse = app.getDefaultJsonParser('error', 'error')
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const buf = body as Buffer
    if (!isUtf8(buf)) return done(new SdError('SD_ERR_BAD_MESSAGE', 'body is not valid UTF-8'), undefined)
    const text = buf.toString('utf8')
    if (jsonTooDeep(text)) return done(new SdError('SD_ERR_BAD_MESSAGE', `body nested deeper than ${MAX_NESTING_DEPTH} levels`), undefined)
    jsonParse(request, text, done)
  })
}

/**
 * Fastify option `frameworkErrors`: bad URLs (e.g. the overlong UTF-8 `%C0%AF`) and the like,
 * which never reach a route or the error handler.
 */
export function frameworkErrors (log: Logger): (err: FastifyError, request: FastifyRequest, reply: FastifyReply) => void {
  return (err, _request, reply) => replyHttpError(log, err, reply)
}

/** Fastify option `clientErrorHandler`: requests node's HTTP parser rejected (malformed, headers too large). */
export function clientErrorHandler (err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed || !socket.writable) return
  // a response already under way on this socket: a raw error would land inside it (node does the same)
  if ((socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true) {
    socket.destroy()
    return
  }
  const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400
  const detail = status === 408 ? 'request not received in time' : status === 431 ? 'request headers too large' : 'malformed HTTP request'
  const body = JSON.stringify({ error: new SdError('SD_ERR_BAD_MESSAGE', detail).toJSON() })
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
  // the parser has failed, so no timeout applies any more: close once written, whatever the client does
  socket.destroySoon()
}
