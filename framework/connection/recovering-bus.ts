/**
 * The bus where app code runs, with history: a decorator over the role's bus (local, multi-core,
 * cluster, split worker) that records recoverable pushes in a `HistoryStore` before handing them
 * on with their `meta`, waits for acknowledgements, and tells SDK clients where a stream stands
 * after they bind a uid or join a group (a sync message).
 */
import { groupStream, MAX_STREAM_NAME, uidStream } from '../client/wire.js'
import type { BindOptions, Uid } from '../core/contract.js'
import type { Bus, PushOptions } from './bus.js'
import type { PushMeta } from './bus-ops.js'
import type { Connection } from './connection.js'
import type { HistoryStore, StreamPosition } from './history.js'
import { groupMatcher } from './recovery-options.js'

/** What the recovering bus reads of the `recovery` config, plus its hooks into the process. */
export interface RecoveringBusOptions {
  /** Every sendToUid / sendToUids is recoverable. @default false */
  uids: boolean
  /** Group names, or prefixes ending in `*`, whose sendToGroup is recoverable. @default [] */
  groups: readonly string[]
  /** How long an `ack` send waits when the send gives no `timeoutMs`. @default 5000 */
  ackTimeoutMs: number
  /** Ack sends waiting at once; past it the oldest settles with the acks it has. @default 10000 */
  maxWaiters?: number
  /** Hears store failures that do not fail a call (a sync message after a bind). @default ignore */
  onError?: (err: unknown, what: string) => void
}

/** One `sendToUid(..., {ack: true})` waiting for its acknowledgements. */
interface Waiter {
  /** The uid the push went to: only its connections' acks count (ack ids are guessable). */
  uid: string
  acks: Set<string>
  /** Connections the push was handed to; undefined until the push returned. */
  reached: number | undefined
  timer: NodeJS.Timeout
  resolve: (acks: number) => void
}

/**
 * Whether a stream can be recorded: its name fits `/sd/recover` (MAX_STREAM_NAME). A longer one
 * would make the whole recover request of a client fail, and its reconnects with it.
 */
function recordable (stream: string): boolean {
  return stream.length <= MAX_STREAM_NAME
}

/** Sync message meta (no data): `y: 1`. */
function syncMeta (stream: string, epoch: string, offset: number): PushMeta {
  return { s: stream, e: epoch, o: offset, y: 1 }
}

/** The recovering decorator (see the file comment). */
export class RecoveringBus implements Bus {
  readonly #inner: Bus
  readonly #store: HistoryStore
  readonly #options: RecoveringBusOptions
  readonly #groupRecoverable: (group: string) => boolean
  readonly #maxWaiters: number
  readonly #waiters = new Map<string, Waiter>()
  #ackSeq = 0

  constructor (inner: Bus, store: HistoryStore, options: RecoveringBusOptions) {
    this.#inner = inner
    this.#store = store
    this.#options = options
    this.#groupRecoverable = groupMatcher(options.groups)
    this.#maxWaiters = options.maxWaiters ?? 10_000
    store.onAck((ackId, connectionId, uid) => this.acked(ackId, connectionId, uid))
  }

