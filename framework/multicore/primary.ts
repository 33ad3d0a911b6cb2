/**
 * The primary of `sd start`: forks the workers (node:cluster, which shares the listening
 * sockets so a worker can be replaced without refusing a connection), relays pushes and
 * queries between them through its registry, restarts a worker that crashes, replaces them one
 * by one on reload, and stops them gracefully.
 */
import cluster, { type Worker } from 'node:cluster'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Logger } from 'pino'
import type { NodeStats } from '../core/contract.js'
import { isProtocolMessage, sdErrorFrom, type FromWorker, type Target, type ToWorker } from './ipc-protocol.js'
import type { Ports } from './ports.js'
import { Registry } from './membership.js'
import { Batcher, isBatch } from './batch.js'

/** Options of `Primary`. */
export interface PrimaryOptions {
  /** Application folder. */
  root: string
  /** Folder the workers load the app from: `root`, or its `dist/` build. @default root */
  appRoot?: string
  /** Worker processes. @default 1 */
  workers: number
  log: Logger
  /** How long a worker may take to stop gracefully before it is killed. @default 15000 */
  stopTimeoutMs?: number
  /** How long a worker may take to start serving. @default 30000 */
  readyTimeoutMs?: number
  /** Extra environment of the workers. */
  env?: Record<string, string>
  /** Called when the set of serving workers changes (a worker serves, or crashes). */
  onChange?: () => void
}

/** One worker as `sd status` shows it. */
export interface WorkerStatus {
  id: number
  pid: number
  /** `serving`, or `down` while a crashed worker is being restarted. */
  state: 'serving' | 'down'
  uptimeMs: number
  /** Times this slot's worker was restarted after a crash. */
  restarts: number
  stats?: NodeStats
}

/** What `sd status` reports. */
export interface ServerStatus {
  /** Pid of the primary. */
  pid: number
  status: PrimaryStatus
  uptimeMs: number
  ports: Ports
  workers: WorkerStatus[]
  /** Open connections by transport, all workers. */
  connections: Record<string, number>
}

/** Lifecycle of the primary. */
export type PrimaryStatus = 'starting' | 'running' | 'reloading' | 'stopping' | 'stopped'

interface Slot {
  /** Slot number (1..N), stable across restarts. */
  readonly n: number
  readonly worker: Worker
  /** Messages to this worker, sent once per turn. */
  readonly out: Batcher<ToWorker>
  readonly startedAt: number
  ready: boolean
  /** Set when the primary stops, replaces or gives up on it on purpose: its exit is no crash. */
  retiring: boolean
}

/** Per slot: the worker serving it (if any) and its restart history. */
interface SlotState {
  current: Slot | undefined
  restarts: number
  /** Crashes in a row soon after starting (grows the restart delay). */
  backoff: number
  /** Forks into this slot so far (a new worker's generation, `SD_WORKER_GENERATION`). */
  forks: number
  /** A restart under way, so a reload and a crash never fork the same slot twice. */
  restarting: Promise<void> | undefined
}

const workerMain = fileURLToPath(new URL('./worker-process-main.mjs', import.meta.url))

/** Runs the workers of one server. */
export class Primary {
  readonly #options: Required<Omit<PrimaryOptions, 'env' | 'appRoot' | 'onChange'>> & { env: Record<string, string>, appRoot: string, onChange?: () => void }
  readonly #registry = new Registry()
  readonly #slots = new Map<number, SlotState>()
  readonly #byId = new Map<number, Slot>()
  readonly #readyWaiters = new Map<number, { resolve: (ports: Ports) => void, reject: (err: Error) => void }>()
  readonly #statsWaiters = new Map<number, (stats: NodeStats) => void>()
  #statsSeq = 0
  #status: PrimaryStatus = 'starting'
  #ports: Ports = {}
  readonly #startedAt = Date.now()
  #reloading: Promise<void> | undefined
  readonly #compiled: boolean

