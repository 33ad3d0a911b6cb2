/**
 * The Timer base class (`OnlineTimer extends Timer`): one instance per run, like a controller
 * per request, with the part of the controller API that makes sense without a caller: pushes,
 * cluster-wide queries, models, MySQL, Redis, config, log. Nothing is kept between runs on the
 * instance: the next tick may run on another node.
 */
import type { Knex } from 'knex'
import type { Logger } from 'pino'
import type { SendOptions, Uid } from '../connection/bus.js'
import type { Config } from '../server/config.js'
import type { ControllerHost } from '../core/controller.js'
import type { Model, ModelClass } from '../data/model.js'
import type { RedisClient } from '../data/redis.js'
import type { TaskCallOptions, TaskProxy } from '../task/proxy.js'
import type { Task, TaskClass } from '../task/task.js'

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
export type TimerClass = new (host: ControllerHost, run: TimerTick) => Timer

/** Base class of every timer: the configured method is called with the run's `TimerTick`. */
export class Timer {
  readonly #host: ControllerHost
  readonly #run: TimerTick
  #log: Logger | undefined

  constructor (host: ControllerHost, run: TimerTick) {
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
  get config (): Config { return this.#host.config }

  /** A model (`this.model(MessageModel)`). */
  model<M extends Model> (cls: ModelClass<M>): M { return new cls(this.#host.data) }

  /** knex on the MySQL primary. */
  get db (): Knex { return this.#host.data.mysql.primary }

  /** The shared Redis connection. */
  get redis (): RedisClient { return this.#host.data.redis.shared }

  /** A task, as in a controller (`await this.task(ReportTask).build(args)`): runs in a worker thread. */
  task<T extends Task> (cls: TaskClass<T>, options?: TaskCallOptions): TaskProxy<T> { return this.#host.tasks.proxy(cls, options) }

  /** Pushes to every connection of `uid`; resolves to how many got it. */
  sendToUid (uid: Uid, data: unknown): Promise<number> { return this.#host.bus.sendToUid(uid, data) }

  /** Pushes to every connection of each uid. */
  sendToUids (uids: readonly Uid[], data: unknown): Promise<number> { return this.#host.bus.sendToUids(uids, data) }

  /** Pushes to every connection, minus `exclude`. */
  sendToAll (data: unknown, options?: SendOptions): Promise<number> { return this.#host.bus.sendToAll(data, options) }

  /** Pushes to every member of `group`, minus `exclude`. */
  sendToGroup (group: string, data: unknown, options?: SendOptions): Promise<number> { return this.#host.bus.sendToGroup(group, data, options) }

  /** Closes every connection of `uid`. */
  kickUid (uid: Uid, reason?: string): Promise<number> { return this.#host.bus.kickUid(uid, reason) }

  /** True when `uid` has a connection anywhere. */
  isUidOnline (uid: Uid): Promise<boolean> { return this.#host.bus.isUidOnline(uid) }

  /** Distinct uids online. */
  onlineCount (): Promise<number> { return this.#host.bus.onlineCount() }

  /** Distinct uids in a group. */
  groupMembers (group: string): Promise<string[]> { return this.#host.bus.groupMembers(group) }

  /** Connections in a group. */
  groupCount (group: string): Promise<number> { return this.#host.bus.groupCount(group) }

  /** Groups with members. */
  groups (): Promise<string[]> { return this.#host.bus.groups() }
}
