/**
 * The history of recoverable pushes: one stream per uid (`uid:<uid>`) and per group
 * (`group:<group>`), bounded by count and age. The seam has two stores, `MemoryHistory`
 * (one process; this folder) and `RedisHistory` (data/redis-history.ts: Redis Streams, shared by
 * the servers of a cluster and kept across restarts). A store also carries acknowledgements to
 * the process that waits for them (`owner`), since the ack may reach another process.
 */
import type { RecoveredStream, StreamPosition } from '../client/wire.js'

export type { RecoveredEntry, RecoveredStream, StreamPosition } from '../client/wire.js'

/** Bounds of every stream of a store. */
export interface HistoryLimits {
  /** Entries kept per stream (the oldest go first). @default 100 */
  maxCount: number
  /** Entries older than this are not recovered (a gap); an idle stream is dropped after it. @default 300000 */
  maxAgeMs: number
}

/**
 * Called with an acknowledgement that reached this store's owner: the ack id, the acking
 * connection and the uid it is bound to (an ack counts only from the uid the push went to).
 */
export type AckListener = (ackId: string, connectionId: string, uid: string) => void

/** Where recoverable pushes are kept. */
export interface HistoryStore {
  /** Names this process among those sharing the store (acks are addressed to it). */
  readonly owner: string
  /** Appends one push; resolves to its position (the epoch and its offset). */
  append (stream: string, data: unknown, ack?: string): Promise<StreamPosition>
  /** Where `stream` stands now (offset 0: nothing appended yet in this epoch). */
  position (stream: string): Promise<StreamPosition>
  /**
   * What `stream` holds after `since` (see `RecoveredStream`), at most `limit` entries and, past
   * the first, no more than `maxBytes` of data as JSON text in all. @default maxBytes Infinity
   */
  recover (stream: string, since: StreamPosition, limit: number, maxBytes?: number): Promise<RecoveredStream>
  /** Delivers an acknowledgement to the process `owner` (this one or another sharing the store). */
  sendAck (owner: string, ackId: string, connectionId: string, uid: string): void
  /** Where acknowledgements addressed to this store's owner go. */
  onAck (listener: AckListener): void
  /** Releases timers and connections. */
  close (): Promise<void>
}
