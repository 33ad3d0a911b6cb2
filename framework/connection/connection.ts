/**
 * A client connection as the bus and controllers see it, whatever its transport. Transports
 * subclass it once (socket, WebSocket) and supply the raw write/close.
 */
import type { TransportName } from '../core/contract.js'
import { SdError, type ErrorBody } from '../core/errors.js'
import type { Codec, MessageId, PushMeta } from './codec.js'
import { unlimitedBudget, type SendBudget } from './send-budget.js'
import { DISCARDED_TRAFFIC, type TransportTraffic } from './traffic.js'

/** Lifecycle of a connection. */
export type ConnectionStatus = 'open' | 'closing' | 'closed'

/**
 * A push about to go to many connections: encoded once per codec, then written as is to every
 * connection that shares that codec.
 */
export class Outgoing {
  #data: unknown
  /** The data as JSON text, when it arrived that way (from another server of a cluster). */
  readonly #json: string | undefined
  /** Stream, epoch, offset (and ack id) the push carries; `y`: a message without data (1 sync, 2 skip). */
  readonly meta: PushMeta | undefined
  #codec: Codec | undefined
  #bytes: string | Buffer | undefined
  #more: Map<Codec, string | Buffer> | undefined

  /** `json`: the data as JSON text instead (see `fromJson`); `data` is then ignored. `meta`: see `meta`. */
  constructor (data: unknown, json?: string, meta?: PushMeta) {
    this.#data = json === undefined ? data : undefined
    this.#json = json
    this.meta = meta
  }

  /**
   * A push whose data is already JSON text: a codec that can take JSON as it is (`pushJson`)
   * wraps it without parsing it; the others get the parsed value.
   */
  static fromJson (json: string): Outgoing {
    return new Outgoing(undefined, json)
  }

  #parsed = false

  get data (): unknown {
    if (this.#json !== undefined && !this.#parsed) {
      this.#data = JSON.parse(this.#json)
      this.#parsed = true
    }
    return this.#data
  }

  /**
   * Encodes for `codec`. Text becomes one Buffer here (except for `text` ports, whose line
   * framing joins strings): ws turns a string into a new Buffer on every send, so a push to N
   * WebSocket clients would otherwise hold N copies until each client reads it.
   */
  #encode (codec: Codec): string | Buffer {
    const meta = this.meta
    const bytes = this.#json !== undefined && codec.pushJson ? codec.pushJson(this.#json, meta) : codec.push(meta?.y !== undefined ? undefined : this.data, meta)
    return typeof bytes === 'string' && codec.pack !== 'text' ? Buffer.from(bytes) : bytes
  }

  /** Wire bytes of this push for `codec`, encoded on first use. */
  bytesFor (codec: Codec): string | Buffer {
    if (this.#codec === codec) return this.#bytes as string | Buffer
    if (this.#codec === undefined) {
      this.#codec = codec
      this.#bytes = this.#encode(codec)
      return this.#bytes
    }
    this.#more ??= new Map()
    let bytes = this.#more.get(codec)
    if (bytes === undefined) {
      bytes = this.#encode(codec)
      this.#more.set(codec, bytes)
    }
    return bytes
  }
}

/** How long a closing connection may take to flush before it is destroyed. */
const CLOSE_GRACE_MS = 2000

/** Errors that drop a connection at once, without a graceful close (it does not read, so it would never finish). */
export function dropsAtOnce (error: SdError | undefined): boolean {
  return error?.code === 'SD_ERR_SEND_BUFFER_FULL' || error?.code === 'SD_ERR_SLOW_READER'
}

/** Budget of connections not attached to an application: counts, never closes. */
const UNLIMITED = unlimitedBudget()

/** Called by a connection when it has closed (the transport's host unregisters it). */
export type CloseListener = (conn: Connection) => void

/** Limits a connection enforces on its output. */
export interface ConnectionLimits {
  /** Close when this many bytes wait to be sent. */
  maxSendBufferBytes: number
}

