/**
 * The admin listener of `sd start`: the primary runs it (its worker processes never do) and
 * answers from the whole server: metrics and the snapshot merged over the workers, a publish
 * run on one worker's bus (IPC `publish`), which reaches the server and its cluster.
 */
import { hostname } from 'node:os'
import type { Logger } from 'pino'
import { adminPlugins } from '../admin/plugins.js'
import { AdminServer, type AdminAddress } from '../admin/server.js'
import type { AdminSources, NodeFigures } from '../admin/sources.js'
import { RegistryView } from '../cluster/registry-reads.js'
import { RedisConnections } from '../data/redis.js'
import { readNodeFigures } from '../metrics/node-figures.js'
import type { Primary } from '../multicore/primary.js'
import { clusterName, type Config } from '../server/config.js'

/** The admin sources of a primary: what its worker processes answer over IPC. */
export function primarySources (primary: Primary, node: string, nodes?: () => Promise<NodeFigures[]>): AdminSources {
  return {
    node,
    metrics: () => primary.metrics(),
    snapshot: () => primary.snapshot(),
    ...(nodes === undefined ? {} : { nodes }),
    publish: (request) => primary.publish(request.to, request.data, request.recover),
  }
}

/** The primary's admin listener, and the Redis connection its cluster view reads through. */
export interface PrimaryAdmin {
  address (): AdminAddress | undefined
  stop (): Promise<void>
}

/** Starts the primary's admin listener when `admin.enabled`; undefined when it is off. */
export async function startPrimaryAdmin (config: Config, primary: Primary, log: Logger): Promise<PrimaryAdmin | undefined> {
  if (!config.admin.enabled) return undefined
  const node = config.app.nodeName || `${hostname()}-${process.pid}`
  // a cluster member's dashboard plots every node: their heartbeats, read from the registry
  const redis = config.cluster.enabled ? new RedisConnections(config.redis, log) : undefined
  const cluster = clusterName(config)
  const view = redis && new RegistryView({ redis: redis.shared, cluster })
  const nodes = view && (() => readNodeFigures(view, cluster))
  const server = new AdminServer({ config: config.admin, sources: primarySources(primary, node, nodes), log, plugins: adminPlugins })
  const stop = async (): Promise<void> => {
    await server.stop()
    await redis?.close()
  }
  try {
    await server.start()
  } catch (err) {
    await stop()
    throw err
  }
  return { address: () => server.address(), stop }
}
