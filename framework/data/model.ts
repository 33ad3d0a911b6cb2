/**
 * Models: where controllers get their data. A model has `this.db` (knex on the MySQL primary,
 * or the running transaction), `this.read` (a read replica, or the transaction), `this.redis`,
 * and can use other models with `this.model(OtherModel)`, which join its transaction.
 */
import type { Knex } from 'knex'
import type { Mysql } from './mysql.js'
import type { RedisClient, RedisConnections } from './redis.js'

/** The data services of one process. */
export interface DataServices {
  readonly mysql: Mysql
  readonly redis: RedisConnections
}

/** A model class as `this.model()` takes it. */
export type ModelClass<M extends Model> = new (data: DataServices, trx?: Knex.Transaction) => M

/** Base class of every model (`MessageModel extends Model`). */
export class Model {
  readonly #data: DataServices
  readonly #trx: Knex.Transaction | undefined

  constructor (data: DataServices, trx?: Knex.Transaction) {
    this.#data = data
    this.#trx = trx
  }

  /** knex for writes and consistent reads: the transaction when in one, else the primary. */
  get db (): Knex {
    return this.#trx ?? this.#data.mysql.primary
  }

  /** knex for reads that may lag: a replica (or the transaction when in one). */
  get read (): Knex {
    return this.#trx ?? this.#data.mysql.reader
  }

  /** The shared Redis connection (keys carry the app's prefix). */
  get redis (): RedisClient {
    return this.#data.redis.shared
  }

  /** Another model, in this model's transaction if there is one. */
  model<M extends Model> (cls: ModelClass<M>): M {
    return new cls(this.#data, this.#trx)
  }

  /**
   * Runs `fn` in a transaction: committed when it returns, rolled back when it throws. Inside
   * a transaction this opens a savepoint, so a nested failure undoes only its own part.
   * `fn` gets a copy of this model bound to the transaction.
   */
  async transaction<T> (fn: (tx: this) => Promise<T>): Promise<T> {
    const run = async (trx: Knex.Transaction): Promise<T> => {
      const bound = new (this.constructor as new (data: DataServices, trx: Knex.Transaction) => this)(this.#data, trx)
      return fn(bound)
    }
    return this.#trx ? this.#trx.transaction(run) : this.#data.mysql.primary.transaction(run)
  }
}
