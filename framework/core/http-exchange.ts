/**
 * What an HTTP action sees of its request and response: `this.request` is plain data (method,
 * url, query, body, headers, cookies, ip) and `this.reply` records the status, headers,
 * cookies and redirect the action asks for. Both are plain data (JSON round-trips them), so a
 * request can be run by a controller in another process and its reply settings sent back; the
 * HTTP transport builds the request from fastify's and applies the recorded reply to fastify's
 * when it sends the result (transport/http-sink.ts).
 */
import type { SessionHolder } from './session.js'

/** An HTTP request as a controller reads it (`this.request`). */
export interface HttpRequest {
  /** `GET`, `POST`, … */
  readonly method: string
  /** Path and query string as sent (`/chat/history?room=a`). */
  readonly url: string
  /** Query string values: strings, arrays for repeated keys. */
  readonly query: Record<string, string | string[]>
  /** Parsed body: JSON, or a form as an object (absent when the request has none). */
  readonly body?: unknown
  /** Headers by lower-case name. */
  readonly headers: Record<string, string | string[]>
  /** Cookies sent by the client. */
  readonly cookies: Record<string, string>
  /** The client's address. */
  readonly ip: string
}

/** A header value as a reply records it. */
export type HeaderValue = string | number | string[]

/** Options of `setCookie` and `clearCookie` (those of the `cookie` package). */
export interface CookieOptions {
  path?: string
  domain?: string
  /** Seconds. */
  maxAge?: number
  /** A date, or ms since the epoch (kept as ms, so the reply stays plain data). */
  expires?: Date | number
  httpOnly?: boolean
  /** `'auto'`: secure when the request came over https. */
  secure?: boolean | 'auto'
  sameSite?: boolean | 'lax' | 'strict' | 'none'
  priority?: 'low' | 'medium' | 'high'
  partitioned?: boolean
}

/** A cookie the reply sets, or clears (`clear: true`), in call order. */
export interface CookieChange {
  name: string
  value: string
  clear?: true
  /** The options given, without undefined ones; `expires` in ms since the epoch. */
  options?: Omit<CookieOptions, 'expires'> & { expires?: number }
}

/** Everything a reply recorded: plain data. */
export interface HttpReplyState {
  /** Set by `code()`; absent: 200 (or the error's status when the action fails). */
  statusCode?: number
  /** Headers by lower-case name. */
  headers: Record<string, HeaderValue>
  cookies: CookieChange[]
  /** Set by `redirect()`: the response is then the redirect, whatever the action returns. */
  redirect?: { url: string, code?: number }
}

/** What a controller has of an HTTP request: the request, the reply settings and the session. */
export interface HttpExchange extends SessionHolder {
  /** `this.request`, built on first use. */
  readonly request: HttpRequest
  /** `this.reply`, made on first use. */
  readonly response: HttpReply
}

function cookieOptions (options: CookieOptions | undefined): CookieChange['options'] {
  if (options === undefined) return undefined
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue
    out[key] = value instanceof Date ? value.getTime() : value
  }
  return out as CookieChange['options']
}

function checkStatus (statusCode: number): number {
  if (!(Number.isInteger(statusCode) && statusCode >= 100 && statusCode <= 599)) throw new RangeError(`invalid HTTP status ${statusCode}`)
  return statusCode
}

/**
 * `this.reply` of an HTTP action: the calls of fastify's reply that docs/http.md lists,
 * recorded (chainable, as fastify's are) and applied when the result is sent.
 */
export class HttpReply {
  readonly #state: HttpReplyState

  /** `state`: what another process's reply recorded (its `toJSON()`), else an empty reply. */
  constructor (state: HttpReplyState = { headers: {}, cookies: [] }) {
    this.#state = state
  }

  /** The status set with `code()`, 200 until then. */
  get statusCode (): number {
    return this.#state.statusCode ?? 200
  }

  /** Sets the status (100-599). */
  code (statusCode: number): this {
    this.#state.statusCode = checkStatus(statusCode)
    return this
  }

  /** Same as `code()`. */
  status (statusCode: number): this {
    return this.code(statusCode)
  }

  /** Sets a header (names are case-insensitive); `set-cookie` adds to the ones set before. */
  header (name: string, value: HeaderValue = ''): this {
    const key = name.toLowerCase()
    const headers = this.#state.headers
    const before = headers[key]
    if (key === 'set-cookie' && before !== undefined) {
      headers[key] = [...(Array.isArray(before) ? before : [String(before)]), ...(Array.isArray(value) ? value : [String(value)])]
    } else {
      headers[key] = Array.isArray(value) ? [...value] : value
    }
    return this
  }

  /** Sets several headers. */
  headers (values: Record<string, HeaderValue>): this {
    for (const [name, value] of Object.entries(values)) this.header(name, value)
    return this
  }

  getHeader (name: string): HeaderValue | undefined {
    return this.#state.headers[name.toLowerCase()]
  }

  hasHeader (name: string): boolean {
    return this.#state.headers[name.toLowerCase()] !== undefined
  }

  removeHeader (name: string): this {
    delete this.#state.headers[name.toLowerCase()]
    return this
  }

  /** Sets the content type: a string or Buffer result is then sent as it is. */
  type (contentType: string): this {
    this.#state.headers['content-type'] = contentType
    return this
  }

  /** Sets a cookie (sent as a `Set-Cookie` header). */
  setCookie (name: string, value: string, options?: CookieOptions): this {
    const opts = cookieOptions(options)
    this.#state.cookies.push(opts === undefined ? { name, value } : { name, value, options: opts })
    return this
  }

  /** Tells the client to delete a cookie (`path` and `domain` must match the ones it was set with). */
  clearCookie (name: string, options?: CookieOptions): this {
    const opts = cookieOptions(options)
    this.#state.cookies.push(opts === undefined ? { name, value: '', clear: true } : { name, value: '', clear: true, options: opts })
    return this
  }

  /** Answers with a redirect to `url` (status `code`, else the one set with `code()`, else 302); the return value is then ignored. */
  redirect (url: string, code?: number): this {
    this.#state.redirect = code === undefined ? { url } : { url, code: checkStatus(code) }
    return this
  }

  /** What was recorded, as plain data (`new HttpReply(state)` makes the reply again). */
  toJSON (): HttpReplyState {
    return this.#state
  }
}
