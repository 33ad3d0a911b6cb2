/**
 * The pipeline's action meter: per route, a latency histogram over `LATENCY_BOUNDS_MS`; and
 * errors by code. Plain numbers on the hot path (a map lookup, a few additions, and clock
 * reads: see `start`); the Prometheus registry reads them at a scrape. Labels stay bounded:
 * routes are the router's (an unknown path counts as `not_found`), error codes past
 * `MAX_CODES` fold into `other` and are cut at `MAX_CODE_CHARS`.
 */
import { emptyLatency, LATENCY_BOUNDS_MS, type LatencyCounts } from './snapshot.js'

/** The route label of a request no route matched (never its raw path). */
export const NOT_FOUND_ROUTE = 'not_found'
/** Distinct error codes counted one by one; later ones count as `other`. */
const MAX_CODES = 100
/** An app's error code is a label: cut to this length. */
const MAX_CODE_CHARS = 64
/** Distinct routes counted one by one (a router has fewer); later ones count as `other`. */
const MAX_ROUTES = 1000

/** Error replies by code (refusals and failures alike). */
export class ErrorCounts {
  readonly byCode = new Map<string, number>()

  count (code: string): void {
    if (code.length > MAX_CODE_CHARS) code = code.slice(0, MAX_CODE_CHARS)
    const n = this.byCode.get(code)
    if (n !== undefined) this.byCode.set(code, n + 1)
    else if (this.byCode.size < MAX_CODES) this.byCode.set(code, 1)
    else this.byCode.set('other', (this.byCode.get('other') ?? 0) + 1)
  }
}

/**
 * The clock of request times. A request that starts in the same synchronous run as another one
 * ended (the requests of one socket read, pipelined) starts at that end: one clock read per
 * request instead of two; what runs between them, decoding this request's bytes, is this
 * request's time. A microtask ends the chain when the run does (never across idle time).
 */
let chainAt = -1
let chainArmed = false

function endChain (): void {
  chainAt = -1
  chainArmed = false
}

/** Counts what the pipeline runs (`PipelineHost.meter`). */
export class ActionMeter {
  /** Latency by route name. */
  readonly routes = new Map<string, LatencyCounts>()
  readonly errors: ErrorCounts

  constructor (errors = new ErrorCounts()) {
    this.errors = errors
  }

  /** When a request starts now (`performance.now()` time, shared within a turn: see above). */
  start (): number {
    return chainAt >= 0 ? chainAt : performance.now()
  }

  /** Records a request of `route` that began at `t0` (`start()`) and is over now. */
  observe (route: string, t0: number): void {
    const now = performance.now()
    const ms = now - t0
    chainAt = now
    if (!chainArmed) {
      chainArmed = true
      queueMicrotask(endChain)
    }
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
