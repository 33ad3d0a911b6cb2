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
 * DATA kinds (the `kind` byte of link frames):
 *   REQUEST: float64 BE watermark (lowest id the source still waits for) + body bytes
 *   REPLY:   JSON [[id, value], ...] (one frame per source per event-loop turn)
 *   NOTICE:  body bytes, to every other server (flag ALL), no reply, not re-sent
 */
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import { SdError } from '../core/errors.js'
import type { AckEntry, DataMessage } from './link-frames.js'
import { isValidNodeName } from './link-auth.js'
import { LinkClient, type LinkClientOptions } from './link-client.js'
import type { LinkStats } from './link.js'

export const Kind = { REQUEST: 1, REPLY: 2, NOTICE: 3 } as const

/** Handles a request or notice from another node; returns the reply value (JSON-able). */
export type RequestHandler = (source: string, body: Buffer) => unknown
export type NoticeHandler = (source: string, body: Buffer) => void

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
  id: number
  body: Buffer
  /** Targets that have not answered yet. */
  waiting: Set<string>
  replies: Map<string, unknown>
  /** Dispatcher address each waiting target was last sent through, and those that missed it. */
  via: Map<string, string>
  missed: Map<string, Set<string>> | undefined
  startedAt: number
  sentAt: number
  resolve: (replies: Map<string, unknown>) => void
  reject: (err: Error) => void
}

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

/** Requests and replies of one cluster node. */
export class Messenger extends EventEmitter<MessengerEvents> {
  readonly name: string
  readonly #options: MessengerOptions
  readonly #clients = new Map<string, LinkClient>()
  readonly #addresses = new WeakMap<LinkClient, string>()
  readonly #pending = new Map<number, Pending>()
  readonly #memory = new Map<string, SourceMemory>()
  /** Replies to send, per link the requests came in on, per source. */
  #replies = new Map<LinkClient, Map<string, Array<[number, unknown]>>>()
  #replyScheduled = false
  #nextId: number
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
    this.#nextId = Date.now() * 1000
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
  request (targets: readonly string[], body: Buffer): Promise<Map<string, unknown>> {
    if (targets.length === 0) return Promise.resolve(new Map())
    const bad = targets.find((t) => !isValidNodeName(t))
    if (bad !== undefined) return Promise.reject(new SdError('SD_ERR_CLUSTER_UNAVAILABLE', `${JSON.stringify(bad.slice(0, 64))} is not a node name`))
    if (body.length > this.#maxBody) {
      return Promise.reject(new SdError('SD_ERR_FRAME_TOO_LARGE', `a cross-server message of ${body.length} bytes is over the link limit (${this.#maxBody} bytes)`))
    }
    if (this.#closed || this.#route.length === 0) {
      return Promise.reject(new SdError('SD_ERR_CLUSTER_UNAVAILABLE', this.#clients.size === 0 ? 'no dispatch server is known (none registered, none configured)' : 'no dispatch server is reachable'))
    }
    return new Promise((resolve, reject) => {
      const now = Date.now()
      const p: Pending = {
        id: this.#nextId++, body, waiting: new Set(targets), replies: new Map(), via: new Map(), missed: undefined,
        startedAt: now, sentAt: now, resolve, reject,
      }
      this.#pending.set(p.id, p)
      this.#send(p, [...p.waiting], this.#route[0])
    })
  }

  /** Sends a notice to every other server (through one dispatcher; best effort). */
  notify (body: Buffer): boolean {
    const client = this.#route[0]
    if (!client) return false
    return client.send({ id: this.#nextId++, source: this.name, targets: 'all', kind: Kind.NOTICE, payload: body, quiet: true })
  }

  #watermark (): number {
    for (const id of this.#pending.keys()) return id
    return this.#nextId
  }

  #send (p: Pending, targets: string[], client: LinkClient | undefined): void {
    p.sentAt = Date.now()
    if (!client || targets.length === 0) return // waits for a link (#resendWaiting) or the timeout
    const payload = Buffer.allocUnsafe(8 + p.body.length)
    payload.writeDoubleBE(this.#watermark(), 0)
    p.body.copy(payload, 8)
    const address = this.#addressOf(client)
    // quiet: the dispatcher ACKs only targets it could not reach; the replies confirm the rest
    const msg: DataMessage = { id: p.id, source: this.name, targets, kind: Kind.REQUEST, payload, quiet: true }
    if (!client.send(msg)) return // link full or just lost: the retry or the failover sends it
    for (const t of targets) p.via.set(t, address)
  }

  #settle (p: Pending, target: string, value: unknown): void {
    if (!p.waiting.delete(target)) return
    p.replies.set(target, value)
    if (p.waiting.size === 0) {
      this.#pending.delete(p.id)
      p.resolve(p.replies)
    }
  }

  /** The dispatcher at `address` is gone: what went through it goes through another. */
  #failover (address: string): void {
    const next = this.#route[0]
    for (const p of this.#pending.values()) {
      const targets = [...p.waiting].filter((t) => p.via.get(t) === address)
      if (targets.length === 0) continue
      for (const t of targets) p.via.delete(t)
      this.resent++
      this.#send(p, targets, next)
    }
  }

  /** A link came up: send what waits for one. */
  #resendWaiting (): void {
    const next = this.#route[0]
    for (const p of this.#pending.values()) {
      const targets = [...p.waiting].filter((t) => !p.via.has(t))
      if (targets.length > 0) this.#send(p, targets, next)
    }
  }

  #onAck (address: string, entries: AckEntry[]): void {
    for (const e of entries) {
      if (e.missed.length === 0) continue
      const p = this.#pending.get(e.id)
      if (!p) continue
      for (const target of e.missed) {
        if (!p.waiting.has(target) || p.via.get(target) !== address) continue
        p.missed ??= new Map()
        let tried = p.missed.get(target)
        if (!tried) p.missed.set(target, (tried = new Set()))
        tried.add(address)
        const other = this.#route.find((c) => !tried.has(this.#addressOf(c)))
        if (other) {
          this.resent++
          this.#send(p, [target], other)
        } else {
          this.#settle(p, target, undefined) // linked to no dispatcher we reach: offline
        }
      }
    }
  }

