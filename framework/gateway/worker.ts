/**
 * The worker side of the split: links to every gateway a directory lists (polled every
 * `discoveryIntervalMs`: a static `gateway.addresses`, or the Redis registry), runs each
 * request the gateways send through the application's pipeline, and each connection event
 * through its hooks. `start()` resolves once linked: to every gateway of a static list, or to
 * at least one discovered gateway. `drain()` tells every gateway to stop routing here and waits
 * for each acknowledgement.
 */
import type { LinkTlsClient } from '../transport/tls.js'
import type { Logger } from 'pino'
import type { Codec } from '../connection/codec.js'
import { SdError } from '../core/errors.js'
import type { PipelineMessage } from '../core/pipeline.js'
import type { GatewayAddress, GatewayDirectory } from './options.js'
import { encodeMessage, type RawRequest, type ToWorker } from './protocol.js'
import { BadMessageError, type InboundMessage } from '../transport/packs.js'
import { WorkerBus } from './worker-bus.js'
import { WorkerConnection, WorkerExchange } from './worker-conn.js'
import { WorkerLink } from './worker-link.js'

/** What the worker side needs from the application. */
export interface WorkerHost {
  readonly log: Logger
  /** This worker's node name (its link name). */
  readonly nodeName: string
  /** Runs a socket message through the pipeline. */
  message (conn: WorkerConnection, msg: PipelineMessage): void
  /** Runs an HTTP request through the pipeline. */
  http (exchange: WorkerExchange, path: string, verb: string, data: unknown): void
  /** Runs the `onConnect` / `onClose` hooks; resolves when they settled. */
  connectionHooks (name: 'onConnect' | 'onClose', conn: WorkerConnection): Promise<void>
  /** Which connection hooks the application has. */
  hooks (): { onConnect: boolean, onClose: boolean }
}

/** Options of `GatewayWorker`. */
export interface GatewayWorkerOptions {
  directory: GatewayDirectory
  /** True: `start()` waits for every listed gateway (a static list); false: for one. */
  waitForAll: boolean
  secret: Buffer
  /** Links over TLS (`cluster.tls`). @default plain */
  tls?: LinkTlsClient
  discoveryIntervalMs: number
  /** The codecs of the transports whose messages gateways relay raw (relay-codecs.ts). */
  codecs: { get (transport: string, pack: string | undefined): Codec | undefined }
}

/** A gateway link as `stats()` shows it. */
export interface GatewayLinkStatus {
  name: string
  address: string
  state: string
  inflight: number
}

/** A business worker's links to its gateways. */
export class GatewayWorker {
  readonly #host: WorkerHost
  readonly #o: GatewayWorkerOptions
  readonly #links = new Map<string, WorkerLink>()
  readonly bus: WorkerBus
  #timer: NodeJS.Timeout | undefined
  #readyWaiters: Array<() => void> = []
  #wanted: string[] = []
  #closed = false

  constructor (host: WorkerHost, options: GatewayWorkerOptions) {
    this.#host = host
    this.#o = options
    this.bus = new WorkerBus(() => this.readyLinks(), host.log)
  }

