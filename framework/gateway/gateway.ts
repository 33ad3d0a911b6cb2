/**
 * The gateway side of the split: every client request is sent to a business worker over its
 * link and answered with the worker's result. A worker is picked per request (`least-busy`:
 * fewest in flight among ready workers, ties in turn; `sticky`: a connection keeps its worker
 * while that one is ready). With no worker ready a request waits (at most `maxWaiting` of them,
 * up to `workerWaitMs`, flushed in order when one arrives), else it gets `SD_ERR_NO_WORKER`; a
 * worker whose link closes leaves its in-flight requests answered `SD_ERR_WORKER_LOST`. The
 * connection stays open in both cases.
 */
import type { LinkSecret } from '../cluster/link-auth.js'
import type { TlsFiles } from '../transport/tls.js'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import type { Link, PeerInfo } from '../cluster/link.js'
import type { Bus } from '../connection/bus.js'
import type { Connection } from '../connection/connection.js'
import { adoptSession } from '../connection/auth-sweep.js'
import type { ConnectionTable } from '../connection/table.js'
import { SdError } from '../core/errors.js'
import { httpData, httpPath, toHttpRequest } from '../transport/http-sink.js'
import { BadMessageError, type InboundMessage } from '../transport/packs.js'
import { runMemberOp, runPushOp, runQueryOp } from './gateway-bus.js'
import { GatewayLinkServer } from './link-server.js'
import type { GatewayConfig } from './options.js'
import { decodeMessage, type RawResult, type ToGateway, type ToWorker } from './protocol.js'
import { connInfo, deliverError, deliverRaw, deliverResult, rawRequest, type PendingRequest } from './client-answers.js'
import { RELAYED_TRANSPORTS } from './relay-codecs.js'
import { WorkerPeer } from './worker-peer.js'

/** What the gateway needs from the application. */
export interface GatewayHost {
  readonly log: Logger
  readonly bus: Bus
  readonly connections: ConnectionTable
  readonly nodeName: string
  /** True when the gateway is a dispatch cluster node. */
  readonly clustered: boolean
  readonly maxPendingPerConnection: number
  /** Open connections per transport of this gateway. */
  localConnections (): Record<string, number>
}

/** A worker as `stats()` shows it. */
export interface GatewayWorkerStatus {
  name: string
  state: 'ready' | 'draining'
  inflight: number
  rttMs?: number
}

/** The gateway: link server, workers, routing, requests in flight and waiting. */
export class Gateway {
  readonly #host: GatewayHost
  readonly #config: GatewayConfig
  readonly #server: GatewayLinkServer
  readonly #workers = new Map<string, WorkerPeer>()
  readonly #requests = new Map<number, PendingRequest>()
  readonly #waiting: PendingRequest[] = []
  /** Sticky routing: connection id → worker name. */
  readonly #sticky = new Map<string, string>()
  readonly #idleWaiters: Array<() => void> = []
  /** `#workers`' values, for `#pick` (no array made per request). */
  #list: WorkerPeer[] = []
  /** Per connection, the constant part of its raw requests. */
  readonly #heads = new WeakMap<Connection, Buffer>()
  #seq = 0
  #turn = 0
  /** Set by `refuseWaiting()` when the gateway stops: new requests get `SD_ERR_SHUTTING_DOWN`. */
  #refusing = false

  /** `tls`: the link port's certificate (`cluster.tls`), when links use TLS. */
  constructor (host: GatewayHost, config: GatewayConfig, secret: LinkSecret, tls?: TlsFiles) {
    this.#host = host
    this.#config = config
    this.#server = new GatewayLinkServer({ host: config.host, port: config.port, name: host.nodeName, secret, log: host.log, onLink: (link, peer) => this.#adopt(link, peer), tls })
  }

  /** Starts the link port; resolves to its port. */
  listen (): Promise<number> {
    return this.#server.listen()
  }

