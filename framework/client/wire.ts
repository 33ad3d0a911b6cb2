/**
 * The client protocol's additions for recovery and acknowledgements, declared once for both
 * sides: the SDK (this folder, which imports nothing else of the framework so it builds for
 * browsers) and the server (connection/, server/). Envelopes are the json/msgpack ones of the
 * design: requests `{id?, path, data}`, replies `{id, data}` or `{id, error}`, pushes `{data}`.
 */

/**
 * A push as it arrives. Recoverable pushes add `stream`, `epoch` and `offset`; a push that wants
 * an acknowledgement adds `ack`. `sync` and `skip` messages have no data: a sync tells the
 * client where a stream stands (after a bind or join), a skip that one offset was a group push
 * the connection was excluded from.
 */
export interface PushEnvelope {
  data?: unknown
  /** `uid:<uid>` or `group:<group>`. */
  stream?: string
  /** Changes when the stream's history was lost (a server restart without Redis, Redis emptied). */
  epoch?: string
  /** 1, 2, 3… per stream and epoch. */
  offset?: number
  /** Acknowledge with `/sd/ack {ack}` once handled. */
  ack?: string
  /** No data: the stream's position only (after a bind or join); anything below it not seen was missed. */
  sync?: true
  /** No data: this offset is a group push the connection was excluded from (its own, usually): move past it. */
  skip?: true
}

/** Built-in paths the SDK calls (tcp and ws only). */
export const HELLO_PATH = '/sd/hello'
export const RECOVER_PATH = '/sd/recover'
export const ACK_PATH = '/sd/ack'
/** Sent without id when the client has sent nothing for a while: keeps the server's idle check (`heartbeatIdleMs`) from closing it. */
export const PING_PATH = '/sd/ping'
/** Authenticates the connection: `{token}` → `AuthReply` (text port: a line `/sd/auth <token>`). */
export const AUTH_PATH = '/sd/auth'
/** The server's error code pushed (no id) when the connection's token expired. */
export const TOKEN_EXPIRED = 'SD_ERR_TOKEN_EXPIRED'

/** `/sd/hello` data: the protocol version the client speaks. */
export interface HelloRequest { v: 1 }

/** `/sd/hello` reply. */
export interface HelloReply {
  v: 1
  /** The node that holds the connection (a gateway's name in split mode). */
  node: string
  /** False when the server keeps no history (recover answers every stream with a gap). */
  recovery: boolean
}

/** Where a client stands in a stream: the last offset it handled, in that epoch. */
export interface StreamPosition {
  epoch: string
  offset: number
}

/** `/sd/recover` data: the client's positions, by stream name. */
export interface RecoverRequest {
  streams: Record<string, StreamPosition>
}

/** One push the client missed. */
export interface RecoveredEntry {
  offset: number
  data: unknown
  ack?: string
}

/**
 * What a stream holds after the client's position: `entries` in order; `gap` true when some of
 * what it missed is gone (trimmed by count or age, or the epoch changed: then `entries` are the
 * new epoch's from its start, as far as kept). `epoch`/`offset`: the stream's position now.
 */
export interface RecoveredStream {
  epoch: string
  offset: number
  gap: boolean
  entries: RecoveredEntry[]
}

/**
 * `/sd/recover` reply; `denied`: streams this connection may not read (not its uid, not a group
 * it is in); `more`: streams left out because the reply reached its size limit (ask again for
 * them; a stream answered with fewer entries than its `offset` says exist was cut short too).
 */
export interface RecoverReply {
  streams: Record<string, RecoveredStream>
  denied: string[]
  more?: string[]
}

/** `/sd/ack` data (sent without id: no reply). */
export interface AckRequest {
  ack: string
}

/** Longest stream name `/sd/recover` takes (the server records no stream with a longer one). */
export const MAX_STREAM_NAME = 256

/** Stream of a uid's pushes. */
export function uidStream (uid: string | number): string {
  return `uid:${uid}`
}

/** Stream of a group's pushes. */
export function groupStream (group: string): string {
  return `group:${group}`
}

/** `/sd/auth` data. */
export interface AuthRequest { token: string }

/** `/sd/auth` reply: the connection's uid, and when its authentication expires (ms since the epoch; null: never). */
export interface AuthReply { uid: string, exp: number | null }
