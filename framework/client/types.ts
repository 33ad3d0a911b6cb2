/** Public types of the SDK: options, events, errors. */
import type { LinkTls } from './link.js'

/** Where the client stands: 'connecting' (first connect), 'open', 'reconnecting', 'closed'. */
export type SdClientStatus = 'connecting' | 'open' | 'reconnecting' | 'closed'

/** Codes the client raises itself (copies of framework/core/errors.ts: client/ cannot import core). */
export const SD_ERR_CLIENT_TIMEOUT = 'SD_ERR_CLIENT_TIMEOUT'
export const SD_ERR_CLIENT_CLOSED = 'SD_ERR_CLIENT_CLOSED'
export const SD_ERR_CLIENT_QUEUE_FULL = 'SD_ERR_CLIENT_QUEUE_FULL'
export const SD_ERR_CLIENT_DISCONNECTED = 'SD_ERR_CLIENT_DISCONNECTED'

/** An error of a call: a server code (`SD_ERR_…`) or one of the client's own. */
export class SdClientError extends Error {
  readonly code: string
  constructor (code: string, message: string) {
    super(message)
    this.name = 'SdClientError'
    this.code = code
  }
}

/** Wire pack of the port the client talks to. */
export type SdPack = 'json' | 'msgpack'

/** Reconnect waits: `firstMs` doubling up to `maxMs`, each wait drawn in [d/2, d). */
export interface BackoffOptions {
  /** @default 250 */
  firstMs?: number
  /** @default 10000 */
  maxMs?: number
}

/** What `onReconnect` gets: a `call` that bypasses the queue (the client is not open yet). */
export interface ReconnectContext {
  call: (path: string, data?: unknown, options?: CallOptions) => Promise<unknown>
}

/** Options of `connect`. */
export interface ClientOptions {
  /** Default timeout of a call, queue wait included. @default 10000 */
  timeoutMs?: number
  /** Calls held while not open; beyond it a call fails with SD_ERR_CLIENT_QUEUE_FULL. @default 1000 */
  maxQueue?: number
  /** Reconnect backoff. @default { firstMs: 250, maxMs: 10000 } */
  backoff?: BackoffOptions
  /** Must match the port's pack. @default 'json' */
  pack?: SdPack
  /** Recover missed pushes of known streams after a reconnect. @default true */
  recover?: boolean
  /** Runs after `/sd/hello` on every reconnect, before recovery (re-login, re-join). @default undefined */
  onReconnect?: (ctx: ReconnectContext) => void | Promise<void>
  /** Largest frame accepted from the server over tcp. @default 16777216 */
  maxFrameBytes?: number
  /**
   * Sends `/sd/ping` (no reply) when the client has sent nothing for this long, so the server's
   * idle check (`server.heartbeatIdleMs`, 60 s by default) does not close a quiet client; keep it
   * below that. 0 disables. @default 25000
   */
  heartbeatMs?: number
  /** TLS of `tls://` and `wss://` urls in Node (`ca` of a self-signed server); browsers ignore it. @default the system's CAs */
  tls?: LinkTls
}

/** Options of one call. */
export interface CallOptions {
  /** @default the client's timeoutMs */
  timeoutMs?: number
}

/** What a push handler gets besides the data. */
export interface PushMetaInfo {
  stream?: string
  offset?: number
  /** True when the push came through `/sd/recover` rather than live. */
  recovered: boolean
  ack?: string
}

/** A stream whose missed pushes were lost in part (trimmed, or the epoch changed). */
export interface GapInfo {
  stream: string
  epoch: string
  offset: number
}

/**
 * The wait before the next connect attempt: given with a 'reconnecting' status (and a
 * 'connecting' one when the first connect failed), once per wait.
 */
export interface RetryInfo {
  /** 1 for the first attempt after the connection was lost (or the first connect failed), then 2, 3… until an open. */
  attempt: number
  /** How long the client waits before that attempt. */
  waitMs: number
  /** When the attempt starts (ms since the epoch, like `Date.now()`); `retryNow()` starts it at once. */
  retryAt: number
}

/** Events and their listeners. */
export interface SdClientEvents {
  push: (data: unknown, meta: PushMetaInfo) => void | Promise<void>
  /**
   * A new status; a status event with `retry` comes each time the client starts waiting
   * before another attempt ('reconnecting', or 'connecting' before the first open).
   */
  status: (status: SdClientStatus, retry?: RetryInfo) => void
  gap: (gap: GapInfo) => void
  error: (err: Error) => void
}
