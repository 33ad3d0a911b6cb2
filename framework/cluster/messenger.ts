/**
 * Reliable requests between the servers of a cluster, over links to the dispatch servers.
 *
 * A request goes to a list of target nodes through one dispatcher and settles once every
 * target has answered with a reply (a JSON value), or is known to be unreachable. The
 * messenger keeps each request until then: when the dispatcher it went through dies (or the
 * dispatcher reports a target as not linked to it), the request is re-sent through another.
 * Receivers deduplicate by (source, id) and answer a duplicate with the reply they gave the
 * first time, so a request is handled exactly once however often it is re-sent. Ids start from
 * a time base, so they stay unique for a node name across restarts.
 *
 * Requests to the same target(s) through the same dispatcher during one tick travel in one DATA
 * frame, written at the end of that tick: the dispatcher relays one frame, and the receiver
 * reads them in one go. The hot path allocates no Set or Map per request (per-target state is
 * kept in arrays, pending requests sit in a ring keyed by a small integer, see seq-table.ts),
 * a frame's bodies are encoded in one go, and a request that ends lets go of its caller's
 * objects (see `#end`): short-lived requests stay in the young generation.
 *
 * DATA kinds (the `kind` byte of link frames):
 *   REQUEST: float64 BE watermark (lowest id the source still waits for), uint32 BE count, then
 *            per request float64 BE id + uint32 BE body length in UTF-16 code units, then the
 *            bodies one after another as one UTF-8 text (one encode per frame on the sender,
 *            one decode per frame on the receiver)
 *   REPLY:   one frame per source per event-loop turn, entries of float64 BE id + uint8 type +
 *            value: a number as float64 BE (type 0), anything else as uint32 BE length + JSON
 *            (type 1)
 *   NOTICE:  body bytes, to every other server (flag ALL), no reply, not re-sent
 */
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import { turnNow } from '../core/clock.js'
import { SdError } from '../core/errors.js'
import type { AckEntry, DataMessage } from './link-frames.js'
import { isValidNodeName } from './link-auth.js'
import { LinkClient, type LinkClientOptions } from './link-client.js'
import { SeqTable } from './seq-table.js'
import type { LinkStats } from './link.js'

export const Kind = { REQUEST: 1, REPLY: 2, NOTICE: 3 } as const

/** Handles a request or notice from another node; returns the reply value (JSON-able). */
export type RequestHandler = (source: string, body: string) => unknown
export type NoticeHandler = (source: string, body: Buffer) => void
/** Hears how a request ended: `err`, or the reply (`sendOne`) or replies. Called once, never before the call that started it returns. */
export type ReplyCallback = (err: Error | undefined, value?: unknown) => void

/** Options of `Messenger`. */
export interface MessengerOptions {
  /** This node's name. */
  name: string
  secret: Buffer
  /** Link settings (timeouts, buffer limits) for every dispatcher link. */
  link?: Omit<LinkClientOptions, 'host' | 'port' | 'name' | 'secret' | 'role'>
  /** A request not settled after this long fails with `SD_ERR_CLUSTER_UNAVAILABLE`. @default 5000 */
  requestTimeoutMs?: number
  /** A request without every reply after this long is sent again (receivers deduplicate). @default 1000 */
  retryMs?: number
  log?: Logger
}

/** One dispatcher link as status pages show it. */
export interface DispatcherLinkInfo {
  address: string
  name: string | undefined
  status: string
  /** The link this node sends through now. */
  preferred: boolean
  rttMs: number | undefined
  lastError: string | undefined
  stats: LinkStats | undefined
}

