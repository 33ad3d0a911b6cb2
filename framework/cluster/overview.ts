/**
 * The whole cluster as `sd status --cluster` and status pages show it: every live node from
 * the registry in Redis, with the figures each publishes with its heartbeat (connections, link
 * health and traffic for servers, linked servers for dispatchers).
 */
import { transportNames } from '../transport/registry.js'
import type { RegistryView } from './registry-reads.js'

/** One live node. */
export interface NodeSummary {
  name: string
  role: 'server' | 'dispatch'
  /** Link address (dispatchers). */
  address: string | undefined
  pid: number
  uptimeMs: number
  /** Time since its last heartbeat. */
  heartbeatAgoMs: number
  /** Servers: open connections per transport. */
  connections: Record<string, number>
  /** Servers: uids bound on it. */
  uids: number | undefined
  /** Servers: how it reaches the others (`dispatch`, `redis`). */
  carrier: string | undefined
  /** Servers: its routes (links to the dispatchers, or Redis). */
  links: Array<{ dispatcher: string, status: string, rttMs?: number }>
  /** Dispatchers: the servers linked to it. */
  linked: string[]
  /** Servers: messages received and sent per second since its previous heartbeat (metrics/node-figures.ts). */
  messagesInPerSec?: number
  messagesOutPerSec?: number
  /** Servers: action latency quantiles since its previous heartbeat; absent when no action ran. */
  p50Ms?: number
  p99Ms?: number
}

/** A finite number of the heartbeat's `fig` object, or undefined. */
function figure (fig: unknown, key: string): number | undefined {
  const v = typeof fig === 'object' && fig !== null ? (fig as Record<string, unknown>)[key] : undefined
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined
}

/** Live nodes of one cluster, servers first, then by name. */
export interface ClusterOverview {
  cluster: string
  nodes: NodeSummary[]
}


/** Reads the live nodes of the cluster (one snapshot script). */
export async function clusterOverview (view: RegistryView, cluster: string): Promise<ClusterOverview> {
  const { live } = await view.snapshot()
  const now = Date.now()
  const nodes = live.map((r): NodeSummary => {
    const meta = r.meta ?? {}
    const connections: Record<string, number> = {}
    for (const t of transportNames()) if (typeof meta[t] === 'number') connections[t] = meta[t] as number
    return {
      name: r.name,
      role: r.role,
      address: r.host !== undefined && r.port !== undefined ? `${r.host}:${r.port}` : undefined,
      pid: r.pid,
      uptimeMs: now - r.startedAt,
      heartbeatAgoMs: now - r.heartbeatAt,
      connections,
      uids: typeof meta.uids === 'number' ? meta.uids : undefined,
      carrier: typeof meta.carrier === 'string' ? meta.carrier : undefined,
      links: Array.isArray(meta.links) ? meta.links as NodeSummary['links'] : [],
      linked: Array.isArray(meta.linked) ? (meta.linked as unknown[]).map(String) : [],
      messagesInPerSec: figure(meta.fig, 'in'),
      messagesOutPerSec: figure(meta.fig, 'out'),
      p50Ms: figure(meta.fig, 'p50'),
      p99Ms: figure(meta.fig, 'p99'),
    }
  })
  nodes.sort((a, b) => (a.role === b.role ? (a.name < b.name ? -1 : 1) : a.role === 'server' ? -1 : 1))
  return { cluster, nodes }
}
