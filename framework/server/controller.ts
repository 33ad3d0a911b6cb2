/**
 * The Controller apps extend (`ChatController extends Controller`): core's base controller plus
 * what needs the layers above core: models, MySQL and Redis, tasks, views and the cluster view.
 */
import type { Knex } from 'knex'
import type { ClusterNode } from '../cluster/cluster-node.js'
import type { ClusterOverview } from '../cluster/overview.js'
import type { Connection } from '../connection/connection.js'
import type { ConnectionRef, ControllerHost, TransportName } from '../core/contract.js'
import { BaseController, type ControllerClass as BaseControllerClass, type HttpExchange } from '../core/controller.js'
import type { DataServices, Model, ModelClass } from '../data/model.js'
import type { RedisClient } from '../data/redis.js'
import type { TaskCallOptions, TaskProxy } from '../task/proxy.js'
import type { Task, TaskClass } from '../task/task.js'
import type { Tasks } from '../task/tasks.js'
import type { Html, Views } from '../view/views.js'

/** What the full controller needs from the application, beyond core's contract. */
export interface ServerHost extends ControllerHost {
  readonly data: DataServices
  readonly views: Views
  /** Task classes and the worker pool. */
  readonly tasks: Tasks
  /** This server's cluster membership (`sd start --cluster`), else undefined. */
  readonly cluster?: ClusterNode | undefined
}

/** A controller class as apps write them (the router takes any `BaseController` class). */
export type ControllerClass = BaseControllerClass<Controller>

/** Base class of every app controller (`ChatController extends Controller`). */
export class Controller extends BaseController {
  readonly #host: ServerHost
  readonly #conn: Connection | null

  /**
   * Made by the Application (a `ServerHost`, with its `Connection`s); the parameters keep the
   * base's types so the router stores and makes every controller class the same way.
   */
  constructor (host: ControllerHost, conn: ConnectionRef | null, transport: TransportName, path: string, data: unknown, params: Record<string, string>, http: HttpExchange | null) {
    super(host, conn, transport, path, data, params, http)
    this.#host = host as ServerHost
    this.#conn = conn as Connection | null
  }

  /** A model (`this.model(MessageModel)`), made per call: models hold no request state. */
  model<M extends Model> (cls: ModelClass<M>): M {
    return new cls(this.#host.data)
  }

  /**
   * A task (`await this.task(StatsTask).build(args)`): each public method runs in a worker
   * thread and returns a promise of its result; `.detach(args)` runs it without waiting.
   */
  task<T extends Task> (cls: TaskClass<T>, options?: TaskCallOptions): TaskProxy<T> {
    // a connection's calls count toward its share of the task queue (tasks.maxQueuePerConnection)
    return this.#host.tasks.proxy(cls, options, this.#conn ?? undefined)
  }

  /** knex on the MySQL primary. */
  get db (): Knex {
    return this.#host.data.mysql.primary
  }

  /** The shared Redis connection. */
  get redis (): RedisClient {
    return this.#host.data.redis.shared
  }

  /** Every live node of the cluster with its figures (as `sd status --cluster` shows them); undefined when not clustered. */
  async clusterStatus (): Promise<ClusterOverview | undefined> {
    return this.#host.cluster?.overview()
  }

  /** Renders `app/views/<name>.eta` with `data`; HTTP sends it as `text/html`. */
  view (name: string, data: object = {}): Html {
    return this.#host.views.render(name, data)
  }
}
