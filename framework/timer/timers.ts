/**
 * The timers of an application: the Timer classes of `app.timersDir`, matched at start to the
 * specs of `config/timers.ts`, each run by a `TimerRunner`. They start after the app has started
 * and stop when it stops, before connections close. With Redis configured, ticks are claimed
 * through it, so each tick runs once across every process sharing the Redis and key prefix.
 */
import { EventEmitter } from 'node:events'
import { resolve } from 'node:path'
import { SdError } from '../core/errors.js'
import { loadClasses } from '../core/modules.js'
import { LocalClaims, RedisClaims, type TickClaims } from './claims.js'
import { TimerRunner } from './runner.js'
import { compileTimer, type TimerPlan } from './spec.js'
import { Timer, type TimerClass, type TimerHost, type TimerTick } from './timer.js'

/** Lifecycle of the timers of one application. */
export type TimersStatus = 'idle' | 'running' | 'stopped'

/** Events of `Timers`. */
export interface TimersEvents {
  status: [status: TimersStatus]
}

type Method = (run: TimerTick) => unknown

function invalid (key: string, why: string): SdError {
  return new SdError('SD_ERR_CONFIG_INVALID', `${key} ${why}`)
}

/** A timer whose target is resolved: what to call on each tick. */
interface Prepared {
  plan: TimerPlan
  run: (host: TimerHost, tick: TimerTick) => unknown
}

/** The timers of one application; emits `status` on each change of their status. */
export class Timers extends EventEmitter<TimersEvents> {
  readonly #host: TimerHost
  readonly #root: string
  readonly #classes = new Map<string, TimerClass>()
  readonly #runners = new Map<string, TimerRunner>()
  #status: TimersStatus = 'idle'

  constructor (host: TimerHost, root: string) {
    super()
    this.#host = host
    this.#root = root
  }

  get status (): TimersStatus {
    return this.#status
  }

  #setStatus (status: TimersStatus): void {
    if (this.#status === status) return
    this.#status = status
    this.#host.log.debug({ status }, 'timers status')
    this.emit('status', status)
  }

  /** Registered Timer classes by name. */
  get classes (): ReadonlyMap<string, TimerClass> {
    return this.#classes
  }

  /** The runner of each started timer (status, next tick). */
  get runners (): ReadonlyMap<string, TimerRunner> {
    return this.#runners
  }

  /** Registers a Timer class under `name` (what `handler` refers to). */
  add (cls: TimerClass, name = cls.name): this {
    if (!(cls.prototype instanceof Timer)) throw new SdError('SD_ERR_CONFIG_INVALID', `timer class ${name} does not extend Timer`)
    this.#classes.set(name, cls)
    return this
  }

  /** Loads every Timer class exported by the modules of `dir`. @default '<root>/<app.timersDir>' */
  async load (dir = resolve(this.#root, this.#host.config.app.timersDir)): Promise<void> {
    const isTimer = (v: unknown): v is TimerClass => typeof v === 'function' && v.prototype instanceof Timer
    const found = await loadClasses(dir, isTimer, (file) => new SdError('SD_ERR_CONFIG_INVALID', `app.timersDir: ${file} exports no class extending Timer`))
    for (const { cls, name } of found) this.add(cls, name)
  }

  /**
   * Checks every configured timer against the registered classes; throws
   * `SD_ERR_CONFIG_INVALID` naming `timers.<name>.handler` / `.method` / `.task`.
   */
  prepare (): Prepared[] {
    const specs = this.#host.config.timers
    return Object.entries(specs).map(([name, spec]) => {
      const plan = compileTimer(name, spec)
      return { plan, run: this.#target(plan) }
    })
  }

  #target (plan: TimerPlan): Prepared['run'] {
    const { kind, name, method } = plan.target
    const path = `timers.${plan.name}`
    if (kind === 'task') {
      const ref = this.#host.tasks.registry.find(name)
      if (ref === undefined) throw invalid(`${path}.task`, `names no Task class in ${this.#host.config.tasks.dir}`)
      if (!ref.methods.has(method)) throw invalid(`${path}.method`, `is not a method of ${name}`)
      // the call a controller makes with `this.task(Cls)[method](...)`, run on the task pool
      return (host, tick) => (host.tasks.proxy(ref.cls) as unknown as Record<string, Method>)[method](tick)
    }
    const cls = this.#classes.get(name)
    if (cls === undefined) {
      const known = [...this.#classes.keys()].join(', ') || 'none'
      throw invalid(`${path}.handler`, `names no Timer class in ${this.#host.config.app.timersDir} (found: ${known})`)
    }
    const fn = (cls.prototype as unknown as Record<string, unknown>)[method]
    if (typeof fn !== 'function' || method === 'constructor' || method in Timer.prototype) {
      throw invalid(`${path}.method`, `is not a method of ${name}`)
    }
    return (host, tick) => (new cls(host, tick) as unknown as Record<string, Method>)[method](tick)
  }

  /** Starts every configured timer; `startedAt` + `delayMs` is when each may take its first tick. */
  start (startedAt = Date.now()): void {
    if (this.#status !== 'idle') return
    const prepared = this.prepare()
    this.#setStatus('running')
    if (prepared.length === 0) return
    const host = this.#host
    const slot = process.env.SD_WORKER_SLOT
    if (!host.data.redis.configured && slot !== undefined && slot !== '1') {
      // `sd start --workers N` without Redis: nothing shares claims between the workers, so
      // only worker 1 (a slot number that survives restarts) runs the timers.
      host.log.info({ timers: prepared.map((p) => p.plan.name), worker: slot }, 'timers run in worker 1 only (Redis is off)')
      return
    }
    const node = host.config.app.nodeName
    const claims: TickClaims = host.data.redis.configured ? new RedisClaims(() => host.data.redis.shared, node) : new LocalClaims()
    for (const { plan, run } of prepared) {
      const runner = new TimerRunner({
        plan,
        claims,
        log: host.log.child({ timer: plan.name }),
        run: (tick, fence) => run(host, { timer: plan.name, tick, fence, node }),
      })
      this.#runners.set(plan.name, runner)
      runner.start(startedAt + plan.delayMs)
    }
    host.log.info({ timers: prepared.map((p) => p.plan.name) },
      claims.shared ? `${prepared.length} timer(s) started: each tick runs once across the nodes sharing this Redis` : `${prepared.length} timer(s) started in this process (Redis is off)`)
  }

  /**
   * Stops every timer; resolves when their runs in progress have finished, or after
   * `timeoutMs` (then logs which are still running). @default server.shutdownTimeoutMs
   */
  async stop (timeoutMs = this.#host.config.server.shutdownTimeoutMs): Promise<void> {
    if (this.#status === 'stopped') return
    this.#setStatus('stopped')
    const running = new Set<string>()
    const done = Promise.all([...this.#runners].map(async ([name, r]) => {
      running.add(name)
      await r.stop()
      running.delete(name)
    }))
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(true), timeoutMs).unref() })
    if (await Promise.race([done.then(() => false), timedOut])) {
      this.#host.log.warn({ timers: [...running], timeoutMs }, 'shutdown: timer runs still going')
    }
    clearTimeout(timer)
  }
}
