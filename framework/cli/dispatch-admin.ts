/**
 * The admin listener of a dispatch server (`sd start --dispatch` with `admin.enabled`, env
 * `SD_ADMIN_PORT`): `/metrics` is its own registry (the `sd_dispatch_` metrics and prom-client's
 * defaults, docs/metrics.md), the dashboard plots its relayed frames and server links (and the
 * cluster's nodes), and `POST /sd/publish` answers `SD_ERR_NOT_SUPPORTED`: it holds no clients.
 */
import type { Logger } from 'pino'
import { adminPlugins } from '../admin/plugins.js'
import { AdminServer } from '../admin/server.js'
import type { AdminSources } from '../admin/sources.js'
import type { Dispatcher } from '../cluster/dispatch-server.js'
import type { RegistryView } from '../cluster/registry-reads.js'
import { SdError } from '../core/errors.js'
import { emptyLatency, type ProcessSnapshot } from '../core/snapshot.js'
import { dispatchRegistry } from '../metrics/dispatch-metrics.js'
import { readNodeFigures } from '../metrics/node-figures.js'
import type { Config } from '../server/config.js'
import type { PrimaryAdmin } from './primary-admin.js'

/** The admin sources of a dispatch server: its own counters (a scrape answers `SD_ERR_METRICS_DISABLED` with `metrics.enabled` false). */
export function dispatchSources (dispatcher: Dispatcher, node: string, options: { metrics: boolean, nodes?: AdminSources['nodes'] }): AdminSources {
  const registry = dispatchRegistry({
    links: () => dispatcher.linked().map((l) => ({ name: l.name, rttMs: l.stats.rttMs })),
    counters: dispatcher.counters,
    bytes: () => dispatcher.bytes(),
  })
  const snapshot = (): ProcessSnapshot => {
    const bytes = dispatcher.bytes()
    return {
      at: Date.now(),
      processes: 1,
      connections: {},
      // relayed frames are what it receives and passes on
      messagesIn: dispatcher.counters.relayed,
      messagesOut: dispatcher.counters.relayed,
      bytesIn: bytes.in,
      bytesOut: bytes.out,
      latency: emptyLatency(),
      links: dispatcher.linked().map((l) => ({ peer: l.name, state: 'up', ...(l.stats.rttMs === undefined ? {} : { rttMs: l.stats.rttMs }) })),
    }
  }
  return {
    node,
    metrics: async () => {
      if (!options.metrics) throw new SdError('SD_ERR_METRICS_DISABLED', 'metrics.enabled is false')
      return await registry.metrics()
    },
    snapshot: async () => snapshot(),
    ...(options.nodes === undefined ? {} : { nodes: options.nodes }),
    publish: async () => {
      const err = new SdError('SD_ERR_NOT_SUPPORTED')
      err.message = 'a dispatch server holds no clients: POST /sd/publish to a server\'s admin listener'
      throw err
    },
  }
}

/** Starts a dispatch server's admin listener when `admin.enabled`; undefined when it is off. */
export async function startDispatchAdmin (config: Config, dispatcher: Dispatcher, node: string, view: RegistryView, cluster: string, log: Logger): Promise<PrimaryAdmin | undefined> {
  if (!config.admin.enabled) return undefined
  const nodes = (): ReturnType<typeof readNodeFigures> => readNodeFigures(view, cluster)
  const server = new AdminServer({ config: config.admin, sources: dispatchSources(dispatcher, node, { metrics: config.metrics.enabled, nodes }), log, plugins: adminPlugins })
  await server.start()
  return { address: () => server.address(), stop: () => server.stop() }
}
