/**
 * Reliable requests between the servers of a cluster, over a carrier (carrier.ts). A request
 * settles once every target replied or is known unreachable; until then it is re-sent when its
 * route is lost, reported a miss, or after `retryMs`. Receivers answer a duplicate (source, id)
 * with the first reply, so each request runs once. A tick's requests to the same targets share
 * one frame. Wire layouts of REQUEST / REPLY / NOTICE: docs/cluster.md, "Messenger kinds".
 */
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import { turnNow } from '../core/clock.js'
import { SdError } from '../core/errors.js'
import type { Carrier, CarrierRoute, RouteInfo } from './carrier.js'
import type { DataMessage } from './link-frames.js'
import { isValidNodeName } from './link-auth.js'
import { encodeReplies, encodeRequests, forEachRequest, Kind, MAX_UTF8_PER_UNIT, readReplies, requestRuns, requestWatermark } from './messenger-frames.js'
import { SeqTable } from './seq-table.js'

export { Kind }

/** Handles a request or notice from another node; returns the reply value (JSON-able). */
export type RequestHandler = (source: string, body: string) => unknown
export type NoticeHandler = (source: string, body: Buffer) => void
/** Hears how a request ended: `err`, or the reply (`sendOne`) or replies. Called once, never before the call that started it returns. */
export type ReplyCallback = (err: Error | undefined, value?: unknown) => void

/** Options of `Messenger`. */
export interface MessengerOptions {
  /** This node's name. */
  name: string
  /** How frames reach other nodes (the messenger closes it in `close()`). */
  carrier: Carrier
  /** A request not settled after this long fails with `SD_ERR_CLUSTER_UNAVAILABLE`. @default 5000 */
  requestTimeoutMs?: number
  /** A request without every reply after this long is sent again (receivers deduplicate). @default 1000 */
  retryMs?: number
  log?: Logger
}

/** One route (a dispatcher link, Redis) as status pages show it. */
export type DispatcherLinkInfo = RouteInfo

export interface MessengerEvents {
  /** The set of ready routes changed. */
  links: [ready: number]
}

interface Pending {
  /** Wire id: the messenger's time base + `seq`. */
  id: number
  /** Key in the pending table (a small integer: the slot is `seq % size`). */
  seq: number
  body: string
  targets: readonly string[]
  /** Per target (same order): its reply, or WAITING. */
  values: unknown[]
  /** Targets that have not answered yet. */
  waiting: number
  /** Per target: the id of the route it was last sent through (undefined: not in flight). */
  via: Array<string | undefined>
  /** Per target: the routes that reported it unreachable. */
  missed: Map<string, Set<string>> | undefined
  startedAt: number
  sentAt: number
  /** `done(undefined, values[0])` (one target, `sendOne`) or `done(undefined, values)`; `done(err)` on failure. */
  one: boolean
  done: ReplyCallback
}

/** `done` of a request that has ended. */
function ended (): void {}

/** What an ended request's arrays become (see `#end`); frozen, so a stray write throws. */
const NOTHING = Object.freeze([]) as unknown as unknown[]

/** Not ended yet (one that ended while queued, by a timeout or its node going, is not sent). */
function live (p: Pending): boolean {
  return p.done !== ended
}

/** A target's value before it answered. */
const WAITING = Symbol('waiting')

/**
 * Replies already given to one source (for re-sent requests). `floor` is the highest watermark
 * the source has sent: it waits for no id below it, so an unknown id below the floor is a late
 * copy of a request already settled (through another route) and is dropped unrun.
 */
interface SourceMemory {
  replies: Map<number, unknown>
  floor: number
}

/** Most replies remembered per source, whatever its watermark says (memory bound). */
const MAX_REMEMBERED = 1 << 20
/** Room left in a frame for the DATA header (id, names, targets) and the watermark. */
const FRAME_HEADROOM = 64 * 1024

/** Requests of one tick to the same target(s) through the same route. */
interface Batch {
  targets: readonly string[]
  requests: Pending[]
}

