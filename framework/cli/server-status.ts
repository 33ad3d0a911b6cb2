/**
 * `sd status` of a server as text (pure: tested with fixed input). One line for the run, one
 * for its connections, then one per process with its role; a gateway adds its link port, its
 * linked workers (state, in-flight requests, round trip) and the requests waiting for a
 * worker; a business worker adds its gateway links. Those figures come from each process's
 * `stats()` (`gateway`, `gatewayLinks`) and are shown when present.
 */
import type { ServerStatus, WorkerStatus } from '../multicore/primary.js'
import { duration } from './format.js'

/** A gateway's figures in its `stats()` (plan: NodeStats's `gateway`). */
export interface GatewayStatsView {
  port: number
  workers: Array<{ name: string, state: 'ready' | 'draining', inflight: number, rttMs?: number }>
  waiting: number
}

/** A business worker's links in its `stats()` (plan: NodeStats's `gatewayLinks`). */
export interface GatewayLinkView {
  name: string
  address: string
  state: string
  inflight: number
}

/** The split-mode fields of a process's stats, when it has them. */
interface SplitStats {
  gateway?: GatewayStatsView
  gatewayLinks?: GatewayLinkView[]
}

const list = (counts: Partial<Record<string, number>>): string => Object.entries(counts).map(([t, n]) => `${t} ${n ?? 0}`).join(', ') || 'none'

const modeText: Record<ServerStatus['mode'], string> = { direct: '', split: ', split (gateway + workers)', gateway: ', gateway only', worker: ', workers only' }

/** The lines of one process. */
function processLines (w: WorkerStatus): string[] {
  const name = w.role === 'gateway' ? 'gateway' : `worker ${w.id}`
  if (w.state === 'down') return [`  ${name}: down (restarting), restarts ${w.restarts}`]
  const rss = w.stats ? `${(w.stats.rssBytes / 1024 / 1024).toFixed(1)} MB` : '?'
  const split = (w.stats ?? {}) as SplitStats
  const head = `  ${name}: pid ${w.pid}, up ${duration(w.uptimeMs)}, restarts ${w.restarts}, rss ${rss}`
  if (w.role === 'server') return [`${head}, connections ${list(w.stats?.connections ?? {})}`]
  if (w.role === 'gateway') {
    const g = split.gateway
    const out = [`${head}, connections ${list(w.stats?.connections ?? {})}${g ? `, link port ${g.port}, waiting ${g.waiting}` : ''}`]
    for (const l of g?.workers ?? []) out.push(`    linked ${l.name}: ${l.state}, in flight ${l.inflight}${l.rttMs !== undefined ? `, rtt ${l.rttMs.toFixed(1)} ms` : ''}`)
    if (g && g.workers.length === 0) out.push('    linked: no worker')
    return out
  }
  const links = split.gatewayLinks
  const out = [`${head}${w.stats ? `, node ${w.stats.node}` : ''}`]
  for (const l of links ?? []) out.push(`    gateway ${l.name} at ${l.address}: ${l.state}, in flight ${l.inflight}`)
  if (links && links.length === 0) out.push('    gateway links: none')
  return out
}

/** `sd status` of a server, as text lines; `admin`: where the primary's admin listener listens, when it runs. */
export function formatServerStatus (s: ServerStatus & { admin?: { host: string, port: number } }): string[] {
  const admin = s.admin === undefined ? '' : `, admin ${s.admin.host}:${s.admin.port}`
  const out = [`pid ${s.pid}, ${s.status}${modeText[s.mode ?? 'direct']}, up ${duration(s.uptimeMs)}, ports: ${list(s.ports)}${admin}`]
  if (s.mode !== 'worker') out.push(`connections: ${list(s.connections)}`)
  for (const w of s.workers) out.push(...processLines(w))
  return out
}
