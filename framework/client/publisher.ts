/**
 * A Node helper for back ends that push to users without running SD: `POST /sd/publish` on a
 * server's admin listener (docs/admin.md) with Node's global fetch. Errors are `SdClientError`
 * with the server's code (`SD_ERR_FORBIDDEN`, `SD_ERR_VALIDATION`, …), or the client's own
 * for a timeout or a failed request.
 */
import { SD_ERR_CLIENT_DISCONNECTED, SD_ERR_CLIENT_TIMEOUT, SdClientError } from './types.js'

/** Who a publish reaches: exactly one of the four. */
export type PublishTo =
  | { uid: string | number }
  | { uids: ReadonlyArray<string | number> }
  | { group: string }
  | { all: true }

/** Options of `createPublisher`. */
export interface PublisherOptions {
  /** The admin listener's address, e.g. `http://127.0.0.1:9990` (the server's `SD_ADMIN_PORT`); `/sd/publish` is added. */
  url: string
  /** The server's admin token (`SD_ADMIN_TOKEN`), sent as `Authorization: Bearer …` (surrounding whitespace trimmed; other characters than printable ASCII throw a TypeError); none for a loopback server without one. @default undefined */
  token?: string
  /** A publish with no answer after this long fails with `SD_ERR_CLIENT_TIMEOUT` (it may still have been delivered). @default 5000 */
  timeoutMs?: number
}

/** Options of one publish. */
export interface PublishOptions {
  /** Record it for recovery (the send option `recover`). @default the server's recovery config */
  recover?: boolean
}

/** Publishes through one server's admin listener. */
export interface Publisher {
  /** Pushes `data` (any JSON) to `to`, cluster-wide; resolves to the number of connections reached. */
  publish (to: PublishTo, data: unknown, options?: PublishOptions): Promise<number>
}

/** The error of a response that is not a publish's answer. */
async function responseError (res: Response): Promise<SdClientError> {
  const text = await res.text().catch(() => '')
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown, message?: unknown } }
    const e = body.error
    if (typeof e?.code === 'string') return new SdClientError(e.code, typeof e.message === 'string' ? e.message : e.code)
  } catch {}
  return new SdClientError(SD_ERR_CLIENT_DISCONNECTED, `HTTP ${res.status} without an SD error body from the admin listener`)
}

/** A publisher for the admin listener at `options.url`. */
export function createPublisher (options: PublisherOptions): Publisher {
  // a path prefix (a reverse proxy's) is kept: `…/admin` → `…/admin/sd/publish` (a query stays after it)
  const url = new URL(options.url)
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/sd/publish`
  const endpoint = url.href
  const timeoutMs = options.timeoutMs ?? 5000
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  // checked here: fetch's own error for a bad header value would show the token
  const token = options.token?.trim()
  if (token !== undefined && token !== '') {
    if (!/^[\x21-\x7e]+$/.test(token)) throw new TypeError('createPublisher: the token must be printable ASCII without spaces (an admin token\'s characters)')
    headers.authorization = `Bearer ${token}`
  }
  return {
    async publish (to, data, publishOptions = {}) {
      const body = JSON.stringify(publishOptions.recover === undefined ? { to, data } : { to, data, recover: publishOptions.recover })
      let res: Response
      try {
        res = await fetch(endpoint, { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs) })
      } catch (err) {
        const name = (err as Error | undefined)?.name
        if (name === 'TimeoutError' || name === 'AbortError') throw new SdClientError(SD_ERR_CLIENT_TIMEOUT, `no answer from ${endpoint} within ${timeoutMs} ms`)
        const cause = (err as { cause?: { code?: string, message?: string } }).cause
        throw new SdClientError(SD_ERR_CLIENT_DISCONNECTED, `publish to ${endpoint} failed: ${cause?.code ?? cause?.message ?? (err as Error).message}`)
      }
      if (!res.ok) throw await responseError(res)
      const answer = await res.json().catch(() => undefined) as { reached?: unknown } | undefined
      if (typeof answer?.reached !== 'number') throw new SdClientError(SD_ERR_CLIENT_DISCONNECTED, `the admin listener at ${endpoint} answered no reached count`)
      return answer.reached
    },
  }
}
