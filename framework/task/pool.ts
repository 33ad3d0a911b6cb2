/**
 * The worker-thread pool that runs task calls, written on `worker_threads`. It starts on the
 * first call; posts each call to the thread with the fewest calls in flight (up to
 * `CALLS_PER_THREAD` each, the rest wait here in order); bounds calls to
 * `maxWorkers × CALLS_PER_THREAD` in flight plus `maxQueue` waiting; turns every way a call can
 * fail into an SD code (timeout, crash, full queue, the task's own error); replaces threads
 * that die or time out; stops idle extra threads; and on close lets running calls finish, has
 * each worker close its MySQL and Redis connections, then stops the threads.
 */
import { EventEmitter } from 'node:events'
import { availableParallelism } from 'node:os'
import { extname } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import type { Logger } from 'pino'
import type { TasksConfig } from './options.js'
import { SdError } from '../core/errors.js'
import { CallQueue, PendingCall, type TaskOwner } from './call-queue.js'
import { Deadlines } from './deadline.js'
import { TaskThread, type TaskThreadEvents, type TaskThreadStatus } from './thread.js'
import { callerError, type ReplyMessage, type TaskCall, type TaskWorkerData } from './wire.js'

/** Lifecycle of a pool: `idle` until the first call starts its threads. */
export type TaskPoolStatus = 'idle' | 'running' | 'closing' | 'closed'

/** Events of a `TaskPool`. */
export interface TaskPoolEvents {
  status: [status: TaskPoolStatus]
}

/** Options of a `TaskPool`. */
export interface TaskPoolOptions {
  /** `config.tasks`. */
  config: TasksConfig
  /** Logger settings and MySQL/Redis config given to every worker. */
  workerData: Omit<TaskWorkerData, 'runtime' | 'slots' | 'preload'>
  /** Task modules each new thread imports before taking calls. */
  preload: () => string[]
  /** The app's logger: crashes, internal task errors, shutdown. */
  log: Logger
  /** How long `close()` waits for running calls before stopping the threads. */
  closeTimeoutMs: number
  /** Threads above `minWorkers` stop after this long without a call. @default 60000 */
  idleThreadMs?: number
}

/**
 * Calls a thread may have in flight at once (posted and not answered): a thread answers the
 * calls in its own queue without sleeping in between, so several in flight are cheap; more
 * wait in the pool, which bounds how many interleave in one thread (they fail together if it
 * dies) and how many wait behind a long call. Why 8: docs/benchmarks.md, "Tasks".
 */
export const CALLS_PER_THREAD = 8
/**
 * A thread that has calls in flight gets another one only if it answered a call (or got its
 * first one) within this time: a thread busy with a long call does not collect calls that
 * another thread could run sooner.
 */
const PIPELINE_WINDOW_MS = 2
/** Threads above `minWorkers` stop after being idle this long. */
const IDLE_THREAD_MS = 60_000
/** How long `close()` waits for workers to close their connections. */
const SERVICES_CLOSE_MS = 5000

/** The runtime next to this file: `.ts` when running the sources, `.js` when compiled. */
const workerRuntime = new URL(`./thread-runtime${extname(fileURLToPath(import.meta.url))}`, import.meta.url).href

type Thread = TaskThread<PendingCall>

/** Threads for `maxWorkers` (0: one per CPU core less one, at least 1). */
export function poolSize (config: TasksConfig): { min: number, max: number } {
  const max = config.maxWorkers > 0 ? config.maxWorkers : Math.max(1, availableParallelism() - 1)
  return { min: Math.min(config.minWorkers, max), max }
}

/** Runs task calls in worker threads; emits `status` on each change of its status. */
export class TaskPool extends EventEmitter<TaskPoolEvents> {
  readonly #options: TaskPoolOptions
  readonly #size: { min: number, max: number }
  readonly #idleThreadMs: number
  #status: TaskPoolStatus = 'idle'
  #closing: Promise<void> | undefined
  /** `close()` is past waiting for calls: threads end, and calls left fail with SD_ERR_SHUTTING_DOWN. */
  #terminating = false
  /** Every thread that has not exited. */
  readonly #threads = new Set<Thread>()
  /** Threads taking calls (ready, not stopping), oldest first. */
  #ready: Thread[] = []
  /** Threads starting or ready (not stopping). */
  #live = 0
  /** Calls waiting for a thread. */
  readonly #queue = new CallQueue()
  /** Calls submitted and not settled (in flight or waiting). */
  #pending = 0
  /** Timeouts of pending calls. */
  readonly #deadlines = new Deadlines<PendingCall>((call) => { this.#expired(call) })
  readonly #events: TaskThreadEvents<PendingCall>
  #workerData: Omit<TaskWorkerData, 'slots'> | undefined
  /** Stops idle threads above `minWorkers`; runs while there are some. */
  #reaper: NodeJS.Timeout | undefined
  /** Re-checks the condition `close()` is waiting for. */
  #wake: (() => void) | undefined

