/**
 * The multi-core primary's mirror of every worker's connections (id, uid, groups), kept from
 * the workers' membership messages. It answers queries for the whole server and tells which
 * workers a push must reach and how many connections it reaches there, with the same target
 * rules (`forEachTarget`) a worker applies to its own connections, and relays it to them.
 */
import { answerQuery, forEachTarget, type PushOp, type QueryOp } from '../connection/bus-ops.js'
import { ConnectionTable, type Member } from '../connection/table.js'
import type { MembershipMessage, ToWorker } from './ipc-protocol.js'

/** A connection of some worker. */
interface Mirror extends Member {
  readonly worker: number
}

/** Workers a push goes to, with the number of connections it reaches on each. */
export type Fanout = Map<number, number>

/** Sends a message to a worker (the primary's channel to it). */
export type SendToWorker = (worker: number, msg: ToWorker) => void

/** Every worker's connections, as the primary sees them. */
export class MembershipMirror {
  readonly #table = new ConnectionTable<Mirror>()
  readonly #byWorker = new Map<number, Set<Mirror>>()
  readonly #send: SendToWorker

  /** `send` carries the pushes `relay` sends to the workers. */
  constructor (send: SendToWorker) {
    this.#send = send
  }

  /** Applies a membership message from `worker`. */
  apply (worker: number, msg: MembershipMessage): void {
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
      case 'bind': {
        // bind with kick: the other workers' connections of the uid are closed in the same
        // step as the bind is recorded, so two simultaneous sign-ins cannot both stay
        if (msg.kick) this.relay({ o: 'kick', u: msg.u, r: `uid ${msg.u} signed in elsewhere`, except: msg.c }, undefined, worker)
        const m = this.#table.get(msg.c)
        if (m) this.#table.bindUid(m, msg.u)
        break
      }
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
  fanout (to: PushOp, origin: number): Fanout {
    const out: Fanout = new Map()
    if (to.o === 'all') {
      // counted per worker, not per connection: a broadcast costs the primary O(workers)
      const skip = new Set(to.x)
      for (const [worker, set] of this.#byWorker) {
        if (worker === origin) continue
        let n = set.size
        if (skip.size > 0) for (const id of skip) if (this.#table.get(id)?.worker === worker) n--
        if (n > 0) out.set(worker, n)
      }
      return out
    }
    forEachTarget(this.#table, to, (m) => {
      if (m.worker !== origin) out.set(m.worker, (out.get(m.worker) ?? 0) + 1)
    })
    // a recorded group push: a worker whose members the push leaves out gets it too, to send
    // them the stream's position instead (bus-ops' runPush); they are not counted
    if (to.o === 'group' && to.m !== undefined && to.x !== undefined) {
      const members = this.#table.byGroup(to.g)
      for (const id of to.x) {
        const m = this.#table.get(id)
        if (m !== undefined && m.worker !== origin && !out.has(m.worker) && members.has(m)) out.set(m.worker, 0)
      }
    }
    return out
  }

  /** Sends a push from `origin` to the other workers that hold its targets; returns how many connections it reaches there. */
  relay (to: PushOp, d: unknown, origin: number): number {
    let total = 0
    for (const [worker, n] of this.fanout(to, origin)) {
      this.#send(worker, { t: 'deliver', to, d })
      total += n
    }
    return total
  }

  /** Answers a query for the whole server (`connections` is the primary's own to answer). */
  query (q: QueryOp): unknown {
    return answerQuery(this.#table, q)
  }
}
