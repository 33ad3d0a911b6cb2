/**
 * The bus of one worker of `sd start --workers N`: local connections are served by a
 * `LocalBus`; every membership change is mirrored to the primary, and what concerns other
 * workers (a uid, a group, everyone, a query) goes through the primary, which knows which
 * worker holds what. A unicast reaches only the workers that hold the uid.
 */
import { LocalBus, type Bus, type BindOptions, type SendOptions, type Uid } from '../connection/bus.js'
import type { Connection } from '../connection/connection.js'
import type { ConnectionTable } from '../connection/table.js'
import type { FromWorker, Query, Target, ToWorker } from './ipc-protocol.js'

/** Sends a message to the primary; false when the channel is gone. */
export type SendToPrimary = (msg: FromWorker) => boolean

function excludeList (options: SendOptions | undefined): string[] | undefined {
  const ex = options?.exclude
  if (ex === undefined) return undefined
  return typeof ex === 'string' ? [ex] : [...ex]
}

/** Bus of a worker process. */
export class WorkerBus implements Bus {
  readonly #local: LocalBus
  readonly #send: SendToPrimary
  readonly #waiting = new Map<number, { resolve: (value: unknown) => void, fallback: unknown }>()
  #seq = 0

  constructor (table: ConnectionTable, send: SendToPrimary) {
    this.#local = new LocalBus(table)
    this.#send = send
  }