  /** The links that are up, in the order they were made. */
  readyLinks (): WorkerLink[] {
    return [...this.#links.values()].filter((l) => l.ready)
  }

  /** Starts linking; resolves once linked (see the file comment). */
  async start (): Promise<void> {
    await this.#discover()
    this.#timer = setInterval(() => { this.#discover().catch((err: unknown) => this.#host.log.warn({ err }, 'gateway discovery failed')) }, this.#o.discoveryIntervalMs)
    this.#timer.unref()
    while (!this.#closed && !this.#linked()) await new Promise<void>((resolve) => this.#readyWaiters.push(resolve))
    if (this.#closed) throw new SdError('SD_ERR_SHUTTING_DOWN')
  }

  #linked (): boolean {
    const ready = this.readyLinks()
    if (!this.#o.waitForAll) return ready.length > 0
    return this.#wanted.length > 0 && this.#wanted.every((key) => this.#links.get(key)?.ready === true)
  }

  async #discover (): Promise<void> {
    const list = await this.#o.directory.list()
    if (this.#closed) return
    this.#wanted = list.map((a) => `${a.host}:${a.port}`)
    for (const address of list) this.#link(address)
    // a gateway gone from the directory is dropped unless its link is still up
    for (const [key, link] of this.#links) {
      if (!this.#wanted.includes(key) && !link.ready) {
        this.#links.delete(key)
        void link.close()
      }
    }
  }

  #link (address: GatewayAddress): void {
    const key = `${address.host}:${address.port}`
    if (this.#links.has(key)) return
    const link = new WorkerLink({
      address,
      name: this.#host.nodeName,
      secret: this.#o.secret,
      tls: this.#o.tls,
      log: this.#host.log,
      hello: this.#host.hooks(),
      onMessage: (l, msg) => this.#onMessage(l, msg),
      onReady: (l) => {
        this.#host.log.info({ gateway: l.info?.node, address: l.key }, 'linked to gateway')
        for (const wake of this.#readyWaiters.splice(0)) wake()
      },
    })
    this.#links.set(key, link)
    link.start()
  }

  #onMessage (link: WorkerLink, msg: ToWorker): void {
    switch (msg.t) {
      case 'raw': return this.#raw(link, msg)
      case 'msg': {
        link.inflight++
        const conn = new WorkerConnection(link, msg.conn, msg.r, msg.j === 1)
        this.#host.message(conn, { id: msg.i, path: msg.p, data: msg.d })
        return
      }
      case 'http': {
        link.inflight++
        this.#host.http(new WorkerExchange(link, msg.r, msg.q), msg.p, msg.v, msg.d)
        return
      }
      case 'open':
      case 'close': {
        const conn = new WorkerConnection(link, msg.conn)
        const name = msg.t === 'open' ? 'onConnect' : 'onClose'
        const settled = this.#host.connectionHooks(name, conn)
        if (name !== 'onConnect') return
        // as in direct mode, what the hooks do before their first await comes before the first
        // request: the gateway holds the connection's reading until this first `sess`
        this.#sendSession(link, conn, true)
        void settled.then(() => this.#sendSession(link, conn, false))
      }
    }
  }

  /** Sends the session an `onConnect` hook changed since the last time (with `always`, even unchanged). */
  #sendSession (link: WorkerLink, conn: WorkerConnection, always: boolean): void {
    let body: Buffer | undefined
    try {
      const s = conn.sessionUpdate()
      if (s !== undefined) body = encodeMessage({ t: 'sess', c: conn.id, s })
    } catch (err) {
      // a session value v8 cannot copy (a function): the hook's session changes stay here
      this.#host.log.error({ err, connectionId: conn.id }, 'gateway: the session set by onConnect could not be sent to the gateway')
    }
    if (body === undefined && always) body = encodeMessage({ t: 'sess', c: conn.id })
    if (body !== undefined) link.sendEncoded(body, conn.epoch)
  }

  /** A raw request: decoded with its transport's codec (a failure answers as `receive` would), then run. */
  #raw (link: WorkerLink, req: RawRequest): void {
    link.inflight++
    const codec = this.#o.codecs.get(req.conn.tr, req.conn.pk)
    // pushes of a JSON or text connection travel as JSON: what JSON cannot encode throws in the action, as in direct mode
    const conn = new WorkerConnection(link, req.conn, req.r, codec !== undefined && codec.pack !== 'msgpack', codec)
    let msg: InboundMessage
    try {
      if (codec === undefined) throw new SdError('SD_ERR_INTERNAL', `no codec for transport ${req.conn.tr}`)
      msg = codec.decode(req.b, req.x)
    } catch (err) {
      const bad = err instanceof SdError ? err : new BadMessageError('undecodable payload')
      conn.replyError(bad instanceof BadMessageError ? bad.id : undefined, bad.toJSON(), bad.status)
      conn.done()
      return
    }
    this.#host.message(conn, msg)
  }

  /** Requests of the gateways running here. */
  get inflight (): number {
    let n = 0
    for (const l of this.#links.values()) n += l.inflight
    return n
  }

  /** The links, for `stats()`. */
  status (): GatewayLinkStatus[] {
    return [...this.#links.values()].map((l) => ({ name: l.info?.node ?? '', address: l.key, state: l.state, inflight: l.inflight }))
  }

  /**
   * Tells every gateway to stop routing here; resolves once each acknowledged (or `timeoutMs`
   * passed). A link down or still connecting now says it drains in its hello when it comes up.
   */
  async drain (timeoutMs: number): Promise<void> {
    clearInterval(this.#timer)
    await Promise.all([...this.#links.values()].map((l) => l.drain(timeoutMs)))
  }

  /** Closes every link. */
  async close (): Promise<void> {
    this.#closed = true
    clearInterval(this.#timer)
    for (const wake of this.#readyWaiters.splice(0)) wake()
    await Promise.all([...this.#links.values()].map((l) => l.close()))
  }
}
