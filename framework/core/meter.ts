/**
 * The pipeline's action meter: per route, a latency histogram over `LATENCY_BOUNDS_MS`; and
 * errors by code. Plain numbers on the hot path (one `performance.now()` at each end of a
 * request, a map lookup, a few additions); the Prometheus registry reads them at a scrape.
 * Labels stay bounded: routes are the router's (an unknown path counts as `not_found`), and
 * error codes past `MAX_CODES` fold into `other`.
 */
import { emptyLatency, LATENCY_BOUNDS_MS, type LatencyCounts } from './snapshot.js'

/** The route label of a request no route matched (never its raw path). */
export const NOT_FOUND_ROUTE = 'not_found'
/** Distinct error codes counted one by one; later ones count as `other`. */
const MAX_CODES = 100
/** Distinct routes counted one by one (a router has fewer); later ones count as `other`. */
const MAX_ROUTES = 1000

/** Error replies by code (refusals and failures alike). */
export class ErrorCounts {
  readonly byCode = new Map<string, number>()

  count (code: string): void {
    const n = this.byCode.get(code)
    if (n !== undefined) this.byCode.set(code, n + 1)
    else if (this.byCode.size < MAX_CODES) this.byCode.set(code, 1)
    else this.byCode.set('other', (this.byCode.get('other') ?? 0) + 1)
  }
}

/** Counts what the pipeline runs (`PipelineHost.meter`). */
export class ActionMeter {
  /** Latency by route name. */
  readonly routes = new Map<string, LatencyCounts>()
  readonly errors: ErrorCounts

  constructor (errors = new ErrorCounts()) {
    this.errors = errors
  }

  /** Records a request of `route` that began at `t0` (`performance.now()`) and is over now. */
  observe (route: string, t0: number): void {
    const ms = performance.now() - t0
    let counts = this.routes.get(route)
    if (counts === undefined) {
      counts = emptyLatency()
      if (this.routes.size < MAX_ROUTES) this.routes.set(route, counts)
      else counts = this.routes.get('other') ?? this.routes.set('other', counts).get('other') as LatencyCounts
    }
    counts.count++
    counts.sumMs += ms
    const bounds = LATENCY_BOUNDS_MS
    let i = 0
    while (i < bounds.length && ms > bounds[i]) i++
    counts.buckets[i]++
  }

  error (code: string): void {
    this.errors.count(code)
  }
}
