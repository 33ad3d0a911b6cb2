/**
 * The SdClient: one logical connection over links that reconnect. Every (re)connect: open the
 * link → `/sd/hello` → (reconnects only) `onReconnect` → `/sd/recover` of known streams →
 * 'open' → queued calls flushed. Between attempts it waits (jittered backoff); the wait is
 * visible (`retryAt`, the status event's RetryInfo) and can be cut short (`retryNow()`, a
 * browser's `online` event).
 */
import { Backoff } from './backoff.js'
import { packOf, type Pack } from './pack.js'
import { CallQueue, type QueuedCall } from './queue.js'
import { Streams } from './streams.js'
import type { Link, LinkFactory } from './link.js'
import {
  SD_ERR_CLIENT_CLOSED, SD_ERR_CLIENT_DISCONNECTED, SD_ERR_CLIENT_QUEUE_FULL, SD_ERR_CLIENT_TIMEOUT,
  SdClientError, type CallOptions, type ClientOptions, type PushMetaInfo, type RetryInfo, type SdClientEvents, type SdClientStatus,
} from './types.js'
import { ACK_PATH, HELLO_PATH, PING_PATH, RECOVER_PATH, type HelloReply, type PushEnvelope, type RecoverReply, type StreamPosition } from './wire.js'

interface Pending { resolve (value: unknown): void, reject (err: Error): void }

type Listeners = { [E in keyof SdClientEvents]: Set<SdClientEvents[E]> }

/** What the client uses of a browser's global (window, worker): `online` events. */
interface OnlineTarget {
  addEventListener (type: 'online', listener: () => void): void
  removeEventListener (type: 'online', listener: () => void): void
}

/**
 * A connection to an SD server that reconnects until `close()`; made by `connect()`. In Node it
 * keeps the process alive until `close()`, also while it waits to reconnect (its socket or its
 * retry timer): a CLI whose server went away keeps trying instead of exiting.
 */
export class SdClient {
  readonly url: string
  #status: SdClientStatus = 'connecting'
  readonly #links: LinkFactory
  readonly #pack: Pack
  readonly #timeoutMs: number
  readonly #maxFrameBytes: number
  readonly #tls: ClientOptions['tls']
  readonly #recover: boolean
  readonly #onReconnect: ClientOptions['onReconnect']
  readonly #backoff: Backoff
  readonly #queue: CallQueue
  readonly #streams: Streams
  readonly #pending = new Map<number, Pending>()
  readonly #listeners: Listeners = { push: new Set(), status: new Set(), gap: new Set(), error: new Set() }
  #link: Link | undefined
  #nextId = 0
  #opened = false
  #retry: ReturnType<typeof setTimeout> | undefined
  #retryAt = 0
  /** Attempts since the last open (or since the start). */
  #attempt = 0
  #hello: HelloReply | undefined
  readonly #heartbeatMs: number
  /** When the client last sent a frame (the heartbeat sends only after a quiet `heartbeatMs`). */
  #sentAt = 0
  #heartbeat: ReturnType<typeof setInterval> | undefined
  /** Removes the `online` listener (browsers only). */
  #offOnline: (() => void) | undefined

