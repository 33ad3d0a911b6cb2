/**
 * Keeps the whole-server counters of `sd start` from going down. The primary sums its
 * processes' registries; a process that exits (crash, `sd reload`) or does not answer a scrape
 * in time would take its counts out of the sums, and Prometheus would read a counter reset.
 * So the book keeps each process's last registry: one that does not answer counts with it
 * (stale, never lower), one that exited leaves its counters (not its gauges) to a carried sum.
 */
import { AggregatorRegistry } from 'prom-client'

/** One metric of prom-client's JSON, as far as the book reads it. */
interface MetricJson { name: string, type: string, aggregator?: string, values: unknown[] }

/** Retired processes kept one by one before they are folded into one sum. */
const MAX_RETIRED = 8

const isCounter = (m: MetricJson): boolean => m.type === 'counter' || m.type === 'histogram'

/** The last registry of each live process and the counters of those that exited. */
export class MetricsBook {
  readonly #last = new Map<number, unknown[]>()
  #retired: unknown[][] = []

  /** A process's fresh registry (`id`: its worker id). */
  record (id: number, json: unknown[]): void {
    this.#last.set(id, json)
  }

  /** The registries to sum for a scrape: the fresh ones, the last ones of live processes that did not answer, the retired counters. */
  parts (fresh: ReadonlyMap<number, unknown[]>, live: readonly number[]): unknown[][] {
    const out: unknown[][] = [...fresh.values()]
    for (const id of live) {
      if (fresh.has(id)) continue
      const last = this.#last.get(id)
      if (last !== undefined) out.push(last)
    }
    return out.concat(this.#retired)
  }

  /** A process exited: its counters stay in the sums, its gauges leave them. */
  retire (id: number): void {
    const last = this.#last.get(id)
    this.#last.delete(id)
    if (last === undefined) return
    this.#retired.push((last as MetricJson[]).filter(isCounter))
    if (this.#retired.length > MAX_RETIRED) this.#retired = [fold(this.#retired)]
  }
}

/** Several registries' counters summed into one (prom-client's aggregation; each result keeps its aggregator). */
function fold (parts: unknown[][]): unknown[] {
  const merged = AggregatorRegistry.aggregate(parts as Parameters<typeof AggregatorRegistry.aggregate>[0])
  return (merged.getMetricsAsArray() as unknown as Array<{ get: () => MetricJson }>).map((metric) => metric.get())
}
