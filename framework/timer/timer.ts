/**
 * The Timer base class (`OnlineTimer extends Timer`): one instance per run, like a controller
 * per request, with the part of the controller API that makes sense without a caller: pushes,
 * cluster-wide queries, models, MySQL, Redis, config, log. Nothing is kept between runs on the
 * instance: the next tick may run on another node.
 */
import type { Knex } from 'knex'
import type { Logger } from 'pino'
import { forwardBusCalls, type AppConfigView, type BusCalls, type ControllerHost } from '../core/contract.js'
import type { DataServices, Model, ModelClass } from '../data/model.js'
import type { RedisClient } from '../data/redis.js'
import type { TaskCallOptions, TaskProxy } from '../task/proxy.js'
import type { Task, TaskClass } from '../task/task.js'
import type { Tasks } from '../task/tasks.js'

/** What a timer needs from the application: core's contract plus MySQL/Redis and tasks. */
export interface TimerHost extends ControllerHost {
  readonly data: DataServices
  /** Task classes and the worker pool. */
  readonly tasks: Tasks
}

/** One run of a timer: which tick, and the fencing token it won it with. */
export interface TimerTick {
  /** Timer name (the key in `config/timers.ts`). */
  readonly timer: string
  /** Scheduled time of the tick, ms since the epoch (the same on every node). */
  readonly tick: number
  /**
   * Fencing token: grows with every run of this timer (cluster-wide with Redis, per process
   * without). Store it with what a run writes and refuse writes older than the stored one to
   * keep a slow run from overwriting a newer one.
   */
  readonly fence: number
  /** Node that runs it. */
  readonly node: string
}

/** A timer class as the registry stores it. */
export type TimerClass = new (host: TimerHost, run: TimerTick) => Timer

// the BusCalls methods (pushes and cluster-wide queries), put on the prototype by forwardBusCalls below
// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging
export interface Timer extends BusCalls {}

/** Base class of every timer: the configured method is called with the run's `TimerTick`. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class Timer {
  readonly #host: TimerHost
  readonly #run: TimerTick
  #log: Logger | undefined

  constructor (host: TimerHost, run: TimerTick) {
    this.#host = host
    this.#run = run
  }

  /** Timer name. */
  get timer (): string { return this.#run.timer }
  /** Scheduled time of this tick (ms since the epoch). */
  get tick (): number { return this.#run.tick }
  /** Fencing token of this run (see `TimerTick.fence`). */
  get fence (): number { return this.#run.fence }
  /** Node running this tick. */
  get node (): string { return this.#run.node }

  /** Application logger, bound to this timer and tick. */
  get log (): Logger {
    this.#log ??= this.#host.log.child({ timer: this.#run.timer, tick: this.#run.tick })
    return this.#log
  }

  /** The application's configuration. */
  get config (): AppConfigView { return this.#host.config }

  /** A model (`this.model(MessageModel)`). */
  model<M extends Model> (cls: ModelClass<M>): M { return new cls(this.#host.data) }

  /** knex on the MySQL primary. */
  get db (): Knex { return this.#host.data.mysql.primary }

  /** The shared Redis connection. */
  get redis (): RedisClient { return this.#host.data.redis.shared }

  /** A task, as in a controller (`await this.task(ReportTask).build(args)`): runs in a worker thread. */
  task<T extends Task> (cls: TaskClass<T>, options?: TaskCallOptions): TaskProxy<T> { return this.#host.tasks.proxy(cls, options) }

  static {
    forwardBusCalls(this, (timer) => timer.#host.bus)
  }
}
