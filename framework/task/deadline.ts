/**
 * Timeouts of task calls without a timer per call (cheaper per call, docs/benchmarks.md
 * "Tasks"): calls with the same timeout expire in the order they started, so each timeout
 * length keeps its calls in insertion order (a Set) and one timer wakes at the oldest deadline.
 * The entries are the pool's own call records (no object per deadline). The timers are unref'd:
 * a pending call keeps the process alive through its worker thread, not through its timeout.
 */
import { performance } from 'node:perf_hooks'

/** Something with a deadline: `at` is set by `Deadlines.add`. */
export interface Expiring {
  /** When it expires (`performance.now()` time). */
  at: number
}

/** The entries with one timeout length. */
class Group<T extends Expiring> {
  /** Pending entries, oldest first. */
  readonly entries = new Set<T>()
  timer: NodeJS.Timeout | undefined
  readonly #owner: Deadlines<T>

  constructor (owner: Deadlines<T>) {
    this.#owner = owner
  }

  /** Expires the entries whose deadline passed, then waits for the next one. */
  sweep (): void {
    this.timer = undefined
    const now = performance.now()
    for (const entry of this.entries) {
      if (entry.at > now) break
      this.entries.delete(entry)
      this.#owner.onExpire(entry)
    }
    const next = this.entries.values().next()
    if (!next.done && this.timer === undefined) this.arm(next.value.at - performance.now())
  }

  arm (ms: number): void {
    this.timer = setTimeout(sweep, Math.max(1, Math.ceil(ms)), this)
    this.timer.unref()
  }
}

function sweep<T extends Expiring> (group: Group<T>): void {
  group.sweep()
}

/** The timeouts of one pool's calls; `onExpire` is called once for each entry whose time passed. */
export class Deadlines<T extends Expiring> {
  readonly #groups = new Map<number, Group<T>>()
  readonly onExpire: (entry: T) => void

  constructor (onExpire: (entry: T) => void) {
    this.onExpire = onExpire
  }

  /** Sets `entry.at` to `ms` from now (`ms` > 0) and watches it. */
  add (entry: T, ms: number): void {
    let group = this.#groups.get(ms)
    if (group === undefined) this.#groups.set(ms, group = new Group(this))
    entry.at = performance.now() + ms
    group.entries.add(entry)
    if (group.timer === undefined) group.arm(ms)
  }

  /** Stops watching `entry` (added with the same `ms`): it settled. */
  delete (entry: T, ms: number): void {
    this.#groups.get(ms)?.entries.delete(entry)
  }

  /** Stops every timer (the pool is closed). */
  close (): void {
    for (const group of this.#groups.values()) {
      clearTimeout(group.timer)
      group.timer = undefined
      group.entries.clear()
    }
  }
}
