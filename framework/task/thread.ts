/**
 * One worker thread of the task pool: starts `thread-main.mjs`, posts calls on the Worker's
 * port, and reports to the pool what the thread says (ready, replies, services, status, exit).
 * Call slots (shared memory, `CALL_SLOTS`) tell without a message whether the worker started a
 * call, so a call that times out while it waits in the thread's queue is cancelled without
 * ending the thread, and when a thread dies the calls it never started run on another one.
 */
import { Worker } from 'node:worker_threads'
import { CALL_SLOTS, type CloseMessage, type ReplyMessage, type TaskCall, type TaskWorkerData, type TaskWorkerMessage } from './wire.js'

/** Lifecycle of a thread: `starting` until its runtime and task modules are loaded. */
export type TaskThreadStatus = 'starting' | 'ready' | 'stopping' | 'exited'

/** What a thread reports to its pool. */
export interface TaskThreadEvents<C> {
  /** Loaded: it takes calls from now on. */
  ready (thread: TaskThread<C>): void
  /** The answer to the call posted as `msg.id`. */
  reply (thread: TaskThread<C>, msg: ReplyMessage): void
  /** The worker made (`true`) or closed (`false`) its MySQL/Redis services. */
  services (thread: TaskThread<C>, open: boolean): void
  /** The thread ended; `error` is what killed it, if it threw; `was` its status just before. */
  exit (thread: TaskThread<C>, code: number, error: unknown, was: TaskThreadStatus): void
  /** Its status changed (the pool logs it). */
  status (thread: TaskThread<C>, status: TaskThreadStatus): void
}

const workerEntry = new URL('./thread-main.mjs', import.meta.url)
const SLOT_MASK = CALL_SLOTS - 1
/** Sequence numbers wrap before 2^30, onto a multiple of `CALL_SLOTS` so that slots stay in turn. */
const SEQ_WRAP = 0x3fffffff

/** A worker thread; `C` is the pool's record of a call. */
export class TaskThread<C> {
  readonly #worker: Worker
  readonly #events: TaskThreadEvents<C>
  readonly threadId: number
  #status: TaskThreadStatus = 'starting'
  /** Calls posted and not answered, by sequence number (the pool's records). */
  readonly calls = new Map<number, C>()
  /** Last time (`performance.now()`) it answered a call or got a call while it had none. */
  activeAt = 0
  /** Its worker has MySQL/Redis services open. */
  servicesOpen = false
  /** Why the pool stops it (set with `stop`). */
  stopReason: 'timeout' | 'idle' | 'close' | undefined
  readonly #slots: Int32Array
  #seq = 0
  #ref = true
  #error: unknown

  constructor (data: Omit<TaskWorkerData, 'slots'>, events: TaskThreadEvents<C>) {
    const slots = new SharedArrayBuffer(CALL_SLOTS * Int32Array.BYTES_PER_ELEMENT)
    this.#slots = new Int32Array(slots)
    this.#events = events
    this.#worker = new Worker(workerEntry, { workerData: { ...data, slots } satisfies TaskWorkerData })
    this.threadId = this.#worker.threadId
    this.#worker.on('message', (msg: ReplyMessage | TaskWorkerMessage) => {
      const control = (msg as TaskWorkerMessage).sdTasks
      if (control === undefined) events.reply(this, msg as ReplyMessage)
      else if (control === 'ready') {
        if (this.#status === 'starting') this.#setStatus('ready')
        events.ready(this)
      } else events.services(this, control === 'open')
    })
    this.#worker.on('error', (err) => { this.#error ??= err })
    this.#worker.on('exit', (code) => {
      const was = this.#status
      this.#setStatus('exited')
      events.exit(this, code, this.#error, was)
    })
  }

  get status (): TaskThreadStatus {
    return this.#status
  }

  #setStatus (status: TaskThreadStatus): void {
    if (this.#status === status) return
    this.#status = status
    this.#events.status(this, status)
  }

  /**
   * Posts a call; returns its sequence number (the `id` of its reply). Throws what
   * `postMessage` throws (`DataCloneError` for arguments that cannot be cloned): then nothing
   * was sent.
   */
  post (call: TaskCall): number {
    const id = this.#seq === SEQ_WRAP ? CALL_SLOTS : this.#seq + 1
    Atomics.store(this.#slots, id & SLOT_MASK, id)
    this.#worker.postMessage({ id, file: call.file, exportName: call.exportName, method: call.method, args: call.args })
    this.#seq = id
    return id
  }

  /** Cancels call `id` if the worker has not started it: true when it will never run. */
  cancel (id: number): boolean {
    return Atomics.compareExchange(this.#slots, id & SLOT_MASK, id, 0) === id
  }

  /**
   * Whether call `id` still waits in the worker's queue: neither started nor cancelled. Once
   * the thread has exited, a call still waiting never ran.
   */
  waiting (id: number): boolean {
    return Atomics.load(this.#slots, id & SLOT_MASK) === id
  }

  /** Keeps the process alive while the thread has work (`true`), or not. */
  ref (on: boolean): void {
    if (on === this.#ref) return
    this.#ref = on
    if (on) this.#worker.ref()
    else this.#worker.unref()
  }

  /** Asks the worker to close its MySQL and Redis connections (it reports `services(false)`). */
  closeServices (): void {
    this.#worker.postMessage({ sdTasks: 'close' } satisfies CloseMessage)
  }

  /** Takes no more calls from now on; the pool ends it with `terminate`. */
  stop (reason: 'timeout' | 'idle' | 'close'): void {
    if (this.#status === 'exited') return
    this.#setStatus('stopping')
    this.stopReason ??= reason
    this.ref(true)
  }

  /** Ends the thread now (a call running in it is cut short); resolves once it exited. */
  async terminate (): Promise<void> {
    if (this.#status === 'exited') return
    await this.#worker.terminate()
  }
}