/** One client connection on a socket or WebSocket port. */
export abstract class Connection {
  /** Unique id on this node (`this.connectionId` in controllers). */
  readonly id: string
  readonly transport: TransportName
  readonly remoteAddress: string
  /** Uid bound with `bindUid`, if any. */
  uid: string | undefined = undefined
  /** Groups joined, created on first join. */
  groups: Set<string> | undefined = undefined
  /** Time of the last complete message (ms since epoch), for the idle check. */
  lastActiveMs: number
  /** When it opened (ms since epoch), for the auth timeout. */
  readonly openedAtMs: number
  /** Requests of this connection still running. */
  pending = 0
  /** Rate limit bucket (transport/rate-limit.ts): tokens left, as of `tokensAtMs` (0: never filled). */
  tokens = 0
  tokensAtMs = 0
  /** Messages refused by the rate limit since the bucket was last full. */
  rejected = 0
  /** Task calls made for this connection's requests and not settled (task/pool.ts). */
  taskCalls = 0
  status: ConnectionStatus = 'open'
  /** Where its messages and bytes are counted (transport/receive.ts counts input here too). */
  traffic: TransportTraffic = DISCARDED_TRAFFIC
  /** Why the server closed it (undefined: closed by the client, or without a reason). */
  closeError: SdError | undefined = undefined
  readonly codec: Codec
  protected readonly limits: ConnectionLimits
  #session: Record<string, unknown> | undefined
  #onClose: CloseListener
  #holds = 0
  #graceTimer: NodeJS.Timeout | undefined
  #closedWaiters: Array<() => void> | undefined
  #budget: SendBudget = UNLIMITED
  /** Bytes this connection adds to its budget's total (its unsent bytes, exact after `recount`). */
  #counted = 0

  /**
   * Bytes the transport adds around each message (length header, line ending, WebSocket frame
   * header), counted with it so the budget's running total stays an upper bound of what is unsent.
   */
  readonly #frameOverhead: number

  constructor (id: string, transport: TransportName, remoteAddress: string, codec: Codec, limits: ConnectionLimits, onClose: CloseListener, frameOverhead = 0) {
    this.#frameOverhead = frameOverhead
    this.id = id
    this.transport = transport
    this.remoteAddress = remoteAddress
    this.codec = codec
    this.limits = limits
    this.lastActiveMs = this.openedAtMs = Date.now()
    this.#onClose = onClose
  }

  /** The session if one was made, without making one. */
  peekSession (): Record<string, unknown> | undefined {
    return this.#session
  }

  /** Per-connection data kept while it lives (GatewayWorker's `$_SESSION`). */
  get session (): Record<string, unknown> {
    this.#session ??= {}
    return this.#session
  }

  set session (value: Record<string, unknown>) {
    this.#session = value
  }

  /** Writes wire bytes; implemented by the transport. */
  protected abstract write (bytes: string | Buffer): void
  /** Bytes accepted by `write` but not yet handed to the OS. */
  abstract get bufferedBytes (): number
  /** Stops reading input (backpressure). */
  abstract pauseReading (): void
  /** Resumes reading input. */
  abstract resumeReading (): void
  /** Ends the underlying socket; with `notify`, `error` is sent to the client first. */
  protected abstract end (error: SdError | undefined, notify: boolean): void
  /** Tears the socket down at once (a closing client that does not finish in time). */
  protected abstract destroy (): void