  get port (): number | undefined { return this.#server.port }
  /** Requests sent to a worker and not answered yet, plus those waiting. */
  get inflight (): number { return this.#requests.size }

  /** The workers and the waiting queue, for `stats()`. */
  status (): { port: number | undefined, workers: GatewayWorkerStatus[], waiting: number } {
    const workers: GatewayWorkerStatus[] = []
    for (const w of this.#workers.values()) {
      if (w.state === undefined) continue
      const rtt = w.link.stats.rttMs
      workers.push(rtt === undefined ? { name: w.name, state: w.state, inflight: w.inflight.size } : { name: w.name, state: w.state, inflight: w.inflight.size, rttMs: rtt })
    }
    return { port: this.port, workers, waiting: this.#waiting.length }
  }

  // ---- client side -----------------------------------------------------------------------

  /** A socket or WebSocket message. */
  message (conn: Connection, msg: InboundMessage): void {
    const info = connInfo(conn)
    const r = ++this.#seq
    const wire: ToWorker & { t: 'msg' } = msg.id === undefined
      ? { t: 'msg', r, conn: info, p: msg.path, d: msg.data }
      : { t: 'msg', r, conn: info, i: msg.id, p: msg.path, d: msg.data }
    // a JSON or text client's data came from JSON (or is a line): JSON carries it as it is
    if (conn.codec.pack !== 'msgpack') wire.j = 1
    if (++conn.pending === this.#host.maxPendingPerConnection) conn.hold()
    this.#route({ r, msg: wire, conn, id: msg.id, raw: undefined, isText: false, http: undefined, worker: undefined, timer: undefined })
  }

  /**
   * A socket or WebSocket message as its payload bytes: relayed as they are (the worker decodes
   * them and encodes the reply). A transport the worker has no codec for is decoded here.
   */
  messageRaw (conn: Connection, payload: Buffer, isText: boolean): void {
    if (!RELAYED_TRANSPORTS.has(conn.transport)) {
      let msg: InboundMessage
      try {
        msg = conn.codec.decode(payload, isText)
      } catch (err) {
        const bad = err instanceof SdError ? err : new BadMessageError('undecodable payload')
        conn.replyError(bad instanceof BadMessageError ? bad.id : undefined, bad.toJSON())
        return
      }
      return this.message(conn, msg)
    }
    const r = ++this.#seq
    if (++conn.pending === this.#host.maxPendingPerConnection) conn.hold()
    this.#route({ r, msg: undefined, conn, id: undefined, raw: payload, isText, http: undefined, worker: undefined, timer: undefined })
  }

  /** An HTTP request. */
  http (request: FastifyRequest, reply: FastifyReply): void {
    const r = ++this.#seq
    const wire: ToWorker & { t: 'http' } = { t: 'http', r, q: toHttpRequest(request), p: httpPath(request.url), v: request.method, d: httpData(request) }
    this.#route({ r, msg: wire, conn: undefined, id: null, raw: undefined, isText: false, http: reply, worker: undefined, timer: undefined })
  }

  /** A connection opened: told to one worker that has `onConnect` hooks. */
  opened (conn: Connection): void {
    this.#event('open', conn, (w) => w.hooks.onConnect)
  }

  /** A connection closed: told to one worker that has `onClose` hooks. */
  closed (conn: Connection): void {
    this.#event('close', conn, (w) => w.hooks.onClose)
    this.#sticky.delete(conn.id)
  }

  /** Connection events are not queued: with no ready worker that has the hook, the event is dropped (logged at debug). */
  #event (t: 'open' | 'close', conn: Connection, wants: (w: WorkerPeer) => boolean): void {
    let target: WorkerPeer | undefined
    const stuck = this.#sticky.get(conn.id)
    if (stuck !== undefined) {
      const w = this.#workers.get(stuck)
      if (w?.ready && wants(w)) target = w
    }
    if (target === undefined) {
      target = this.#pick((w) => wants(w))
      // sticky: the worker that ran onConnect also gets the connection's requests
      if (target && t === 'open' && this.#config.routing === 'sticky') this.#sticky.set(conn.id, target.name)
    }
    if (target) {
      // onConnect runs before the connection's first request, as in direct mode: its reading is
      // held until the worker says the hooks are over (with the session they set)
      if (t === 'open') { conn.hold(); target.opening.set(conn.id, conn) }
      let sent = false
      try {
        sent = target.send({ t, conn: connInfo(conn) })
      } catch (err) {
        this.#host.log.error({ err, connectionId: conn.id, event: t }, 'gateway: a connection event could not be encoded for a worker')
      }
      if (!sent && target.opening.delete(conn.id)) conn.release()
    } else if ([...this.#workers.values()].some(wants)) this.#host.log.debug({ connectionId: conn.id, event: t }, 'gateway: no worker ready for a connection event')
  }

  #route (req: PendingRequest): void {
    this.#requests.set(req.r, req)
    if (this.#refusing) return this.#fail(req, new SdError('SD_ERR_SHUTTING_DOWN'))
    const worker = this.#choose(req)
    if (worker) return this.#sendTo(worker, req)
    if (this.#waiting.length >= this.#config.maxWaiting) return this.#fail(req, new SdError('SD_ERR_NO_WORKER', `${this.#config.maxWaiting} requests already waiting`))
    req.timer = setTimeout(() => {
      const at = this.#waiting.indexOf(req)
      if (at !== -1) this.#waiting.splice(at, 1)
      req.timer = undefined
      this.#fail(req, new SdError('SD_ERR_NO_WORKER', `none within ${this.#config.workerWaitMs} ms`))
    }, this.#config.workerWaitMs)
    this.#waiting.push(req)
  }

  #choose (req: PendingRequest): WorkerPeer | undefined {
    if (this.#config.routing !== 'sticky' || req.conn === undefined) return this.#pick()
    const id = req.conn.id
    const stuck = this.#sticky.get(id)
    if (stuck !== undefined) {
      const w = this.#workers.get(stuck)
      if (w?.ready) return w
    }
    const w = this.#pick()
    // a connection that closed while its request waited keeps no entry (closed() already ran)
    if (w && req.conn.status === 'open') this.#sticky.set(id, w.name)
    return w
  }

  /** The ready worker with the fewest requests in flight; ties go round in turn. */
  #pick (filter?: (w: WorkerPeer) => boolean): WorkerPeer | undefined {
    const all = this.#list
    const n = all.length
    let best: WorkerPeer | undefined
    const start = this.#turn++ % Math.max(1, n)
    for (let i = 0; i < n; i++) {
      const w = all[(start + i) % n]
      if (!w.ready || (filter && !filter(w))) continue
      if (best === undefined || w.inflight.size < best.inflight.size) best = w
    }
    return best
  }

  #sendTo (worker: WorkerPeer, req: PendingRequest): void {
    req.worker = worker
    worker.inflight.add(req.r)
    let sent: boolean
    try {
      const msg = req.msg
      sent = msg === undefined ? worker.link.sendMsg(rawRequest(this.#heads, req)) : worker.send(msg, msg.t === 'msg' && msg.j === 1)
    } catch (err) {
      // data v8 cannot copy (never from a decoded client message, but never silence either), or
      // a message over the link's frame limit (client frame limits set above it)
      this.#host.log.error({ err }, 'gateway: a request could not be encoded for a worker')
      return this.#fail(req, new SdError('SD_ERR_INTERNAL'))
    }
    if (!sent) this.#fail(req, new SdError('SD_ERR_WORKER_LOST'))
  }

  /** Sends waiting requests, oldest first, while a worker is ready. */
  #flushWaiting (): void {
    while (this.#waiting.length > 0) {
      const req = this.#waiting[0]
      const worker = this.#choose(req)
      if (!worker) return
      this.#waiting.shift()
      clearTimeout(req.timer)
      req.timer = undefined
      this.#sendTo(worker, req)
    }
  }

  #fail (req: PendingRequest, err: SdError): void {
    this.#finish(req)
    deliverError(req, err)
  }

  /** Forgets a request and releases its connection's reading. */
  #finish (req: PendingRequest): void {
    this.#requests.delete(req.r)
    req.worker?.inflight.delete(req.r)
    const conn = req.conn
    if (conn !== undefined && conn.pending-- === this.#host.maxPendingPerConnection) conn.release()
    if (this.#requests.size === 0 && this.#idleWaiters.length > 0) for (const wake of this.#idleWaiters.splice(0)) wake()
  }

  #answer (from: WorkerPeer, res: (ToGateway & { t: 'res' }) | RawResult): void {
    const req = this.#requests.get(res.r)
    if (req === undefined || req.worker !== from) return
    this.#finish(req)
    if (res.t === 'out') deliverRaw(req, res)
    else deliverResult(req, res, this.#host.log)
  }

  // ---- worker side -----------------------------------------------------------------------

  #adopt (link: Link, peer: PeerInfo): void {
    const old = this.#workers.get(peer.name)
    if (old) old.link.destroy(`replaced by a new link from ${peer.name}`)
    const worker = new WorkerPeer(peer.name, link)
    this.#workers.set(peer.name, worker)
    this.#list = [...this.#workers.values()]
    link.on('msg', (body) => {
      const msg = decodeMessage<ToGateway>(body)
      if (msg === undefined) return link.destroy('protocol error: malformed gateway message')
      this.#onMessage(worker, msg)
    })
    link.on('close', (reason) => this.#lost(worker, reason))
    this.#host.log.info({ worker: peer.name }, 'gateway: worker linked')
  }

  #onMessage (worker: WorkerPeer, msg: ToGateway): void {
    const host = this.#host
    switch (msg.t) {
      case 'hello':
        worker.hooks = { onConnect: msg.onConnect, onClose: msg.onClose }
        worker.send({ t: 'info', node: host.nodeName, clustered: host.clustered })
        worker.setState(msg.draining === true ? 'draining' : 'ready')
        this.#flushWaiting()
        return
      case 'out': return this.#answer(worker, msg)
      case 'res': return this.#answer(worker, msg)
      case 'sess': {
        const opening = worker.opening.get(msg.c)
        if (opening !== undefined) { worker.opening.delete(msg.c); opening.release() }
        const conn = host.connections.get(msg.c)
        if (conn !== undefined && msg.s !== undefined) adoptSession(conn, msg.s)
        return
      }
      case 'send': {
        try {
          host.connections.get(msg.c)?.push(msg.d)
        } catch (err) {
          this.#host.log.error({ err, worker: worker.name, connectionId: msg.c }, 'gateway: a worker\'s push could not be encoded for its client')
        }
        return
      }
      case 'end': { host.connections.get(msg.c)?.close(); return }
      case 'push': return this.#reply(worker, msg.k, runPushOp(host.bus, msg.op, msg.d), 0)
      case 'query': return this.#reply(worker, msg.k, runQueryOp(host.bus, msg.op, () => host.localConnections()), undefined)
      case 'member': return this.#reply(worker, msg.k, runMemberOp(host.bus, host.connections, msg.op), undefined)
      case 'drain':
        // the link is ordered: every request sent before `drained` reaches the worker first
        worker.setState('draining')
        worker.send({ t: 'drained' })
        this.#host.log.info({ worker: worker.name, inflight: worker.inflight.size }, 'gateway: worker draining')
    }
  }

  /** Answers bus call `k`; a failed call (or an answer too large to send) answers `fallback` (and is logged). */
  #reply (worker: WorkerPeer, k: number, result: Promise<unknown>, fallback: unknown): void {
    result.then((v) => worker.send({ t: 'ans', k, v: v ?? null })).catch((err: unknown) => {
      this.#host.log.warn({ err, worker: worker.name }, 'gateway: a worker\'s bus call failed')
      worker.send({ t: 'ans', k, v: fallback ?? null })
    })
  }

  #lost (worker: WorkerPeer, reason: string): void {
    if (this.#workers.get(worker.name) === worker) {
      this.#workers.delete(worker.name)
      this.#list = [...this.#workers.values()]
    }
    for (const conn of worker.opening.values()) conn.release()
    worker.opening.clear()
    const lost = [...worker.inflight]
    if (lost.length > 0 || worker.state === 'ready') this.#host.log.warn({ worker: worker.name, reason, inflight: lost.length }, 'gateway: worker link lost')
    for (const r of lost) {
      const req = this.#requests.get(r)
      if (req) this.#fail(req, new SdError('SD_ERR_WORKER_LOST'))
    }
  }

  // ---- stopping --------------------------------------------------------------------------

  /** Resolves true once no request is in flight or waiting, or false after `timeoutMs`. */
  async drain (timeoutMs: number): Promise<boolean> {
    if (this.#requests.size === 0) return true
    let timer: NodeJS.Timeout | undefined
    const done = await Promise.race([
      new Promise<boolean>((resolve) => this.#idleWaiters.push(() => resolve(true))),
      new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), timeoutMs) }),
    ])
    clearTimeout(timer)
    return done
  }

  /**
   * The gateway is stopping: answers waiting requests `SD_ERR_SHUTTING_DOWN` (no worker will take
   * them now), and so every new one (as the pipeline does in direct mode), so `drain()` waits only
   * for the requests already at workers.
   */
  refuseWaiting (): void {
    this.#refusing = true
    for (const req of this.#waiting.splice(0)) {
      clearTimeout(req.timer)
      this.#fail(req, new SdError('SD_ERR_SHUTTING_DOWN'))
    }
  }

  /** Closes the link port and every worker link (their requests in flight are answered `SD_ERR_WORKER_LOST`). */
  close (): Promise<void> {
    this.refuseWaiting()
    return this.#server.close()
  }
}
