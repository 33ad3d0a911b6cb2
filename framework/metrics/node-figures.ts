/**
 * What a cluster node publishes with each heartbeat so any node's dashboard can plot every
 * node: a compact `fig` object in its registry meta, computed from the delta of its snapshots
 * between two heartbeats (messages in/out per second, latency p50/p99); its connections are in
 * the meta already (per transport). `nodeFigures` reads them back from the cluster overview.
 */
import { clusterOverview, type ClusterOverview } from '../cluster/overview.js'
import type { RegistryView } from '../cluster/registry-reads.js'
import { latencyBetween, ratePerSec } from './series.js'
import type { NodeFigures, ProcessSnapshot } from './snapshot.js'

/** The heartbeat's `fig`: absent keys are unknown (first heartbeat, or no action ran). */
export interface HeartbeatFigures {
  /** Messages received per second. */
  in?: number
  /** Messages sent per second. */
  out?: number
  p50?: number
  p99?: number
}

/** Each call: the figures since the previous call (empty on the first). */
export function figuresMeter (snapshot: () => ProcessSnapshot): () => HeartbeatFigures {
  let prev: ProcessSnapshot | undefined
  return () => {
    const next = snapshot()
    const before = prev
    prev = next
    if (before === undefined) return {}
    const ms = next.at - before.at
    const fig: HeartbeatFigures = {}
    const i = ratePerSec(before.messagesIn, next.messagesIn, ms)
    const o = ratePerSec(before.messagesOut, next.messagesOut, ms)
    const { p50Ms, p99Ms } = latencyBetween(before.latency, next.latency)
    if (i !== null) fig.in = i
    if (o !== null) fig.out = o
    if (p50Ms !== null) fig.p50 = p50Ms
    if (p99Ms !== null) fig.p99 = p99Ms
    return fig
  }
}

/** A heartbeat meta function with this node's `fig` added (server/application.ts's ClusterNode meta). */
export function withFigures (meta: () => Record<string, unknown>, snapshot: () => ProcessSnapshot): () => Record<string, unknown> {
  const figures = figuresMeter(snapshot)
  return () => ({ ...meta(), fig: figures() })
}

/** Every live node's latest figures, as the dashboard plots them (servers' links to dispatchers). */
export function nodeFigures (overview: ClusterOverview): NodeFigures[] {
  return overview.nodes.map((n): NodeFigures => {
    let connections = 0
    for (const c of Object.values(n.connections)) connections += c
    return {
      node: n.name,
      role: n.role,
      connections,
      ...(n.messagesInPerSec !== undefined && { messagesInPerSec: n.messagesInPerSec }),
      ...(n.messagesOutPerSec !== undefined && { messagesOutPerSec: n.messagesOutPerSec }),
      ...(n.p50Ms !== undefined && { p50Ms: n.p50Ms }),
      ...(n.p99Ms !== undefined && { p99Ms: n.p99Ms }),
      links: n.links.map((l) => ({ peer: l.dispatcher, state: l.status, ...(l.rttMs !== undefined && { rttMs: l.rttMs }) })),
    }
  })
}

/** Every live node's figures, read from the cluster registry (what a dashboard's `nodes()` answers). */
export async function readNodeFigures (view: RegistryView, cluster: string): Promise<NodeFigures[]> {
  return nodeFigures(await clusterOverview(view, cluster))
}
