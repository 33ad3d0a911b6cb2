/**
 * The admin listener of an application that runs on its own (createApp; not a worker process
 * of `sd start`, whose primary runs it): `/metrics`, the dashboard and `POST /sd/publish`
 * answered from this process.
 * CONTRACT STUB (issue 21): the admin branch fills it in.
 */
import type { Logger } from 'pino'
import type { Bus } from '../connection/bus.js'
import type { AppMetrics } from './app-metrics.js'
import type { Config } from './config.js'

/** What the admin listener uses of its application (server/application.ts is one). */
export interface OpsHost {
  readonly config: Config
  readonly log: Logger
  readonly metrics: AppMetrics
  /** Read at each publish: the bus is set up to `start()`. */
  readonly bus: Bus
}

/** Where the admin listener listens. */
export interface AdminAddress { host: string, port: number }

/** The admin listener of one Application (`config.admin.enabled`). */
export class Ops {
  readonly #app: OpsHost

  constructor (app: OpsHost) {
    this.#app = app
  }

  /** Opens the admin listener when `admin.enabled` (after the client ports). */
  async start (): Promise<void> {
    void this.#app
  }

  /** Where it listens (undefined when off or not started). */
  address (): AdminAddress | undefined {
    return undefined
  }

  /** Closes it. */
  async stop (): Promise<void> {}
}
