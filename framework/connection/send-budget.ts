/**
 * The process's memory budget for output (`server.maxTotalSendBufferBytes`): one plain number,
 * the unsent bytes of every connection, raised by each write. Writes only add to it; when it
 * passes `checkAt`, `enforce` recounts every connection's exact unsent bytes (what the kernel
 * took since is subtracted then) and, while the exact total is over the budget, closes the
 * connections holding the most unsent bytes (the slowest readers) with `SD_ERR_SLOW_READER`.
 * The hot path is one addition and one comparison; the O(connections) recount runs at most
 * once per `max / 16` bytes written.
 */
import type { Logger } from 'pino'
import { SdError } from '../core/errors.js'

/** What the budget needs of a connection. */
export interface BudgetedConnection {
  readonly id: string
  readonly status: string
  /** Sets the bytes this connection counts in the budget to its exact unsent bytes; returns them. */
  recount (): number
  close (error?: SdError, notify?: boolean): void
}

/** Closing stops once the exact total is at or below this share of the budget (room to breathe). */
const LOW_WATER = 0.75
/** How long a total between the budget and twice it may last before readers are closed. */
const GRACE_MS = 100
/** Past this multiple of the budget, readers are closed at once. */
const HARD_FACTOR = 2
/** Between recounts, at least this share of the budget may be written. */
const CHECK_EVERY = 1 / 16

/** Unsent output of a whole process, and the rule that keeps it under a cap. */
export class SendBudget {
  /** Unsent bytes counted across connections: an upper bound, exact right after `enforce`. */
  total = 0
  /** The budget; `Infinity` when disabled. */
  readonly max: number
  /** `total` above which the next write calls `enforce`. */
  checkAt: number
  /** Connections closed by the budget so far. */
  closedCount = 0
  readonly #conns: () => Iterable<BudgetedConnection>
  readonly #log: Logger | undefined
  #checking = false
  /** When the total was first found over the budget (0: it is not). */
  #overSince = 0
  #grace: NodeJS.Timeout | undefined

  /** `max` 0 (or Infinity) disables the budget; `conns` lists the process's connections. */
  constructor (max: number, conns: () => Iterable<BudgetedConnection>, log?: Logger) {
    this.max = max > 0 ? max : Infinity
    this.checkAt = this.max
    this.#conns = conns
    this.#log = log
  }

  /**
   * Runs `enforce` once this turn's output has been handed to the sockets (TCP queues flush on
   * nextTick): counted while a broadcast loop runs, every recipient's queued copy of one shared
   * message would look unsent, and healthy readers would be closed.
   */
  check (): void {
    if (this.#checking) return
    this.#checking = true
    setImmediate(() => {
      this.#checking = false
      this.enforce()
    })
  }

  /**
   * Recounts exactly; closes the slowest readers while over the budget. A total that passed
   * the budget but not twice it gets `GRACE_MS` first: clients that read drain a burst (a large
   * broadcast to many) in that time, slow readers do not.
   */
  enforce (): void {
    let total = 0
    let heavy: Array<{ conn: BudgetedConnection, bytes: number }> | undefined
    for (const conn of this.#conns()) {
      const bytes = conn.recount()
      total += bytes
      if (bytes > 0 && conn.status === 'open') (heavy ??= []).push({ conn, bytes })
    }
    this.total = total
    this.checkAt = Math.max(this.max, this.total + this.max * CHECK_EVERY)
    if (total <= this.max || !heavy) {
      this.#overSince = 0
      return
    }
    const now = Date.now()
    if (total <= this.max * HARD_FACTOR && (this.#overSince === 0 || now - this.#overSince < GRACE_MS)) {
      if (this.#overSince === 0) this.#overSince = now
      if (this.#grace === undefined) {
        this.#grace = setTimeout(() => {
          this.#grace = undefined
          this.enforce()
        }, GRACE_MS).unref()
      }
      return
    }
    this.#overSince = 0
    heavy.sort((a, b) => b.bytes - a.bytes)
    const target = this.max * LOW_WATER
    const before = total
    let closed = 0
    for (const { conn, bytes } of heavy) {
      if (this.total <= target) break
      conn.close(new SdError('SD_ERR_SLOW_READER', `${bytes} bytes unsent, the most of any client while the process holds ${before} (server.maxTotalSendBufferBytes ${this.max})`), false)
      // a closed connection counts 0 from now on (recount takes its bytes off the total):
      // its buffers go with the dropped socket
      conn.recount()
      closed++
    }
    this.closedCount += closed
    this.#log?.warn({ closed, unsentBytes: before, maxTotalSendBufferBytes: this.max }, 'output over budget: closed the slowest readers')
    this.checkAt = Math.max(this.max, this.total + this.max * CHECK_EVERY)
  }
}

/** A budget that never closes anything (connections not attached to an application). */
export function unlimitedBudget (): SendBudget {
  return new SendBudget(0, () => [])
}
