/**
 * The base of a bus that spans several processes (the worker processes of one multi-core
 * server, or the servers of a dispatch cluster). Every call serves this process's connections
 * first, through the local table, then hands the rest to the subclass: `route` sends a push to
 * the processes that hold its targets, `ask` answers a query for all of them, `changed` mirrors
 * a membership change. Counts add up the local and the remote connections reached.
 */
import { LocalBus, deliverToUid, type Bus, type BindOptions, type PushOptions, type Uid } from './bus.js'
import { answerQuery, excludeList, withMeta, type MembershipChange, type PushOp, type QueryOp } from './bus-ops.js'
import type { Connection } from './connection.js'
import type { ConnectionTable } from './table.js'

/** Adds up the numeric replies of several processes (connections reached). */
export function sumCounts (replies: Iterable<unknown>): number {
  let n = 0
  for (const v of replies) if (typeof v === 'number') n += v
  return n
}

/** A bus over several processes: local delivery first, then routing. */
export abstract class RemoteBus implements Bus {
  protected readonly table: ConnectionTable
  protected readonly local: LocalBus

  constructor (table: ConnectionTable) {
    this.table = table
    this.local = new LocalBus(table)
  }

  /**
   * Sends `op` to the other processes that hold its targets; resolves to how many connections
   * it reached there. `data`: the push's data (undefined for `kick` and `close`).
   */
  protected abstract route (op: PushOp, data: unknown): Promise<number>

  /**
   * Answers `q` for every process, this one included; undefined when the other side cannot
   * answer (the local answer stands in).
   */
  protected abstract ask (q: QueryOp): Promise<unknown>

  /** Mirrors a membership change this process made (after the local table applied it). */
  protected abstract changed (change: MembershipChange): Promise<void> | void

  /** A push to `uid` that reached `n` local connections: the hot path, which a subclass may route without building an op. */
  protected routeUid (uid: string, data: unknown, n: number): Promise<number> {
    return this.route({ o: 'uid', u: uid }, data).then((m) => n + m)
  }

  /** Before a bind with kick: closes the uid's connections in other processes (default: `changed` does it). */
  protected kickBeforeBind (_uid: string): Promise<void> | undefined {
    return undefined
  }

  // ---- membership: local table first, then mirrored ---------------------------------------

  opened (conn: Connection): void {
    void this.changed({ t: 'open', c: conn.id })
  }

  closed (conn: Connection, was: { uid?: string, groups?: ReadonlySet<string> }): void {
    void this.changed({ t: 'close', c: conn.id, was })
  }

  async bindUid (conn: Connection, uid: Uid, options?: BindOptions): Promise<void> {
    const key = String(uid)
    const kick = options?.kick === true
    if (kick) await this.kickBeforeBind(key)
    const previous = conn.uid
    const first = this.table.byUid(key).size === 0
    await this.local.bindUid(conn, key, options)
    await this.changed({ t: 'bind', c: conn.id, u: key, kick, previous, first })
  }

  async unbindUid (conn: Connection): Promise<void> {
    const uid = conn.uid
    await this.local.unbindUid(conn)
    await this.changed({ t: 'unbind', c: conn.id, u: uid })
  }

  async joinGroup (conn: Connection, group: string): Promise<void> {
    await this.local.joinGroup(conn, group)
    await this.changed({ t: 'join', c: conn.id, g: group })
  }

  async leaveGroup (conn: Connection, group: string): Promise<void> {
    await this.local.leaveGroup(conn, group)
    await this.changed({ t: 'leave', c: conn.id, g: group })
  }

  // ---- pushes: local delivery plus what the other processes reached ----------------------

  async sendToConnection (connectionId: string, data: unknown, options?: PushOptions): Promise<number> {
    if (this.table.get(connectionId)) return this.local.sendToConnection(connectionId, data, options)
    return this.route(withMeta({ o: 'conn', c: connectionId }, options?.meta), data)
  }

  sendToUid (uid: Uid, data: unknown, options?: PushOptions): Promise<number> {
    const key = String(uid)
    const meta = options?.meta
    let n: number
    try {
      n = deliverToUid(this.table, key, data, meta)
    } catch (err) {
      return Promise.reject(err) // a codec error rejects, as with the local bus
    }
    // the uid fast path carries no meta: a push with meta goes as an op
    if (meta === undefined) return this.routeUid(key, data, n)
    return this.route({ o: 'uid', u: key, m: meta }, data).then((m) => n + m)
  }

