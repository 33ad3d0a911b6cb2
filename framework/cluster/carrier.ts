/**
 * The carrier seam: how the messenger (messenger.ts) reaches other nodes. A carrier offers
 * routes, each able to hand a DATA frame (link-frames.ts) to named nodes, and tells what it
 * could not hand over; the messenger keeps everything about reliability above it (re-sends,
 * dedup by (source, id), watermarks, per-tick batching). Two real carriers: dispatch links
 * (dispatch-carrier.ts) and Redis pub/sub (redis-carrier.ts); tests use a fake one.
 */
import type { EventEmitter } from 'node:events'
import type { DataMessage } from './link-frames.js'
import type { LinkStats } from './link.js'

/** Name of a registered carrier (carriers.ts: `dispatch`, `redis`, and any an app registers). */
export type CarrierName = string

/** One path to other nodes (a dispatcher link; the Redis connection). */
export interface CarrierRoute {
  /** Stable name of this path while the carrier lives (a dispatcher's `host:port`, `redis`). */
  readonly id: string
  /** True while it can carry frames. */
  readonly ready: boolean
  /** Queues a frame for its targets; false when down or full (nothing was queued). */
  send (msg: DataMessage): boolean
  /** Writes what `send` queued now rather than at the end of the loop turn. */
  flush (): void
}

/** Events every carrier emits. */
export interface CarrierEvents {
  /** The list of ready routes changed; `ready` is its length. */
  routes: [ready: number]
  /** A route became ready: what waits for one can go. */
  up: [route: CarrierRoute]
  /** A ready route was lost: frames sent through it may be lost too. */
  down: [route: CarrierRoute]
  /** `route` could not hand frames to these targets (not connected to it, or full). */
  missed: [route: CarrierRoute, targets: ReadonlySet<string>]
}

/** One route as status pages show it. */
export interface RouteInfo {
  /** `host:port` of a dispatcher, or `redis`. */
  address: string
  /** The peer's name (a dispatcher's node name), when known. */
  name: string | undefined
  status: string
  /** The route this node sends through now. */
  preferred: boolean
  rttMs: number | undefined
  lastError: string | undefined
  stats: LinkStats | undefined
}

/** Hears a frame for this node, arrived through `route` (replies go back the same way). */
export type DataHandler = (msg: DataMessage, route: CarrierRoute) => void

/** What the messenger needs from a way to reach other nodes. */
export interface Carrier extends EventEmitter<CarrierEvents> {
  readonly name: CarrierName
  /** Set by the messenger: a plain call, not an event (one per frame received, on the hot path). */
  onData: DataHandler
  /** Largest DATA payload a route carries (the messenger refuses bigger requests up front). */
  readonly maxFrameBytes: number
  /** Ready routes, the preferred one first. */
  readonly routes: readonly CarrierRoute[]
  /** Why no route is ready, for the error a request gets then. */
  unavailableReason (): string
  /** Every route, ready or not, for status pages. */
  info (): RouteInfo[]
  /**
   * Starts reaching the other nodes (called before this node registers); rejects when it
   * cannot yet (it keeps trying by itself). Redis resolves once it can receive and send (its
   * route is ready); dispatch once its links are opening (each is ready when it says `up`).
   */
  start (): Promise<void>
  /** A node's registry record expired (it is gone). */
  nodeGone (name: string): void
  close (): Promise<void>
}
