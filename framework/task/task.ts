/**
 * The Task base class: CPU-heavy or slow work that runs in a worker thread, so it never blocks
 * the event loop that serves connections. A task has what a model has (`this.db`, `this.read`,
 * `this.redis`, `this.model()`) plus `this.log`, all backed by the worker's own connections.
 */
import type { Knex } from 'knex'
import type { Logger } from 'pino'
import type { DataServices, Model, ModelClass } from '../data/model.js'
import type { RedisClient } from '../data/redis.js'

/** What a task gets from its worker thread. */
export interface TaskServices {
  /** MySQL and Redis of this worker (connections open on first use, closed with the pool). */
  readonly data: DataServices
  /** The worker's logger (pino, the app's name and level). */
  readonly log: Logger
}

/** A task class as `this.task()` and `app.tasks.add()` take it. */
export type TaskClass<T extends Task = Task> = new (services: TaskServices) => T

/**
 * Base class of every task (`StatsTask extends Task`). A new instance runs each call; every
 * public method can be called from a controller with `await this.task(StatsTask).method(...)`.
 */
export class Task {
  readonly #services: TaskServices

  constructor (services: TaskServices) {
    this.#services = services
  }

  /** knex on the MySQL primary (this worker's pool). */
  get db (): Knex {
    return this.#services.data.mysql.primary
  }

  /** knex on a read replica, or the primary when there is none. */
  get read (): Knex {
    return this.#services.data.mysql.reader
  }

  /** This worker's shared Redis connection (keys carry the app's prefix). */
  get redis (): RedisClient {
    return this.#services.data.redis.shared
  }

  /** A model on this worker's connections (`this.model(MessageModel)`). */
  model<M extends Model> (cls: ModelClass<M>): M {
    return new cls(this.#services.data)
  }

  /** The worker's logger. */
  get log (): Logger {
    return this.#services.log
  }
}
