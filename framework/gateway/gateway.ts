/**
 * The gateway side of the split: every client request is sent to a business worker over its
 * link and answered with the worker's result. A worker is picked per request (`least-busy`:
 * fewest in flight among ready workers, ties in turn; `sticky`: a connection keeps its worker
 * while that one is ready). With no worker ready a request waits (at most `maxWaiting` of them,
 * up to `workerWaitMs`, flushed in order when one arrives), else it gets `SD_ERR_NO_WORKER`; a
 * worker whose link closes leaves its in-flight requests answered `SD_ERR_WORKER_LOST`. The
 * connection stays open in both cases.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import type { Link, PeerInfo } from '../cluster/link.js'
import type { Bus } from '../connection/bus.js'
import type { Connection } from '../connection/connection.js'
import type { ConnectionTable } from '../connection/table.js'
import { SdError } from '../core/errors.js'
import { HttpReply } from '../core/http-exchange.js'
import { Html } from '../core/html.js'
import { applyHttpReply, httpData, httpPath, sendHttpError, sendHttpResult, toHttpRequest } from '../transport/http-sink.js'
import { BadMessageError, type InboundMessage } from '../transport/packs.js'
import { payloadId } from '../transport/receive.js'
import { runMemberOp, runPushOp, runQueryOp } from './gateway-bus.js'
import { GatewayLinkServer } from './link-server.js'
import type { GatewayConfig } from './options.js'
import { decodeMessage, encodeRawRequest, MAX_MESSAGE_BYTES, rawConnHead, type ConnInfo, type RawResult, type ToGateway, type ToWorker } from './protocol.js'
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

/** A request the gateway owes an answer. */
interface PendingRequest {
  readonly r: number
  /** Undefined for a raw request. */
  readonly msg: (ToWorker & { t: 'msg' | 'http' }) | undefined
  readonly conn: Connection | undefined
  /** For a raw request: read from `raw` only when the gateway itself must answer. */
  readonly id: InboundMessage['id']
  /** A raw request's client payload (framing.ts hands out buffers it does not reuse). */
  readonly raw: Buffer | undefined
  readonly isText: boolean
  readonly http: FastifyReply | undefined
  worker: WorkerPeer | undefined
  /** While waiting for a worker. */
  timer: NodeJS.Timeout | undefined
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

  constructor (host: GatewayHost, config: GatewayConfig, secret: Buffer) {
    this.#host = host
    this.#config = config
    this.#server = new GatewayLinkServer({ host: config.host, port: config.port, name: host.nodeName, secret, log: host.log, onLink: (link, peer) => this.#adopt(link, peer) })
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
      sent = msg === undefined ? worker.link.sendMsg(this.#rawRequest(req)) : worker.send(msg, msg.t === 'msg' && msg.j === 1)
    } catch (err) {
      // data v8 cannot copy (never from a decoded client message, but never silence either), or
      // a message over the link's frame limit (client frame limits set above it)
      this.#host.log.error({ err }, 'gateway: a request could not be encoded for a worker')
      return this.#fail(req, new SdError('SD_ERR_INTERNAL'))
    }
    if (!sent) this.#fail(req, new SdError('SD_ERR_WORKER_LOST'))
  }

