/**
 * The primary of `sd start`: forks the workers (node:cluster, which shares the listening
 * sockets so a worker can be replaced without refusing a connection), relays pushes and
 * queries between them through its membership mirror, restarts a worker that crashes, replaces them one
 * by one on reload, and stops them gracefully. In split mode (roles.ts) it forks the gateway
 * first, gives the workers its link port, reloads only the workers and stops the gateway last.
 */
import cluster, { type Worker } from 'node:cluster'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Logger } from 'pino'
import type { BusTarget } from '../connection/bus-publish.js'
import { isProtocolMessage, sdErrorFrom, type FromWorker, type ToWorker, type WorkerStats } from './ipc-protocol.js'
import type { Ports } from './ports.js'
import { PendingRequests } from '../connection/remote-bus.js'
import { MembershipMirror } from './membership.js'
import { Batcher, isBatch } from './batch.js'
import { AdminRequests, type AdminTarget } from './admin-requests.js'
import type { ProcessSnapshot } from '../core/snapshot.js'
import type { PrimaryStatus, ServerStatus, WorkerStatus } from './status.js'
import { GATEWAY_SLOT, roleEnv, runSecret, slotRoles, type PrimaryMode, type SlotRole } from './roles.js'

export type { PrimaryMode, SlotRole } from './roles.js'
export type { PrimaryStatus, ServerStatus, WorkerStatus } from './status.js'
export { PUBLISH_TIMEOUT_MS } from './admin-requests.js'