export interface MessengerEvents {
  /** The set of ready dispatcher links changed. */
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
  /** Per target: the dispatcher address it was last sent through (undefined: not in flight). */
  via: Array<string | undefined>
  /** Per target: the dispatchers that reported it unreachable. */
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
 * copy of a request already settled (through another dispatcher) and is dropped unrun.
 */
interface SourceMemory {
  replies: Map<number, unknown>
  floor: number
}

/** Most replies remembered per source, whatever its watermark says (memory bound). */
const MAX_REMEMBERED = 1 << 20
/** Room left in a frame for the DATA header (id, names, targets) and the watermark. */
const FRAME_HEADROOM = 64 * 1024
/** Bytes of reply entries per REPLY frame (a turn's replies are split above this). */
const REPLY_FRAME_BYTES = 1 << 20
/** Reply entry types: a number (float64 BE), or JSON text (uint32 BE length + UTF-8). */
const REPLY_NUMBER = 0
const REPLY_JSON = 1
/** Bytes of a number reply entry (id + type + value), and before the text of a JSON one. */
const REPLY_NUMBER_BYTES = 17
const REPLY_JSON_BYTES = 13
/** Bytes per REQUEST frame (a tick's requests are split above this). */
const REQUEST_FRAME_BYTES = 1 << 20
/** Bytes of a REQUEST frame before its entries: float64 watermark + uint32 count. */
const REQUEST_HEAD_BYTES = 12
/** Bytes of each entry of a REQUEST frame: float64 id + uint32 body length. */
const ENTRY_HEADER_BYTES = 12
/** Most UTF-8 bytes per UTF-16 code unit (frames are sized by this bound before encoding). */
const MAX_UTF8_PER_UNIT = 3

/** Requests of one tick to the same target(s) through the same dispatcher. */
interface Batch {
  targets: readonly string[]
  requests: Pending[]
}

/** Requests and replies of one cluster node. */
export class Messenger extends EventEmitter<MessengerEvents> {
  readonly name: string
  readonly #options: MessengerOptions
  readonly #clients = new Map<string, LinkClient>()
  readonly #addresses = new WeakMap<LinkClient, string>()
  /** Requests waiting for replies, by seq (see seq-table.ts for why not a Map). */
  readonly #pending = new SeqTable<Pending>()
  readonly #memory = new Map<string, SourceMemory>()
  /** Replies to send, per link the requests came in on, per source. */
  #replies = new Map<LinkClient, Map<string, Array<[number, unknown]>>>()
  #replyScheduled = false
  /** Requests to send at the end of this tick: per link, per target list. */
  #outbox = new Map<LinkClient, Map<string, Batch>>()
  #outboxScheduled = false
  /** Wire ids are `#base + seq`: unique for this name across restarts (see the constructor). */
  readonly #base: number
  #seq = 0
  #route: LinkClient[] = []
  #sweep: NodeJS.Timeout | undefined
  #closed = false
  onRequest: RequestHandler = () => undefined
  onNotice: NoticeHandler = () => {}
  /** Requests sent again after a dispatcher failed or missed a target (status, tests). */
  resent = 0

  /** Largest request body a link frame can carry. */
  readonly #maxBody: number

  constructor (options: MessengerOptions) {
    super()
    this.name = options.name
    this.#options = options
    this.#maxBody = (options.link?.maxFrameBytes ?? 8 * 1024 * 1024) - FRAME_HEADROOM
    // unique for this name across restarts: microseconds since the epoch, then +1 per message
    // (ids stay below 2^53, exact as float64; the pending table is keyed by the small seq)
    this.#base = Date.now() * 1000
    this.#sweep = setInterval(() => this.#check(), 250)
    this.#sweep.unref()
  }

