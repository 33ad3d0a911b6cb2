/**
 * The worker-thread pool that runs task calls (piscina). It starts on the first call, bounds
 * calls to `maxWorkers` running plus `maxQueue` waiting, turns every way a call can fail into
 * an SD code (timeout, crash, full queue, the task's own error), and on close lets running
 * calls finish, has each worker close its MySQL and Redis connections, then stops the threads.
 */
import { availableParallelism } from 'node:os'
import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { BroadcastChannel } from 'node:worker_threads'
import { Piscina } from 'piscina'
import type { Logger } from 'pino'
import type { TasksConfig } from '../core/config.js'
import { SdError, type AppError } from '../core/errors.js'
import { Deadlines } from './deadline.js'
import { fromWireError, isWireError, type TaskCall, type TaskWorkerData, type TaskWorkerMessage } from './wire.js'

/** Lifecycle of a pool: `idle` until the first call starts its threads. */
export type TaskPoolStatus = 'idle' | 'running' | 'closing' | 'closed'

/** Options of a `TaskPool`. */
export interface TaskPoolOptions {
  /** `config.tasks`. */
  config: TasksConfig
  /** Logger settings and MySQL/Redis config given to every worker. */
  workerData: Omit<TaskWorkerData, 'runtime' | 'channel' | 'preload'>
  /** Task modules each new thread imports before taking calls. */
  preload: () => string[]
  /** The app's logger: crashes, internal task errors, shutdown. */
  log: Logger
  /** How long `close()` waits for running calls before stopping the threads. */
  closeTimeoutMs: number
}

/** Threads above `minWorkers` stop after being idle this long. */
const IDLE_THREAD_MS = 60_000
/** How long `close()` waits for workers to close their connections. */
const SERVICES_CLOSE_MS = 5000
/** Messages of piscina's queue-limit errors. */
const queueFullMessages = new Set(['Task queue is at limit', 'No task queue available and all Workers are busy'])

const workerEntry = new URL('./worker.mjs', import.meta.url).href
/** The runtime next to this file: `.ts` when running the sources, `.js` when compiled. */
const workerRuntime = new URL(`./worker-runtime${extname(fileURLToPath(import.meta.url))}`, import.meta.url).href
let channelSeq = 0

/** Threads for `maxWorkers` (0: one per CPU core less one, at least 1). */
export function poolSize (config: TasksConfig): { min: number, max: number } {
  const max = config.maxWorkers > 0 ? config.maxWorkers : Math.max(1, availableParallelism() - 1)
  return { min: Math.min(config.minWorkers, max), max }
}

/** Runs task calls in worker threads. */
export class TaskPool {
  readonly #options: TaskPoolOptions
  readonly #size: { min: number, max: number }
  #piscina: Piscina | undefined
  #channel: BroadcastChannel | undefined
  #status: TaskPoolStatus = 'idle'
  #closing: Promise<void> | undefined
  /** Calls submitted and not settled (running or waiting for a thread). */
  #running = 0
  /** Threads that opened MySQL/Redis services and have not closed them. */
  readonly #open = new Set<number>()
  /** Re-checks the condition `close()` is waiting for. */
  #wake: (() => void) | undefined
  /** Timeouts of running calls. */
  readonly #deadlines = new Deadlines()

  constructor (options: TaskPoolOptions) {
    this.#options = options
    this.#size = poolSize(options.config)
  }

  get status (): TaskPoolStatus {
    return this.#status
  }

