/**
 * The metrics of one application process: the Prometheus registry over its counters (text for
 * `/metrics`, JSON for the primary to merge) and its snapshot for the dashboard and the
 * cluster heartbeat.
 * CONTRACT STUB (issue 21): the metrics branch fills it in.
 */
import { emptyLatency, type ProcessSnapshot } from '../metrics/snapshot.js'
import type { ConnectionTable } from '../connection/table.js'

/** What the metrics read of their application (server/application.ts is one); grows with the metrics. */
export interface MetricsHost {
  readonly connections: ConnectionTable
}

/** Metrics of one Application. */
export class AppMetrics {
  readonly #app: MetricsHost

  constructor (app: MetricsHost) {
    this.#app = app
  }

  /** Prometheus text exposition of this process. */
  async text (): Promise<string> {
    return ''
  }

  /** This process's registry as prom-client JSON (merged by the primary). */
  async json (): Promise<unknown[]> {
    return []
  }

  /** This process's figures now. */
  snapshot (): ProcessSnapshot {
    const connections: Record<string, number> = {}
    for (const conn of this.#app.connections.all()) connections[conn.transport] = (connections[conn.transport] ?? 0) + 1
    return { at: Date.now(), processes: 1, connections, messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, latency: emptyLatency(), links: [] }
  }
}
