/**
 * The metrics of one application process: the counters its hot paths add to (`traffic` for
 * the transports and connections, `actions` for the pipeline), the Prometheus registry that
 * reads them at a scrape (text for `/metrics`, JSON for the primary to merge) and its snapshot
 * for the dashboard and the cluster heartbeat. Off (`metrics.enabled: false`): no counters are
 * made, so nothing counts, and `text()`/`json()` throw `SD_ERR_METRICS_DISABLED`.
 */
import { Registry } from 'prom-client'
import type { Connection } from '../connection/connection.js'
import type { ConnectionTable } from '../connection/table.js'
import { Traffic } from '../connection/traffic.js'
import { SdError } from '../core/errors.js'
import { ActionMeter } from '../core/meter.js'
import { addLatency, emptyLatency, type LinkFigure, type ProcessSnapshot } from '../metrics/snapshot.js'
import type { MetricsConfig } from '../metrics/options.js'
import { defaultRegistry, sdRegistry } from '../metrics/process-metrics.js'
import type { ClusterNodeStatus } from '../cluster/cluster-node.js'
import type { GatewayWorkerStatus } from '../gateway/gateway.js'
import type { GatewayLinkStatus } from '../gateway/worker.js'

/** What the metrics read of their application (server/application.ts is one). */
export interface MetricsHost {
  readonly connections: ConnectionTable
  readonly config: { readonly metrics: MetricsConfig }
  readonly sendBudget: { readonly total: number, readonly closedCount: number }
  readonly tasks: { readonly pool: { readonly threads: number, readonly maxThreads: number, readonly pending: number, readonly queued: number, readonly completed: number, readonly failed: number } }
  readonly timers: { readonly runners: ReadonlyMap<string, { readonly runs: number, readonly failures: number, readonly skips: number }> }
  readonly cluster: { status (): ClusterNodeStatus, readonly messenger: { readonly deduped: number } } | undefined
  readonly gateway: { status (): { workers: GatewayWorkerStatus[], waiting: number } } | undefined
  readonly gatewayWorker: { status (): GatewayLinkStatus[] } | undefined
  readonly data: {
    readonly redis: { clients (): Array<{ role: string, status: string }> }
    readonly mysql: { pools (): Array<{ role: string, used: number, free: number, pending: number }> }
  }
}

/** Metrics of one Application. */
export class AppMetrics {
  readonly #app: MetricsHost
  /** Client traffic by transport (undefined: metrics off). */
  readonly traffic: Traffic | undefined
  /** The pipeline's latency by route and errors by code (undefined: metrics off). */
  readonly actions: ActionMeter | undefined
  #registry: Registry | undefined

  constructor (app: MetricsHost) {
    this.#app = app
    if (!app.config.metrics.enabled) return
    this.actions = new ActionMeter()
    this.traffic = new Traffic(this.actions.errors)
    // made now: its CPU counters count from when they are made, not from the first scrape
    defaultRegistry()
  }

  /** Counts a connection that just opened (metrics on). */
  opened (conn: Connection): void {
    if (this.traffic !== undefined) conn.useTraffic(this.traffic.of(conn.transport))
  }

  #registries (): Registry[] {
    if (this.traffic === undefined || this.actions === undefined) throw new SdError('SD_ERR_METRICS_DISABLED', 'metrics.enabled is false')
    this.#registry ??= this.#makeRegistry(this.traffic, this.actions)
    return [defaultRegistry(), this.#registry]
  }

  #makeRegistry (traffic: Traffic, actions: ActionMeter): Registry {
    const app = this.#app
    return sdRegistry({
      traffic: () => traffic.byTransport,
      errors: traffic.errors,
      actions,
      unsent: () => ({ bytes: app.sendBudget.total, closed: app.sendBudget.closedCount }),
      tasks: () => {
        const p = app.tasks.pool
        return { threads: p.threads, maxThreads: p.maxThreads, busy: p.pending - p.queued, queued: p.queued, completed: p.completed, failed: p.failed }
      },
      timers: () => app.timers.runners,
      cluster: () => {
        const c = app.cluster
        if (c === undefined) return undefined
        const status = c.status()
        return { links: this.#clusterLinks(status), resent: status.resent, deduped: c.messenger.deduped }
      },
      gatewayLinks: () => this.#gatewayLinks(),
      gatewayWaiting: () => app.gateway?.status().waiting ?? 0,
      redis: () => app.data.redis.clients(),
      mysql: () => app.data.mysql.pools(),
    })
  }

  #clusterLinks (status: ClusterNodeStatus): LinkFigure[] {
    return status.dispatchers.map((d) => ({ peer: d.name ?? d.address, state: d.status === 'ready' ? 'up' : d.status, ...(d.rttMs !== undefined && { rttMs: d.rttMs }) }))
  }

  #gatewayLinks (): LinkFigure[] {
    const app = this.#app
    const out: LinkFigure[] = []
    for (const w of app.gateway?.status().workers ?? []) out.push({ peer: w.name, state: w.state === 'ready' ? 'up' : w.state, ...(w.rttMs !== undefined && { rttMs: w.rttMs }) })
    for (const l of app.gatewayWorker?.status() ?? []) out.push({ peer: l.name === '' ? l.address : l.name, state: l.state === 'ready' ? 'up' : l.state })
    return out
  }

  /** Prometheus text exposition of this process; throws `SD_ERR_METRICS_DISABLED` when off. */
  async text (): Promise<string> {
    return await Registry.merge(this.#registries()).metrics()
  }

  /** This process's registry as prom-client JSON (merged by the primary); throws when off. */
  async json (): Promise<unknown[]> {
    return await Registry.merge(this.#registries()).getMetricsAsJSON()
  }

  /** This process's figures now (only connections when metrics are off). */
  snapshot (): ProcessSnapshot {
    const connections: Record<string, number> = {}
    const snap: ProcessSnapshot = { at: Date.now(), processes: 1, connections, messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, latency: emptyLatency(), links: [] }
    if (this.traffic === undefined || this.actions === undefined) {
      for (const conn of this.#app.connections.all()) connections[conn.transport] = (connections[conn.transport] ?? 0) + 1
      return snap
    }
    for (const [name, t] of this.traffic.byTransport) {
      connections[name] = t.opened - t.closed
      const live = t.live?.()
      snap.messagesIn += t.messagesIn
      snap.messagesOut += t.messagesOut
      snap.bytesIn += t.bytesIn + (live?.bytesIn ?? 0)
      snap.bytesOut += t.bytesOut + (live?.bytesOut ?? 0)
    }
    for (const counts of this.actions.routes.values()) addLatency(snap.latency, counts)
    const cluster = this.#app.cluster
    if (cluster !== undefined) snap.links.push(...this.#clusterLinks(cluster.status()))
    snap.links.push(...this.#gatewayLinks())
    return snap
  }
}
