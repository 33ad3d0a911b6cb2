/**
 * The multi-core primary's registry: a mirror of every worker's connections (id, uid, groups),
 * kept from the workers' membership messages. It answers queries for the whole server and
 * tells which workers a push must reach and how many connections it reaches there.
 */
import { ConnectionTable, type Member } from '../connection/table.js'
import type { FromWorker, Query, Target } from './ipc-protocol.js'

/** A connection of some worker. */
interface Mirror extends Member {
  readonly worker: number
}

/** Workers a push goes to, with the number of connections it reaches on each. */
export type Fanout = Map<number, number>

export class Registry {
  readonly #table = new ConnectionTable<Mirror>()
  readonly #byWorker = new Map<number, Set<Mirror>>()

  /** Applies a membership message from `worker`. */
  apply (worker: number, msg: FromWorker): void {
    switch (msg.t) {
      case 'open': {
        const m: Mirror = { id: msg.c, uid: undefined, groups: undefined, worker }
        this.#table.add(m)
        let set = this.#byWorker.get(worker)
        if (!set) this.#byWorker.set(worker, (set = new Set()))
        set.add(m)
        break
      }
      case 'close': {
        const m = this.#table.get(msg.c)
        if (!m) return
        this.#table.remove(m)
        this.#byWorker.get(m.worker)?.delete(m)
        break
      }
      case 'bind': { const m = this.#table.get(msg.c); if (m) this.#table.bindUid(m, msg.u); break }
      case 'unbind': { const m = this.#table.get(msg.c); if (m) this.#table.unbindUid(m); break }
      case 'join': { const m = this.#table.get(msg.c); if (m) this.#table.join(m, msg.g); break }
      case 'leave': { const m = this.#table.get(msg.c); if (m) this.#table.leave(m, msg.g); break }
    }
  }

  /** Forgets every connection of a worker that exited. */
  dropWorker (worker: number): void {
    for (const m of this.#byWorker.get(worker) ?? []) this.#table.remove(m)
    this.#byWorker.delete(worker)
  }

  /** Connections mirrored, all workers. */
  get size (): number {
    return this.#table.size
  }

  /** Where a push from `origin` goes (the origin delivers its own connections itself). */
  fanout (to: Target, origin: number): Fanout {
    const out: Fanout = new Map()
    const add = (m: Mirror): void => {
      if (m.worker !== origin) out.set(m.worker, (out.get(m.worker) ?? 0) + 1)
    }
    switch (to.k) {
      case 'uid': for (const m of this.#table.byUid(to.u)) add(m); break
      case 'uids': {
        const seen = new Set<string>()
        for (const u of to.u) for (const m of this.#table.byUid(u)) if (!seen.has(m.id)) { seen.add(m.id); add(m) }
        break
      }
      case 'all': {
        const skip = new Set(to.x)
        for (const [worker, set] of this.#byWorker) {
          if (worker === origin) continue
          let n = set.size
          if (skip.size > 0) for (const id of skip) if (this.#table.get(id)?.worker === worker) n--
          if (n > 0) out.set(worker, n)
        }
        break
      }
      case 'group': {
        const skip = new Set(to.x)
        for (const m of this.#table.byGroup(to.g)) if (!skip.has(m.id)) add(m)
        break
      }
      case 'conn':
      case 'close': { const m = this.#table.get(to.c); if (m) add(m); break }
      case 'kick': for (const m of this.#table.byUid(to.u)) if (m.id !== to.except) add(m); break
    }
    return out
  }

  /** Answers a query for the whole server. */
  query (q: Query): unknown {
    switch (q.k) {
      case 'online': return this.#table.byUid(q.u).size > 0
      case 'count': return this.#table.uidCount()
      case 'members': {
        const uids = new Set<string>()
        for (const m of this.#table.byGroup(q.g)) if (m.uid !== undefined) uids.add(m.uid)
        return [...uids]
      }
      case 'groupCount': return this.#table.byGroup(q.g).size
      case 'groups': return this.#table.groupNames()
    }
  }
}