  constructor (url: string, options: ClientOptions, links: LinkFactory) {
    this.url = url
    this.#links = links
    this.#pack = packOf(options.pack ?? 'json')
    this.#timeoutMs = options.timeoutMs ?? 10000
    this.#maxFrameBytes = options.maxFrameBytes ?? 16 * 1024 * 1024
    this.#tls = options.tls
    this.#recover = options.recover ?? true
    this.#heartbeatMs = options.heartbeatMs ?? 25000
    this.#onReconnect = options.onReconnect
    this.#backoff = new Backoff(options.backoff?.firstMs, options.backoff?.maxMs)
    this.#queue = new CallQueue(options.maxQueue ?? 1000)
    this.#streams = new Streams({
      deliver: (data, meta) => this.#deliver(data, meta),
      ack: (ack) => this.#sendAck(ack),
      recover: (streams) => this.#direct(RECOVER_PATH, { streams }, this.#timeoutMs) as Promise<RecoverReply>,
      gap: (info) => { for (const l of this.#listeners.gap) l(info) },
      error: (err) => this.#emitError(err),
    })
    const target = globalThis as Partial<OnlineTarget>
    const { addEventListener: add, removeEventListener: remove } = target
    if (typeof add === 'function' && typeof remove === 'function') {
      // a browser back online retries at once instead of waiting out the backoff
      const onOnline = (): void => { this.retryNow() }
      add.call(target, 'online', onOnline)
      this.#offOnline = () => remove.call(target, 'online', onOnline)
    }
    queueMicrotask(() => { void this.#connect() })
  }

  /** Current status. */
  get status (): SdClientStatus { return this.#status }

  /** When the next connect attempt starts (ms since the epoch); 0 when the client is not waiting for one. */
  get retryAt (): number { return this.#retryAt }

  /** Ends the wait before the next connect attempt and starts it now; false when the client was not waiting. */
  retryNow (): boolean {
    if (this.#retry === undefined || this.#isClosed()) return false
    clearTimeout(this.#retry)
    this.#retry = undefined
    this.#retryAt = 0
    void this.#connect()
    return true
  }

  /** The last `/sd/hello` reply (undefined before the first open). */
  get hello (): HelloReply | undefined { return this.#hello }

  /** Positions of the streams the client follows. */
  get positions (): Record<string, StreamPosition> { return this.#streams.positions() }

  /** Calls `path` with `data`; resolves to the reply's data. Waits in the queue while not open. */
  call (path: string, data?: unknown, options: CallOptions = {}): Promise<unknown> {
    if (this.#isClosed()) return Promise.reject(new SdClientError(SD_ERR_CLIENT_CLOSED, 'client is closed'))
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs
    if (this.#status === 'open') return this.#direct(path, data, timeoutMs)
    return new Promise((resolve, reject) => {
      const item: QueuedCall = {
        path, data, resolve, reject,
        deadline: Date.now() + timeoutMs,
        timer: setTimeout(() => {
          if (this.#queue.delete(item)) reject(new SdClientError(SD_ERR_CLIENT_TIMEOUT, `${path}: no reply within ${timeoutMs} ms (not connected)`))
        }, timeoutMs),
      }
      if (!this.#queue.add(item)) {
        clearTimeout(item.timer)
        reject(new SdClientError(SD_ERR_CLIENT_QUEUE_FULL, `${path}: ${this.#queue.size} calls already wait for the connection`))
      }
    })
  }

  /** Adds a listener. */
  on<E extends keyof SdClientEvents> (event: E, listener: SdClientEvents[E]): this {
    (this.#listeners[event] as Set<SdClientEvents[E]>).add(listener)
    return this
  }

  /** Removes a listener. */
  off<E extends keyof SdClientEvents> (event: E, listener: SdClientEvents[E]): this {
    (this.#listeners[event] as Set<SdClientEvents[E]>).delete(listener)
    return this
  }

  /** Closes for good: calls in flight and queued fail with SD_ERR_CLIENT_CLOSED; lets Node exit. */
  close (): void {
    if (this.#isClosed()) return
    this.#setStatus('closed')
    clearTimeout(this.#retry)
    this.#retry = undefined
    this.#retryAt = 0
    this.#offOnline?.()
    const err = new SdClientError(SD_ERR_CLIENT_CLOSED, 'client is closed')
    for (const q of this.#queue.drain()) { clearTimeout(q.timer); q.reject(err) }
    this.#failPending(err)
    const link = this.#link
    this.#link = undefined
    this.#stopHeartbeat()
    link?.close()
  }

  #isClosed (): boolean { return this.#status === 'closed' }

  /** Emits a change of status, and every wait (`retry`) even when the status stays. */
  #setStatus (status: SdClientStatus, retry?: RetryInfo): void {
    if (this.#status === status && retry === undefined) return
    this.#status = status
    for (const l of this.#listeners.status) l(status, retry)
  }

  #emitError (err: Error): void {
    for (const l of this.#listeners.error) l(err)
  }

  /** Sends a request now (the link must be up); rejects with DISCONNECTED when it drops. */
  #direct (path: string, data: unknown, timeoutMs: number): Promise<unknown> {
    const link = this.#link
    if (link === undefined) return Promise.reject(new SdClientError(SD_ERR_CLIENT_DISCONNECTED, `${path}: not connected`))
    const id = ++this.#nextId
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.#pending.delete(id)) reject(new SdClientError(SD_ERR_CLIENT_TIMEOUT, `${path}: no reply within ${timeoutMs} ms`))
      }, timeoutMs)
      this.#pending.set(id, {
        resolve: (v) => { clearTimeout(timer); resolve(v) },
        reject: (e) => { clearTimeout(timer); reject(e) },
      })
      try {
        this.#send(link, this.#pack.encode(data === undefined ? { id, path } : { id, path, data }))
      } catch (err) {
        this.#pending.delete(id)
        clearTimeout(timer)
        reject(err instanceof Error ? err : new Error(String(err)))
      }
    })
  }

  #failPending (err: Error): void {
    const all = [...this.#pending.values()]
    this.#pending.clear()
    for (const p of all) p.reject(err)
  }

  async #connect (): Promise<void> {
    if (this.#isClosed()) return
    this.#setStatus(this.#opened ? 'reconnecting' : 'connecting')
    let link: Link | undefined
    try {
      link = await this.#links(this.url, {
        onFrame: (frame) => this.#onFrame(frame),
        onClose: (reason) => this.#onLinkClose(link, reason),
      }, { maxFrameBytes: this.#maxFrameBytes, tls: this.#tls })
      if (this.#isClosed()) { link.close(); return }
      this.#link = link
      this.#startHeartbeat(link)
      this.#hello = await this.#direct(HELLO_PATH, { v: 1 }, this.#timeoutMs).then(r => r as HelloReply, (err: unknown) => {
        // a server without the SDK paths: no recovery, calls and pushes still work
        if ((err as { code?: unknown }).code === 'SD_ERR_ROUTE_NOT_FOUND') return undefined
        throw err
      })
      if (this.#opened && this.#onReconnect !== undefined) {
        await this.#onReconnect({ call: (path, data, options) => this.#direct(path, data, options?.timeoutMs ?? this.#timeoutMs) })
      }
      if (this.#opened && this.#recover && this.#hello !== undefined) await this.#streams.recoverStreams()
    } catch (err) {
      if (this.#isClosed()) return
      this.#emitError(err instanceof Error ? err : new Error(String(err)))
      if (link !== undefined && this.#link === link) { this.#link = undefined; link.close() }
      this.#scheduleReconnect()
      return
    }
    if (this.#isClosed() || this.#link !== link) return
    this.#opened = true
    this.#attempt = 0
    this.#backoff.reset()
    this.#setStatus('open')
    const now = Date.now()
    for (const q of this.#queue.drain()) {
      clearTimeout(q.timer)
      this.#direct(q.path, q.data, Math.max(1, q.deadline - now)).then(q.resolve, q.reject)
    }
  }

  #scheduleReconnect (): void {
    if (this.#isClosed() || this.#retry !== undefined) return
    const waitMs = Math.round(this.#backoff.next())
    this.#retryAt = Date.now() + waitMs
    // not unref'd: a client waiting to reconnect keeps Node alive (see the class)
    this.#retry = setTimeout(() => { this.#retry = undefined; this.#retryAt = 0; void this.#connect() }, waitMs)
    this.#setStatus(this.#opened ? 'reconnecting' : 'connecting', { attempt: ++this.#attempt, waitMs, retryAt: this.#retryAt })
  }

  #onLinkClose (link: Link | undefined, reason: Error | undefined): void {
    if (link !== undefined && this.#link !== link) return
    this.#link = undefined
    this.#stopHeartbeat()
    this.#failPending(new SdClientError(SD_ERR_CLIENT_DISCONNECTED, `connection lost${reason ? `: ${reason.message}` : ''}`))
    if (reason !== undefined) this.#emitError(reason)
    this.#scheduleReconnect()
  }

  #onFrame (frame: string | Uint8Array): void {
    let msg: unknown
    try {
      msg = this.#pack.decode(frame)
    } catch (err) {
      this.#emitError(err instanceof Error ? err : new Error(String(err)))
      return
    }
    if (typeof msg !== 'object' || msg === null) return
    const m = msg as { id?: unknown, data?: unknown, error?: { code?: unknown, message?: unknown } }
    if (typeof m.id === 'number' || typeof m.id === 'string') {
      const p = this.#pending.get(Number(m.id))
      if (p === undefined) return
      this.#pending.delete(Number(m.id))
      if (m.error !== undefined && m.error !== null) p.reject(new SdClientError(String(m.error.code ?? 'SD_ERR_INTERNAL'), String(m.error.message ?? '')))
      else p.resolve(m.data)
      return
    }
    if (m.error !== undefined && m.error !== null) {
      this.#emitError(new SdClientError(String(m.error.code ?? 'SD_ERR_INTERNAL'), String(m.error.message ?? '')))
      return
    }
    this.#streams.onPush(msg as PushEnvelope)
  }

  async #deliver (data: unknown, meta: PushMetaInfo): Promise<void> {
    for (const l of this.#listeners.push) {
      try {
        await l(data, meta)
      } catch (err) {
        this.#emitError(err instanceof Error ? err : new Error(String(err)))
      }
    }
    if (meta.ack !== undefined) this.#sendAck(meta.ack)
  }

  #send (link: Link, frame: string | Uint8Array): void {
    this.#sentAt = Date.now()
    link.send(frame)
  }

  /** While a link is up: a ping after `heartbeatMs` without sending (checked every half period). */
  #startHeartbeat (link: Link): void {
    this.#stopHeartbeat()
    if (this.#heartbeatMs <= 0) return
    this.#sentAt = Date.now()
    this.#heartbeat = setInterval(() => {
      if (this.#link !== link) { this.#stopHeartbeat(); return }
      if (Date.now() - this.#sentAt < this.#heartbeatMs) return
      try { this.#send(link, this.#pack.encode({ path: PING_PATH })) } catch { /* the link is going away: its close reconnects */ }
    }, Math.max(10, Math.floor(this.#heartbeatMs / 2)))
    // the socket, not the heartbeat, decides whether the client keeps Node alive
    const t = this.#heartbeat as { unref?: () => void }
    t.unref?.()
  }

  #stopHeartbeat (): void {
    clearInterval(this.#heartbeat)
    this.#heartbeat = undefined
  }

  #sendAck (ack: string): void {
    try {
      if (this.#link !== undefined) this.#send(this.#link, this.#pack.encode({ path: ACK_PATH, data: { ack } }))
    } catch { /* the link is going away: this ack is lost (the push was delivered; recovery resumes after it) */ }
  }
}