  /** Dispatcher links that are ready. */
  get ready (): number { return this.#route.length }

  /** Adds a dispatcher to link to (no-op when known). */
  addDispatcher (host: string, port: number): void {
    const address = `${host}:${port}`
    if (this.#closed || this.#clients.has(address)) return
    const o = this.#options
    const client = new LinkClient({ ...o.link, host, port, name: o.name, secret: o.secret, role: 'server' })
    this.#clients.set(address, client)
    this.#addresses.set(client, address)
    client.on('ready', (peer) => {
      o.log?.info({ dispatcher: peer.name, address }, 'cluster: linked to a dispatch server')
      this.#updateRoute()
      this.#resendWaiting()
    })
    client.on('down', (reason) => {
      o.log?.warn({ address, reason }, 'cluster: lost the link to a dispatch server')
      this.#updateRoute()
      this.#failover(address)
    })
    client.on('denied', (reason) => o.log?.error({ address, reason }, 'cluster: a dispatch server refused this node (is SD_CLUSTER_SECRET the same everywhere?)'))
    client.on('data', (msg) => this.#onData(msg, client))
    client.on('ack', (entries) => this.#onAck(address, entries))
    client.start()
  }

  /** Stops linking to a dispatcher (it left the registry); its requests go through another. */
  removeDispatcher (host: string, port: number): void {
    const address = `${host}:${port}`
    const client = this.#clients.get(address)
    if (!client) return
    this.#clients.delete(address)
    void client.close()
    this.#updateRoute()
    this.#failover(address)
  }

  /** True when the link to the dispatcher at host:port is ready. */
  isReady (host: string, port: number): boolean {
    return this.#clients.get(`${host}:${port}`)?.link !== undefined
  }

  /** Addresses of the dispatchers this node links to (or tries to). */
  dispatcherAddresses (): string[] {
    return [...this.#clients.keys()]
  }

  links (): DispatcherLinkInfo[] {
    return [...this.#clients].map(([address, c]) => ({
      address,
      name: c.peer?.name,
      status: c.status,
      preferred: c === this.#route[0],
      rttMs: c.link?.stats.rttMs,
      lastError: c.lastError,
      stats: c.link?.stats,
    }))
  }

  #updateRoute (): void {
    const ready = [...this.#clients.values()].filter((c) => c.link !== undefined)
    ready.sort((a, b) => (a.peer!.name < b.peer!.name ? -1 : 1))
    const current = this.#route[0]
    if (current !== undefined && current.link !== undefined) {
      // one node sticks to its dispatcher while that link lives, so its messages to a node
      // keep their order (a dispatcher joining does not move it)
      this.#route = [current, ...ready.filter((c) => c !== current)]
    } else if (ready.length > 1) {
      // each node prefers a different dispatcher (spreads load)
      const start = hash(this.name) % ready.length
      this.#route = [...ready.slice(start), ...ready.slice(0, start)]
    } else {
      this.#route = ready
    }
    this.emit('links', this.#route.length)
  }

  #addressOf (client: LinkClient): string {
    return this.#addresses.get(client) ?? ''
  }

  // ---- requests ----------------------------------------------------------------------------

  /**
   * Sends `body` to `targets` and resolves to each target's reply (`undefined` for a target no
   * dispatcher could reach: it is not linked, or it died). Rejects with
   * `SD_ERR_CLUSTER_UNAVAILABLE` when no dispatcher is linked, or nothing settled in time.
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

  /** `request()` to one node: resolves to its reply (`undefined` when no dispatcher reached it). */
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
    this.#send(p, targets, this.#route[0], now)
  }

  /** Why a request cannot be sent at all (a bad target name, a body over the frame limit, no dispatcher). */
  #cannotStart (targets: readonly string[], body: string): SdError | undefined {
    for (const t of targets) {
      if (!isValidNodeName(t)) return new SdError('SD_ERR_CLUSTER_UNAVAILABLE', `${JSON.stringify(t.slice(0, 64))} is not a node name`)
    }
    // exact UTF-8 length only when the bound says it may be over
    if (body.length * MAX_UTF8_PER_UNIT > this.#maxBody && Buffer.byteLength(body) > this.#maxBody) {
      return new SdError('SD_ERR_FRAME_TOO_LARGE', `a cross-server message of ${Buffer.byteLength(body)} bytes is over the link limit (${this.#maxBody} bytes)`)
    }
    if (this.#closed || this.#route.length === 0) {
      return new SdError('SD_ERR_CLUSTER_UNAVAILABLE', this.#clients.size === 0 ? 'no dispatch server is known (none registered, none configured)' : 'no dispatch server is reachable')
    }
    return undefined
  }

  /** Sends a notice to every other server (through one dispatcher; best effort). */
  notify (body: Buffer): boolean {
    const client = this.#route[0]
    if (!client) return false
    return client.send({ id: this.#base + this.#seq++, source: this.name, targets: 'all', kind: Kind.NOTICE, payload: body, quiet: true })
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

  /** Queues `p` for `targets` through `client`; the tick's requests go out together (#flushOutbox). */
  #send (p: Pending, targets: readonly string[], client: LinkClient | undefined, now = Date.now()): void {
    p.sentAt = now
    if (!client || targets.length === 0) return // waits for a link (#resendWaiting) or the timeout
    const address = this.#addressOf(client)
    for (let i = 0; i < targets.length; i++) p.via[targets === p.targets ? i : p.targets.indexOf(targets[i])] = address
    let byTargets = this.#outbox.get(client)
    if (!byTargets) this.#outbox.set(client, (byTargets = new Map()))
    const key = targets.length === 1 ? targets[0] : targets.join('\n')
    const batch = byTargets.get(key)
    if (batch) batch.requests.push(p)
    else byTargets.set(key, { targets, requests: [p] })
    if (!this.#outboxScheduled) {
      this.#outboxScheduled = true
      process.nextTick(() => this.#flushOutbox())
    }
  }

  /** Sends the tick's requests: one REQUEST frame per link and target list (split above 1 MiB). */
  #flushOutbox (): void {
    this.#outboxScheduled = false
    const outbox = this.#outbox
    this.#outbox = new Map()
    const watermark = this.#watermark()
    for (const [client, byTargets] of outbox) {
      const address = this.#addressOf(client)
      for (const batch of byTargets.values()) {
        const targets = batch.targets
        const requests = batch.requests.every(live) ? batch.requests : batch.requests.filter(live)
        const sizes = requests.map((p) => ENTRY_HEADER_BYTES + MAX_UTF8_PER_UNIT * p.body.length)
        for (const [from, to] of frameRuns(sizes, REQUEST_FRAME_BYTES - REQUEST_HEAD_BYTES)) {
          this.#sendFrame(client, address, targets, requests.slice(from, to), watermark)
        }
      }
      // written now, not at the end of the loop turn: the dispatcher and the receiver start on
      // these while this node reads its next socket (a turn can hold many sockets' requests)
      client.link?.flush()
    }
  }

  #sendFrame (client: LinkClient, address: string, targets: readonly string[], requests: Pending[], watermark: number): void {
    const bodies = new Array<string>(requests.length)
    for (let i = 0; i < requests.length; i++) bodies[i] = requests[i].body
    const text = bodies.join('')
    const head = REQUEST_HEAD_BYTES + requests.length * ENTRY_HEADER_BYTES
    const textBytes = Buffer.byteLength(text)
    const payload = Buffer.allocUnsafe(head + textBytes)
    payload.writeDoubleBE(watermark, 0)
    payload.writeUInt32BE(requests.length, 8)
    let off = REQUEST_HEAD_BYTES
    for (const p of requests) {
      payload.writeDoubleBE(p.id, off)
      payload.writeUInt32BE(p.body.length, off + 8)
      off += ENTRY_HEADER_BYTES
    }
    payload.write(text, head, textBytes, 'utf8')
    // quiet: the dispatcher ACKs only targets it could not reach; the replies confirm the rest
    const msg: DataMessage = { id: this.#base + this.#seq++, source: this.name, targets: targets as string[], kind: Kind.REQUEST, payload, quiet: true }
    if (client.send(msg)) return
    // link full or just lost: the retry or the failover sends these (unless one already did)
    for (const p of requests) {
      for (const t of targets) {
        const i = p.targets.indexOf(t)
        if (p.via[i] === address) p.via[i] = undefined
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

  /** The dispatcher at `address` is gone: what went through it goes through another. */
  #failover (address: string): void {
    const next = this.#route[0]
    for (const p of this.#pending.values()) {
      const targets = this.#waitingTargets(p, (i) => p.via[i] === address)
      if (targets.length === 0) continue
      for (const t of targets) p.via[p.targets.indexOf(t)] = undefined
      this.resent++
      this.#send(p, targets, next)
    }
  }

  /** A link came up: send what waits for one. */
  #resendWaiting (): void {
    const next = this.#route[0]
    for (const p of this.#pending.values()) {
      const targets = this.#waitingTargets(p, (i) => p.via[i] === undefined)
      if (targets.length > 0) this.#send(p, targets, next)
    }
  }

  /**
   * The dispatcher at `address` could not hand a frame to some targets (not linked to it, link
   * full): every request waiting on such a target through it goes through another dispatcher,
   * or settles as unreachable when every dispatcher missed it.
   */
  #onAck (address: string, entries: AckEntry[]): void {
    const missed = new Set<string>()
    for (const e of entries) for (const target of e.missed) missed.add(target)
    if (missed.size === 0) return
    for (const p of this.#pending.values()) {
      for (const target of missed) {
        const i = p.targets.indexOf(target)
        if (i < 0 || p.values[i] !== WAITING || p.via[i] !== address) continue
        p.missed ??= new Map()
        let tried = p.missed.get(target)
        if (!tried) p.missed.set(target, (tried = new Set()))
        tried.add(address)
        const other = this.#route.find((c) => !tried.has(this.#addressOf(c)))
        if (other) {
          this.resent++
          this.#send(p, [target], other)
        } else {
          p.via[i] = undefined
          this.#settle(p, target, undefined) // linked to no dispatcher we reach: offline
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
        this.#send(p, this.#waitingTargets(p), this.#route[0], now)
      }
    }
    this.#pending.compact()
  }

  // ---- receiving ---------------------------------------------------------------------------

  #onData (msg: DataMessage, via: LinkClient): void {
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

  #onRequest (msg: DataMessage, via: LinkClient): void {
    const payload = msg.payload
    if (payload.length < REQUEST_HEAD_BYTES) return
    const count = payload.readUInt32BE(8)
    const head = REQUEST_HEAD_BYTES + count * ENTRY_HEADER_BYTES
    if (head > payload.length) return // malformed: entries missing, nothing runs
    let mem = this.#memory.get(msg.source)
    if (!mem) this.#memory.set(msg.source, (mem = { replies: new Map(), floor: 0 }))
    const watermark = payload.readDoubleBE(0)
    if (watermark > mem.floor) {
      mem.floor = watermark
      for (const id of mem.replies.keys()) if (id < watermark) mem.replies.delete(id)
    }
    let bySource = this.#replies.get(via)
    if (!bySource) this.#replies.set(via, (bySource = new Map()))
    let list = bySource.get(msg.source)
    if (!list) bySource.set(msg.source, (list = []))
    const text = payload.toString('utf8', head)
    let at = 0
    for (let off = REQUEST_HEAD_BYTES; off < head; off += ENTRY_HEADER_BYTES) {
      const id = payload.readDoubleBE(off)
      const end = at + payload.readUInt32BE(off + 8)
      if (end > text.length || !Number.isSafeInteger(id)) break // malformed: the rest is dropped
      const body = text.slice(at, end)
      at = end
      let value: unknown
      if (mem.replies.has(id)) {
        value = mem.replies.get(id) // a re-send: answer again, do not run it twice
      } else if (id < mem.floor) {
        continue // a late copy of a request the source no longer waits for: it ran already
      } else {
        try {
          value = this.onRequest(msg.source, body)
        } catch (err) {
          this.#options.log?.warn({ err, source: msg.source }, 'cluster: a request failed')
          value = null
        }
        if (value === undefined) value = null
        if (mem.replies.size >= MAX_REMEMBERED) for (const old of mem.replies.keys()) { mem.replies.delete(old); break }
        mem.replies.set(id, value)
      }
      list.push([id, value])
    }
    if (!this.#replyScheduled) {
      this.#replyScheduled = true
      setImmediate(() => this.#flushReplies())
    }
  }

  /** Sends a turn's replies back through the link each request came in on (else any other). */
  #flushReplies (): void {
    this.#replyScheduled = false
    const all = this.#replies
    this.#replies = new Map()
    for (const [via, bySource] of all) {
      const client = via.link !== undefined ? via : this.#route[0]
      if (!client) continue // the sources re-send; the remembered replies answer them
      for (const [source, list] of bySource) {
        // numbers go as float64; anything else as JSON (a reply too big for a frame, a huge
        // groupMembers, is answered as null)
        const encoded = list.map(([, value]) => {
          if (typeof value === 'number') return undefined
          const json = Buffer.from(JSON.stringify(value) ?? 'null')
          return json.length > REPLY_FRAME_BYTES ? Buffer.from('null') : json
        })
        const sizes = encoded.map((json) => (json === undefined ? REPLY_NUMBER_BYTES : REPLY_JSON_BYTES + json.length))
        // an empty list (every request was a late copy) sends nothing
        for (const [from, to, bytes] of frameRuns(sizes, REPLY_FRAME_BYTES)) {
          const payload = Buffer.allocUnsafe(bytes)
          let off = 0
          for (let j = from; j < to; j++) {
            const [id, value] = list[j]
            payload.writeDoubleBE(id, off)
            const json = encoded[j]
            if (json === undefined) {
              payload[off + 8] = REPLY_NUMBER
              payload.writeDoubleBE(value as number, off + 9)
              off += REPLY_NUMBER_BYTES
            } else {
              payload[off + 8] = REPLY_JSON
              payload.writeUInt32BE(json.length, off + 9)
              off += REPLY_JSON_BYTES + json.copy(payload, off + REPLY_JSON_BYTES)
            }
          }
          client.send({ id: this.#base + this.#seq++, source: this.name, targets: [source], kind: Kind.REPLY, payload, quiet: true })
        }
      }
      // this already runs once per loop turn: write now instead of a turn later
      client.link?.flush()
    }
  }

  #onReply (msg: DataMessage): void {
    const payload = msg.payload
    let off = 0
    while (off + REPLY_NUMBER_BYTES <= payload.length) {
      const id = payload.readDoubleBE(off)
      let value: unknown
      if (payload[off + 8] === REPLY_NUMBER) {
        value = payload.readDoubleBE(off + 9)
        off += REPLY_NUMBER_BYTES
      } else {
        const end = off + REPLY_JSON_BYTES + payload.readUInt32BE(off + 9)
        if (payload[off + 8] !== REPLY_JSON || end > payload.length) return // malformed: the rest is dropped
        try {
          value = JSON.parse(payload.toString('utf8', off + REPLY_JSON_BYTES, end))
        } catch {
          value = null
        }
        off = end
      }
      const p = this.#pending.get(id - this.#base)
      if (p !== undefined) this.#settle(p, msg.source, value)
    }
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
    this.#route = []
    await Promise.all([...this.#clients.values()].map((c) => c.close()))
    this.#clients.clear()
  }
}

/**
 * Splits items of the given sizes into consecutive runs of at most `max` bytes each (an item
 * over `max` goes alone): [from, to, bytes] per run, none for no items.
 */
function frameRuns (sizes: readonly number[], max: number): Array<[number, number, number]> {
  const runs: Array<[number, number, number]> = []
  let from = 0
  let bytes = 0
  for (let i = 0; i < sizes.length; i++) {
    if (i > from && bytes + sizes[i] > max) {
      runs.push([from, i, bytes])
      from = i
      bytes = 0
    }
    bytes += sizes[i]
  }
  if (sizes.length > from) runs.push([from, sizes.length, bytes])
  return runs
}

/** FNV-1a of a string (picks a node's preferred dispatcher). */
function hash (s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return h >>> 0
}
