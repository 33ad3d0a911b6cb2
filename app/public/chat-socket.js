// A small reconnecting WebSocket client for the JSON envelope of DESIGN.md: requests
// {id, path, data} → replies {id, data} | {id, error}; pushes carry no id. It stands in for the
// client SDK (sd-framework/client) until that lands; the page uses only call/onStatus/onPush/onOpen.

/** Backoff after a close: 0.5 s doubling to at most 10 s, each wait drawn in [d/2, d) (jitter). */
export const BACKOFF = { firstMs: 500, maxMs: 10_000 }

/** The error a call gets when the socket is not open, or closes before its reply. */
export const DISCONNECTED = 'CLIENT_DISCONNECTED'

/** Wait before attempt `n` (0-based): jittered so that clients of a restarted server do not return all at once. */
export function backoffMs (n, random = Math.random) {
  const d = Math.min(BACKOFF.maxMs, BACKOFF.firstMs * 2 ** n)
  return Math.round(d / 2 + random() * d / 2)
}

export class ChatSocket {
  #url
  #ws
  #waiting = new Map()
  #nextId = 1
  #attempt = 0
  #timer
  #handlers = { status: [], push: [], open: [] }

  /** Status: 'connecting' | 'connected' | 'waiting' (a reconnect is scheduled; `retryAt` says when). */
  status = 'connecting'
  retryAt = 0

  constructor (url) {
    this.#url = url
    // a browser that comes back online retries at once instead of waiting out the backoff
    addEventListener('online', () => { if (this.status === 'waiting') this.retryNow() })
    this.#open()
  }

  /** `status` (state, info), `push` (data of a push), `open` (after each connect; may be async). */
  on (event, fn) { this.#handlers[event].push(fn) }

  /** Sends a request; resolves with its data, rejects with its error ({code, message}). */
  call (path, data) {
    if (this.status !== 'connected') return Promise.reject(disconnected())
    const id = this.#nextId++
    this.#ws.send(JSON.stringify({ id, path, data }))
    return new Promise((resolve, reject) => this.#waiting.set(id, { resolve, reject }))
  }

  /** Skips the rest of the current backoff wait. */
  retryNow () {
    clearTimeout(this.#timer)
    this.#open()
  }

  #setStatus (status, info) {
    this.status = status
    for (const fn of this.#handlers.status) fn(status, info)
  }

  #open () {
    this.#setStatus('connecting', { attempt: this.#attempt })
    const ws = new WebSocket(this.#url)
    this.#ws = ws
    ws.onopen = () => {
      this.#setStatus('connected')
      for (const fn of this.#handlers.open) fn()
    }
    ws.onmessage = (e) => this.#receive(e.data)
    ws.onclose = (e) => this.#closed(ws, e.code)
  }

  #receive (text) {
    let msg
    try { msg = JSON.parse(text) } catch { return }
    // a reply on this connection shows the server works: the next close starts the backoff afresh
    this.#attempt = 0
    const pending = msg.id !== undefined && this.#waiting.get(msg.id)
    if (pending) {
      this.#waiting.delete(msg.id)
      return msg.error ? pending.reject(msg.error) : pending.resolve(msg.data)
    }
    for (const fn of this.#handlers.push) fn(msg.data, msg.error)
  }

  #closed (ws, code) {
    if (ws !== this.#ws) return
    for (const { reject } of this.#waiting.values()) reject(disconnected())
    this.#waiting.clear()
    const waitMs = backoffMs(this.#attempt++)
    this.retryAt = Date.now() + waitMs
    this.#timer = setTimeout(() => this.#open(), waitMs)
    this.#setStatus('waiting', { code, waitMs })
  }
}

function disconnected () {
  return { code: DISCONNECTED, message: 'not connected to the server' }
}
