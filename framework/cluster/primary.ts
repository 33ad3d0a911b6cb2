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
import type { NodeStats } from '../core/application.js'
import { isProtocolMessage, type FromWorker, type ToWorker } from './ipc-protocol.js'
import type { Ports } from './ports.js'
import { Registry } from './registry.js'
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
}

/** One worker as `sd status` shows it. */
export interface WorkerStatus {
  id: number
  pid: number
  uptimeMs: number
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
  worker: Worker
  /** Messages to this worker, sent once per turn. */
  out: Batcher<ToWorker>
  startedAt: number
  restarts: number
  ready: boolean
  /** Set when the primary stops or replaces it on purpose. */
  retiring: boolean
}

const workerMain = fileURLToPath(new URL(`./worker-main.mjs`, import.meta.url))

/** Runs the workers of one server. */
export class Primary {
  readonly #options: Required<Omit<PrimaryOptions, 'env' | 'appRoot'>> & { env: Record<string, string>, appRoot: string }
  readonly #registry = new Registry()
  readonly #slots: Slot[] = []
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
    const compiled = join(this.#options.appRoot, 'framework/cluster/worker-main.mjs')
    this.#compiled = this.#options.appRoot !== options.root && existsSync(compiled)
    cluster.setupPrimary({ exec: this.#compiled ? compiled : workerMain })
  }

  get status (): PrimaryStatus { return this.#status }
  get ports (): Ports { return this.#ports }
  get pids (): number[] { return this.#slots.map((s) => s.worker.process.pid ?? 0) }

  #setStatus (status: PrimaryStatus): void {
    this.#status = status
    this.#options.log.debug({ status }, 'primary status')
  }

  /** Forks every worker and resolves once all serve; rejects if one fails to start. */
  async start (): Promise<Ports> {
    const results = await Promise.allSettled(Array.from({ length: this.#options.workers }, (_, i) => this.#fork(i + 1)))
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed) {
      await this.stop()
      throw failed.reason
    }
    this.#setStatus('running')
    return this.#ports
  }

  /** Forks a worker into slot `n` and waits until it serves. */
  #fork (n: number, restarts = 0): Promise<Slot> {
    const worker = cluster.fork({
      ...this.#options.env,
      SD_APP_ROOT: this.#options.appRoot,
      SD_WORKERS: String(this.#options.workers),
      SD_WORKER_SLOT: String(n),
      SD_COMPILED: this.#compiled ? '1' : '0',
    })
    const out = new Batcher<ToWorker>((msg) => {
      if (!worker.isConnected()) return false
      worker.send(msg)
      return true
    })
    const slot: Slot = { n, worker, out, startedAt: Date.now(), restarts, ready: false, retiring: false }
    this.#byId.set(worker.id, slot)
    worker.on('message', (m: unknown) => {
      if (isBatch<FromWorker>(m)) for (const msg of m.m) this.#onMessage(slot, msg)
      else if (isProtocolMessage(m)) this.#onMessage(slot, m as FromWorker)
    })
    worker.on('exit', (code, signal) => this.#onExit(slot, code, signal))
    return new Promise<Slot>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#readyWaiters.delete(worker.id)
        worker.process.kill('SIGKILL')
        reject(new Error(`worker ${n} did not start serving within ${this.#options.readyTimeoutMs} ms`))
      }, this.#options.readyTimeoutMs)
      this.#readyWaiters.set(worker.id, {
        resolve: (ports) => {
          clearTimeout(timer)
          slot.ready = true
          this.#ports = ports
          const i = this.#slots.findIndex((s) => s.n === n)
          if (i >= 0) this.#slots[i] = slot
          else this.#slots.push(slot)
          this.#slots.sort((a, b) => a.n - b.n)
          this.#options.log.info({ worker: n, workerPid: worker.process.pid }, 'worker serving')
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
    switch (msg.t) {
      case 'ready': {
        const waiter = this.#readyWaiters.get(id)
        this.#readyWaiters.delete(id)
        waiter?.resolve(msg.ports)
        return
      }
      case 'send': {
        let total = 0
        for (const [target, n] of this.#registry.fanout(msg.to, id)) {
          this.#send(this.#byId.get(target), { t: 'deliver', to: msg.to, d: msg.d })
          total += n
        }
        this.#send(slot, { t: 'result', r: msg.r, v: total })
        return
      }
      case 'query':
        this.#send(slot, { t: 'result', r: msg.r, v: this.#registry.query(msg.q) })
        return
      case 'stats': {
        const resolve = this.#statsWaiters.get(msg.r)
        this.#statsWaiters.delete(msg.r)
        resolve?.(msg.stats)
        return
      }
      default:
        this.#registry.apply(id, msg)
    }
  }

  #onExit (slot: Slot, code: number | null, signal: string | null): void {
    const id = slot.worker.id
    this.#byId.delete(id)
    this.#registry.dropWorker(id)
    const waiter = this.#readyWaiters.get(id)
    if (waiter) {
      this.#readyWaiters.delete(id)
      waiter.reject(new Error(`worker ${slot.n} exited before serving (code ${code ?? 'none'}${signal ? `, ${signal}` : ''}); see its log above`))
      return
    }
    if (slot.retiring || this.#status === 'stopping' || this.#status === 'stopped') return
    // A crash: its connections are gone; the other workers never notice. Restart with a backoff
    // that grows while it keeps crashing soon after starting.
    const quick = Date.now() - slot.startedAt < 10_000
    const restarts = quick ? slot.restarts + 1 : 0
    const delayMs = Math.min(100 * 2 ** restarts, 5000)
    this.#options.log.error({ worker: slot.n, workerPid: slot.worker.process.pid, code, signal, restartInMs: delayMs }, 'worker crashed; restarting it')
    setTimeout(() => {
      if (this.#status === 'stopping' || this.#status === 'stopped') return
      this.#fork(slot.n, restarts).catch((err: unknown) => this.#options.log.error({ err, worker: slot.n }, 'worker restart failed'))
    }, delayMs).unref()
  }

  /** Asks a worker to stop gracefully; kills it after the stop timeout. */
  async #retire (slot: Slot): Promise<void> {
    slot.retiring = true
    const worker = slot.worker
    if (worker.isDead()) return
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()))
    this.#send(slot, { t: 'stop' })
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
   * of the old worker are closed gracefully (`SD_ERR_SHUTTING_DOWN`).
   */
  reload (): Promise<void> {
    this.#reloading ??= this.#reload().finally(() => { this.#reloading = undefined })
    return this.#reloading
  }

  async #reload (): Promise<void> {
    if (this.#status !== 'running') throw new Error(`cannot reload while ${this.#status}`)
    this.#setStatus('reloading')
    try {
      for (const old of [...this.#slots]) {
        await this.#fork(old.n)
        await this.#retire(old)
      }
      this.#options.log.info({ workers: this.#slots.length }, 'reload done')
    } finally {
      if ((this.#status as PrimaryStatus) === 'reloading') this.#setStatus('running')
    }
  }

  /** Stops every worker gracefully (in parallel). */
  async stop (): Promise<void> {
    if (this.#status === 'stopped') return
    this.#setStatus('stopping')
    const live = [...this.#byId.values()]
    await Promise.all(live.map((s) => this.#retire(s)))
    this.#setStatus('stopped')
  }

  /** The server at a glance, with each worker's own numbers. */
  async statusReport (): Promise<ServerStatus> {
    const workers = await Promise.all(this.#slots.map(async (s) => ({
      id: s.n,
      pid: s.worker.process.pid ?? 0,
      uptimeMs: Date.now() - s.startedAt,
      restarts: s.restarts,
      stats: await this.#stats(s),
    })))
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
