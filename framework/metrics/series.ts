/**
 * The dashboard's time series: a `Sampler` takes the server's snapshot (cumulative counters)
 * every `intervalMs` and keeps, in bounded ring buffers, the points computed from the delta of
 * two snapshots (connections, messages per second, latency p50/p99), plus one series per
 * cluster node (the figures each publishes with its heartbeat) and per link (round trip,
 * state). It runs only while the admin listener runs; `stop()` clears its timer.
 */
import { LATENCY_BOUNDS_MS, type LatencyCounts, type NodeFigures, type ProcessSnapshot } from './snapshot.js'

/** One point of this server's series. */
export interface ServerPoint {
  /** When the later snapshot was taken (ms since the epoch). */
  t: number
  /** Open connections, all transports. */
  connections: number
  /** Open connections by transport. */
  byTransport: Record<string, number>
  /** null when the counters went back (a process restarted) within the interval. */
  messagesInPerSec: number | null
  messagesOutPerSec: number | null
  /** null when no action ran within the interval. */
  p50Ms: number | null
  p99Ms: number | null
}

/** One point of a cluster node's series (from its heartbeat figures). */
export interface NodePoint {
  t: number
  connections: number
  messagesInPerSec: number | null
  messagesOutPerSec: number | null
  p50Ms: number | null
  p99Ms: number | null
}

/** One point of a link's series. */
export interface LinkPoint {
  t: number
  /** `up` when it carries messages. */
  state: string
  rttMs: number | null
}

/** What the dashboard reads: the points after `since`, by series. */
export interface SeriesData {
  node: string
  intervalMs: number
  /** How far back the series reach at most. */
  windowMs: number
  /** The newest point's time (0 before the first): the next `since`. */
  last: number
  server: ServerPoint[]
  /** Per cluster node (absent nodes' series age out). */
  nodes: Record<string, NodePoint[]>
  /** Per link, keyed `node→peer`. */
  links: Record<string, LinkPoint[]>
  /** The last sample's failure, if the last one failed. */
  error?: string
}

/** What the sampler reads (`AdminSources` is one). */
export interface SamplerSources {
  readonly node: string
  snapshot (): Promise<ProcessSnapshot>
  nodes? (): Promise<NodeFigures[]>
}

/** A timer pair (injectable for tests). */
export interface SamplerTimers {
  setInterval (fn: () => void, ms: number): unknown
  clearInterval (handle: unknown): void
}

/** Options of `Sampler`. */
export interface SamplerOptions {
  /** Time between samples. @default 1000 */
  intervalMs?: number
  /** Points kept per series. @default 600 (10 minutes at 1 s) */
  capacity?: number
  /** Node series kept at most (the ones heard from least recently go first). @default 64 */
  maxNodes?: number
  /** Link series kept at most. @default 64 */
  maxLinks?: number
  /** @default the global setInterval/clearInterval (unref'd) */
  timers?: SamplerTimers
}

/** A fixed-size buffer of points in time order; the oldest is overwritten. */
export class Ring<T extends { t: number }> {
  readonly #items: T[] = []
  readonly #capacity: number
  #head = 0

  constructor (capacity: number) {
    this.#capacity = Math.max(1, capacity)
  }

