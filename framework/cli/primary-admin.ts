/**
 * The admin listener of `sd start`: the primary runs it (its worker processes never do) and
 * answers from the whole server: metrics and the snapshot merged over the workers, a publish
 * run on one worker's bus (IPC `publish`), which reaches the server and its cluster.
 */
import { hostname } from 'node:os'
import type { Logger } from 'pino'
import { adminPlugins } from '../admin/plugins.js'
import { AdminServer } from '../admin/server.js'
import type { AdminSources } from '../admin/sources.js'
import type { Primary } from '../multicore/primary.js'
import type { Config } from '../server/config.js'

/** The admin sources of a primary: what its worker processes answer over IPC. */
export function primarySources (primary: Primary, node: string): AdminSources {
  return {
    node,
    metrics: () => primary.metrics(),
    snapshot: () => primary.snapshot(),
    publish: (request) => primary.publish(request.to, request.data, request.recover),
  }
}

/** Starts the primary's admin listener when `admin.enabled`; undefined when it is off. */
export async function startPrimaryAdmin (config: Config, primary: Primary, log: Logger): Promise<AdminServer | undefined> {
  if (!config.admin.enabled) return undefined
  const node = config.app.nodeName || `${hostname()}-${process.pid}`
  const server = new AdminServer({ config: config.admin, sources: primarySources(primary, node), log, plugins: adminPlugins })
  try {
    await server.start()
  } catch (err) {
    await server.stop()
    throw err
  }
  return server
}