  constructor (options: PrimaryOptions) {
    this.#options = { stopTimeoutMs: 15_000, readyTimeoutMs: 30_000, env: {}, appRoot: options.root, ...options }
    // a build that compiled the framework too runs its own copy of the worker, without tsx
    const compiled = join(this.#options.appRoot, 'framework/multicore/worker-process-main.mjs')
    this.#compiled = this.#options.appRoot !== options.root && existsSync(compiled)
    // Each worker accepts on the shared listening sockets itself (SCHED_NONE) instead of the
    // primary accepting and passing every socket over IPC (round-robin, node's default on
    // Linux): a worker out of descriptors loses passed sockets and the hand-off queue stalled,
    // leaving every port dead long after a flood (issue 15). Fixed before the first fork.
    // NODE_CLUSTER_SCHED_POLICY=rr keeps node's round-robin (even spread; docs/cli.md)
    if (process.env.NODE_CLUSTER_SCHED_POLICY === undefined) cluster.schedulingPolicy = cluster.SCHED_NONE
    // structured clone on the channel: Buffers, Dates and Maps reach other workers as they are
    cluster.setupPrimary({ exec: this.#compiled ? compiled : workerMain, serialization: 'advanced' })
    for (let n = 1; n <= options.workers; n++) this.#slots.set(n, { current: undefined, restarts: 0, backoff: 0, forks: 0, restarting: undefined })
  }

  get status (): PrimaryStatus { return this.#status }
  get ports (): Ports { return this.#ports }
  /** Pids of the workers serving now. */
  get pids (): number[] {
    return [...this.#slots.values()].flatMap((s) => s.current?.worker.process.pid ?? [])
  }

  #setStatus (status: PrimaryStatus): void {
    this.#status = status
    this.#options.log.debug({ status }, 'primary status')
  }

  #stopping (): boolean {
    return this.#status === 'stopping' || this.#status === 'stopped'
  }

  /** Forks every worker and resolves once all serve; rejects if one fails to start. */
  async start (): Promise<Ports> {
    const results = await Promise.allSettled([...this.#slots.keys()].map((n) => this.#fork(n)))
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed || this.#stopping()) {
      await this.stop()
      throw failed ? failed.reason : new Error('stopped while starting')
    }
    this.#setStatus('running')
    return this.#ports
  }

  /** Forks a worker into slot `n`; resolves once it serves (it then holds the slot). */
  #fork (n: number): Promise<Slot> {
    const state = this.#slots.get(n)
    if (!state) throw new Error(`no worker slot ${n}`)
    const worker = cluster.fork({
      ...this.#options.env,
      SD_APP_ROOT: this.#options.appRoot,
      SD_WORKERS: String(this.#options.workers),
      SD_WORKER_SLOT: String(n),
      SD_WORKER_GENERATION: String(state.forks++),
      SD_COMPILED: this.#compiled ? '1' : '0',
    })
    const out = new Batcher<ToWorker>((msg) => {
      if (!worker.isConnected()) return false
      worker.send(msg)
      return true
    }, (err) => this.#options.log.error({ err, worker: n }, 'message to a worker could not be sent'))
    const slot: Slot = { n, worker, out, startedAt: Date.now(), ready: false, retiring: false }
    this.#byId.set(worker.id, slot)
    worker.on('message', (m: unknown) => {
      if (isBatch<FromWorker>(m)) for (const msg of m.m) this.#onMessage(slot, msg)
      else if (isProtocolMessage(m)) this.#onMessage(slot, m as FromWorker)
    })
    worker.on('exit', (code, signal) => this.#onExit(slot, code, signal))
    return new Promise<Slot>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#readyWaiters.delete(worker.id)
        slot.retiring = true
        worker.process.kill('SIGKILL')
        reject(new Error(`worker ${n} did not start serving within ${this.#options.readyTimeoutMs} ms`))
      }, this.#options.readyTimeoutMs)
      this.#readyWaiters.set(worker.id, {
        resolve: (ports) => {
          clearTimeout(timer)
          slot.ready = true
          this.#ports = ports
          state.current = slot
          this.#options.log.info({ worker: n, workerPid: worker.process.pid }, 'worker serving')
          this.#options.onChange?.()
          resolve(slot)
        },
        reject: (err) => { clearTimeout(timer); reject(err) },
      })
    })
  }

  #send (slot: Slot | undefined, msg: ToWorker): void {
    if (slot?.worker.isConnected()) slot.out.push(msg)
  }

  #onMessage (slot: Slot, msg: FromWorker): void {
    const id = slot.worker.id
    // a message that arrives after its worker's exit must not resurrect its connections
    if (!this.#byId.has(id)) return
    switch (msg.t) {
      case 'ready': {
        const waiter = this.#readyWaiters.get(id)
        this.#readyWaiters.delete(id)
        waiter?.resolve(msg.ports)
        return
      }
      case 'failed': {
        const waiter = this.#readyWaiters.get(id)
        this.#readyWaiters.delete(id)
        waiter?.reject(sdErrorFrom(msg.code, msg.message))
        return
      }
      case 'send': {
        this.#send(slot, { t: 'result', r: msg.r, v: this.#relay(msg.to, msg.d, id) })
        return
      }
      case 'query':
        // every worker's connections (a page like /status shows the server, not one worker)
        if (msg.q.k === 'connections') void this.statusReport().then((s) => this.#send(slot, { t: 'result', r: msg.r, v: s.connections }))
        else this.#send(slot, { t: 'result', r: msg.r, v: this.#registry.query(msg.q) })
        return
      case 'stats': {
        const resolve = this.#statsWaiters.get(msg.r)
        this.#statsWaiters.delete(msg.r)
        resolve?.(msg.stats)
        return
      }
      case 'bind':
        // bind with kick: the other workers' connections of the uid are closed in the same
        // step as the bind is recorded, so two simultaneous sign-ins cannot both stay
        if (msg.kick) this.#relay({ k: 'kick', u: msg.u, reason: `uid ${msg.u} signed in elsewhere`, except: msg.c }, undefined, id)
        this.#registry.apply(id, msg)
        return
      default:
        this.#registry.apply(id, msg)
    }
  }

  /** Sends a push to the workers (other than `origin`) that hold its targets; returns how many connections it reaches there. */
  #relay (to: Target, d: unknown, origin: number): number {
    let total = 0
    for (const [target, n] of this.#registry.fanout(to, origin)) {
      this.#send(this.#byId.get(target), { t: 'deliver', to, d })
      total += n
    }
    return total
  }

  #onExit (slot: Slot, code: number | null, signal: string | null): void {
    const id = slot.worker.id
    this.#byId.delete(id)
    this.#registry.dropWorker(id)
    const state = this.#slots.get(slot.n)
    if (state?.current === slot) state.current = undefined
    const waiter = this.#readyWaiters.get(id)
    if (waiter) {
      this.#readyWaiters.delete(id)
      waiter.reject(new Error(`worker ${slot.n} exited before serving (code ${code ?? 'none'}${signal ? `, ${signal}` : ''}); its error is in the server's log`))
      return
    }
    if (slot.retiring || this.#stopping() || !state) return
    // A crash: its connections are gone; the other workers never notice.
    state.restarts++
    state.backoff = Date.now() - slot.startedAt < 10_000 ? state.backoff + 1 : 0
    this.#options.log.error({ worker: slot.n, workerPid: slot.worker.process.pid, code, signal }, 'worker crashed; restarting it')
    this.#options.onChange?.()
    void this.#restart(slot.n)
  }

  /** Forks slot `n` again until a worker serves there (backoff while it keeps failing), unless stopping. */
  #restart (n: number): Promise<void> {
    const state = this.#slots.get(n)
    if (!state) return Promise.resolve()
    state.restarting ??= (async () => {
      while (!this.#stopping() && state.current === undefined) {
        const delayMs = Math.min(100 * 2 ** state.backoff, 5000)
        await new Promise((resolve) => setTimeout(resolve, delayMs).unref())
        if (this.#stopping()) break
        try {
          await this.#fork(n)
        } catch (err) {
          state.backoff++
          this.#options.log.error({ err: (err as Error).message, worker: n, retryInMs: Math.min(100 * 2 ** state.backoff, 5000) }, 'worker restart failed; trying again')
        }
      }
    })().finally(() => { state.restarting = undefined })
    return state.restarting
  }

  /** Asks a worker to stop gracefully; kills it after the stop timeout. */
  async #retire (slot: Slot): Promise<void> {
    slot.retiring = true
    const worker = slot.worker
    if (worker.isDead()) return
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()))
    // a worker still booting cannot read the channel yet: a signal reaches it at once
    if (slot.ready) this.#send(slot, { t: 'stop' })
    else worker.process.kill('SIGTERM')
    const timer = setTimeout(() => {
      this.#options.log.warn({ worker: slot.n, workerPid: worker.process.pid }, 'worker did not stop in time: killing it')
      worker.process.kill('SIGKILL')
    }, this.#options.stopTimeoutMs)
    await exited
    clearTimeout(timer)
  }

  /**
   * Replaces every worker, one at a time: the new process serves (and shares the listening
   * sockets) before the old one stops, so the ports never refuse a connection. Connections
   * of the old worker are closed gracefully (`SD_ERR_SHUTTING_DOWN`). A new worker that fails
   * to start fails the reload; the workers not replaced yet keep serving.
   */
  reload (): Promise<void> {
    this.#reloading ??= this.#reload().finally(() => { this.#reloading = undefined })
    return this.#reloading
  }

  async #reload (): Promise<void> {
    if (this.#status !== 'running') throw new Error(`cannot reload while ${this.#status}`)
    this.#setStatus('reloading')
    try {
      for (const [n, state] of this.#slots) {
        if (this.#stopping()) throw new Error(`reload interrupted: the server is ${this.#status}`)
        if (state.restarting) await state.restarting
        const old = state.current
        await this.#fork(n)
        if (old) await this.#retire(old)
      }
      this.#options.log.info({ workers: this.#slots.size }, 'reload done')
    } finally {
      if (!this.#stopping()) this.#setStatus('running')
    }
  }

  /** Stops every worker gracefully (in parallel), those still starting included. */
  async stop (): Promise<void> {
    if (this.#status === 'stopped') return
    this.#setStatus('stopping')
    await Promise.all([...this.#byId.values()].map((s) => this.#retire(s)))
    this.#setStatus('stopped')
  }

  /** The server at a glance, with each worker's own numbers. */
  async statusReport (): Promise<ServerStatus> {
    const workers = await Promise.all([...this.#slots].map(async ([n, state]): Promise<WorkerStatus> => {
      const slot = state.current
      return {
        id: n,
        pid: slot?.worker.process.pid ?? 0,
        state: slot ? 'serving' : 'down',
        uptimeMs: slot ? Date.now() - slot.startedAt : 0,
        restarts: state.restarts,
        stats: slot ? await this.#stats(slot) : undefined,
      }
    }))
    const connections: Record<string, number> = {}
    for (const w of workers) for (const [t, n] of Object.entries(w.stats?.connections ?? {})) connections[t] = (connections[t] ?? 0) + n
    return { pid: process.pid, status: this.#status, uptimeMs: Date.now() - this.#startedAt, ports: this.#ports, workers, connections }
  }

  #stats (slot: Slot): Promise<NodeStats | undefined> {
    if (!slot.worker.isConnected()) return Promise.resolve(undefined)
    const r = ++this.#statsSeq
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.#statsWaiters.delete(r); resolve(undefined) }, 2000)
      this.#statsWaiters.set(r, (stats) => { clearTimeout(timer); resolve(stats) })
      this.#send(slot, { t: 'stats', r })
    })
  }
}
