/**
 * Connections indexed by id, uid and group. Pure bookkeeping: no I/O. A process keeps its own
 * connections here; the multi-core primary keeps a mirror of every worker's (as `Member`s).
 */
import type { Connection } from './connection.js'

/** What the table indexes: an id, at most one uid, any number of groups. */
export interface Member {
  readonly id: string
  uid: string | undefined
  groups: Set<string> | undefined
}

const empty: ReadonlySet<never> = new Set()

/** Connection table (one per process, or a mirror of many). */
export class ConnectionTable<C extends Member = Connection> {
  readonly #byId = new Map<string, C>()
  readonly #byUid = new Map<string, Set<C>>()
  readonly #byGroup = new Map<string, Set<C>>()
  readonly #prefix: string
  #seq = 0

  /** `prefix` makes ids unique across nodes (e.g. the node name). */
  constructor (prefix = '') {
    this.#prefix = prefix
  }

  /** A new connection id. */
  nextId (): string {
    return this.#prefix + (++this.#seq).toString(36)
  }

  get size (): number {
    return this.#byId.size
  }

  add (conn: C): void {
    this.#byId.set(conn.id, conn)
  }

  /** Removes a connection from every index. */
  remove (conn: C): void {
    this.#byId.delete(conn.id)
    if (conn.uid !== undefined) this.unbindUid(conn)
    if (conn.groups) for (const g of conn.groups) this.#leave(conn, g)
    conn.groups = undefined
  }

  get (id: string): C | undefined {
    return this.#byId.get(id)
  }

  all (): IterableIterator<C> {
    return this.#byId.values()
  }

  /** Binds `uid`; a connection has at most one uid, a uid may have many connections. */
  bindUid (conn: C, uid: string): void {
    // a connection that closed while its action was awaiting something stays out of the indexes
    if (conn.uid === uid || this.#byId.get(conn.id) !== conn) return
    if (conn.uid !== undefined) this.unbindUid(conn)
    conn.uid = uid
    let set = this.#byUid.get(uid)
    if (!set) this.#byUid.set(uid, (set = new Set()))
    set.add(conn)
  }

  unbindUid (conn: C): void {
    const uid = conn.uid
    if (uid === undefined) return
    conn.uid = undefined
    const set = this.#byUid.get(uid)
    if (!set) return
    set.delete(conn)
    if (set.size === 0) this.#byUid.delete(uid)
  }

  byUid (uid: string): ReadonlySet<C> {
    return this.#byUid.get(uid) ?? empty
  }

  uidCount (): number {
    return this.#byUid.size
  }

  join (conn: C, group: string): void {
    if (this.#byId.get(conn.id) !== conn) return
    conn.groups ??= new Set()
    conn.groups.add(group)
    let set = this.#byGroup.get(group)
    if (!set) this.#byGroup.set(group, (set = new Set()))
    set.add(conn)
  }

  leave (conn: C, group: string): void {
    if (!conn.groups?.delete(group)) return
    this.#leave(conn, group)
  }

  #leave (conn: C, group: string): void {
    const set = this.#byGroup.get(group)
    if (!set) return
    set.delete(conn)
    if (set.size === 0) this.#byGroup.delete(group)
  }

  byGroup (group: string): ReadonlySet<C> {
    return this.#byGroup.get(group) ?? empty
  }

  groupNames (): string[] {
    return [...this.#byGroup.keys()]
  }
}