/** Options of `Primary`. */
export interface PrimaryOptions {
  /** Application folder. */
  root: string
  /** Folder the workers load the app from: `root`, or its `dist/` build. @default root */
  appRoot?: string
  /** Worker processes (servers in direct mode, business workers in split and worker modes). @default 1 */
  workers: number
  /** Which processes to run (roles.ts). @default 'direct' */
  mode?: PrimaryMode
  /** Entry file of the processes (tests give a fake one). @default multicore/worker-process-main.mjs */
  exec?: string
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
  readonly role: SlotRole
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
  readonly #options: Required<Omit<PrimaryOptions, 'env' | 'appRoot' | 'onChange' | 'exec'>> & { env: Record<string, string>, appRoot: string, onChange?: () => void }
  readonly #membership = new MembershipMirror((worker, msg) => this.#send(this.#byId.get(worker), msg))
  readonly #slots = new Map<number, SlotState>()
  readonly #byId = new Map<number, Slot>()
  readonly #readyWaiters = new Map<number, { resolve: (ports: Ports) => void, reject: (err: Error) => void }>()
  /** `stats` requests to the workers (a worker that does not answer in time shows no stats). */
  readonly #statsRequests = new PendingRequests()
  /** The admin listener's `metrics` and `publish` requests to the processes serving now. */
  readonly #admin = new AdminRequests(() => [...this.#slots.values()].flatMap(({ role, current: slot }): AdminTarget[] =>
    slot?.worker.isConnected() === true ? [{ id: slot.worker.id, n: slot.n, role, send: (msg) => this.#send(slot, msg) }] : []))
  #status: PrimaryStatus = 'starting'
  #ports: Ports = {}
  readonly #startedAt = Date.now()
  #reloading: Promise<void> | undefined
  readonly #compiled: boolean
  /** Link secret of a split run (given to its gateway and workers). */
  readonly #secret: string | undefined
  /** False in a split run with a secret of its own: its gateway is not announced in Redis. */
  readonly #announce: boolean
  /** Link port of this run's gateway, once it serves (split mode: the workers' `SD_GATEWAYS`). */
  #gatewayPort: number | undefined

  constructor (options: PrimaryOptions) {
    this.#options = { stopTimeoutMs: 15_000, readyTimeoutMs: 30_000, env: {}, appRoot: options.root, mode: 'direct', ...options }
    const env = { ...process.env, ...this.#options.env }
    this.#secret = this.#options.mode === 'split' ? runSecret(env) : undefined
    this.#announce = !(this.#options.mode === 'split' && !env.SD_GATEWAY_SECRET && !env.SD_CLUSTER_SECRET)
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
    cluster.setupPrimary({ exec: options.exec ?? (this.#compiled ? compiled : workerMain), serialization: 'advanced' })
    for (const [n, role] of slotRoles(this.#options.mode, options.workers)) this.#slots.set(n, { role, current: undefined, restarts: 0, backoff: 0, forks: 0, restarting: undefined })
  }

  get status (): PrimaryStatus { return this.#status }
  get mode (): PrimaryMode { return this.#options.mode }
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

  /**
   * Forks every worker and resolves once all serve; rejects if one fails to start. A gateway
   * is forked first and must serve (with its link port) before the workers are forked.
   */
  async start (): Promise<Ports> {
    const failedStart = async (reason: unknown): Promise<never> => {
      await this.stop()
      throw reason
    }
    const gateway = this.#slots.get(GATEWAY_SLOT)
    if (gateway) {
      try {
        await this.#fork(GATEWAY_SLOT)
      } catch (err) {
        return failedStart(err)
      }
      // stopped meanwhile: forking workers now would leave them behind the stop
      if (this.#stopping()) return failedStart(new Error('stopped while starting'))
      if (this.#options.mode === 'split' && this.#gatewayPort === undefined) return failedStart(new Error('the gateway serves but reported no link port (ports.gateway)'))
    }
    const others = [...this.#slots.keys()].filter((n) => n !== GATEWAY_SLOT)
    const results = await Promise.allSettled(others.map((n) => this.#fork(n)))
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed || this.#stopping()) return failedStart(failed ? failed.reason : new Error('stopped while starting'))
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
      ...roleEnv(state.role, { gatewayPort: this.#gatewayPort, secret: this.#secret, announce: this.#announce }),
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
    // a send racing the worker's death fails with EPIPE, emitted here: its exit handles it
    worker.on('error', (err: Error) => this.#options.log.debug({ err: err.message, worker: n }, 'worker channel error'))
    return new Promise<Slot>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#readyWaiters.delete(worker.id)
        slot.retiring = true
        worker.process.kill('SIGKILL')
        reject(new Error(`${state.role} ${n} did not start serving within ${this.#options.readyTimeoutMs} ms`))
      }, this.#options.readyTimeoutMs)
      this.#readyWaiters.set(worker.id, {
        resolve: (ports) => {
          clearTimeout(timer)
          slot.ready = true
          // a business worker has no client port: its `{}` must not hide the gateway's ports
          if (state.role !== 'worker') this.#ports = ports
          if (state.role === 'gateway' && ports.gateway !== undefined) this.#gatewayPort = ports.gateway
          state.current = slot
          this.#options.log.info({ worker: n, role: state.role, workerPid: worker.process.pid }, `${state.role} serving`)
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
        this.#send(slot, { t: 'result', r: msg.r, v: this.#membership.relay(msg.to, msg.d, id) })
        return
      }
      case 'query':
        // every worker's connections (a page like /status shows the server, not one worker)
        if (msg.q.o === 'connections') void this.statusReport().then((s) => this.#send(slot, { t: 'result', r: msg.r, v: s.connections }))
        else this.#send(slot, { t: 'result', r: msg.r, v: this.#membership.query(msg.q) })
        return
      case 'stats':
        this.#statsRequests.settle(msg.r, msg.stats)
        return
      case 'metrics':
      case 'published':
        this.#admin.answer(msg)
        return
      default:
        this.#membership.apply(id, msg)
    }
  }

  #onExit (slot: Slot, code: number | null, signal: string | null): void {
    const id = slot.worker.id
    this.#byId.delete(id)
    this.#membership.dropWorker(id)
    // its admin requests in flight will never be answered: say so now, not at their timeout
    this.#admin.gone(id, slot.n)
    const state = this.#slots.get(slot.n)
    if (state?.current === slot) state.current = undefined
    const waiter = this.#readyWaiters.get(id)
    if (waiter) {
      this.#readyWaiters.delete(id)
      waiter.reject(new Error(`${state?.role ?? 'worker'} ${slot.n} exited before serving (code ${code ?? 'none'}${signal ? `, ${signal}` : ''}); its error is in the server's log`))
      return
    }
    if (slot.retiring || this.#stopping() || !state) return
    // A crash: its connections are gone; the other workers never notice.
    state.restarts++
    state.backoff = Date.now() - slot.startedAt < 10_000 ? state.backoff + 1 : 0
    if (state.role === 'gateway') this.#options.log.error({ worker: slot.n, workerPid: slot.worker.process.pid, code, signal }, 'gateway crashed: its clients were lost; restarting it')
    else this.#options.log.error({ worker: slot.n, role: state.role, workerPid: slot.worker.process.pid, code, signal }, `${state.role} crashed; restarting it`)
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
   * to start fails the reload; the workers not replaced yet keep serving. In split mode only
   * business workers are replaced (the new one is linked before the old one drains); the
   * gateway, which runs no application code, is never reloaded, and its clients stay.
   */
  reload (): Promise<void> {
    this.#reloading ??= this.#reload().finally(() => { this.#reloading = undefined })
    return this.#reloading
  }

  async #reload (): Promise<void> {
    if (this.#status !== 'running') throw new Error(`cannot reload while ${this.#status}`)
    // a kept gateway reads its TLS certificates again (its clients stay; new ones get the new files)
    for (const [, state] of this.#slots) if (state.role === 'gateway') this.#send(state.current, { t: 'tls' })
    const replaced = [...this.#slots].filter(([, state]) => state.role !== 'gateway')
    if (replaced.length === 0) throw new Error('nothing to reload: a gateway runs no application code; run sd reload where its workers run')
    this.#setStatus('reloading')
    try {
      for (const [n, state] of replaced) {
        if (this.#stopping()) throw new Error(`reload interrupted: the server is ${this.#status}`)
        if (state.restarting) await state.restarting
        const old = state.current
        await this.#fork(n)
        if (old) await this.#retire(old)
      }
      this.#options.log.info({ workers: replaced.length }, 'reload done')
    } finally {
      if (!this.#stopping()) this.#setStatus('running')
    }
  }

  /**
   * Stops every worker gracefully (in parallel), those still starting included; the gateway
   * last, once its workers have drained through it.
   */
  async stop (): Promise<void> {
    if (this.#status === 'stopped') return
    this.#setStatus('stopping')
    const isGateway = (s: Slot): boolean => this.#slots.get(s.n)?.role === 'gateway'
    await Promise.all([...this.#byId.values()].filter((s) => !isGateway(s)).map((s) => this.#retire(s)))
    await Promise.all([...this.#byId.values()].filter(isGateway).map((s) => this.#retire(s)))
    this.#setStatus('stopped')
  }

  /** The server at a glance, with each worker's own numbers. */
  async statusReport (): Promise<ServerStatus> {
    const workers = await Promise.all([...this.#slots].map(async ([n, state]): Promise<WorkerStatus> => {
      const slot = state.current
      return {
        id: n,
        role: state.role,
        pid: slot?.worker.process.pid ?? 0,
        state: slot ? 'serving' : 'down',
        uptimeMs: slot ? Date.now() - slot.startedAt : 0,
        restarts: state.restarts,
        stats: slot ? await this.#stats(slot) : undefined,
      }
    }))
    const connections: Record<string, number> = {}
    for (const w of workers) for (const [t, n] of Object.entries(w.stats?.connections ?? {})) connections[t] = (connections[t] ?? 0) + n
    return { pid: process.pid, status: this.#status, mode: this.#options.mode, uptimeMs: Date.now() - this.#startedAt, ports: this.#ports, workers, connections }
  }

  /** Runs an admin publish on one process's bus (admin-requests.ts); resolves to the connections reached. */
  publish (to: BusTarget, data: unknown, recover?: boolean): Promise<number> {
    return this.#admin.publish(to, data, recover)
  }

  /** Prometheus text of the whole server: every process's registry merged; docs/metrics.md. */
  metrics (): Promise<string> {
    return this.#admin.metrics()
  }

  /** The whole server's figures now, summed over its processes. */
  snapshot (): Promise<ProcessSnapshot> {
    return this.#admin.snapshot()
  }

  #stats (slot: Slot): Promise<WorkerStats | undefined> {
    if (!slot.worker.isConnected()) return Promise.resolve(undefined)
    return this.#statsRequests.start((r) => { this.#send(slot, { t: 'stats', r }); return true }, undefined as WorkerStats | undefined, 2000)
  }
}