  /** A request to the primary; resolves to `fallback` when the channel is gone. */
  #request<T> (build: (r: number) => FromWorker, fallback: T): Promise<T> {
    const r = ++this.#seq
    return new Promise<T>((resolve) => {
      this.#waiting.set(r, { resolve: resolve as (v: unknown) => void, fallback })
      if (!this.#send(build(r))) {
        this.#waiting.delete(r)
        resolve(fallback)
      }
    })
  }

  #remote (to: Target, d?: unknown): Promise<number> {
    return this.#request((r) => ({ t: 'send', r, to, d }), 0)
  }

  #query<T> (q: Query, fallback: T): Promise<T> {
    return this.#request((r) => ({ t: 'query', r, q }), fallback)
  }

  /** Connections per transport over every worker of this server (undefined if the primary does not answer). */
  serverConnections (): Promise<Record<string, number> | undefined> {
    return this.#query({ k: 'connections' }, undefined as Record<string, number> | undefined)
  }

  /** Handles what the primary sends: deliveries for local connections and results. */
  receive (msg: ToWorker): void {
    if (msg.t === 'result') {
      const waiter = this.#waiting.get(msg.r)
      this.#waiting.delete(msg.r)
      waiter?.resolve(msg.v)
    } else if (msg.t === 'deliver') {
      void this.#deliver(msg.to, msg.d)
    }
  }

  /** A request that could not be sent (its data cannot be serialised): it settles with its fallback. */
  dropped (msg: FromWorker): void {
    if (msg.t !== 'send' && msg.t !== 'query') return
    const waiter = this.#waiting.get(msg.r)
    this.#waiting.delete(msg.r)
    waiter?.resolve(waiter.fallback)
  }

  /** Settles every pending request with its fallback (the primary is gone). */
  disconnected (): void {
    for (const { resolve, fallback } of this.#waiting.values()) resolve(fallback)
    this.#waiting.clear()
  }

  async #deliver (to: Target, d: unknown): Promise<void> {
    const local = this.#local
    switch (to.k) {
      case 'uid': await local.sendToUid(to.u, d); break
      case 'uids': await local.sendToUids(to.u, d); break
      case 'all': await local.sendToAll(d, { exclude: to.x }); break
      case 'group': await local.sendToGroup(to.g, d, { exclude: to.x }); break
      case 'conn': await local.sendToConnection(to.c, d); break
      case 'kick': await local.kickUid(to.u, to.reason); break
      case 'close': await local.closeConnection(to.c, to.reason); break
    }
  }

  // ---- membership: local first, then mirrored ------------------------------------------

  /** A connection opened on this worker. */
  opened (conn: Connection): void {
    this.#send({ t: 'open', c: conn.id })
  }

  /** A connection closed on this worker (after the local table dropped it). */
  closed (conn: Connection): void {
    this.#send({ t: 'close', c: conn.id })
  }

  async bindUid (conn: Connection, uid: Uid, options?: BindOptions): Promise<void> {
    const key = String(uid)
    await this.#local.bindUid(conn, key, options)
    // the primary closes the other workers' connections of the uid in the same step
    this.#send(options?.kick ? { t: 'bind', c: conn.id, u: key, kick: true } : { t: 'bind', c: conn.id, u: key })
  }

  async unbindUid (conn: Connection): Promise<void> {
    await this.#local.unbindUid(conn)
    this.#send({ t: 'unbind', c: conn.id })
  }

  async joinGroup (conn: Connection, group: string): Promise<void> {
    await this.#local.joinGroup(conn, group)
    this.#send({ t: 'join', c: conn.id, g: group })
  }

  async leaveGroup (conn: Connection, group: string): Promise<void> {
    await this.#local.leaveGroup(conn, group)
    this.#send({ t: 'leave', c: conn.id, g: group })
  }

  // ---- pushes: local delivery plus the primary's count for the other workers -------------

  async sendToConnection (connectionId: string, data: unknown): Promise<number> {
    const n = await this.#local.sendToConnection(connectionId, data)
    return n > 0 ? n : this.#remote({ k: 'conn', c: connectionId }, data)
  }

  async sendToUid (uid: Uid, data: unknown): Promise<number> {
    const n = await this.#local.sendToUid(uid, data)
    return n + await this.#remote({ k: 'uid', u: String(uid) }, data)
  }

  async sendToUids (uids: readonly Uid[], data: unknown): Promise<number> {
    const n = await this.#local.sendToUids(uids, data)
    return n + await this.#remote({ k: 'uids', u: [...new Set(uids.map(String))] }, data)
  }

  async sendToAll (data: unknown, options?: SendOptions): Promise<number> {
    const n = await this.#local.sendToAll(data, options)
    return n + await this.#remote({ k: 'all', x: excludeList(options) }, data)
  }

  async sendToGroup (group: string, data: unknown, options?: SendOptions): Promise<number> {
    const n = await this.#local.sendToGroup(group, data, options)
    return n + await this.#remote({ k: 'group', g: group, x: excludeList(options) }, data)
  }

  async kickUid (uid: Uid, reason = 'kicked'): Promise<number> {
    const n = await this.#local.kickUid(uid, reason)
    return n + await this.#remote({ k: 'kick', u: String(uid), reason })
  }

  async closeConnection (connectionId: string, reason = 'closed by server'): Promise<boolean> {
    if (await this.#local.closeConnection(connectionId, reason)) return true
    return (await this.#remote({ k: 'close', c: connectionId, reason })) > 0
  }

  // ---- queries: the primary's registry covers every worker, this one included -----------

  isUidOnline (uid: Uid): Promise<boolean> {
    return this.#query({ k: 'online', u: String(uid) }, false).then(async (v) => v || this.#local.isUidOnline(uid))
  }

  onlineCount (): Promise<number> {
    return this.#query({ k: 'count' }, undefined as number | undefined).then((v) => v ?? this.#local.onlineCount())
  }

  groupMembers (group: string): Promise<string[]> {
    return this.#query({ k: 'members', g: group }, undefined as string[] | undefined).then((v) => v ?? this.#local.groupMembers(group))
  }

  groupCount (group: string): Promise<number> {
    return this.#query({ k: 'groupCount', g: group }, undefined as number | undefined).then((v) => v ?? this.#local.groupCount(group))
  }

  groups (): Promise<string[]> {
    return this.#query({ k: 'groups' }, undefined as string[] | undefined).then((v) => v ?? this.#local.groups())
  }
}
