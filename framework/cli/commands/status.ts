import { Command, Flags } from '@oclif/core'
import { appRoot, rootFlag } from '../context.js'
import { ControlTimeoutError, sendControl } from '../control.js'
import { clearRunFiles, readPid, runPaths } from '../run-state.js'
import type { ServerStatus } from '../../multicore/primary.js'
import { loadConfig } from '../../server/config.js'
import { redisConfigured } from '../../data/redis.js'
import { formatClusterOverview, readClusterOverview } from '../cluster-status.js'
import { formatServerStatus } from '../server-status.js'
import type { DispatchStatus } from '../dispatch-server.js'

import { duration } from '../format.js'

/** `sd status`: pid, uptime, each process with its role, connections per port, memory, gateway links. */
export default class Status extends Command {
  static override summary = 'Show the running server: pid, uptime, workers, connections per port, memory (--cluster: every node of the cluster).'
  static override flags = {
    json: Flags.boolean({ description: 'print the status as JSON', default: false }),
    cluster: Flags.boolean({ description: 'every live node of the cluster (servers, dispatch servers, connections, link health), read from Redis', default: false }),
    dispatch: Flags.boolean({ description: 'the dispatch server started from this folder (sd start --dispatch)', default: false }),
    root: rootFlag,
  }

  async run (): Promise<void> {
    const { flags } = await this.parse(Status)
    const root = appRoot(flags.root)
    if (flags.cluster) return this.#cluster(root, flags.json)
    const paths = runPaths(root, flags.dispatch ? 'dispatch' : 'server')
    const answer = await sendControl(paths.socket, 'status', 10_000).catch((err: unknown) => {
      if (err instanceof ControlTimeoutError) this.error('the server does not answer (busy or stuck): no status within 10 s', { exit: 1 })
      return undefined
    })
    if (!answer?.ok) {
      const found = await readPid(paths)
      if (found && !found.alive) {
        await clearRunFiles(paths)
        this.error(`not running (removed a stale pid file for pid ${found.pid})`, { exit: 1 })
      }
      this.error('not running', { exit: 1 })
    }
    if (flags.json) return this.log(JSON.stringify(answer.data, null, 2))
    if (flags.dispatch) {
      const d = answer.data as DispatchStatus
      this.log(`dispatch ${d.node} (cluster ${d.cluster}): pid ${d.pid}, ${d.status}, up ${duration(d.uptimeMs)}, link port ${d.address?.port ?? '?'}${d.socket !== undefined ? `, link socket ${d.socket}` : ''}, registry ${d.registry}`)
      for (const l of d.linked) this.log(`  ${l.name} from ${l.remote}: frames in ${l.framesIn}, out ${l.framesOut}${l.rttMs !== undefined ? `, rtt ${l.rttMs.toFixed(1)} ms` : ''}`)
      return
    }
    for (const l of formatServerStatus(answer.data as ServerStatus)) this.log(l)
  }

  async #cluster (root: string, json: boolean): Promise<void> {
    const config = await loadConfig({ root })
    if (!redisConfigured(config.redis)) {
      this.error('--cluster reads the registry in Redis: set REDIS_URL (or url, cluster or sentinels in config/redis.ts)', { exit: 2 })
    }
    const overview = await readClusterOverview(config).catch((err: unknown) => this.error(`cannot read the cluster registry: ${(err as Error).message}`, { exit: 1 }))
    if (json) return this.log(JSON.stringify(overview, null, 2))
    for (const l of formatClusterOverview(overview)) this.log(l)
  }
}
