/** Calls made while the client is not open: bounded, in order, each leaves on its own timeout. */

/** One queued call. */
export interface QueuedCall {
  path: string
  data: unknown
  resolve (value: unknown): void
  reject (err: Error): void
  /** Ms since epoch when the call times out (its whole timeout, queue wait included). */
  deadline: number
  timer: ReturnType<typeof setTimeout>
}

/** FIFO of at most `max` calls. */
export class CallQueue {
  readonly #max: number
  #items = new Set<QueuedCall>()

  constructor (max: number) {
    this.#max = max
  }

  get size (): number { return this.#items.size }

  /** Adds a call; false when full. */
  add (call: QueuedCall): boolean {
    if (this.#items.size >= this.#max) return false
    this.#items.add(call)
    return true
  }

  /** Removes a call (its timeout fired). */
  delete (call: QueuedCall): boolean {
    return this.#items.delete(call)
  }

  /** Takes every call out, oldest first. */
  drain (): QueuedCall[] {
    const all = [...this.#items]
    this.#items.clear()
    return all
  }
}
