/**
 * The connecting side of a cluster link (a server linking to a dispatch server, over TCP or a
 * unix socket on the same machine): connects, authenticates, and when the link is lost reconnects with capped exponential backoff,
 * authenticating again on every new connection.
 */
import { EventEmitter } from 'node:events'
import { connect, isIP, type Socket } from 'node:net'
import { connect as connectTls } from 'node:tls'
import type { LinkTlsClient } from '../transport/tls.js'
import type { Logger } from 'pino'
import { connectHandshake, type LinkHandshakeError, type LinkRole } from './link-auth.js'
import type { AckEntry, DataMessage } from './link-frames.js'
import { Link, type LinkOptions, type PeerInfo, type WrittenCallback } from './link.js'

/** Lifecycle of a link client; `waiting` is the backoff pause before the next attempt. */
export type LinkClientStatus = 'idle' | 'connecting' | 'handshaking' | 'ready' | 'waiting' | 'closed'

/** Options of `LinkClient`. */
export interface LinkClientOptions extends LinkOptions {
  /** Dispatch server host (not used with `path`). */
  host: string
  /** Dispatch server link port (not used with `path`). @default 9991 */
  port?: number
  /** Unix socket of a dispatch server on this machine: when set, the link goes through it, not host:port. @default none */
  path?: string
  /** This node's name. */
  name: string
  /** This node's role. @default 'server' */
  role?: LinkRole
  /** Role the peer must have. @default 'dispatch' */
  expectRole?: LinkRole
  /** The cluster secret (see `clusterSecret()`). */
  secret: Buffer
  /** Time allowed to connect. @default 2000 */
  connectTimeoutMs?: number
  /** Time allowed for the handshake. @default 2000 */
  handshakeTimeoutMs?: number
  /** First wait before reconnecting; doubles per failed attempt. @default 100 */
  reconnectMinMs?: number
  /** Longest wait between attempts. @default 2000 */
  reconnectMaxMs?: number
  /** Logs each status change at debug. @default none */
  log?: Logger
  /** Link over TLS (host:port only; a unix socket stays plain), the peer checked with `ca`. @default plain */
  tls?: LinkTlsClient
}

/** Events of a link client. */
export interface LinkClientEvents {
  status: [status: LinkClientStatus]
  /** Authenticated (again): the link can carry DATA. */
  ready: [peer: PeerInfo, link: Link]
  data: [msg: DataMessage, body: Buffer]
  ack: [entries: AckEntry[]]
  /** A MSG frame's body (gateway ↔ worker links). */
  msg: [body: Buffer]
  /** A ready link was lost (a reconnect follows unless closed). */
  down: [reason: string]
  /** The dispatcher refused the handshake (wrong secret…); the client keeps retrying with backoff. */
  denied: [reason: string]
  drain: []
}

/** A link to one dispatch server that stays up by itself. */
export class LinkClient extends EventEmitter<LinkClientEvents> {
  readonly #options: LinkClientOptions
  #status: LinkClientStatus = 'idle'
  #link: Link | undefined
  #socket: Socket | undefined
  #timer: NodeJS.Timeout | undefined
  #failures = 0
  /** Attempts to connect so far (for status pages and tests). */
  connects = 0
  /** Why the last attempt or link failed. */
  lastError: string | undefined

  constructor (options: LinkClientOptions) {
    super()
    this.#options = options
  }