  /** Settles what waits for `node` (its record expired: it is gone). */
  nodeGone (node: string): void {
    for (const p of [...this.#pending.values()]) this.#settle(p, node, undefined)
  }

  /** Re-sends requests without every reply after `retryMs`; fails those past their timeout. */
  #check (): void {
    const now = Date.now()
    const timeout = this.#options.requestTimeoutMs ?? 5000
    const retry = this.#options.retryMs ?? 1000
    for (const p of [...this.#pending.values()]) {
      if (now - p.startedAt >= timeout) {
        this.#pending.delete(p.id)
        p.reject(new SdError('SD_ERR_CLUSTER_UNAVAILABLE', `no reply from ${[...p.waiting].join(', ')} within ${timeout} ms`))
      } else if (now - p.sentAt >= retry) {
        this.resent++
        this.#send(p, [...p.waiting], this.#route[0])
      }
    }
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
    if (msg.payload.length < 8) return
    let mem = this.#memory.get(msg.source)
    if (!mem) this.#memory.set(msg.source, (mem = { replies: new Map(), floor: 0 }))
    const watermark = msg.payload.readDoubleBE(0)
    if (watermark > mem.floor) {
      mem.floor = watermark
      for (const id of mem.replies.keys()) if (id < watermark) mem.replies.delete(id)
    }
    let value: unknown
    if (mem.replies.has(msg.id)) {
      value = mem.replies.get(msg.id) // a re-send: answer again, do not run it twice
    } else if (msg.id < mem.floor) {
      return // a late copy of a request the source no longer waits for: it ran already
    } else {
      try {
        value = this.onRequest(msg.source, msg.payload.subarray(8))
      } catch (err) {
        this.#options.log?.warn({ err, source: msg.source }, 'cluster: a request failed')
        value = null
      }
      if (value === undefined) value = null
      if (mem.replies.size >= MAX_REMEMBERED) for (const id of mem.replies.keys()) { mem.replies.delete(id); break }
      mem.replies.set(msg.id, value)
    }
    let bySource = this.#replies.get(via)
    if (!bySource) this.#replies.set(via, (bySource = new Map()))
    let list = bySource.get(msg.source)
    if (!list) bySource.set(msg.source, (list = []))
    list.push([msg.id, value])
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
        let chunk: string[] = []
        let bytes = 2
        const flush = (): void => {
          if (chunk.length === 0) return
          client.send({ id: this.#nextId++, source: this.name, targets: [source], kind: Kind.REPLY, payload: Buffer.from(`[${chunk.join(',')}]`), quiet: true })
          chunk = []
          bytes = 2
        }
        for (const [id, value] of list) {
          let entry = JSON.stringify([id, value])
          // a reply too big for a frame (a huge groupMembers) is answered as null
          if (entry.length > REPLY_FRAME_BYTES) entry = JSON.stringify([id, null])
          if (bytes + entry.length > REPLY_FRAME_BYTES) flush()
          chunk.push(entry)
          bytes += entry.length + 1
        }
        flush()
      }
    }
  }

  #onReply (msg: DataMessage): void {
    let list: Array<[number, unknown]>
    try {
      list = JSON.parse(msg.payload.toString('utf8')) as Array<[number, unknown]>
    } catch {
      return
    }
    if (!Array.isArray(list)) return
    for (const entry of list) {
      if (!Array.isArray(entry)) continue
      const p = this.#pending.get(entry[0])
      if (p) this.#settle(p, msg.source, entry[1])
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
    for (const p of this.#pending.values()) p.reject(new SdError('SD_ERR_CLUSTER_UNAVAILABLE', 'this node is stopping'))
    this.#pending.clear()
    this.#route = []
    await Promise.all([...this.#clients.values()].map((c) => c.close()))
    this.#clients.clear()
  }
}

/** FNV-1a of a string (picks a node's preferred dispatcher). */
function hash (s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return h >>> 0
}