  async sendToUids (uids: readonly Uid[], data: unknown, options?: PushOptions): Promise<number> {
    const keys = [...new Set(uids.map(String))]
    const n = await this.local.sendToUids(keys, data, options)
    return n + await this.route(withMeta({ o: 'uids', u: keys }, options?.meta), data)
  }

  async sendToAll (data: unknown, options?: PushOptions): Promise<number> {
    const n = await this.local.sendToAll(data, options)
    return n + await this.route(withMeta({ o: 'all', x: excludeList(options?.exclude) }, options?.meta), data)
  }

  async sendToGroup (group: string, data: unknown, options?: PushOptions): Promise<number> {
    const n = await this.local.sendToGroup(group, data, options)
    return n + await this.route(withMeta({ o: 'group', g: group, x: excludeList(options?.exclude) }, options?.meta), data)
  }

  async kickUid (uid: Uid, reason = 'kicked'): Promise<number> {
    const key = String(uid)
    const n = await this.local.kickUid(key, reason)
    return n + await this.route({ o: 'kick', u: key, r: reason }, undefined)
  }

  async closeConnection (connectionId: string, reason = 'closed by server'): Promise<boolean> {
    if (await this.local.closeConnection(connectionId, reason)) return true
    return (await this.route({ o: 'close', c: connectionId, r: reason }, undefined)) > 0
  }

  // ---- queries: the other side covers every process; the local table when it cannot ------

  async #query<T> (q: QueryOp): Promise<T> {
    return (await this.ask(q) ?? answerQuery(this.table, q)) as T
  }

  async isUidOnline (uid: Uid): Promise<boolean> {
    const key = String(uid)
    if (this.table.byUid(key).size > 0) return true
    return await this.#query<boolean>({ o: 'online', u: key }) === true
  }

  onlineCount (): Promise<number> {
    return this.#query({ o: 'count' })
  }

  groupMembers (group: string): Promise<string[]> {
    return this.#query({ o: 'members', g: group })
  }

  groupCount (group: string): Promise<number> {
    return this.#query({ o: 'groupCount', g: group })
  }

  groups (): Promise<string[]> {
    return this.#query({ o: 'groups' })
  }

  /** Connections per transport over every process, when the other side knows them (else undefined). */
  serverConnections (): Promise<Record<string, number> | undefined> {
    return this.#query({ o: 'connections' })
  }
}

/**
 * Requests awaiting an answer, by sequence number. Each settles once: with its answer, or with
 * its fallback when it could not be sent, was dropped, timed out, or the other side went away.
 */
export class PendingRequests {
  readonly #waiting = new Map<number, { resolve: (value: unknown) => void, fallback: unknown, timer?: NodeJS.Timeout }>()
  #seq = 0

  /** Requests not settled yet. */
  get size (): number {
    return this.#waiting.size
  }

  /**
   * Starts a request: `send(r)` sends it with number `r` (false: it could not, and it settles
   * with `fallback`). With `timeoutMs`, an answer that takes longer settles it with `fallback`.
   */
  start<T> (send: (r: number) => boolean, fallback: T, timeoutMs?: number): Promise<T> {
    const r = ++this.#seq
    return new Promise<T>((resolve) => {
      const waiter = { resolve: resolve as (v: unknown) => void, fallback, timer: undefined as NodeJS.Timeout | undefined }
      if (timeoutMs !== undefined) waiter.timer = setTimeout(() => this.fail(r), timeoutMs)
      this.#waiting.set(r, waiter)
      if (!send(r)) this.fail(r)
    })
  }

  /** Settles request `r` with `value` (unknown or settled numbers are ignored). */
  settle (r: number, value: unknown): void {
    const waiter = this.#waiting.get(r)
    if (!waiter) return
    this.#waiting.delete(r)
    clearTimeout(waiter.timer)
    waiter.resolve(value)
  }

  /** Settles request `r` with its fallback. */
  fail (r: number): void {
    const waiter = this.#waiting.get(r)
    if (waiter) this.settle(r, waiter.fallback)
  }

  /** Settles every request with its fallback. */
  failAll (): void {
    for (const r of [...this.#waiting.keys()]) this.fail(r)
  }
}