  #setStatus (status: TaskPoolStatus): void {
    this.#status = status
    this.#options.log.debug({ status }, 'task pool status')
  }

  /** Most threads the pool runs. */
  get maxThreads (): number {
    return this.#size.max
  }

  /** Threads alive now (0 before the first call). */
  get threads (): number {
    return this.#piscina?.threads.length ?? 0
  }

  /** Ids of the threads alive now. */
  get threadIds (): number[] {
    return this.#piscina?.threads.map((w) => w.threadId) ?? []
  }

  /** Calls running or waiting. */
  get pending (): number {
    return this.#running
  }

  /**
   * Runs one call in a worker; resolves to the method's result. `name` (the class) is for
   * errors and logs; `timeoutMs` 0 means no timeout.
   */
  run (call: TaskCall, name: string, timeoutMs: number): Promise<unknown> {
    if (this.#status === 'closing' || this.#status === 'closed') return Promise.reject(new SdError('SD_ERR_SHUTTING_DOWN'))
    const { maxQueue } = this.#options.config
    if (this.#running >= this.#size.max + maxQueue) {
      return Promise.reject(new SdError('SD_ERR_TASK_QUEUE_FULL', `${name}.${call.method}: ${this.#size.max} running, ${maxQueue} waiting`))
    }
    const pool = this.#piscina ?? this.#start()
    this.#running++
    if (timeoutMs <= 0) {
      return pool.run(call).then((value: unknown) => {
        this.#settled()
        return value
      }, (err: unknown) => {
        this.#settled()
        throw this.#failure(err, name, call.method, timeoutMs)
      })
    }
    // piscina terminates the thread running an aborted call and starts a new one.
    const deadline = this.#deadlines.start(timeoutMs)
    return pool.run(call, { signal: deadline }).then((value: unknown) => {
      deadline.clear()
      this.#settled()
      return value
    }, (err: unknown) => {
      deadline.clear()
      this.#settled()
      throw this.#failure(err, name, call.method, timeoutMs)
    })
  }

  #settled (): void {
    this.#running--
    this.#wake?.()
  }

  /**
   * Starts the threads now instead of on the first call (each one loads the runtime and the
   * task modules first, which can take a second); for an `onStart` hook.
   */
  start (): void {
    if (this.#status === 'idle') this.#start()
  }

  #start (): Piscina {
    const channel = `sd-tasks-${process.pid}-${++channelSeq}`
    this.#channel = new BroadcastChannel(channel)
    this.#channel.unref()
    const pool = new Piscina({
      filename: workerEntry,
      minThreads: this.#size.min,
      maxThreads: this.#size.max,
      maxQueue: this.#options.config.maxQueue,
      idleTimeout: IDLE_THREAD_MS,
      // A worker waits for calls on its event loop (not in Atomics.wait), so its sockets,
      // timers and the close request are served while it is idle.
      atomics: 'disabled',
      recordTiming: false,
      workerData: { ...this.#options.workerData, runtime: workerRuntime, channel, preload: this.#options.preload() } satisfies TaskWorkerData,
    })
    // A worker that fails while running no call (e.g. a timer a task left behind throws).
    pool.on('error', (err: unknown) => this.#options.log.error({ err }, 'task worker failed between calls; it is replaced'))
    pool.on('message', (msg: TaskWorkerMessage) => {
      if (msg?.sdTasks === 'open') this.#open.add(msg.threadId)
      else if (msg?.sdTasks === 'closed') this.#open.delete(msg.threadId)
      this.#wake?.()
    })
    pool.on('workerDestroy', () => this.#wake?.())
    this.#piscina = pool
    this.#setStatus('running')
    this.#options.log.debug({ minThreads: this.#size.min, maxThreads: this.#size.max }, 'task pool started')
    return pool
  }

  /** The error a caller sees for a failed call. */
  #failure (err: unknown, name: string, method: string, timeoutMs: number): SdError | AppError {
    const what = `${name}.${method}`
    if (isWireError(err)) {
      if (err.kind !== 'internal') return fromWireError(err)
      const cause = Object.assign(new Error(err.message), { stack: err.stack })
      this.#options.log.error({ err: cause, task: what }, 'task threw')
      return new SdError('SD_ERR_INTERNAL', undefined, { cause })
    }
    const e = err as Error | undefined
    if (e?.name === 'AbortError') return new SdError('SD_ERR_TASK_TIMEOUT', `${what} after ${timeoutMs} ms`, { cause: e })
    if (queueFullMessages.has(e?.message ?? '')) return new SdError('SD_ERR_TASK_QUEUE_FULL', what, { cause: e })
    if (e?.name === 'DataCloneError') {
      // arguments that structured clone cannot copy (a function, a socket): the call was not sent
      this.#options.log.error({ err: e, task: what }, 'task arguments cannot be sent to a worker')
      return new SdError('SD_ERR_INTERNAL', undefined, { cause: e })
    }
    if (this.#status !== 'running' && e?.message === 'Terminating worker thread') return new SdError('SD_ERR_SHUTTING_DOWN', undefined, { cause: e })
    // An error cloned from a worker may have lost its prototype: log its message as well.
    this.#options.log.error({ err: e, reason: e?.message ?? 'unreadable (e.g. a result that cannot be structured-cloned)', task: what }, 'task worker crashed; it is replaced')
    return new SdError('SD_ERR_TASK_CRASHED', what, { cause: e })
  }

  /**
   * Stops the pool: refuses new calls (`SD_ERR_SHUTTING_DOWN`), waits up to `closeTimeoutMs`
   * for running ones (detached calls included), has every worker close its MySQL and Redis
   * connections, then stops the threads. Calls still running after the wait fail.
   */
  close (): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close (): Promise<void> {
    const pool = this.#piscina
    if (pool === undefined || this.#channel === undefined) {
      this.#setStatus('closed')
      return
    }
    this.#setStatus('closing')
    const log = this.#options.log
    if (!await this.#until(() => this.#running === 0, this.#options.closeTimeoutMs)) {
      log.warn({ running: this.#running, timeoutMs: this.#options.closeTimeoutMs }, 'task pool closing with calls still running')
    }
    this.#channel.postMessage('close')
    const closed = await this.#until(() => {
      const alive = new Set(pool.threads.map((w) => w.threadId))
      return [...this.#open].every((id) => !alive.has(id))
    }, SERVICES_CLOSE_MS)
    if (closed) log.debug('task workers closed their connections')
    else log.warn({ threads: [...this.#open] }, 'task workers did not close their connections in time')
    this.#channel.close()
    await pool.destroy()
    this.#deadlines.close()
    this.#setStatus('closed')
  }

  /** Resolves true once `check()` holds (re-checked when a call settles or a worker reports), false after `ms`. */
  #until (check: () => boolean, ms: number): Promise<boolean> {
    if (check()) return Promise.resolve(true)
    return new Promise((resolve) => {
      const finish = (ok: boolean): void => {
        clearTimeout(timer)
        this.#wake = undefined
        resolve(ok)
      }
      const timer = setTimeout(() => finish(false), ms)
      this.#wake = () => { if (check()) finish(true) }
    })
  }
}
