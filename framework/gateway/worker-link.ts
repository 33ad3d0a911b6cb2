/**
 * A worker's link to one gateway: a `LinkClient` (reconnects with capped backoff) in role
 * `worker`, the gateway's `info`, the bus calls waiting for their answer, and the drain
 * handshake. Calls still waiting when the link drops resolve to their fallback.
 *
 * A request belongs to the link session (`epoch`) it came on: once that link dropped, its
 * gateway has answered it `SD_ERR_WORKER_LOST`, so what the request still sends (its result,
 * pushes, closes, membership calls) is dropped rather than sent on the next session, where a
 * restarted gateway numbers its requests and connections from 1 again.
 */
import type { LinkTlsClient } from '../transport/tls.js'
import type { Logger } from 'pino'
import { LinkClient } from '../cluster/link-client.js'
import type { GatewayAddress } from './options.js'
import { decodeMessage, encodeMessage, MAX_MESSAGE_BYTES, type HeadCache, type ToGateway, type ToWorker } from './protocol.js'

/** Bus calls: the messages that get an answer. */
type Call = ToGateway & { t: 'push' | 'query' | 'member' }
/** `Omit` applied to each member of a union. */
type OmitEach<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never
/** A call before its number is given. */
export type CallBody = OmitEach<Call, 'k'>

/** Options of a `WorkerLink`. */
export interface WorkerLinkOptions {
  address: GatewayAddress
  /** This worker's node name. */
  name: string
  secret: Buffer
  /** Link over TLS (`cluster.tls`). @default plain */
  tls?: LinkTlsClient
  log: Logger
  /** The hooks it tells the gateway about in its hello. */
  hello: { onConnect: boolean, onClose: boolean }
  /** A request or connection event from the gateway. */
  onMessage: (link: WorkerLink, msg: ToWorker) => void
  /** The link became usable (the gateway answered the hello with its info). */
  onReady: (link: WorkerLink) => void
}

/** One worker → gateway link. */
export class WorkerLink {
  readonly address: GatewayAddress
  readonly #o: WorkerLinkOptions
  readonly #client: LinkClient
  readonly #calls = new Map<number, { resolve: (v: unknown) => void, fallback: unknown }>()
  /** Decoded connection heads of raw requests (protocol.ts). */
  readonly #heads: HeadCache = new Map()
  #seq = 0
  /** The gateway's node name and cluster membership, once its info arrived. */
  info: { node: string, clustered: boolean } | undefined
  /** Requests of this gateway running here. */
  inflight = 0
  /** Set by `drain()`: a reconnect (the gateway restarted, the link dropped) says so in its hello, so no new request comes. */
  draining = false
  #drained: (() => void) | undefined
  #epoch = 0

  constructor (options: WorkerLinkOptions) {
    this.#o = options
    this.address = options.address
    this.#client = new LinkClient({ host: options.address.host, port: options.address.port, name: options.name, role: 'worker', expectRole: 'gateway', secret: options.secret, log: options.log, maxFrameBytes: MAX_MESSAGE_BYTES, tls: options.tls })
    this.#client.on('msg', (body) => {
      const msg = decodeMessage<ToWorker>(body, this.#heads)
      if (msg === undefined) { this.#client.link?.destroy('protocol error: malformed gateway message'); return }
      this.#onMessage(msg)
    })
    // the worker speaks first: its hello can only reach the gateway after the gateway is
    // listening to the link, and the gateway's info after this side is (no frame is lost to
    // a listener attached a microtask too late)
    this.#client.on('ready', () => { this.send(this.draining ? { t: 'hello', ...options.hello, draining: true } : { t: 'hello', ...options.hello }) })
    this.#client.on('down', () => this.#down())
    this.#client.on('denied', (reason) => options.log.warn({ gateway: this.key, reason }, 'gateway refused the link'))
  }

  /** `host:port`. */
  get key (): string { return `${this.address.host}:${this.address.port}` }
  /** True once linked and told who the gateway is. */
  get ready (): boolean { return this.info !== undefined && this.#client.status === 'ready' }
  /** The link client's status. */
  get state (): string { return this.#client.status }
  /** The link session: counts the drops of the link. */
  get epoch (): number { return this.#epoch }

  start (): void {
    this.#client.start()
  }

  /** Sends a message; false when the link is down or full. */
  send (msg: ToGateway): boolean {
    return this.sendEncoded(encodeMessage(msg))
  }

  /** Sends an encoded message; with `epoch`, only on that link session. False (logged) for one over `MAX_MESSAGE_BYTES`. */
  sendEncoded (body: Buffer, epoch?: number): boolean {
    if (epoch !== undefined && epoch !== this.#epoch) return false
    if (body.length > MAX_MESSAGE_BYTES) {
      this.#o.log.error({ gateway: this.key, bytes: body.length, max: MAX_MESSAGE_BYTES }, 'gateway link: a message over the frame limit was not sent')
      return false
    }
    return this.#client.link?.sendMsg(body) ?? false
  }

  /**
   * Sends the result of a request of link session `epoch` (dropped when that session is over).
   * A link up but too full to take it is cut: its gateway then answers each of its requests
   * `SD_ERR_WORKER_LOST` rather than wait for a result that was never sent.
   */
  finish (body: Buffer, epoch: number): void {
    if (epoch !== this.#epoch) return
    if (this.inflight > 0) this.inflight--
    if (!this.sendEncoded(body)) this.#client.link?.destroy('a result could not be queued (link buffer full)')
  }

  /** Sends a bus call; resolves to the gateway's answer, or `fallback` when the link cannot carry it (or is not session `epoch`) or drops first. */
  call (body: CallBody, fallback: unknown, epoch?: number): Promise<unknown> {
    const k = ++this.#seq
    return new Promise((resolve) => {
      if (!this.sendEncoded(encodeMessage({ ...body, k } as Call), epoch)) return resolve(fallback)
      this.#calls.set(k, { resolve, fallback })
    })
  }

  /** Asks the gateway to stop routing here; resolves once it acknowledged (or the link is gone, or `timeoutMs` passed). */
  drain (timeoutMs: number): Promise<void> {
    this.draining = true
    if (!this.send({ t: 'drain' })) return Promise.resolve()
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => { this.#drained = undefined; resolve() }, timeoutMs)
      this.#drained = () => { clearTimeout(timer); resolve() }
    })
  }

  #onMessage (msg: ToWorker): void {
    switch (msg.t) {
      case 'info':
        this.info = { node: msg.node, clustered: msg.clustered }
        this.#o.onReady(this)
        return
      case 'ans': {
        const call = this.#calls.get(msg.k)
        if (call) { this.#calls.delete(msg.k); call.resolve(msg.v) }
        return
      }
      case 'drained': {
        const done = this.#drained
        this.#drained = undefined
        done?.()
        return
      }
      default: this.#o.onMessage(this, msg)
    }
  }

  #down (): void {
    this.#epoch++
    this.info = undefined
    this.inflight = 0
    for (const call of this.#calls.values()) call.resolve(call.fallback)
    this.#calls.clear()
    const done = this.#drained
    this.#drained = undefined
    done?.()
  }

  /** Closes the link for good. */
  async close (): Promise<void> {
    await this.#client.close()
    this.#down()
  }
}
