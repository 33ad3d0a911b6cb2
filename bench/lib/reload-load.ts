/**
 * The load of the reload benchmark: idle TCP connections plus active clients on TCP,
 * WebSocket and the text port that keep a bounded number of requests outstanding each. A
 * client the server closes is counted (with what it had outstanding) and replaced by a new
 * one; idle connections are never replaced. `report()` gives the numbers bench/gateway.ts prints.
 */
import { holdIdle, openProbe, type Probe, type ProbeKind } from '../load/probes.js'

/** How many active clients of each kind, and how many requests each keeps outstanding. */
export interface ActiveMix { kind: ProbeKind, clients: number, depth: number }

/** The default active mix: 8 TCP × 8, 8 WebSocket × 8, 8 text × 1 (a telnet user waits for its answer). */
export const DEFAULT_MIX: ActiveMix[] = [{ kind: 'tcp', clients: 8, depth: 8 }, { kind: 'ws', clients: 8, depth: 8 }, { kind: 'text', clients: 8, depth: 1 }]

/** Width of a throughput window. */
export const WINDOW_MS = 250

/** What one run measured. */
export interface ReloadReport {
  /** Answers per window (req/s), from the start of the load. */
  series: number[]
  /** Windows during which the reload ran: [first, last]. */
  reloadWindows: [number, number]
  reloadMs: number
  sent: number
  answered: number
  /** Requests never answered: still outstanding after the grace period, or on a connection the server closed. */
  lost: number
  /** Closed by the server: idle ones and active ones by transport. */
  dropped: { idle: number, tcp: number, ws: number, text: number }
  /** Error answers by code. */
  errors: Record<string, number>
  p50: number
  p99: number
  p50Reload: number
  p99Reload: number
}

const now = (): number => performance.now()

function percentile (sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]
}

/** Runs the load against `ports`: `beforeMs` of load, `action()` (the reload), `afterMs` more, then a grace period. */
export async function loadThroughReload (ports: { tcp: number, text: number, http: number }, options: {
  idle: number
  mix?: ActiveMix[]
  beforeMs: number
  afterMs: number
  graceMs: number
  action: () => Promise<unknown>
}): Promise<ReloadReport> {
  const idle = await holdIdle(ports.tcp, options.idle)
  const t0 = now()
  const sentAt = new Map<number, { at: number, owner: number }>()
  const counts = new Map<number, number>()
  const latencies: Array<{ at: number, ms: number }> = []
  const errors: Record<string, number> = {}
  const dropped = { idle: 0, tcp: 0, ws: 0, text: 0 }
  let sent = 0
  let answered = 0
  let lostOnClose = 0
  let running = true
  let next = 1
  let owners = 0

  /** One active client slot: keeps a probe open (a new one after a close) and `depth` requests out. */
  const slot = async (kind: ProbeKind, depth: number, index: number): Promise<void> => {
    let probe: Probe | undefined
    let owner = 0
    const fire = (p: Probe): void => {
      const n = next++
      sentAt.set(n, { at: now(), owner })
      sent++
      p.send(n)
    }
    for (;;) {
      if (!running) return
      owner = ++owners
      const mine = owner
      let closedResolve!: () => void
      const closed = new Promise<void>((resolve) => { closedResolve = resolve })
      try {
        probe = await openProbe(kind, ports, {
          answer: (n, code) => {
            const s = sentAt.get(n)
            if (s === undefined) return
            sentAt.delete(n)
            const at = now()
            answered++
            const w = Math.floor((at - t0) / WINDOW_MS)
            counts.set(w, (counts.get(w) ?? 0) + 1)
            latencies.push({ at: s.at, ms: at - s.at })
            if (code !== undefined) errors[code] = (errors[code] ?? 0) + 1
            if (running && probe !== undefined) fire(probe)
          },
          closed: () => {
            dropped[kind]++
            for (const [n, s] of sentAt) if (s.owner === mine) { sentAt.delete(n); lostOnClose++ }
            closedResolve()
          },
        }, `bench${kind}${index}`)
      } catch {
        // the port refused or the sign-in failed: try again shortly (counted as a drop of nothing)
        await new Promise((resolve) => setTimeout(resolve, 50))
        continue
      }
      for (let i = 0; i < depth; i++) fire(probe)
      const stopped = new Promise<void>((resolve) => { stopSignals.push(resolve) })
      await Promise.race([closed, stopped])
      if (!running) { probe.end(); return }
    }
  }
  const stopSignals: Array<() => void> = []
  const slots = (options.mix ?? DEFAULT_MIX).flatMap((m) => Array.from({ length: m.clients }, (_, i) => slot(m.kind, m.depth, i)))

  await new Promise((resolve) => setTimeout(resolve, options.beforeMs))
  const r0 = now()
  await options.action()
  const r1 = now()
  await new Promise((resolve) => setTimeout(resolve, options.afterMs))
  const loadEnd = now()
  running = false
  // grace: every outstanding request may still be answered (polling, with a deadline)
  const deadline = now() + options.graceMs
  while (sentAt.size > 0 && now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  const lost = sentAt.size + lostOnClose
  for (const stop of stopSignals) stop()
  await Promise.all(slots)
  dropped.idle = idle.closed()
  idle.end()

  const lastWindow = Math.floor((loadEnd - t0) / WINDOW_MS)
  const series = Array.from({ length: lastWindow }, (_, w) => (counts.get(w) ?? 0) * (1000 / WINDOW_MS))
  const all = Float64Array.from(latencies.map((l) => l.ms)).sort()
  const during = Float64Array.from(latencies.filter((l) => l.at >= r0 && l.at <= r1).map((l) => l.ms)).sort()
  return {
    series,
    reloadWindows: [Math.floor((r0 - t0) / WINDOW_MS), Math.floor((r1 - t0) / WINDOW_MS)],
    reloadMs: r1 - r0,
    sent,
    answered,
    lost,
    dropped,
    errors,
    p50: percentile(all, 0.5),
    p99: percentile(all, 0.99),
    p50Reload: percentile(during, 0.5),
    p99Reload: percentile(during, 0.99),
  }
}

/** `31.2k 30.9k [29.1k 0 …] 31.0k`: the series in thousands, the reload's windows in brackets. */
export function formatSeries (r: ReloadReport): string {
  const [a, b] = r.reloadWindows
  return r.series.map((v, w) => {
    const s = v >= 1000 ? `${(v / 1000).toFixed(1)}k` : String(Math.round(v))
    return (w === a ? '[' : '') + s + (w === b ? ']' : '')
  }).join(' ')
}