/** Requests and replies of one cluster node. */
export class Messenger extends EventEmitter<MessengerEvents> {
  readonly name: string
  readonly #options: MessengerOptions
  readonly #carrier: Carrier
  /** Requests waiting for replies, by seq (see seq-table.ts for why not a Map). */
  readonly #pending = new SeqTable<Pending>()
  readonly #memory = new Map<string, SourceMemory>()
  /** Replies to send, per route the requests came in on, per source. */
  #replies = new Map<CarrierRoute, Map<string, Array<[number, unknown]>>>()
  #replyScheduled = false
  /** Requests to send at the end of this tick: per route, per target list. */
  #outbox = new Map<CarrierRoute, Map<string, Batch>>()
  #outboxScheduled = false
  /** Wire ids are `#base + seq`: unique for this name across restarts (see the constructor). */
  readonly #base: number
  #seq = 0
  #sweep: NodeJS.Timeout | undefined
  #closed = false
  onRequest: RequestHandler = () => undefined
  onNotice: NoticeHandler = () => {}
  /** Requests sent again after a route failed or missed a target (status, tests). */
  resent = 0
  /** Requests received again (a re-send or a late copy) and answered without running twice. */
  deduped = 0

  /** Largest request body a frame can carry. */
  readonly #maxBody: number