  get status (): LinkClientStatus { return this.#status }
  /** The ready link, if any. */
  get link (): Link | undefined { return this.#status === 'ready' ? this.#link : undefined }
  get peer (): PeerInfo | undefined { return this.link?.peer }
  /** Where it links to: `host:port`, or `unix:<path>`. */
  get address (): string {
    const o = this.#options
    return o.path !== undefined ? `unix:${o.path}` : `${o.host}:${o.port ?? 9991}`
  }

  #setStatus (status: LinkClientStatus): void {
    if (this.#status === status) return
    this.#status = status
    this.#options.log?.debug({ status, dispatcher: this.address }, 'link client status')
    this.emit('status', status)
  }

  /** Starts connecting (and keeps the link up until `close()`). */
  start (): void {
    if (this.#status === 'closed') throw new Error('link client is closed')
    if (this.#socket === undefined && this.#timer === undefined) this.#connect()
  }

  /** Sends a DATA message; false when the link is not ready or is full. */
  send (msg: DataMessage, onWritten?: WrittenCallback): boolean {
    return this.link?.send(msg, onWritten) ?? false
  }

  #connect (): void {
    this.#timer = undefined
    if (this.#status === 'closed') return
    const o = this.#options
    this.connects++
    this.#setStatus('connecting')
    const secure = o.tls !== undefined && o.path === undefined
    const socket: Socket = o.path !== undefined
      ? connect({ path: o.path })
      : o.tls !== undefined
        ? connectTls({ host: o.host, port: o.port ?? 9991, ...o.tls, servername: isIP(o.host) === 0 ? o.host : undefined })
        : connect({ host: o.host, port: o.port ?? 9991 })
    this.#socket = socket
    let failed = false
    const fail = (why: string): void => {
      if (failed) return
      failed = true
      this.lastError = why
      if (this.#socket === socket) this.#socket = undefined
      socket.destroy()
      this.#retry()
    }
    socket.setTimeout(o.connectTimeoutMs ?? 2000, () => fail('connect timeout'))
    socket.once('error', (err) => fail(err.message))
    // over TLS the link starts once the handshake is done (a bad certificate is an 'error')
    socket.once(secure ? 'secureConnect' : 'connect', () => {
      socket.setTimeout(0)
      socket.removeAllListeners('error')
      const link = new Link(socket, o)
      this.#link = link
      link.on('close', (reason) => {
        const wasReady = this.#status === 'ready' && this.#link === link
        if (this.#link === link) this.#link = undefined
        if (wasReady) this.emit('down', reason)
        fail(reason)
      })
      this.#setStatus('handshaking')
      // frames that follow WELCOME in the same read arrive before the handshake's promise
      // settles: listen from the start and hold them until 'ready' has been emitted
      // (the link emits frames only once authenticated, so this holds one read's worth at most)
      let early: Array<() => void> | undefined = []
      link.on('data', (msg, body) => { if (early) early.push(() => this.emit('data', msg, body)); else this.emit('data', msg, body) })
      link.on('ack', (entries) => { if (early) early.push(() => this.emit('ack', entries)); else this.emit('ack', entries) })
      link.on('msg', (body) => { if (early) early.push(() => this.emit('msg', body)); else this.emit('msg', body) })
      connectHandshake(link, { secret: o.secret, name: o.name, role: o.role ?? 'server', expectRole: o.expectRole, timeoutMs: o.handshakeTimeoutMs }).then((peer) => {
        if (this.#status === 'closed') return
        this.#failures = 0
        link.on('drain', () => this.emit('drain'))
        this.#setStatus('ready')
        this.emit('ready', peer, link)
        const held = early ?? []
        early = undefined
        for (const fn of held) fn()
      }, (err: LinkHandshakeError) => {
        this.lastError = err.message
        if (err.reason === 'denied') this.emit('denied', err.message)
      })
    })
  }

  /** Schedules the next attempt: min × 2^failures, capped, with jitter (50–100 %). */
  #retry (): void {
    if (this.#status === 'closed') return
    const min = this.#options.reconnectMinMs ?? 100
    const max = this.#options.reconnectMaxMs ?? 2000
    const delay = Math.min(max, min * 2 ** Math.min(this.#failures, 20)) * (0.5 + Math.random() / 2)
    this.#failures++
    this.#setStatus('waiting')
    this.#timer = setTimeout(() => this.#connect(), delay)
    this.#timer.unref()
  }

  /** Stops reconnecting and closes the link (flushing what is queued). */
  async close (): Promise<void> {
    if (this.#status === 'closed') return
    this.#setStatus('closed')
    clearTimeout(this.#timer)
    this.#timer = undefined
    const link = this.#link
    const socket = this.#socket
    this.#link = undefined
    this.#socket = undefined
    if (link) await link.close('client closed')
    else socket?.destroy()
  }
}
