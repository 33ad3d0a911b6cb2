/**
 * Links of a listening port still handshaking, bounded: one more beyond the limit evicts the
 * oldest (a real peer answers the challenge within a round trip; a silent socket waits for its
 * deadline), so a flood of silent sockets holds no more than `max` of them and cannot keep a
 * real peer out. Used by the dispatch server and the gateway's link port.
 */
import type { Link } from './link.js'
import { refusalReason } from './refusal-log.js'

const EVICTED = 'too many pending handshakes'

/** The handshaking links of one port. */
export class PendingHandshakes {
  readonly #max: number
  readonly #links = new Set<Link>()
  readonly #evicted = new WeakSet<Link>()

  constructor (max: number) {
    this.#max = max
  }

  get size (): number { return this.#links.size }

  /** Makes room for one more (evicting the oldest at the limit); false when the limit is 0: refuse the socket. */
  makeRoom (): boolean {
    if (this.#links.size < this.#max) return true
    const oldest = this.#links.values().next().value
    if (oldest === undefined) return false
    this.#links.delete(oldest)
    this.#evicted.add(oldest)
    oldest.destroy(EVICTED)
    return true
  }

  add (link: Link): void { this.#links.add(link) }

  /** The handshake of `link` ended (either way). */
  delete (link: Link): void { this.#links.delete(link) }

  /** Why a handshake that failed is counted as refused: evicted, or its failure kind. */
  reason (link: Link, err: Error): string {
    return this.#evicted.has(link) ? EVICTED : refusalReason(err)
  }

  /** Closes every link still handshaking. */
  destroyAll (why: string): void {
    for (const link of this.#links) link.destroy(why)
  }
}
