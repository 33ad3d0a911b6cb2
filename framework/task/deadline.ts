/**
 * Timeouts of task calls without a timer per call. Calls with the same timeout expire in the
 * order they started, so each timeout length keeps its calls in insertion order (a Set) and one
 * timer wakes at the oldest call's deadline. Starting and settling a call is a Set insert and
 * delete: a `setTimeout`/`clearTimeout` pair per call made a no-op round trip about 10% slower.
 *
 * A call's `Deadline` is the abort signal piscina gets, in the EventEmitter style it accepts
 * besides AbortSignal (`once`, and `removeListener` when the call settles): lighter than an
 * AbortController with EventTarget listeners. The timers are unref'd: a pending call keeps the
 * process alive through its worker thread, not through its timeout.
 */
import { performance } from 'node:perf_hooks'

/** The calls with one timeout length. */
class Group {
  readonly ms: number
  /** Pending calls, oldest first. */
  readonly calls = new Set<Deadline>()
  timer: NodeJS.Timeout | undefined

  constructor (ms: number) {
    this.ms = ms
  }

  /** Aborts the calls whose deadline passed, then waits for the next one. */
  sweep (): void {
    this.timer = undefined
    const now = performance.now()
    for (const call of this.calls) {
      if (call.at > now) break
      this.calls.delete(call)
      call.abort()
    }
    const next = this.calls.values().next()
    if (!next.done) this.arm(next.value.at - now)
  }

  arm (ms: number): void {
    this.timer = setTimeout(sweep, Math.max(1, Math.ceil(ms)), this)
    this.timer.unref()
  }
}

function sweep (group: Group): void {
  group.sweep()
}

/** The timeout of one call: its abort signal for piscina. */
export class Deadline {
  /** When it expires (`performance.now()` time). */
  readonly at: number
  readonly #group: Group
  #listener: (() => void) | undefined

  constructor (group: Group, at: number) {
    this.#group = group
    this.at = at
  }

  once (_event: 'abort', listener: () => void): void {
    this.#listener = listener
  }

  off (_event: 'abort', _listener: () => void): void {
    this.#listener = undefined
  }

  /** What piscina calls when the call settles (its type declarations name it `off`). */
  removeListener (_event: 'abort', _listener: () => void): void {
    this.#listener = undefined
  }

  /** The call settled: forget it. */
  clear (): void {
    this.#group.calls.delete(this)
  }

  /** Aborts the call (its group's timer calls it). */
  abort (): void {
    const listener = this.#listener
    this.#listener = undefined
    listener?.()
  }
}

/** The timeouts of one pool's calls. */
export class Deadlines {
  readonly #groups = new Map<number, Group>()

  /** A deadline `ms` from now (`ms` > 0). */
  start (ms: number): Deadline {
    let group = this.#groups.get(ms)
    if (group === undefined) this.#groups.set(ms, group = new Group(ms))
    const deadline = new Deadline(group, performance.now() + ms)
    group.calls.add(deadline)
    if (group.timer === undefined) group.arm(ms)
    return deadline
  }

  /** Stops every timer (the pool is closed). */
  close (): void {
    for (const group of this.#groups.values()) {
      clearTimeout(group.timer)
      group.timer = undefined
      group.calls.clear()
    }
  }
}
