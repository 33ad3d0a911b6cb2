/**
 * One process's figures at one instant, as plain numbers (the metrics layer re-exports them
 * from metrics/snapshot.ts). Declared here, below every layer that reports them: the pipeline
 * counts latency into these buckets, and the multi-core primary sums its processes' snapshots.
 */

/** Upper bounds (ms) of the action latency buckets, shared by every process; one more bucket holds the rest. */
export const LATENCY_BOUNDS_MS: readonly number[] = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]

/** A cumulative latency histogram: `buckets[i]` counts observations ≤ `LATENCY_BOUNDS_MS[i]` and above the previous bound (not cumulative); the last one counts the rest. */
export interface LatencyCounts {
  count: number
  sumMs: number
  /** `LATENCY_BOUNDS_MS.length + 1` counts. */
  buckets: number[]
}

/** One cluster link of this process as the dashboard plots it (bounded: one per dispatcher or gateway). */
export interface LinkFigure {
  /** The peer's name (dispatcher or gateway). */
  peer: string
  /** `up` when it carries messages now. */
  state: string
  rttMs?: number
}

/** What one process (or, merged, one server) counted so far. */
export interface ProcessSnapshot {
  /** When it was taken (ms since the epoch). */
  at: number
  /** Processes summed into it (1 for one process). */
  processes: number
  /** Open client connections by transport (tcp, text, http, ws). */
  connections: Record<string, number>
  /** Messages and HTTP requests received, and messages sent (replies and pushes), since start. */
  messagesIn: number
  messagesOut: number
  bytesIn: number
  bytesOut: number
  /** Every action's latency (all routes together). */
  latency: LatencyCounts
  /** Cluster or gateway links of this process. */
  links: LinkFigure[]
}

/** An empty latency histogram. */
export function emptyLatency (): LatencyCounts {
  return { count: 0, sumMs: 0, buckets: new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0) }
}

/** Adds `from` into `into`. */
export function addLatency (into: LatencyCounts, from: LatencyCounts): void {
  into.count += from.count
  into.sumMs += from.sumMs
  for (let i = 0; i < into.buckets.length; i++) into.buckets[i] += from.buckets[i] ?? 0
}

/** The sum of several processes' snapshots (one server); `at` is the latest, links are listed once per peer and process. */
export function mergeSnapshots (parts: readonly ProcessSnapshot[]): ProcessSnapshot {
  const out: ProcessSnapshot = { at: 0, processes: 0, connections: {}, messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, latency: emptyLatency(), links: [] }
  for (const p of parts) {
    out.at = Math.max(out.at, p.at)
    out.processes += p.processes
    for (const [t, n] of Object.entries(p.connections)) out.connections[t] = (out.connections[t] ?? 0) + n
    out.messagesIn += p.messagesIn
    out.messagesOut += p.messagesOut
    out.bytesIn += p.bytesIn
    out.bytesOut += p.bytesOut
    addLatency(out.latency, p.latency)
    out.links.push(...p.links)
  }
  if (out.at === 0) out.at = Date.now()
  return out
}
