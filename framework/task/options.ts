/** Options of the task layer (`config/tasks.ts`), with their defaults. */

/** `config/tasks.ts`: the worker-thread pool that runs `app/tasks`. */
export interface TasksConfig {
  /** Folder of task classes, relative to the app root. @default 'app/tasks' */
  dir: string
  /** Worker threads kept alive. @default 1 */
  minWorkers: number
  /** Most worker threads; 0: one per CPU core less one, at least 1. @default 0 */
  maxWorkers: number
  /** Calls that may wait (beyond 8 in flight per thread) before `SD_ERR_TASK_QUEUE_FULL`. @default 1000 */
  maxQueue: number
  /**
   * Calls one client connection may have waiting (beyond the in-flight slots) before its own
   * calls get `SD_ERR_TASK_QUEUE_FULL`, so one connection cannot fill `maxQueue` for others. @default 250
   */
  maxQueuePerConnection: number
  /** Default per-call timeout (`SD_ERR_TASK_TIMEOUT`); 0: none. @default 30000 */
  timeoutMs: number
}

/** Defaults of `config.tasks`. */
export function tasksDefaults (): TasksConfig {
  return { dir: 'app/tasks', minWorkers: 1, maxWorkers: 0, maxQueue: 1000, maxQueuePerConnection: 250, timeoutMs: 30_000 }
}