  constructor (options: TaskPoolOptions) {
    super()
    this.#options = options
    this.#size = poolSize(options.config)
    this.#idleThreadMs = options.idleThreadMs ?? IDLE_THREAD_MS
    this.#events = {
      ready: (t) => { this.#onReady(t) },
      reply: (t, msg) => { this.#onReply(t, msg) },
      services: (t, open) => { this.#onServices(t, open) },
      exit: (t, code, err, was) => { this.#onExit(t, code, err, was) },
      status: (t, status) => { this.#options.log.debug({ threadId: t.threadId, status }, 'task thread status') },
    }
  }

  get status (): TaskPoolStatus {
    return this.#status
  }

  #setStatus (status: TaskPoolStatus): void {
    if (this.#status === status) return
    this.#status = status
    this.#options.log.debug({ status }, 'task pool status')
    this.emit('status', status)
  }

  /** Most threads the pool runs. */
  get maxThreads (): number {
    return this.#size.max
  }

  /** Threads alive now, starting and stopping ones included (0 before the first call). */
  get threads (): number {
    return this.#threads.size
  }

  /** Ids of the threads alive now. */
  get threadIds (): number[] {
    return [...this.#threads].map((t) => t.threadId)
  }

  /** Calls in flight or waiting. */
  get pending (): number {
    return this.#pending
  }

  /** Calls waiting for a thread. */
  get queued (): number {
    return this.#queue.length
  }

  /** Calls settled since the pool was made: answered (`completed`) or failed (error, timeout, crash, refused once queued). */
  completed = 0
  failed = 0

  /**
   * Runs one call in a worker; resolves to the method's result. `name` (the class) is for
   * errors and logs; `timeoutMs` 0 means no timeout. A call made for a connection (`owner`)
   * is refused once that connection has `maxQueuePerConnection` calls waiting beyond the
   * in-flight slots, so no one connection fills the queue others need.
   */
  run (call: TaskCall, name: string, timeoutMs: number, owner?: TaskOwner): Promise<unknown> {
    if (this.#status === 'closing' || this.#status === 'closed') return Promise.reject(new SdError('SD_ERR_SHUTTING_DOWN'))
    const { maxQueue, maxQueuePerConnection } = this.#options.config
    const inFlight = this.#size.max * CALLS_PER_THREAD
    if (this.#pending >= inFlight + maxQueue) {
      return Promise.reject(new SdError('SD_ERR_TASK_QUEUE_FULL', `${name}.${call.method}: ${inFlight} in flight, ${maxQueue} waiting`))
    }
    if (owner !== undefined && owner.taskCalls >= inFlight + maxQueuePerConnection) {
      return Promise.reject(new SdError('SD_ERR_TASK_QUEUE_FULL', `${name}.${call.method}: this connection has ${owner.taskCalls} calls pending, ${maxQueuePerConnection} may wait`))
    }
    return new Promise((resolve, reject) => {
      if (this.#status === 'idle') this.#start()
      // one thread per call in flight, up to maxWorkers, before calls share threads
      if (this.#pending >= this.#live && this.#live < this.#size.max) this.#spawn()
      const pc = new PendingCall(call, name, timeoutMs, resolve, reject, owner)
      this.#pending++
      if (owner !== undefined) owner.taskCalls++
      if (timeoutMs > 0) this.#deadlines.add(pc, timeoutMs)
      if (this.#queue.length > 0) {
        this.#queue.push(pc)
        this.#drain()
        return
      }
      const thread = this.#pick()
      if (thread === undefined) this.#queue.push(pc)
      else this.#post(thread, pc)
    })
  }

  /**
   * Starts the threads now instead of on the first call (each one loads the runtime and the
   * task modules first, which can take a second); for an `onStart` hook.
   */
  start (): void {
    if (this.#status === 'idle') this.#start()
  }

  #start (): void {
    this.#workerData = { ...this.#options.workerData, runtime: workerRuntime, preload: this.#options.preload() }
    this.#setStatus('running')
    for (let i = 0; i < this.#size.min; i++) this.#spawn()
    this.#options.log.debug({ minThreads: this.#size.min, maxThreads: this.#size.max }, 'task pool started')
  }

  #spawn (): void {
    const thread = new TaskThread<PendingCall>(this.#workerData as Omit<TaskWorkerData, 'slots'>, this.#events)
    this.#threads.add(thread)
    this.#live++
    if (this.#live > this.#size.min) this.#armReaper()
  }

  /** Starts threads until there are `minWorkers`, and one per pending call up to `maxWorkers`. */
  #replenish (): void {
    while (this.#live < this.#size.min) this.#spawn()
    while (this.#live < this.#size.max && this.#pending > this.#live) this.#spawn()
  }

  /**
   * The thread for the next call: an idle one, else the one with the fewest calls in flight
   * (below `CALLS_PER_THREAD`) that answered recently; undefined when the call must wait.
   */
  #pick (): Thread | undefined {
    const ready = this.#ready
    let best: Thread | undefined
    let fewest = CALLS_PER_THREAD
    let now = -1
    for (let i = 0; i < ready.length; i++) {
      const thread = ready[i]
      const n = thread.calls.size
      if (n === 0) return thread
      if (n >= fewest) continue
      if (now < 0) now = performance.now()
      if (now - thread.activeAt > PIPELINE_WINDOW_MS) continue
      best = thread
      fewest = n
    }
    return best
  }

  #post (thread: Thread, pc: PendingCall): void {
    let seq: number
    try {
      seq = thread.post(pc.call)
    } catch (err) {
      // arguments that structured clone cannot copy (a function, a socket): the call was not sent
      this.#options.log.error({ err, task: pc.what }, 'task arguments cannot be sent to a worker')
      this.#fail(pc, new SdError('SD_ERR_INTERNAL', undefined, { cause: err }))
      return
    }
    pc.thread = thread
    pc.seq = seq
    if (thread.calls.size === 0) {
      thread.activeAt = performance.now()
      thread.ref(true)
    }
    thread.calls.set(seq, pc)
  }

  /** Posts waiting calls, in order, while a thread can take them. */
  #drain (): void {
    for (let pc = this.#queue.peek(); pc !== undefined; pc = this.#queue.peek()) {
      const thread = this.#pick()
      if (thread === undefined) return
      this.#queue.shift()
      this.#post(thread, pc)
    }
  }

  /** Marks a call settled (its caller is answered right after). */
  #settle (pc: PendingCall): void {
    pc.settled = true
    this.#pending--
    if (pc.owner !== undefined) pc.owner.taskCalls--
    if (pc.timeoutMs > 0) this.#deadlines.delete(pc, pc.timeoutMs)
    this.#wake?.()
  }

  #fail (pc: PendingCall, err: Error): void {
    this.failed++
    this.#settle(pc)
    pc.reject(err)
  }

  #onReady (thread: Thread): void {
    if (thread.status !== 'ready') return // stopped while it started
    this.#ready.push(thread)
    thread.activeAt = performance.now()
    thread.ref(false)
    this.#drain()
  }

  #onReply (thread: Thread, msg: ReplyMessage): void {
    const pc = thread.calls.get(msg.id)
    if (pc === undefined) return
    thread.calls.delete(msg.id)
    thread.activeAt = performance.now()
    if (thread.calls.size === 0 && thread.status === 'ready') thread.ref(false)
    // a settled call: it timed out and the worker skipped it, or its answer came too late
    if (!pc.settled) {
      this.#settle(pc)
      if (msg.ok) {
        this.completed++
        pc.resolve(msg.value)
      } else {
        this.failed++
        pc.reject(callerError(msg.error, pc.what, this.#options.log))
      }
    }
    if (this.#queue.length > 0) this.#drain()
  }

  /** A call's timeout passed. */
  #expired (pc: PendingCall): void {
    if (pc.settled) return
    const thread = pc.thread
    this.#fail(pc, new SdError('SD_ERR_TASK_TIMEOUT', `${pc.what} after ${pc.timeoutMs} ms`))
    // Still waiting here: dropped when the queue reaches it. Waiting in its thread's queue:
    // cancelled there. Running: it cannot be interrupted inside the thread, so the thread ends.
    if (thread !== undefined && !thread.cancel(pc.seq)) this.#stopThread(thread, 'timeout')
  }

  /** Takes a thread out of the ones that take calls. */
  #retire (thread: Thread, was: TaskThreadStatus): void {
    if (was === 'ready') {
      const i = this.#ready.indexOf(thread)
      if (i >= 0) this.#ready.splice(i, 1)
    }
    if (was === 'ready' || was === 'starting') this.#live--
  }

  /** Ends a thread whose call timed out (at once), or an idle one (after it closed its connections). */
  #stopThread (thread: Thread, reason: 'timeout' | 'idle'): void {
    const was = thread.status
    if (was === 'stopping' || was === 'exited') return
    this.#retire(thread, was)
    thread.stop(reason)
    if (reason === 'idle' && thread.servicesOpen) {
      thread.closeServices() // terminated once it reports them closed, or after SERVICES_CLOSE_MS
      setTimeout(() => { void thread.terminate() }, SERVICES_CLOSE_MS).unref()
    } else {
      void thread.terminate()
    }
    if (reason === 'timeout') this.#replenish()
  }

  #onServices (thread: Thread, open: boolean): void {
    thread.servicesOpen = open
    if (!open && thread.status === 'stopping' && thread.stopReason === 'idle') void thread.terminate()
    this.#wake?.()
  }

  /**
   * A thread ended. Its calls that never started wait again (first in line): they run on
   * another thread. Those it had started fail: SD_ERR_TASK_CRASHED, or SD_ERR_SHUTTING_DOWN
   * when the pool is closing.
   */
  #onExit (thread: Thread, code: number, err: unknown, was: TaskThreadStatus): void {
    this.#threads.delete(thread)
    this.#retire(thread, was)
    const log = this.#options.log
    const reason = err instanceof Error ? err.message : `worker exited with code: ${code}`
    const again: PendingCall[] = []
    let failed = 0
    for (const [seq, pc] of thread.calls) {
      if (pc.settled) continue
      if (this.#terminating) {
        this.#fail(pc, new SdError('SD_ERR_SHUTTING_DOWN'))
      } else if (thread.waiting(seq)) {
        pc.thread = undefined
        again.push(pc)
      } else {
        failed++
        if (thread.stopReason === 'timeout') log.error({ task: pc.what }, 'task call lost: its thread was terminated because another call on it timed out')
        else log.error({ err, reason, task: pc.what }, 'task worker crashed; it is replaced')
        this.#fail(pc, new SdError('SD_ERR_TASK_CRASHED', pc.what, { cause: err }))
      }
    }
    thread.calls.clear()
    if (!this.#terminating) {
      if (again.length > 0) this.#queue.pushFront(again)
      if (was === 'starting') {
        // not replaced automatically (it would likely fail again); the next call starts another
        log.error({ err, reason }, 'task worker failed to start')
        if (this.#live === 0) for (const pc of this.#queue.drain()) this.#fail(pc, new SdError('SD_ERR_TASK_CRASHED', pc.what, { cause: err }))
      } else {
        if (was === 'ready' && failed === 0) log.error({ err, reason }, 'task worker failed between calls; it is replaced')
        this.#replenish()
      }
      this.#drain()
    }
    this.#wake?.()
  }

  #armReaper (): void {
    if (this.#reaper !== undefined) return
    this.#reaper = setInterval(() => { this.#reap() }, Math.max(10, this.#idleThreadMs / 4))
    this.#reaper.unref()
  }

  /** Stops threads above `minWorkers` that had no call for `idleThreadMs`, the newest first. */
  #reap (): void {
    const now = performance.now()
    for (let i = this.#ready.length - 1; i >= 0 && this.#live > this.#size.min; i--) {
      const thread = this.#ready[i]
      if (thread.calls.size === 0 && now - thread.activeAt >= this.#idleThreadMs) this.#stopThread(thread, 'idle')
    }
    if (this.#live <= this.#size.min) {
      clearInterval(this.#reaper)
      this.#reaper = undefined
    }
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
    if (this.#status === 'idle') {
      this.#setStatus('closed')
      return
    }
    this.#setStatus('closing')
    const log = this.#options.log
    if (!await this.#until(() => this.#pending === 0, this.#options.closeTimeoutMs)) {
      log.warn({ running: this.#pending, timeoutMs: this.#options.closeTimeoutMs }, 'task pool closing with calls still running')
    }
    this.#terminating = true
    clearInterval(this.#reaper)
    this.#reaper = undefined
    for (const pc of this.#queue.drain()) this.#fail(pc, new SdError('SD_ERR_SHUTTING_DOWN'))
    const threads = [...this.#threads]
    for (const thread of threads) thread.stop('close')
    this.#ready = []
    this.#live = 0
    const open = threads.filter((t) => t.servicesOpen)
    for (const thread of open) thread.closeServices()
    const closed = await this.#until(() => open.every((t) => !t.servicesOpen || t.status === 'exited'), SERVICES_CLOSE_MS)
    if (closed) log.debug('task workers closed their connections')
    else log.warn({ threads: open.filter((t) => t.servicesOpen).map((t) => t.threadId) }, 'task workers did not close their connections in time')
    await Promise.all(threads.map((t) => t.terminate()))
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
