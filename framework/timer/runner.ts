/**
 * The loop of one timer in one process: sleep until the next tick (each wait computed from the
 * wall clock, never a drifting setInterval), claim it, run it. A run that throws is logged and
 * the schedule goes on; a tick that comes while the previous run of this process is still going
 * is skipped (no overlap); ticks missed while the event loop was blocked are skipped, not
 * replayed. Timeouts are unref'd: timers never keep a process alive.
 */
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { TickClaims } from './claims.js'
import { dueTick, firstTick } from './schedule.js'
import type { TimerPlan } from './spec.js'

/** Lifecycle of a runner: `waiting` for a tick, `ended` (schedule over or `maxRuns` reached), `stopped`. */
export type RunnerStatus = 'idle' | 'waiting' | 'ended' | 'stopped'

/** Whether the last claim could be made (`failing` while Redis is down). */
type ClaimHealth = 'ok' | 'failing'

/** Events of a runner. */
export interface RunnerEvents {
  status: [status: RunnerStatus]
}

/** What a runner needs. */
export interface RunnerOptions {
  plan: TimerPlan
  claims: TickClaims
  /** Runs the tick: builds the timer instance and calls its method. */
  run: (tick: number, fence: number) => unknown
  log: Logger
  /** Wall clock. @default Date.now */
  now?: () => number
}

/** Longest single sleep: long waits are cut so a wall-clock jump is noticed within a minute. */
const MAX_SLEEP_MS = 60_000
/** Shortest time a tick's claim is kept in Redis (covers clock skew between nodes). */
const MIN_CLAIM_TTL_MS = 60_000

/** Runs one timer on its schedule; emits `status` on each change of its status. */
export class TimerRunner extends EventEmitter<RunnerEvents> {
  readonly #plan: TimerPlan
  readonly #claims: TickClaims
  readonly #run: RunnerOptions['run']
  readonly #log: Logger
  readonly #now: () => number
  #status: RunnerStatus = 'idle'
  #health: ClaimHealth = 'ok'
  #due: number | null = null
  #timeout: NodeJS.Timeout | undefined
  #running: Promise<void> | undefined
  /** Ticks this node ran, ticks whose run threw, ticks skipped (the previous one still running, or the claim failed). */
  runs = 0
  failures = 0
  skips = 0

  constructor (options: RunnerOptions) {
    super()
    this.#plan = options.plan
    this.#claims = options.claims
    this.#run = options.run
    this.#log = options.log
    this.#now = options.now ?? Date.now
  }

  get status (): RunnerStatus {
    return this.#status
  }

  /** Next tick this process will try, ms since the epoch (`null` when none). */
  get nextTick (): number | null {
    return this.#status === 'waiting' ? this.#due : null
  }

  #setStatus (status: RunnerStatus, why?: string): void {
    if (this.#status === status) return
    this.#status = status
    if (status === 'ended') this.#log.info({ why }, 'timer ended')
    else this.#log.debug({ status }, 'timer status')
    this.emit('status', status)
  }

  #setHealth (health: ClaimHealth, err?: unknown): void {
    if (health === this.#health) return
    this.#health = health
    if (health === 'failing') this.#log.warn({ err: (err as Error)?.message }, 'timer ticks are skipped: the tick could not be claimed (is Redis down?)')
    else this.#log.info('timer claims work again')
  }

  /** Starts waiting for the first tick at or after `notBefore` (the app's start plus `delayMs`). */
  start (notBefore: number): void {
    if (this.#status !== 'idle') return
    this.#due = firstTick(this.#plan.schedule, notBefore)
    this.#arm()
  }

  /** Stops scheduling; resolves when the run in progress (if any) has finished. */
  stop (): Promise<void> {
    if (this.#status !== 'ended') this.#setStatus('stopped')
    clearTimeout(this.#timeout)
    this.#timeout = undefined
    return this.#running ?? Promise.resolve()
  }

  #arm (): void {
    if (this.#status === 'stopped' || this.#status === 'ended') return
    if (this.#due === null) {
      this.#setStatus('ended', 'no more ticks in its schedule')
      return
    }
    this.#setStatus('waiting')
    const wait = Math.min(Math.max(0, this.#due - this.#now()), MAX_SLEEP_MS)
    this.#timeout = setTimeout(() => this.#wake(), wait)
    this.#timeout.unref()
  }

  #wake (): void {
    this.#timeout = undefined
    if (this.#status !== 'waiting' || this.#due === null) return
    const { run, skipped, next } = dueTick(this.#plan.schedule, this.#due, this.#now())
    if (skipped > 0) this.#log.warn({ skipped }, 'timer fell behind (event loop blocked or clock jumped): missed ticks skipped')
    this.#due = next
    if (run !== null) this.#fire(run, next)
    this.#arm()
  }

  #fire (tick: number, next: number | null): void {
    if (this.#running !== undefined) {
      this.skips++
      this.#log.warn({ tick }, 'timer still running its previous tick: tick skipped')
      return
    }
    // A claim outlives the time any node may still try this tick (until the next tick is due).
    const ttlMs = Math.max(2 * ((next ?? tick) - tick), MIN_CLAIM_TTL_MS)
    this.#running = this.#claimAndRun(tick, ttlMs).finally(() => { this.#running = undefined })
  }

  async #claimAndRun (tick: number, ttlMs: number): Promise<void> {
    let claim
    try {
      claim = await this.#claims.claim(this.#plan.name, tick, ttlMs, this.#plan.maxRuns)
      this.#setHealth('ok')
    } catch (err) {
      this.skips++
      this.#setHealth('failing', err)
      return
    }
    if (!claim.won) {
      if (claim.reason === 'exhausted' && this.#status === 'waiting') {
        clearTimeout(this.#timeout)
        this.#setStatus('ended', `maxRuns (${this.#plan.maxRuns}) reached`)
      }
      return
    }
    this.runs++
    try {
      await this.#run(tick, claim.fence)
    } catch (err) {
      this.failures++
      this.#log.error({ err, tick, fence: claim.fence }, 'timer threw')
    }
  }
}
