/**
 * The call syntax of tasks: `this.task(StatsTask)` is a Proxy on which every public method of
 * the class returns a promise of its result, computed in a worker thread, and
 * `.detach(...args)` starts the same call without waiting (failures are logged).
 */
import type { TaskOwner } from './call-queue.js'
import type { TaskRef } from './registry.js'
import type { Task } from './task.js'

/** A task method as seen through the proxy: a promise of its result, plus `detach`. */
export type TaskMethod<F> = F extends (...args: infer A) => infer R
  ? ((...args: A) => Promise<Awaited<R>>) & {
      /** Runs the call without waiting for it; failures are logged, never thrown. */
      detach: (...args: A) => void
    }
  : never

/** What `this.task(Cls)` returns: the public methods of `Cls` (not Task's own members), run in a worker. */
export type TaskProxy<T extends Task> = {
  readonly [K in keyof T as K extends keyof Task ? never : T[K] extends (...args: never[]) => unknown ? K : never]: TaskMethod<T[K]>
}

/** Per-call options: `this.task(StatsTask, { timeoutMs: 500 })`. */
export interface TaskCallOptions {
  /** Timeout of each call made through this proxy (`SD_ERR_TASK_TIMEOUT`); 0: none. @default config.tasks.timeoutMs */
  timeoutMs?: number
}

/** Runs calls for proxies (the app's `Tasks`). */
export interface TaskInvoker {
  run (ref: TaskRef, method: string, args: unknown[], timeoutMs: number, owner?: TaskOwner): Promise<unknown>
  detach (ref: TaskRef, method: string, args: unknown[], timeoutMs: number, owner?: TaskOwner): void
}

type Stub = ((...args: unknown[]) => Promise<unknown>) & { detach: (...args: unknown[]) => void }

/**
 * A proxy for `ref` whose calls time out after `timeoutMs`, made for `owner` (a connection)
 * when given. Method stubs are made once per proxy; names that are not public methods of the
 * class (e.g. `then`) read as `undefined`.
 */
export function createTaskProxy<T extends Task> (ref: TaskRef, timeoutMs: number, invoker: TaskInvoker, owner?: TaskOwner): TaskProxy<T> {
  const stubs = new Map<string, Stub>()
  return new Proxy(Object.create(null) as object, {
    get (_target, prop) {
      if (typeof prop !== 'string') return undefined
      let stub = stubs.get(prop)
      if (stub === undefined) {
        if (!ref.methods.has(prop)) return undefined
        stub = Object.assign(
          (...args: unknown[]) => invoker.run(ref, prop, args, timeoutMs, owner),
          { detach: (...args: unknown[]): void => { invoker.detach(ref, prop, args, timeoutMs, owner) } },
        )
        stubs.set(prop, stub)
      }
      return stub
    },
  }) as TaskProxy<T>
}