  /** A raw request's message, with the connection's uid and session as they are now. */
  #rawRequest (req: PendingRequest): Buffer {
    const conn = req.conn as Connection
    let head = this.#heads.get(conn)
    if (head === undefined) {
      head = rawConnHead(conn.id, conn.transport, conn.remoteAddress, conn.codec.pack)
      this.#heads.set(conn, head)
    }
    const s = conn.session
    const body = encodeRawRequest(req.r, head, conn.uid, hasKeys(s) ? JSON.stringify(s) : undefined, req.isText, req.raw as Buffer)
    // the receiver would cut the link (and every request on it) for a larger frame
    if (body.length > MAX_MESSAGE_BYTES) throw new RangeError(`a request of ${body.length} bytes is over the link's ${MAX_MESSAGE_BYTES} byte limit`)
    return body
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
    if (req.http) sendHttpError(req.http, err.toJSON(), err.status)
    else if (req.conn) req.conn.replyError(req.raw === undefined ? req.id : payloadId(req.conn, req.raw, req.isText), err.toJSON())
  }

  /** Forgets a request and releases its connection's reading. */
  #finish (req: PendingRequest): void {
    this.#requests.delete(req.r)
    req.worker?.inflight.delete(req.r)
    const conn = req.conn
    if (conn !== undefined && conn.pending-- === this.#host.maxPendingPerConnection) conn.release()
    if (this.#requests.size === 0 && this.#idleWaiters.length > 0) for (const wake of this.#idleWaiters.splice(0)) wake()
  }

  #answer (from: WorkerPeer, res: ToGateway & { t: 'res' }): void {
    const req = this.#requests.get(res.r)
    if (req === undefined || req.worker !== from) return
    this.#finish(req)
    const o = res.o
    if (req.http) {
      const reply = req.http
      try {
        if (res.h !== undefined && applyHttpReply(new HttpReply(res.h), reply)) return
        if (o.k === 'ok') sendHttpResult(reply, o.html ? new Html(o.v as string) : o.v)
        else if (o.k === 'err') sendHttpError(reply, o.e, o.st)
        else sendHttpResult(reply, undefined)
      } catch (err) {
        // v8 carried what JSON cannot encode (a BigInt…): the client gets what direct mode sends
        this.#host.log.error({ err }, 'gateway: an HTTP result could not be sent')
        const internal = new SdError('SD_ERR_INTERNAL')
        sendHttpError(reply, internal.toJSON(), internal.status)
      }
      return
    }
    const conn = req.conn
    if (conn === undefined) return
    if (res.s !== undefined) conn.session = res.s
    if (o.k === 'ok') {
      try {
        conn.reply(req.id ?? null, o.html ? new Html(o.v as string) : o.v)
      } catch (err) {
        this.#host.log.error({ err, connectionId: conn.id }, 'gateway: a result could not be encoded')
        conn.replyError(req.id, new SdError('SD_ERR_INTERNAL').toJSON())
      }
    } else if (o.k === 'err') {
      conn.replyError(req.id, o.e)
    }
  }

  /** The result of a raw request: the worker's bytes go to the client as they are. */
  #answerRaw (from: WorkerPeer, res: RawResult): void {
    const req = this.#requests.get(res.r)
    if (req === undefined || req.worker !== from) return
    this.#finish(req)
    const conn = req.conn
    if (conn === undefined) return
    if (res.s !== undefined) conn.session = JSON.parse(res.s) as Record<string, unknown>
    // a text port frames strings faster (line framing joins them)
    if (res.b !== undefined) conn.send(conn.codec.pack === 'text' ? res.b.toString('utf8') : res.b)
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
      case 'out': return this.#answerRaw(worker, msg)
      case 'res': return this.#answer(worker, msg)
      case 'sess': {
        const opening = worker.opening.get(msg.c)
        if (opening !== undefined) { worker.opening.delete(msg.c); opening.release() }
        const conn = host.connections.get(msg.c)
        if (conn !== undefined && msg.s !== undefined) conn.session = msg.s
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

/** True when `o` has a key (without making the array `Object.keys` makes). */
function hasKeys (o: object): boolean {
  for (const k in o) if (Object.hasOwn(o, k)) return true
  return false
}

/** A connection as the protocol carries it (the session only when it has keys). */
function connInfo (conn: Connection): ConnInfo {
  const info: ConnInfo = { c: conn.id, tr: conn.transport, a: conn.remoteAddress }
  if (conn.uid !== undefined) info.u = conn.uid
  const s = conn.session
  if (Object.keys(s).length > 0) info.s = s
  return info
}
