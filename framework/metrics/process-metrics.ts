/**
 * The `sd_` metrics of one process as prom-client metric objects that read plain counters at
 * a scrape (nothing of prom-client runs on a hot path): the registry calls each one's `get()`
 * and formats it by `type`; `getMetricsAsJSON()` gives the same values for the primary to merge
 * (`aggregator` says how: counters and gauges sum, round trips take the max). The names, labels
 * and meanings are listed in docs/metrics.md (a test holds the two equal).
 */
import { collectDefaultMetrics, Registry } from 'prom-client'
import type { TransportTraffic } from '../connection/traffic.js'
import type { ActionMeter, ErrorCounts } from '../core/meter.js'
import { LATENCY_BOUNDS_MS, type LatencyCounts, type LinkFigure } from '../core/snapshot.js'

type Labels = Record<string, string | number>
/** One sample: `metricName` for a histogram's `_bucket`, `_sum` and `_count`. */
interface Sample { value: number, labels: Labels, metricName?: string }
type Aggregator = 'sum' | 'max' | 'first' | 'omit'

/** What the metrics read of their process at a scrape (server/app-metrics.ts gives it). */
export interface MetricsSource {
  traffic: () => Iterable<[string, TransportTraffic]>
  errors: ErrorCounts
  actions: ActionMeter
  /** Bytes written and not yet sent (the send budget's total), and the clients it closed. */
  unsent: () => { bytes: number, closed: number }
  tasks: () => { threads: number, maxThreads: number, busy: number, queued: number, completed: number, failed: number }
  timers: () => Iterable<[string, { runs: number, failures: number, skips: number }]>
  /** Cluster links (to dispatchers, or the Redis route) and the messenger's re-sends and dedupes; undefined when not clustered. */
  cluster: () => { links: LinkFigure[], resent: number, deduped: number } | undefined
  /** Gateway links: a gateway's workers, or a business worker's gateways (split mode). */
  gatewayLinks: () => LinkFigure[]
  /** Requests a gateway holds until a worker is ready (0 elsewhere). */
  gatewayWaiting: () => number
  redis: () => Array<{ role: string, status: string }>
  mysql: () => Array<{ role: string, used: number, free: number, pending: number }>
}

/** A metric whose values are read at each scrape. */
export function metric (registry: Registry, name: string, help: string, type: 'counter' | 'gauge' | 'histogram', values: () => Sample[], aggregator: Aggregator = 'sum'): void {
  const get = (): object => ({ name, help, type, aggregator, values: values() })
  registry.registerMetric({ name, help, type, aggregator, get } as unknown as Parameters<Registry['registerMetric']>[0])
}

/** Samples of `pick` for each entry. */
function each<T> (entries: Iterable<[string, T]>, label: string, pick: (v: T) => number): Sample[] {
  const out: Sample[] = []
  for (const [key, v] of entries) out.push({ value: pick(v), labels: { [label]: key } })
  return out
}

/** A histogram's samples (cumulative buckets in seconds, `+Inf`, sum, count) for one label set. */
export function histogramSamples (name: string, labels: Labels, counts: LatencyCounts): Sample[] {
  const out: Sample[] = []
  let cumulative = 0
  for (let i = 0; i < LATENCY_BOUNDS_MS.length; i++) {
    cumulative += counts.buckets[i]
    out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: LATENCY_BOUNDS_MS[i] / 1000 }, value: cumulative })
  }
  out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: counts.count })
  out.push({ metricName: `${name}_sum`, labels, value: counts.sumMs / 1000 })
  out.push({ metricName: `${name}_count`, labels, value: counts.count })
  return out
}

/** Traffic with the bytes of sockets still open (HTTP) added. */
function bytes (t: TransportTraffic, dir: 'bytesIn' | 'bytesOut'): number {
  return t[dir] + (t.live?.()[dir] ?? 0)
}