  get size (): number { return this.#items.length }

  push (item: T): void {
    if (this.#items.length < this.#capacity) this.#items.push(item)
    else {
      this.#items[this.#head] = item
      this.#head = (this.#head + 1) % this.#capacity
    }
  }

  /** The newest point, if any. */
  last (): T | undefined {
    if (this.#items.length === 0) return undefined
    return this.#items[(this.#head + this.#items.length - 1) % this.#items.length]
  }

  /** Points with `t > since`, oldest first. */
  since (since: number): T[] {
    const out: T[] = []
    const n = this.#items.length
    for (let i = 0; i < n; i++) {
      const item = this.#items[(this.#head + i) % n]
      if (item.t > since) out.push(item)
    }
    return out
  }
}

const round = (x: number, digits: number): number => { const f = 10 ** digits; return Math.round(x * f) / f }

/**
 * The `q` quantile (0..1) of latencies counted in `deltas` (one count per bucket of
 * LATENCY_BOUNDS_MS, the last one above them), interpolating linearly inside the bucket it
 * falls in (from the previous bound, 0 for the first); in the last, open bucket it is the
 * highest bound. null when nothing was counted.
 */
export function bucketQuantile (deltas: readonly number[], q: number): number | null {
  let total = 0
  for (const d of deltas) total += d
  if (total <= 0) return null
  const rank = q * total
  let below = 0
  for (let i = 0; i < deltas.length; i++) {
    const d = deltas[i]
    if (d > 0 && below + d >= rank) {
      if (i >= LATENCY_BOUNDS_MS.length) return LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1]
      const lower = i === 0 ? 0 : LATENCY_BOUNDS_MS[i - 1]
      const upper = LATENCY_BOUNDS_MS[i]
      return lower + (upper - lower) * Math.max(0, rank - below) / d
    }
    below += d
  }
  return LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1]
}

/** The p50 and p99 (ms, 3 decimals) of the actions between two histograms; null when none ran or a counter went back. */
export function latencyBetween (prev: LatencyCounts, next: LatencyCounts): { p50Ms: number | null, p99Ms: number | null } {
  const deltas = next.buckets.map((n, i) => n - (prev.buckets[i] ?? 0))
  if (deltas.some((d) => d < 0)) return { p50Ms: null, p99Ms: null }
  const p50 = bucketQuantile(deltas, 0.5)
  const p99 = bucketQuantile(deltas, 0.99)
  return { p50Ms: p50 === null ? null : round(p50, 3), p99Ms: p99 === null ? null : round(p99, 3) }
}

/** A per-second rate (2 decimals) of a counter between two snapshots; null when it went back or no time passed. */
export function ratePerSec (prev: number, next: number, ms: number): number | null {
  if (ms <= 0 || next < prev) return null
  return round((next - prev) * 1000 / ms, 2)
}

/** The point of the interval between two snapshots of one server. */
export function pointBetween (prev: ProcessSnapshot, next: ProcessSnapshot): ServerPoint {
  const ms = next.at - prev.at
  let connections = 0
  for (const n of Object.values(next.connections)) connections += n
  return {
    t: next.at,
    connections,
    byTransport: { ...next.connections },
    messagesInPerSec: ratePerSec(prev.messagesIn, next.messagesIn, ms),
    messagesOutPerSec: ratePerSec(prev.messagesOut, next.messagesOut, ms),
    ...latencyBetween(prev.latency, next.latency),
  }
}

/** Ring buffers by key, at most `max` of them: the one updated least recently goes first. */
class SeriesMap<T extends { t: number }> {
  readonly map = new Map<string, Ring<T>>()
  constructor (readonly max: number, readonly capacity: number) {}

  push (key: string, point: T): void {
    let ring = this.map.get(key)
    if (ring === undefined) {
      ring = new Ring<T>(this.capacity)
      this.map.set(key, ring)
    } else {
      // Map keeps insertion order: re-inserting makes it the most recent
      this.map.delete(key)
      this.map.set(key, ring)
    }
    ring.push(point)
    while (this.map.size > this.max) this.map.delete(this.map.keys().next().value as string)
  }

  /** Drops series whose newest point is `oldest` or older (out of the window). */
  expire (oldest: number): void {
    for (const [key, ring] of this.map) if ((ring.last()?.t ?? 0) <= oldest) this.map.delete(key)
  }

  since (since: number): Record<string, T[]> {
    const out: Record<string, T[]> = {}
    for (const [key, ring] of this.map) {
      const points = ring.since(since)
      if (points.length > 0) out[key] = points
    }
    return out
  }
}

const defaultTimers: SamplerTimers = {
  setInterval: (fn, ms) => setInterval(fn, ms).unref(),
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout),
}

