/**
 * What the admin listener serves, as the process that runs it provides it: an in-process
 * application (createApp) answers from itself; the primary of `sd start` asks its worker
 * processes over IPC and merges. The listener knows neither.
 */
import type { NodeFigures, ProcessSnapshot } from '../metrics/snapshot.js'

export type { NodeFigures, ProcessSnapshot } from '../metrics/snapshot.js'

/** Who a publish reaches: exactly one of the four (the bus's own target type). */
export type { BusTarget as PublishTarget } from '../connection/bus-publish.js'
import type { BusTarget as PublishTarget } from '../connection/bus-publish.js'

/** A checked `POST /sd/publish` body. */
export interface PublishRequest {
  to: PublishTarget
  data: unknown
  /** Record it for recovery (the send option `recover`). @default the server's recovery config */
  recover?: boolean
}

/** The admin listener's view of the server it belongs to. */
export interface AdminSources {
  /** This server's node name (the dashboard's title). */
  readonly node: string
  /** Prometheus text of the whole server (every process). */
  metrics (): Promise<string>
  /** This server's figures now, summed over its processes. */
  snapshot (): Promise<ProcessSnapshot>
  /** Every live node of its cluster with its latest figures; undefined when not clustered. */
  nodes? (): Promise<NodeFigures[]>
  /** Pushes `data` cluster-wide; resolves to the number of connections it reached. */
  publish (request: PublishRequest): Promise<number>
}