/** The registry of the `sd_` metrics over `src`. */
export function sdRegistry (src: MetricsSource): Registry {
  const r = new Registry()
  metric(r, 'sd_connections', 'Open client connections by transport', 'gauge', () => each(src.traffic(), 'transport', (t) => t.opened - t.closed))
  metric(r, 'sd_connections_opened_total', 'Client connections opened by transport', 'counter', () => each(src.traffic(), 'transport', (t) => t.opened))
  metric(r, 'sd_connections_closed_total', 'Client connections closed by transport', 'counter', () => each(src.traffic(), 'transport', (t) => t.closed))
  metric(r, 'sd_messages_in_total', 'Messages (HTTP: requests) received by transport', 'counter', () => each(src.traffic(), 'transport', (t) => t.messagesIn))
  metric(r, 'sd_messages_out_total', 'Messages (replies, errors, pushes; HTTP: responses, one per request routed) sent by transport', 'counter', () => each(src.traffic(), 'transport', (t) => t.messagesOut))
  metric(r, 'sd_bytes_in_total', 'Bytes received by transport (socket ports: message payloads; HTTP: bytes on the socket)', 'counter', () => each(src.traffic(), 'transport', (t) => bytes(t, 'bytesIn')))
  metric(r, 'sd_bytes_out_total', 'Bytes sent by transport (socket ports: messages with their framing; HTTP: bytes on the socket)', 'counter', () => each(src.traffic(), 'transport', (t) => bytes(t, 'bytesOut')))
  metric(r, 'sd_errors_total', 'Error replies by code (refusals and failures)', 'counter', () => each(src.errors.byCode, 'code', (n) => n))
  metric(r, 'sd_action_duration_seconds', 'Time from a request\'s arrival in the pipeline to its reply, by route (not_found: no route)', 'histogram', () => {
    const out: Sample[] = []
    for (const [route, counts] of src.actions.routes) out.push(...histogramSamples('sd_action_duration_seconds', { route }, counts))
    return out
  })
  metric(r, 'sd_unsent_bytes', 'Bytes written to clients and not yet sent (the send budget\'s total, an upper bound)', 'gauge', () => [{ value: src.unsent().bytes, labels: {} }])
  metric(r, 'sd_slow_readers_closed_total', 'Clients closed because the process was over its send budget', 'counter', () => [{ value: src.unsent().closed, labels: {} }])
  const task = (pick: (t: ReturnType<MetricsSource['tasks']>) => number): () => Sample[] => () => [{ value: pick(src.tasks()), labels: {} }]
  metric(r, 'sd_task_threads', 'Task worker threads alive', 'gauge', task((t) => t.threads))
  metric(r, 'sd_task_threads_max', 'Most task worker threads the pool runs', 'gauge', task((t) => t.maxThreads))
  metric(r, 'sd_task_calls_busy', 'Task calls running in a thread', 'gauge', task((t) => t.busy))
  metric(r, 'sd_task_calls_queued', 'Task calls waiting for a thread', 'gauge', task((t) => t.queued))
  metric(r, 'sd_task_calls_completed_total', 'Task calls answered', 'counter', task((t) => t.completed))
  metric(r, 'sd_task_calls_failed_total', 'Task calls failed (error, timeout, crash)', 'counter', task((t) => t.failed))
  metric(r, 'sd_timers', 'Timers scheduled in this process', 'gauge', () => [{ value: [...src.timers()].length, labels: {} }])
  metric(r, 'sd_timer_runs_total', 'Ticks this process ran, by timer', 'counter', () => each(src.timers(), 'timer', (t) => t.runs))
  metric(r, 'sd_timer_failures_total', 'Ticks whose run threw, by timer', 'counter', () => each(src.timers(), 'timer', (t) => t.failures))
  metric(r, 'sd_timer_skips_total', 'Ticks skipped (previous tick still running, or the claim failed), by timer', 'counter', () => each(src.timers(), 'timer', (t) => t.skips))
  const links = (get: () => LinkFigure[] | undefined): () => Sample[] => () => (get() ?? []).map((l) => ({ value: l.state === 'up' ? 1 : 0, labels: { peer: l.peer } }))
  const rtts = (get: () => LinkFigure[] | undefined): () => Sample[] => () => (get() ?? []).filter((l) => l.rttMs !== undefined).map((l) => ({ value: (l.rttMs as number) / 1000, labels: { peer: l.peer } }))
  metric(r, 'sd_cluster_link_up', 'Cluster links by peer (a dispatcher, or redis): 1 up, 0 not', 'gauge', links(() => src.cluster()?.links))
  metric(r, 'sd_cluster_link_rtt_seconds', 'Round trip of a cluster link\'s last ping', 'gauge', rtts(() => src.cluster()?.links), 'max')
  metric(r, 'sd_cluster_resent_total', 'Cluster requests sent again (route lost, missed, or no reply in time)', 'counter', () => [{ value: src.cluster()?.resent ?? 0, labels: {} }])
  metric(r, 'sd_cluster_deduped_total', 'Cluster requests received again and answered without running twice', 'counter', () => [{ value: src.cluster()?.deduped ?? 0, labels: {} }])
  metric(r, 'sd_gateway_link_up', 'Gateway links by peer (a gateway\'s workers, a worker\'s gateways): 1 up, 0 not', 'gauge', links(src.gatewayLinks))
  metric(r, 'sd_gateway_link_rtt_seconds', 'Round trip of a gateway link\'s last ping', 'gauge', rtts(src.gatewayLinks), 'max')
  metric(r, 'sd_gateway_waiting', 'Requests a gateway holds until a business worker is ready', 'gauge', () => [{ value: src.gatewayWaiting(), labels: {} }])
  metric(r, 'sd_redis_connections', 'Redis connections by role (shared, dedicated) and ioredis status', 'gauge', () => {
    const counts = new Map<string, Sample>()
    for (const c of src.redis()) {
      const key = `${c.role} ${c.status}`
      const s = counts.get(key)
      if (s) s.value++
      else counts.set(key, { value: 1, labels: { role: c.role, status: c.status } })
    }
    return [...counts.values()]
  })
  metric(r, 'sd_mysql_pool_connections', 'MySQL pool connections by pool (primary, replica) and state (used, free)', 'gauge', () => src.mysql().flatMap((p) => [
    { value: p.used, labels: { pool: p.role, state: 'used' } },
    { value: p.free, labels: { pool: p.role, state: 'free' } },
  ]))
  metric(r, 'sd_mysql_pool_pending', 'MySQL acquires waiting for a pool connection', 'gauge', () => src.mysql().map((p) => ({ value: p.pending, labels: { pool: p.role } })))
  return r
}

let defaults: Registry | undefined

/** prom-client's default process and Node.js metrics, one registry per process (made on first use). */
export function defaultRegistry (): Registry {
  if (defaults === undefined) {
    defaults = new Registry()
    collectDefaultMetrics({ register: defaults })
  }
  return defaults
}
