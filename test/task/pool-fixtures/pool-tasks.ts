/**
 * Tasks of test/task/pool.test.ts, which drives a TaskPool directly (this folder is not a
 * `tasks.dir`: nothing imports it in the main thread).
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { threadId } from 'node:worker_threads'
import { Task } from '../../../framework/index.js'

/** Calls of `overlap` running now in this thread, and the most seen at once. */
let active = 0
let peak = 0
/** Keys passed to `record` in this thread. */
const recorded: string[] = []

export class PoolTask extends Task {
  echo<T> (value: T): T {
    return value
  }

  /** The worker thread it ran in. */
  thread (): number {
    return threadId
  }

  /** Busy CPU work for `ms`; returns the thread id. */
  spin (ms: number): number {
    const start = Date.now()
    while (Date.now() - start < ms) { /* busy */ }
    return threadId
  }

  /** Waits `ms` without using the CPU; returns the thread id. */
  async sleep (ms: number): Promise<number> {
    await sleep(ms)
    return threadId
  }

  /** Waits `ms`; returns the most calls of `overlap` this thread has run at once so far. */
  async overlap (ms: number): Promise<number> {
    peak = Math.max(peak, ++active)
    await sleep(ms)
    active--
    return peak
  }

  /** Notes that it ran. */
  record (key: string): void {
    recorded.push(key)
  }

  /** The keys `record` got in this thread. */
  recorded (): string[] {
    return recorded
  }

  /** Ends the worker thread. */
  exit (code: number): never {
    process.exit(code)
  }

  /** A result structured clone cannot copy. */
  unsendable (): unknown {
    return { fn: () => 1 }
  }
}