  constructor (options: MessengerOptions) {
    super()
    this.name = options.name
    this.#options = options
    const carrier = this.#carrier = options.carrier
    this.#maxBody = carrier.maxFrameBytes - FRAME_HEADROOM
    carrier.on('routes', (ready) => this.emit('links', ready))
    carrier.on('up', () => this.#resendWaiting())
    carrier.on('down', (route) => this.#failover(route.id))
    carrier.onData = (msg, route) => this.#onData(msg, route)
    carrier.on('missed', (route, targets) => this.#onMissed(route.id, targets))
    // unique for this name across restarts: microseconds since the epoch, then +1 per message
    // (ids stay below 2^53, exact as float64; the pending table is keyed by the small seq)
    this.#base = Date.now() * 1000
    this.#sweep = setInterval(() => this.#check(), 250)
    this.#sweep.unref()
  }

  /** Routes that are ready. */
  get ready (): number { return this.#carrier.routes.length }

  /** The carrier's name (`dispatch`, `redis`). */
  get carrier (): string { return this.#carrier.name }

  /** Every route of the carrier, for status pages. */
  links (): DispatcherLinkInfo[] {
    return this.#carrier.info()
  }

  // ---- requests ----------------------------------------------------------------------------

  /**
   * Sends `body` to `targets` and resolves to each target's reply (`undefined` for a target no
   * route could reach: it is not connected, or it died). Rejects with
   * `SD_ERR_CLUSTER_UNAVAILABLE` when no route is ready, or nothing settled in time.
   */
  request (targets: readonly string[], body: string): Promise<Map<string, unknown>> {
    if (targets.length === 0) return Promise.resolve(new Map())
    return new Promise((resolve, reject) => {
      this.#start(targets, body, false, (err, values) => {
        if (err) return reject(err)
        const replies = new Map<string, unknown>()
        for (let i = 0; i < targets.length; i++) replies.set(targets[i], (values as unknown[])[i])
        resolve(replies)
      })
    })
  }

  /** `request()` to one node: resolves to its reply (`undefined` when no route reached it). */
  requestOne (target: string, body: string): Promise<unknown> {
    return new Promise((resolve, reject) => this.sendOne(target, body, (err, value) => (err ? reject(err) : resolve(value))))
  }

  /**
   * `requestOne()` with a callback instead of a promise (a hot path that builds its own promise
   * saves one per request): `done(undefined, reply)` or `done(err)`.
   */
  sendOne (target: string, body: string, done: ReplyCallback): void {
    this.#start([target], body, true, done)
  }

  /** Checks and queues a request; `done` hears the replies in `targets` order (or the first one). */
  #start (targets: readonly string[], body: string, one: boolean, done: ReplyCallback): void {
    const err = this.#cannotStart(targets, body)
    if (err) {
      queueMicrotask(() => this.#callBack(done, err))
      return
    }
    const now = turnNow()
    const seq = this.#seq++
    const n = targets.length
    const p: Pending = {
      id: this.#base + seq, seq, body, targets, waiting: n, missed: undefined, startedAt: now, sentAt: now, one, done,
      // literals for one target (fill() is a runtime call)
      values: n === 1 ? [WAITING] : new Array<unknown>(n).fill(WAITING),
      via: n === 1 ? [undefined] : new Array<string | undefined>(n).fill(undefined),
    }
    this.#pending.add(p)
    this.#send(p, targets, this.#carrier.routes[0], now)
  }

  /** Why a request cannot be sent at all (a bad target name, a body over the frame limit, no route). */
  #cannotStart (targets: readonly string[], body: string): SdError | undefined {
    for (const t of targets) {
      if (!isValidNodeName(t)) return new SdError('SD_ERR_CLUSTER_UNAVAILABLE', `${JSON.stringify(t.slice(0, 64))} is not a node name`)
    }
    // exact UTF-8 length only when the bound says it may be over
    if (body.length * MAX_UTF8_PER_UNIT > this.#maxBody && Buffer.byteLength(body) > this.#maxBody) {
      return new SdError('SD_ERR_FRAME_TOO_LARGE', `a cross-server message of ${Buffer.byteLength(body)} bytes is over the link limit (${this.#maxBody} bytes)`)
    }
    if (this.#closed) return new SdError('SD_ERR_CLUSTER_UNAVAILABLE', 'this node is stopping')
    if (this.#carrier.routes.length === 0) return new SdError('SD_ERR_CLUSTER_UNAVAILABLE', this.#carrier.unavailableReason())
    return undefined
  }

  /** Sends a notice to every other server (through one route; best effort). */
  notify (body: Buffer): boolean {
    const route = this.#carrier.routes[0]
    if (!route) return false
    return route.send({ id: this.#base + this.#seq++, source: this.name, targets: 'all', kind: Kind.NOTICE, payload: body, quiet: true })
  }

  #watermark (): number {
    return this.#pending.oldest()?.id ?? this.#base + this.#seq
  }

  /** Targets of `p` that have not answered, optionally only those `where` accepts (given the target's index). */
  #waitingTargets (p: Pending, where?: (i: number) => boolean): string[] {
    const out: string[] = []
    for (let i = 0; i < p.targets.length; i++) if (p.values[i] === WAITING && (where === undefined || where(i))) out.push(p.targets[i])
    return out
  }

  /** Queues `p` for `targets` through `route`; the tick's requests go out together (#flushOutbox). */
  #send (p: Pending, targets: readonly string[], route: CarrierRoute | undefined, now = Date.now()): void {
    p.sentAt = now
    if (!route || targets.length === 0) return // waits for a route (#resendWaiting) or the timeout
    const id = route.id
    for (let i = 0; i < targets.length; i++) p.via[targets === p.targets ? i : p.targets.indexOf(targets[i])] = id
    let byTargets = this.#outbox.get(route)
    if (!byTargets) this.#outbox.set(route, (byTargets = new Map()))
    const key = targets.length === 1 ? targets[0] : targets.join('\n')
    const batch = byTargets.get(key)
    if (batch) batch.requests.push(p)
    else byTargets.set(key, { targets, requests: [p] })
    if (!this.#outboxScheduled) {
      this.#outboxScheduled = true
      process.nextTick(() => this.#flushOutbox())
    }
  }

  /** Sends the tick's requests: one REQUEST frame per route and target list (split above 1 MiB). */
  #flushOutbox (): void {
    this.#outboxScheduled = false
    const outbox = this.#outbox
    this.#outbox = new Map()
    const watermark = this.#watermark()
    for (const [route, byTargets] of outbox) {
      for (const batch of byTargets.values()) {
        const targets = batch.targets
        const requests = batch.requests.every(live) ? batch.requests : batch.requests.filter(live)
        for (const [from, to] of requestRuns(requests)) {
          this.#sendFrame(route, targets, requests.slice(from, to), watermark)
        }
      }
      // written now, not at the end of the loop turn: the next hop and the receiver start on
      // these while this node reads its next socket (a turn can hold many sockets' requests)
      route.flush()
    }
  }

  #sendFrame (route: CarrierRoute, targets: readonly string[], requests: Pending[], watermark: number): void {
    const payload = encodeRequests(requests, watermark)
    // quiet: the route reports only targets it could not reach; the replies confirm the rest
    const msg: DataMessage = { id: this.#base + this.#seq++, source: this.name, targets: targets as string[], kind: Kind.REQUEST, payload, quiet: true }
    if (route.send(msg)) return
    // route full or just lost: the retry or the failover sends these (unless one already did)
    for (const p of requests) {
      for (const t of targets) {
        const i = p.targets.indexOf(t)
        if (p.via[i] === route.id) p.via[i] = undefined
      }
    }
  }

  /** Records `target`'s reply to `p` (a target that already answered is ignored). */
  #settle (p: Pending, target: string, value: unknown): void {
    const i = p.targets.indexOf(target)
    if (i < 0 || p.values[i] !== WAITING) return
    p.values[i] = value
    if (--p.waiting === 0) {
      this.#pending.delete(p)
      this.#end(p)
    }
  }

  /**
   * Tells `p`'s caller how it ended, and makes `p` let go of what it held. A settled request can
   * stay reachable for a while from garbage the collector has already moved to the old
   * generation (a frame's batch, a caller's array); holding only numbers by then, it cannot keep
   * the caller's objects (its promise, the connection's message) alive into the old generation.
   */
  #end (p: Pending, err?: Error): void {
    const { done, values } = p
    p.done = ended
    p.body = ''
    p.values = NOTHING
    p.targets = NOTHING as string[]
    p.via = NOTHING as undefined[]
    p.missed = undefined
    if (err) this.#callBack(done, err)
    else this.#callBack(done, undefined, p.one ? values[0] : values)
  }

  /** Calls a request's callback; one that throws is logged, and cannot break the loop that settles others. */
  #callBack (done: ReplyCallback, err: Error | undefined, value?: unknown): void {
    try {
      done(err, value)
    } catch (thrown) {
      this.#options.log?.error({ err: thrown }, 'cluster: a request callback threw')
    }
  }

