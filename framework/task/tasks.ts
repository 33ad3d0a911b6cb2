/**
 * The tasks of one application (`app.tasks`): the registry of task classes, the worker pool,
 * and the proxies controllers call through (`this.task(StatsTask).build(args)`).
 */
import type { Logger } from 'pino'
import type { MysqlConfig } from '../data/mysql.js'
import type { RedisConfig } from '../data/redis.js'
import type { TasksConfig } from './options.js'
import type { TaskWorkerData } from './wire.js'
import { SdError } from '../core/errors.js'
import { TaskPool } from './pool.js'
import type { TaskOwner } from './call-queue.js'
import { createTaskProxy, type TaskCallOptions, type TaskInvoker, type TaskProxy } from './proxy.js'
import { TaskRegistry, type TaskRef } from './registry.js'
import type { Task, TaskClass } from './task.js'

/** Errors the pool has already logged (with their cause); `detach` does not log them again. */
/** The configuration sections the task layer reads (the application's config has them all). */
export interface TasksInput {
  readonly tasks: TasksConfig
  /** Logger settings handed to the threads. */
  readonly app: TaskWorkerData['app']
  readonly mysql: MysqlConfig
  readonly redis: RedisConfig
  /** `shutdownTimeoutMs`: how long closing waits for running calls. */
  readonly server: { readonly shutdownTimeoutMs: number }
}

const loggedByPool = new Set(['SD_ERR_INTERNAL', 'SD_ERR_TASK_CRASHED'])

/** Task classes, pool and proxies of an application. */
export class Tasks implements TaskInvoker {
  /** Registered task classes. */
  readonly registry = new TaskRegistry()
  /** The worker threads (started by the first call). */
  readonly pool: TaskPool
  readonly #log: Logger
  readonly #defaultTimeoutMs: number
  /** Proxies by class and timeout, made once. */
  readonly #proxies = new Map<TaskRef, Map<number, TaskProxy<Task>>>()

  constructor (config: TasksInput, log: Logger) {
    this.#log = log
    this.#defaultTimeoutMs = config.tasks.timeoutMs
    this.pool = new TaskPool({
      config: config.tasks,
      workerData: {
        app: { name: config.app.name, nodeName: config.app.nodeName, logLevel: config.app.logLevel },
        mysql: config.mysql,
        redis: config.redis,
      },
      preload: () => this.registry.files(),
      log,
      closeTimeoutMs: config.server.shutdownTimeoutMs,
    })
  }

  /**
   * Registers a task class exported by the module at `file` (a path, a `file:` URL, or that
   * module's `import.meta.url`) under `exportName`. Classes in `tasks.dir` are registered at boot.
   */
  add (cls: TaskClass, file: string | URL, exportName = cls.name): this {
    this.registry.add(cls, file, exportName)
    return this
  }

  /** Registers every task class exported by the modules of `dir`. */
  load (dir: string): Promise<void> {
    return this.registry.load(dir)
  }

  /**
   * The proxy of a registered class; `SD_ERR_TASK_NOT_FOUND` for one that is not registered.
   * With `owner` (the connection of the request) its calls count toward that connection's
   * share of the queue; such a proxy is made per call, the others once.
   */
  proxy<T extends Task> (cls: TaskClass<T>, options?: TaskCallOptions, owner?: TaskOwner): TaskProxy<T> {
    const ref = this.registry.get(cls)
    const timeoutMs = options?.timeoutMs ?? this.#defaultTimeoutMs
    if (!Number.isFinite(timeoutMs) || timeoutMs < 0) throw new TypeError(`timeoutMs must be a non-negative number, got ${timeoutMs}`)
    if (owner !== undefined) return createTaskProxy(ref, timeoutMs, this, owner)
    let byTimeout = this.#proxies.get(ref)
    if (byTimeout === undefined) this.#proxies.set(ref, byTimeout = new Map())
    let proxy = byTimeout.get(timeoutMs)
    if (proxy === undefined) byTimeout.set(timeoutMs, proxy = createTaskProxy(ref, timeoutMs, this))
    return proxy as unknown as TaskProxy<T>
  }

  /** Runs `method` of a registered class in a worker; resolves to its result. */
  run (ref: TaskRef, method: string, args: unknown[], timeoutMs: number, owner?: TaskOwner): Promise<unknown> {
    return this.pool.run({ file: ref.file, exportName: ref.exportName, method, args }, ref.name, timeoutMs, owner)
  }

  /** Starts `method` without waiting; a failure is logged. */
  detach (ref: TaskRef, method: string, args: unknown[], timeoutMs: number, owner?: TaskOwner): void {
    this.run(ref, method, args, timeoutMs, owner).catch((err: unknown) => {
      if (err instanceof SdError && loggedByPool.has(err.code)) return
      this.#log.error({ err, task: `${ref.name}.${method}` }, 'detached task failed')
    })
  }

  /** Waits for running calls (up to `server.shutdownTimeoutMs`), closes the workers' connections, stops the threads. */
  close (): Promise<void> {
    return this.pool.close()
  }
}