/** Samples a server's figures into bounded series. */
export class Sampler {
  readonly intervalMs: number
  readonly capacity: number
  readonly #sources: SamplerSources
  readonly #timers: SamplerTimers
  readonly #server: Ring<ServerPoint>
  readonly #nodes: SeriesMap<NodePoint>
  readonly #links: SeriesMap<LinkPoint>
  #prev: ProcessSnapshot | undefined
  #timer: unknown
  #busy = false
  #error: string | undefined

  constructor (sources: SamplerSources, options: SamplerOptions = {}) {
    this.#sources = sources
    this.intervalMs = options.intervalMs ?? 1000
    this.capacity = options.capacity ?? 600
    this.#timers = options.timers ?? defaultTimers
    this.#server = new Ring(this.capacity)
    this.#nodes = new SeriesMap(options.maxNodes ?? 64, this.capacity)
    this.#links = new SeriesMap(options.maxLinks ?? 64, this.capacity)
  }

  get running (): boolean { return this.#timer !== undefined }

  /** Starts sampling (a first snapshot now: the baseline of the first point). */
  start (): void {
    if (this.#timer !== undefined) return
    this.#timer = this.#timers.setInterval(() => { void this.sample() }, this.intervalMs)
    void this.sample()
  }

  /** Stops sampling; the series stay readable. */
  stop (): void {
    if (this.#timer === undefined) return
    this.#timers.clearInterval(this.#timer)
    this.#timer = undefined
    this.#prev = undefined
  }

  /** Takes one sample; a sample still running (slow sources) makes this one a no-op. Never throws. */
  async sample (): Promise<void> {
    if (this.#busy) return
    this.#busy = true
    try {
      const snap = await this.#sources.snapshot()
      // the cluster view needs Redis: when it fails, this server's own plots go on
      let figures: NodeFigures[] | undefined
      let nodesError: string | undefined
      try {
        figures = await this.#sources.nodes?.()
      } catch (err) {
        nodesError = `cluster view: ${err instanceof Error ? err.message : String(err)}`
      }
      const prev = this.#prev
      this.#prev = snap
      this.#error = nodesError
      // a process joined or left since the last sample (a restart, a reload, a missed answer):
      // the difference of the sums is no rate; this second is a gap
      if (prev === undefined || snap.at <= prev.at || snap.processes !== prev.processes) return
      this.#record(pointBetween(prev, snap), snap, figures)
    } catch (err) {
      this.#error = err instanceof Error ? err.message : String(err)
    } finally {
      this.#busy = false
    }
  }

  #record (point: ServerPoint, snap: ProcessSnapshot, figures: NodeFigures[] | undefined): void {
    const t = point.t
    this.#server.push(point)
    // links: every node's from the heartbeats when clustered, else this server's own (gateway
    // links); one point per key and sample (processes of one server may share a peer)
    const links = new Map<string, LinkPoint>()
    const link = (key: string, l: { state: string, rttMs?: number }): void => {
      if (!links.has(key)) links.set(key, { t, state: l.state, rttMs: l.rttMs ?? null })
    }
    if (figures === undefined) for (const l of snap.links) link(`${this.#sources.node}→${l.peer}`, l)
    for (const f of figures ?? []) {
      this.#nodes.push(f.node, {
        t,
        connections: f.connections,
        messagesInPerSec: f.messagesInPerSec ?? null,
        messagesOutPerSec: f.messagesOutPerSec ?? null,
        p50Ms: f.p50Ms ?? null,
        p99Ms: f.p99Ms ?? null,
      })
      for (const l of f.links) link(`${f.node}→${l.peer}`, l)
    }
    for (const [key, p] of links) this.#links.push(key, p)
    const oldest = t - this.capacity * this.intervalMs
    this.#nodes.expire(oldest)
    this.#links.expire(oldest)
  }

  /** The points after `since` (ms since the epoch; 0: all kept). */
  data (since = 0): SeriesData {
    return {
      node: this.#sources.node,
      intervalMs: this.intervalMs,
      windowMs: this.capacity * this.intervalMs,
      last: this.#server.last()?.t ?? 0,
      server: this.#server.since(since),
      nodes: this.#nodes.since(since),
      links: this.#links.since(since),
      ...(this.#error !== undefined && { error: this.#error }),
    }
  }
}