  /** The route `address` is gone: what went through it goes through another. */
  #failover (address: string): void {
    const next = this.#carrier.routes[0]
    for (const p of this.#pending.values()) {
      const targets = this.#waitingTargets(p, (i) => p.via[i] === address)
      if (targets.length === 0) continue
      for (const t of targets) p.via[p.targets.indexOf(t)] = undefined
      this.resent++
      this.#send(p, targets, next)
    }
  }

  /** A route came up: send what waits for one. */
  #resendWaiting (): void {
    const next = this.#carrier.routes[0]
    for (const p of this.#pending.values()) {
      const targets = this.#waitingTargets(p, (i) => p.via[i] === undefined)
      if (targets.length > 0) this.#send(p, targets, next)
    }
  }

  /**
   * The route `address` could not hand a frame to some targets (not connected to it, full):
   * every request waiting on such a target through it goes through another route, or settles
   * as unreachable when every route missed it.
   */
  #onMissed (address: string, missed: ReadonlySet<string>): void {
    for (const p of this.#pending.values()) {
      for (const target of missed) {
        const i = p.targets.indexOf(target)
        if (i < 0 || p.values[i] !== WAITING || p.via[i] !== address) continue
        p.missed ??= new Map()
        let tried = p.missed.get(target)
        if (!tried) p.missed.set(target, (tried = new Set()))
        tried.add(address)
        const other = this.#carrier.routes.find((r) => !tried.has(r.id))
        if (other) {
          this.resent++
          this.#send(p, [target], other)
        } else {
          p.via[i] = undefined
          this.#settle(p, target, undefined) // reached by no route of ours: offline
        }
      }
    }
  }

  /** Settles what waits for `node` (its record expired: it is gone). */
  nodeGone (node: string): void {
    for (const p of this.#pending.values()) this.#settle(p, node, undefined)
  }

  /** Re-sends requests without every reply after `retryMs`; fails those past their timeout. */
  #check (): void {
    const now = Date.now()
    const timeout = this.#options.requestTimeoutMs ?? 5000
    const retry = this.#options.retryMs ?? 1000
    for (const p of this.#pending.values()) {
      if (!live(p)) continue // ended by a callback earlier in this loop (one that closed the messenger)
      if (now - p.startedAt >= timeout) {
        this.#pending.delete(p)
        this.#end(p, new SdError('SD_ERR_CLUSTER_UNAVAILABLE', `no reply from ${this.#waitingTargets(p).join(', ')} within ${timeout} ms`))
      } else if (now - p.sentAt >= retry) {
        this.resent++
        this.#send(p, this.#waitingTargets(p), this.#carrier.routes[0], now)
      }
    }
    this.#pending.compact()
  }

  // ---- receiving ---------------------------------------------------------------------------

  #onData (msg: DataMessage, via: CarrierRoute): void {
    if (msg.kind === Kind.REQUEST) this.#onRequest(msg, via)
    else if (msg.kind === Kind.REPLY) this.#onReply(msg)
    else if (msg.kind === Kind.NOTICE) {
      try {
        this.onNotice(msg.source, msg.payload)
      } catch (err) {
        this.#options.log?.warn({ err, source: msg.source }, 'cluster: a notice failed')
      }
    }
  }

  #onRequest (msg: DataMessage, via: CarrierRoute): void {
    const payload = msg.payload
    const source = msg.source
    const watermark = requestWatermark(payload)
    if (watermark === undefined) return // malformed: entries missing, nothing runs
    let mem = this.#memory.get(source)
    if (!mem) this.#memory.set(source, (mem = { replies: new Map(), floor: 0 }))
    if (watermark > mem.floor) {
      mem.floor = watermark
      for (const id of mem.replies.keys()) if (id < watermark) mem.replies.delete(id)
    }
    let bySource = this.#replies.get(via)
    if (!bySource) this.#replies.set(via, (bySource = new Map()))
    let list = bySource.get(source)
    if (!list) bySource.set(source, (list = []))
    const replies = mem.replies
    const floor = mem.floor
    const out = list
    forEachRequest(payload, (id, body) => {
      let value: unknown
      if (replies.has(id)) {
        this.deduped++
        value = replies.get(id) // a re-send: answer again, do not run it twice
      } else if (id < floor) {
        this.deduped++
        return // a late copy of a request the source no longer waits for: it ran already
      } else {
        try {
          value = this.onRequest(source, body)
        } catch (err) {
          this.#options.log?.warn({ err, source }, 'cluster: a request failed')
          value = null
        }
        if (value === undefined) value = null
        if (replies.size >= MAX_REMEMBERED) for (const old of replies.keys()) { replies.delete(old); break }
        replies.set(id, value)
      }
      out.push([id, value])
    })
    if (!this.#replyScheduled) {
      this.#replyScheduled = true
      setImmediate(() => this.#flushReplies())
    }
  }

  /** Sends a turn's replies back through the route each request came in on (else any other). */
  #flushReplies (): void {
    this.#replyScheduled = false
    const all = this.#replies
    this.#replies = new Map()
    for (const [via, bySource] of all) {
      const route = via.ready ? via : this.#carrier.routes[0]
      if (!route) continue // the sources re-send; the remembered replies answer them
      for (const [source, list] of bySource) {
        // numbers go as float64; anything else as JSON (a reply too big for a frame, a huge
        // groupMembers, is answered as null); an empty list (every request was a late copy)
        // sends nothing
        for (const payload of encodeReplies(list)) {
          route.send({ id: this.#base + this.#seq++, source: this.name, targets: [source], kind: Kind.REPLY, payload, quiet: true })
        }
      }
      // this already runs once per loop turn: write now instead of a turn later
      route.flush()
    }
  }

  #onReply (msg: DataMessage): void {
    const source = msg.source
    readReplies(msg.payload, (id, value) => {
      const p = this.#pending.get(id - this.#base)
      if (p !== undefined) this.#settle(p, source, value)
    })
  }

  /** Forgets what `source` was answered (it restarted or left). */
  forget (source: string): void {
    this.#memory.delete(source)
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#sweep)
    for (const p of this.#pending.values()) this.#end(p, new SdError('SD_ERR_CLUSTER_UNAVAILABLE', 'this node is stopping'))
    this.#pending.clear()
    await this.#carrier.close()
  }
}
