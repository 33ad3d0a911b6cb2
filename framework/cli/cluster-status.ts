/** `sd status --cluster`: the live nodes of the app's cluster, read from Redis. */
import { pino } from 'pino'
import { clusterName, type Config } from '../server/config.js'
import { RedisConnections } from '../data/redis.js'
import { clusterOverview, type ClusterOverview, type NodeSummary } from '../cluster/overview.js'
import { RegistryView } from '../cluster/registry-reads.js'
import { duration } from './format.js'

/** Reads the overview with a short-lived Redis connection. */
export async function readClusterOverview (config: Config): Promise<ClusterOverview> {
  const redis = new RedisConnections({ ...config.redis, connectTimeoutMs: Math.min(config.redis.connectTimeoutMs, 3000) }, pino({ level: 'silent' }))
  try {
    const cluster = clusterName(config)
    return await clusterOverview(new RegistryView({ redis: redis.shared, cluster }), cluster)
  } finally {
    await redis.close()
  }
}


function line (n: NodeSummary): string {
  const head = `  ${n.role === 'server' ? 'server  ' : 'dispatch'} ${n.name}  pid ${n.pid}, up ${duration(n.uptimeMs)}, heartbeat ${n.heartbeatAgoMs} ms ago`
  if (n.role === 'dispatch') return `${head}, link port ${n.address ?? '?'}, linked: ${n.linked.join(', ') || 'none'}`
  const conns = Object.entries(n.connections).map(([t, c]) => `${t} ${c}`).join(', ') || 'none'
  const links = n.links.map((l) => `${l.dispatcher} ${l.status}${l.rttMs !== undefined ? ` ${l.rttMs.toFixed(1)} ms` : ''}`).join(', ') || 'none'
  return `${head}, connections: ${conns}, uids ${n.uids ?? 0}, links: ${links}, carrier ${n.carrier ?? 'dispatch'}`
}

/** The overview as text lines. */
export function formatClusterOverview (o: ClusterOverview): string[] {
  const servers = o.nodes.filter((n) => n.role === 'server').length
  const out = [`cluster ${o.cluster}: ${servers} server${servers === 1 ? '' : 's'}, ${o.nodes.length - servers} dispatch server${o.nodes.length - servers === 1 ? '' : 's'}`]
  for (const n of o.nodes) out.push(line(n))
  return out
}
