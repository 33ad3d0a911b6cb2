/**
 * One process's figures at one instant, as plain numbers: what the dashboard's sampler and a
 * cluster node's heartbeat read (the Prometheus registry reads the same counters at a scrape).
 * Counters are cumulative since the process started; the sampler turns two snapshots into rates
 * and quantiles. Snapshots of the processes of one server are summed with `mergeSnapshots`.
 */

export { LATENCY_BOUNDS_MS, emptyLatency, addLatency, mergeSnapshots, type LatencyCounts, type LinkFigure, type ProcessSnapshot } from '../core/snapshot.js'

/** One cluster node's latest figures, as its heartbeat published them (`nodes()`). */
export interface NodeFigures {
  node: string
  role: 'server' | 'dispatch'
  /** Open connections (all transports). */
  connections: number
  messagesInPerSec?: number
  messagesOutPerSec?: number
  p50Ms?: number
  p99Ms?: number
  links: Array<{ peer: string, state: string, rttMs?: number }>
}
