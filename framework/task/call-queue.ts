/**
 * A task call as the pool tracks it, and the FIFO queue of calls waiting for a thread.
 */
import type { Expiring } from './deadline.js'
import type { TaskThread } from './thread.js'
import type { TaskCall } from './wire.js'

/**
 * Who a call is made for (a client connection): its count of calls not settled, which the pool
 * keeps and bounds (`tasks.maxQueuePerConnection`).
 */
export interface TaskOwner {
  taskCalls: number
}

/** One call from `run()` until it settles. */
export class PendingCall implements Expiring {
  readonly call: TaskCall
  /** The class name, for errors and logs. */
  readonly name: string
  /** 0: no timeout. */
  readonly timeoutMs: number
  readonly resolve: (value: unknown) => void
  readonly reject: (err: Error) => void
  /** Deadline (`performance.now()` time), when `timeoutMs` > 0. */
  at = 0
  /** The thread it was posted to; undefined while it waits in the pool's queue. */
  thread: TaskThread<PendingCall> | undefined
  /** Its sequence number on `thread`. */
  seq = 0
  /** Resolved or rejected: a late reply or a queue entry of it is ignored. */
  settled = false
  /** The connection it was made for, if any. */
  readonly owner: TaskOwner | undefined

  constructor (call: TaskCall, name: string, timeoutMs: number, resolve: (value: unknown) => void, reject: (err: Error) => void, owner?: TaskOwner) {
    this.owner = owner
    this.call = call
    this.name = name
    this.timeoutMs = timeoutMs
    this.resolve = resolve
    this.reject = reject
  }

  /** `Class.method`, for errors and logs. */
  get what (): string {
    return `${this.name}.${this.call.method}`
  }
}

/** Calls waiting for a thread, first in first out. Settled calls are dropped when reached. */
export class CallQueue {
  #items: PendingCall[] = []
  #head = 0

  /** Entries (settled ones included). */
  get length (): number {
    return this.#items.length - this.#head
  }

  push (call: PendingCall): void {
    this.#items.push(call)
  }

  /** Puts calls back at the front, in their order (calls of a thread that died before starting them). */
  pushFront (calls: PendingCall[]): void {
    this.#items.splice(this.#head, 0, ...calls)
  }

  /** The first call not settled yet, without taking it. */
  peek (): PendingCall | undefined {
    while (this.#head < this.#items.length) {
      const call = this.#items[this.#head]
      if (!call.settled) return call
      this.#take()
    }
    return undefined
  }

  /** Takes the first entry (after `peek` returned it). */
  shift (): void {
    this.#take()
  }

  /** Empties the queue; returns the calls not settled. */
  drain (): PendingCall[] {
    const calls = this.#items.slice(this.#head).filter((c) => !c.settled)
    this.#items = []
    this.#head = 0
    return calls
  }

  #take (): void {
    this.#head++
    if (this.#head === this.#items.length) {
      this.#items.length = 0
      this.#head = 0
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head)
      this.#head = 0
    }
  }
}
