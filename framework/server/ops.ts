/**
 * The admin listener of an application that runs on its own (createApp; not a worker process
 * of `sd start`, whose primary runs it: `createApp({ adminListener: false })`): `/metrics`, the
 * dashboard and `POST /sd/publish` answered from this process. A publish goes through the
 * app's bus, so a cluster node's reaches every node.
 */
import type { Logger } from 'pino'
import type { Bus } from '../connection/bus.js'
import { publishOnBus } from '../connection/bus-publish.js'
import { adminPlugins } from '../admin/plugins.js'
import { AdminServer, type AdminAddress } from '../admin/server.js'
import type { AdminSources } from '../admin/sources.js'
import type { ClusterOverview } from '../cluster/overview.js'
import { nodeFigures } from '../metrics/node-figures.js'
import type { AppMetrics } from './app-metrics.js'
import type { Config } from './config.js'

export type { AdminAddress } from '../admin/server.js'

/** What the admin listener uses of its application (server/application.ts is one). */
export interface OpsHost {
  readonly config: Config
  readonly log: Logger
  readonly metrics: AppMetrics
  /** Read at each publish: the bus is set up to `start()`. */
  readonly bus: Bus
  /** A cluster member: the registry's view of every node (the dashboard plots them). */
  readonly cluster?: { overview (): Promise<ClusterOverview> } | undefined
}

/** The admin sources of one in-process application. */
export function appSources (app: OpsHost): AdminSources {
  return {
    node: app.config.app.nodeName,
    metrics: () => app.metrics.text(),
    snapshot: async () => app.metrics.snapshot(),
    ...(app.cluster === undefined ? {} : { nodes: async () => nodeFigures(await (app.cluster as NonNullable<OpsHost['cluster']>).overview()) }),
    publish: (request) => publishOnBus(app.bus, request.to, request.data, request.recover),
  }
}

/** The admin listener of one Application (`config.admin.enabled`). */
export class Ops {
  readonly #app: OpsHost
  #server: AdminServer | undefined

  constructor (app: OpsHost) {
    this.#app = app
  }

  /** Opens the admin listener when `admin.enabled` (after the client ports). */
  async start (): Promise<void> {
    const app = this.#app
    if (!app.config.admin.enabled || this.#server !== undefined) return
    const server = new AdminServer({ config: app.config.admin, sources: appSources(app), log: app.log, plugins: adminPlugins })
    this.#server = server
    try {
      await server.start()
    } catch (err) {
      this.#server = undefined
      await server.stop()
      throw err
    }
  }

  /** Where it listens (undefined when off or not started). */
  address (): AdminAddress | undefined {
    return this.#server?.address()
  }

  /** Closes it. */
  async stop (): Promise<void> {
    const server = this.#server
    this.#server = undefined
    await server?.stop()
  }
}
