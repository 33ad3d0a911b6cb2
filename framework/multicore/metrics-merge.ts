/**
 * Whole-server metrics of `sd start`: the primary asks every process (the gateway slot
 * included) for its registry as prom-client JSON and its snapshot, and merges them. Here
 * (below the metrics layer, which re-exports it) because the primary does the merging.
 */
import { AggregatorRegistry } from 'prom-client'
import { SdError } from '../core/errors.js'
import { mergeSnapshots, type ProcessSnapshot } from '../core/snapshot.js'

/** What one process answers the `metrics` request with. */
export interface ProcessMetrics {
  /** Its registry's `getMetricsAsJSON()`; null when its metrics are off. */
  json: unknown[] | null
  snapshot: ProcessSnapshot
}

/**
 * Prometheus text of the merged registries of several processes (`getMetricsAsJSON()` of
 * each): each metric by its `aggregator` (sd_ counters and gauges sum, round trips take the
 * max; prom-client's default metrics keep theirs: CPU and memory sum, event loop lag averages).
 */
export async function mergedMetricsText (parts: readonly unknown[][]): Promise<string> {
  if (parts.length === 0) return ''
  const merged = AggregatorRegistry.aggregate(parts as Parameters<typeof AggregatorRegistry.aggregate>[0])
  return await merged.metrics()
}

/** The merged text and snapshot of the processes that answered; the text throws `SD_ERR_METRICS_DISABLED` when every one has them off. */
export async function mergeProcessMetrics (parts: ReadonlyArray<ProcessMetrics | undefined>, registries?: unknown[][]): Promise<{ text: () => Promise<string>, snapshot: ProcessSnapshot }> {
  const answered = parts.filter((p): p is ProcessMetrics => p !== undefined)
  // `registries`: what to sum instead of the answers' own (with the book's kept ones: metrics-book.ts)
  const json = registries ?? answered.map((p) => p.json).filter((j): j is unknown[] => j !== null)
  const text = async (): Promise<string> => {
    if (json.length === 0 && answered.length > 0) throw new SdError('SD_ERR_METRICS_DISABLED', 'metrics.enabled is false')
    return await mergedMetricsText(json)
  }
  return { text, snapshot: mergeSnapshots(answered.map((p) => p.snapshot)) }
}

/** What a process answers about itself: its registry (null when off; empty when only the snapshot is asked) and snapshot. */
export async function processMetrics (metrics: { json (): Promise<unknown[]>, snapshot (): ProcessSnapshot }, snapshotOnly = false): Promise<ProcessMetrics> {
  if (snapshotOnly) return { json: [], snapshot: metrics.snapshot() }
  const json = await metrics.json().catch((err: unknown) => {
    if (err instanceof SdError && err.code === 'SD_ERR_METRICS_DISABLED') return null
    throw err
  })
  return { json, snapshot: metrics.snapshot() }
}
