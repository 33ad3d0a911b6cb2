/**
 * The bus: every push and every cluster-wide query a controller makes goes through it. The
 * standalone `LocalBus` serves them from this process's connection table; the cluster layer
 * provides another implementation of the same interface, so controllers never change.
 */
import type { BindOptions, BusCalls, SendOptions, Uid } from '../core/contract.js'
import type { PushMeta } from './bus-ops.js'
import { SdError } from '../core/errors.js'
import { excludeList, groupUids, runPush, withMeta } from './bus-ops.js'
import type { Connection } from './connection.js'
import type { ConnectionTable } from './table.js'

export type { SendOptions, BindOptions, Uid } from '../core/contract.js'

/**
 * Options of a push as buses take them: the controller's options (a bus that records history
 * turns `recover`/`ack` into `meta`; the others ignore those two) plus the meta to send.
 */
export interface PushOptions extends SendOptions {
  /** Stream, epoch, offset (and ack id) the push carries to the client. */
  meta?: PushMeta
}

/**
 * Pushes and registry queries (core's `BusCalls`) plus the caller's own membership. Sends
 * resolve to the number of connections the message was handed to (0: the target is offline).
 */
export interface Bus extends BusCalls {
  sendToConnection (connectionId: string, data: unknown, options?: PushOptions): Promise<number>
  sendToUid (uid: Uid, data: unknown, options?: PushOptions): Promise<number>
  sendToUids (uids: readonly Uid[], data: unknown, options?: PushOptions): Promise<number>
  sendToAll (data: unknown, options?: PushOptions): Promise<number>
  sendToGroup (group: string, data: unknown, options?: PushOptions): Promise<number>
  bindUid (conn: Connection, uid: Uid, options?: BindOptions): Promise<void>
  unbindUid (conn: Connection): Promise<void>
  joinGroup (conn: Connection, group: string): Promise<void>
  leaveGroup (conn: Connection, group: string): Promise<void>
  /** Connections per transport of the whole server, when it has several worker processes (else undefined: ask this process). */
  serverConnections? (): Promise<Record<string, number> | undefined>
  /** A connection of this process opened (buses that mirror membership elsewhere need it). */
  opened? (conn: Connection): void
  /** A connection of this process closed, after the local table dropped it; `was` is the uid and groups it had. */
  closed? (conn: Connection, was: { uid?: string, groups?: ReadonlySet<string> }): void
}

/**
 * Pushes `data` (with `meta`, when given) to the connections of `uid` in `table`,
 * synchronously: the hot path of every bus (one connection: no shared encoding to allocate).
 * Throws what a codec throws.
 */
export function deliverToUid (table: ConnectionTable, uid: string, data: unknown, meta?: PushMeta): number {
  const conns = table.byUid(uid)
  if (conns.size === 0) return 0
  if (conns.size === 1) for (const c of conns) return c.push(data, meta) ? 1 : 0
  return runPush(table, withMeta({ o: 'uid', u: uid }, meta), data)
}

/** The bus of one standalone process. */
export class LocalBus implements Bus {
  readonly #table: ConnectionTable

  constructor (table: ConnectionTable) {
    this.#table = table
  }

  async bindUid (conn: Connection, uid: Uid, options?: BindOptions): Promise<void> {
    const key = String(uid)
    if (options?.kick) {
      for (const other of [...this.#table.byUid(key)]) {
        if (other !== conn) other.close(new SdError('SD_ERR_KICKED', `uid ${key} signed in elsewhere`))
      }
    }
    this.#table.bindUid(conn, key)
  }

  async unbindUid (conn: Connection): Promise<void> {
    this.#table.unbindUid(conn)
  }

  async joinGroup (conn: Connection, group: string): Promise<void> {
    this.#table.join(conn, group)
  }

  async leaveGroup (conn: Connection, group: string): Promise<void> {
    this.#table.leave(conn, group)
  }

  async sendToConnection (connectionId: string, data: unknown, options?: PushOptions): Promise<number> {
    const conn = this.#table.get(connectionId)
    return conn?.push(data, options?.meta) ? 1 : 0
  }

  async sendToUid (uid: Uid, data: unknown, options?: PushOptions): Promise<number> {
    return deliverToUid(this.#table, String(uid), data, options?.meta)
  }

  async sendToUids (uids: readonly Uid[], data: unknown, options?: PushOptions): Promise<number> {
    return runPush(this.#table, withMeta({ o: 'uids', u: uids.map(String) }, options?.meta), data)
  }

  async sendToAll (data: unknown, options?: PushOptions): Promise<number> {
    return runPush(this.#table, withMeta({ o: 'all', x: excludeList(options?.exclude) }, options?.meta), data)
  }

  async sendToGroup (group: string, data: unknown, options?: PushOptions): Promise<number> {
    return runPush(this.#table, withMeta({ o: 'group', g: group, x: excludeList(options?.exclude) }, options?.meta), data)
  }

  async kickUid (uid: Uid, reason = 'kicked'): Promise<number> {
    return runPush(this.#table, { o: 'kick', u: String(uid), r: reason }, undefined)
  }

  async closeConnection (connectionId: string, reason = 'closed by server'): Promise<boolean> {
    return runPush(this.#table, { o: 'close', c: connectionId, r: reason }, undefined) > 0
  }

  async isUidOnline (uid: Uid): Promise<boolean> {
    return this.#table.byUid(String(uid)).size > 0
  }

  async onlineCount (): Promise<number> {
    return this.#table.uidCount()
  }

  async groupMembers (group: string): Promise<string[]> {
    return groupUids(this.#table, group)
  }

  async groupCount (group: string): Promise<number> {
    return this.#table.byGroup(group).size
  }

  async groups (): Promise<string[]> {
    return this.#table.groupNames()
  }
}
