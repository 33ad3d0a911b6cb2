/**
 * IPC messages batched per event-loop turn: what a turn produces goes out as one
 * `{t: 'batch', m: [...]}` message (one serialisation, one write), the way socket writes are
 * batched on the client transports. A single message goes out as it is.
 */

/** A batch on the channel. */
export interface Batch<M> { t: 'batch', m: M[] }

/** True for a batch. */
export function isBatch<M> (m: unknown): m is Batch<M> {
  return typeof m === 'object' && m !== null && (m as { t?: unknown }).t === 'batch' && Array.isArray((m as { m?: unknown }).m)
}

/** Queues messages for one channel and flushes them once per turn. */
export class Batcher<M> {
  readonly #write: (msg: M | Batch<M>) => boolean
  readonly #onError: (err: unknown, msg: M) => void
  #queue: M[] = []
  #scheduled = false

  /**
   * `write` sends on the channel (false when it is closed); `onError` hears of a message that
   * could not be serialised (it is dropped; the rest of its batch still goes).
   */
  constructor (write: (msg: M | Batch<M>) => boolean, onError: (err: unknown, msg: M) => void) {
    this.#write = write
    this.#onError = onError
  }

  /** Queues `msg` for the next flush. */
  push (msg: M): void {
    this.#queue.push(msg)
    if (!this.#scheduled) {
      this.#scheduled = true
      setImmediate(() => this.flush())
    }
  }

  /** Sends what is queued now. */
  flush (): boolean {
    this.#scheduled = false
    const queue = this.#queue
    if (queue.length === 0) return true
    this.#queue = []
    try {
      return this.#write(queue.length === 1 ? queue[0] : { t: 'batch', m: queue })
    } catch {
      // one message that cannot be serialised must not take the others with it
      let ok = true
      for (const msg of queue) {
        try { ok = this.#write(msg) && ok } catch (err) { this.#onError(err, msg) }
      }
      return ok
    }
  }
}