  /** Stops reading until every `hold` has its `release` (pending requests, write backpressure). */
  hold (): void {
    if (this.#holds++ === 0) this.pauseReading()
  }

  release (): void {
    if (this.#holds > 0 && --this.#holds === 0 && this.status === 'open') this.resumeReading()
  }

  /** True while some `hold` has no `release`: transports dispatch nothing more until then. */
  get held (): boolean {
    return this.#holds > 0
  }

  /**
   * A cheap upper bound of `bufferedBytes` (transports may return a cached value); the exact
   * value is read only when this passes the limit.
   */
  protected get bufferedBytesHint (): number {
    return this.bufferedBytes
  }

  /** Counts this connection's output in `budget` (the application's, once it registers the connection). */
  useBudget (budget: SendBudget): void {
    this.#budget.total -= this.#counted
    budget.total += this.#counted
    this.#budget = budget
  }

  /** Counts this connection (open now, its messages, its close) in `traffic`. */
  useTraffic (traffic: TransportTraffic): void {
    this.traffic = traffic
    if (this.status !== 'closed') traffic.opened++
  }

  /** Sets what this connection counts in its budget to its exact unsent bytes (0 once not open); returns it. */
  recount (): number {
    const bytes = this.status === 'open' ? this.bufferedBytes : 0
    this.#budget.total += bytes - this.#counted
    this.#counted = bytes
    return bytes
  }

  /** Sends wire bytes unless the client has stopped reading, in which case it is closed. */
  send (bytes: string | Buffer): boolean {
    if (this.status !== 'open') return false
    const max = this.limits.maxSendBufferBytes
    if (this.bufferedBytesHint > max && this.bufferedBytes > max) {
      this.close(new SdError('SD_ERR_SEND_BUFFER_FULL', this.bufferedBytes), false)
      return false
    }
    const budget = this.#budget
    const n = bytes.length + this.#frameOverhead
    const traffic = this.traffic
    traffic.messagesOut++
    traffic.bytesOut += n
    this.#counted += n
    if ((budget.total += n) > budget.checkAt) budget.check()
    this.write(bytes)
    return true
  }

  /**
   * Pushes data (no id) to this client; with `meta`, the stream position it carries (a sync
   * meta sends the position without data, and nothing at all to a text client).
   */
  push (data: unknown, meta?: PushMeta): boolean {
    if (meta === undefined) return this.send(this.codec.push(data))
    if (meta.y !== undefined && this.codec.pack === 'text') return false
    return this.send(this.codec.push(data, meta))
  }

  /** Pushes a prepared broadcast (a sync or skip message: nothing to a text client). */
  pushOutgoing (out: Outgoing): boolean {
    if (out.meta?.y !== undefined && this.codec.pack === 'text') return false
    return this.send(out.bytesFor(this.codec))
  }

  /** Replies to request `id`. */
  reply (id: MessageId | null, data: unknown): void {
    this.send(this.codec.reply(id, data))
  }

  /** Sends an error, with the request id when there is one. */
  replyError (id: MessageId | undefined | null, body: ErrorBody): void {
    this.send(this.codec.error(id, body))
  }

  /**
   * Closes the connection. With `error`, the client is told why first (an error push on
   * socket ports, the close reason on WebSocket) when `notify` is true.
   */
  close (error?: SdError, notify = true): void {
    if (this.status !== 'open') return
    this.status = 'closing'
    this.closeError = error
    this.#graceTimer = setTimeout(() => this.destroy(), CLOSE_GRACE_MS).unref()
    this.end(error, notify)
  }

  /** Closes (telling the client why) and resolves once the socket is gone, at most the grace period later. */
  shutdown (error: SdError): Promise<void> {
    if (this.status === 'closed') return Promise.resolve()
    const done = new Promise<void>((resolve) => (this.#closedWaiters ??= []).push(resolve))
    this.close(error)
    return done
  }

  /** Called by the transport once the socket is gone; runs exactly once. */
  closed (): void {
    if (this.status === 'closed') return
    this.status = 'closed'
    this.traffic.closed++
    clearTimeout(this.#graceTimer)
    this.#budget.total -= this.#counted
    this.#counted = 0
    this.#onClose(this)
    if (this.#closedWaiters) for (const resolve of this.#closedWaiters.splice(0)) resolve()
  }
}