  /** The bus this one decorates. */
  get inner (): Bus { return this.#inner }
  /** Where the history is kept. */
  get store (): HistoryStore { return this.#store }
  /** Ack sends waiting now. */
  get waiting (): number { return this.#waiters.size }

  // ---- recorded pushes ---------------------------------------------------------------------

  async sendToUid (uid: Uid, data: unknown, options?: PushOptions): Promise<number> {
    const ack = options?.ack === true
    // the hot path first: a send that records nothing builds no stream name
    if (!ack && !(options?.recover ?? this.#options.uids)) return this.#inner.sendToUid(uid, data, options)
    // a uid too long for a stream name: a plain push (an ack send then has no ack to wait for)
    if (!recordable(uidStream(uid))) return ack ? this.#inner.sendToUid(uid, data).then(() => 0) : this.#inner.sendToUid(uid, data, options)
    return ack ? this.#sendWithAck(String(uid), data, options as PushOptions) : this.#recordedUid(String(uid), data, options)
  }

  async sendToUids (uids: readonly Uid[], data: unknown, options?: PushOptions): Promise<number> {
    if (!(options?.recover ?? this.#options.uids)) return this.#inner.sendToUids(uids, data, options)
    // one stream per uid: each gets its own offset
    const counts = await Promise.all([...new Set(uids.map(String))].map((uid) => recordable(uidStream(uid)) ? this.#recordedUid(uid, data, options) : this.#inner.sendToUid(uid, data, options)))
    return counts.reduce((a, b) => a + b, 0)
  }

  async sendToGroup (group: string, data: unknown, options?: PushOptions): Promise<number> {
    if (!(options?.recover ?? this.#groupRecoverable(group))) return this.#inner.sendToGroup(group, data, options)
    const stream = groupStream(group)
    if (!recordable(stream)) return this.#inner.sendToGroup(group, data, options)
    const p = await this.#store.append(stream, data)
    // excluded SDK members get a skip message where the connection is held (bus-ops.ts runPush)
    return this.#inner.sendToGroup(group, data, { ...options, meta: { s: stream, e: p.epoch, o: p.offset } })
  }

  async #recordedUid (uid: string, data: unknown, options: PushOptions | undefined): Promise<number> {
    const stream = uidStream(uid)
    const p = await this.#store.append(stream, data)
    return this.#inner.sendToUid(uid, data, { ...options, meta: { s: stream, e: p.epoch, o: p.offset } })
  }

  // ---- acknowledgements --------------------------------------------------------------------

  async #sendWithAck (uid: string, data: unknown, options: PushOptions): Promise<number> {
    const ackId = `${this.#store.owner}.${++this.#ackSeq}`
    const stream = uidStream(uid)
    // waiting before the push: an ack may arrive before the push call returns
    const done = this.#wait(ackId, uid, options.timeoutMs ?? this.#options.ackTimeoutMs)
    try {
      const p = await this.#store.append(stream, data, ackId)
      const reached = await this.#inner.sendToUid(uid, data, { ...options, meta: { s: stream, e: p.epoch, o: p.offset, a: ackId } })
      const w = this.#waiters.get(ackId)
      if (w !== undefined) {
        w.reached = reached
        this.#check(ackId, w)
      }
    } catch (err) {
      this.#settle(ackId)
      throw err
    }
    return done
  }

  #wait (ackId: string, uid: string, timeoutMs: number): Promise<number> {
    if (this.#waiters.size >= this.#maxWaiters) {
      const oldest = this.#waiters.keys().next().value as string
      this.#settle(oldest)
    }
    return new Promise((resolve) => {
      // not unref'd: a send waiting for acks is work in flight (stop settles them all)
      const timer = setTimeout(() => this.#settle(ackId), timeoutMs)
      this.#waiters.set(ackId, { uid, acks: new Set(), reached: undefined, timer, resolve })
    })
  }

  /**
   * An acknowledgement for a send of this process (from `/sd/ack` here, or another process
   * through the store) by `connectionId`, bound to `uid`: counted only when that is the uid the
   * push went to, so a client that guesses another's ack id cannot settle it.
   */
  acked (ackId: string, connectionId: string, uid: string): void {
    const w = this.#waiters.get(ackId)
    if (w === undefined || w.uid !== uid) return
    w.acks.add(connectionId)
    this.#check(ackId, w)
  }

  #check (ackId: string, w: Waiter): void {
    // 0 reached: wait the whole timeout (a client that reconnects and recovers it may still ack)
    if (w.reached !== undefined && w.reached > 0 && w.acks.size >= w.reached) this.#settle(ackId)
  }

  #settle (ackId: string): void {
    const w = this.#waiters.get(ackId)
    if (w === undefined) return
    this.#waiters.delete(ackId)
    clearTimeout(w.timer)
    w.resolve(w.acks.size)
  }

  /** Settles every waiting ack send with what it has (shutdown). */
  settleAll (): void {
    for (const id of [...this.#waiters.keys()]) this.#settle(id)
  }

  // ---- membership: a sync message to SDK clients -------------------------------------------

  // The position is read before the bind or join takes effect: every push the connection gets
  // once in is then above it. Read after, a push appended meanwhile by another process could
  // reach the client after the sync and be dropped as a duplicate.

  async bindUid (conn: Connection, uid: Uid, options?: BindOptions): Promise<void> {
    const stream = uidStream(uid)
    if (conn.session.$sd === undefined || !recordable(stream)) return this.#inner.bindUid(conn, uid, options)
    const p = await this.#position(stream)
    await this.#inner.bindUid(conn, uid, options)
    await this.#sync(conn.id, stream, p)
  }

  async joinGroup (conn: Connection, group: string): Promise<void> {
    const stream = groupStream(group)
    if (conn.session.$sd === undefined || !recordable(stream)) return this.#inner.joinGroup(conn, group)
    const p = await this.#position(stream)
    await this.#inner.joinGroup(conn, group)
    await this.#sync(conn.id, stream, p)
  }

  /** The stream's position; undefined when the store failed (the bind or join goes on without a sync). */
  async #position (stream: string): Promise<StreamPosition | undefined> {
    try {
      return await this.#store.position(stream)
    } catch (err) {
      this.#options.onError?.(err, 'recovery: sync message')
      return undefined
    }
  }

  async #sync (connectionId: string, stream: string, p: StreamPosition | undefined): Promise<void> {
    if (p === undefined) return
    try {
      await this.#inner.sendToConnection(connectionId, undefined, { meta: syncMeta(stream, p.epoch, p.offset) })
    } catch (err) {
      // the bind or join itself succeeded; the client only lacks a starting position
      this.#options.onError?.(err, 'recovery: sync message')
    }
  }

  // ---- the rest, as the inner bus does it --------------------------------------------------

  sendToConnection (connectionId: string, data: unknown, options?: PushOptions): Promise<number> {
    return this.#inner.sendToConnection(connectionId, data, options)
  }

  sendToAll (data: unknown, options?: PushOptions): Promise<number> {
    return this.#inner.sendToAll(data, options)
  }

  unbindUid (conn: Connection): Promise<void> { return this.#inner.unbindUid(conn) }
  leaveGroup (conn: Connection, group: string): Promise<void> { return this.#inner.leaveGroup(conn, group) }
  closeConnection (connectionId: string, reason?: string): Promise<boolean> { return this.#inner.closeConnection(connectionId, reason) }
  kickUid (uid: Uid, reason?: string): Promise<number> { return this.#inner.kickUid(uid, reason) }
  isUidOnline (uid: Uid): Promise<boolean> { return this.#inner.isUidOnline(uid) }
  onlineCount (): Promise<number> { return this.#inner.onlineCount() }
  groupMembers (group: string): Promise<string[]> { return this.#inner.groupMembers(group) }
  groupCount (group: string): Promise<number> { return this.#inner.groupCount(group) }
  groups (): Promise<string[]> { return this.#inner.groups() }
  async serverConnections (): Promise<Record<string, number> | undefined> { return this.#inner.serverConnections?.() }
  opened (conn: Connection): void { this.#inner.opened?.(conn) }
  closed (conn: Connection, was: { uid?: string, groups?: ReadonlySet<string> }): void { this.#inner.closed?.(conn, was) }
}
