/**
 * A controller's `this.session`: a plain object the action reads and assigns properties to
 * (GatewayWorker's `$_SESSION`). Whatever holds one implements `SessionHolder`: a socket or
 * WebSocket connection keeps its session while it lives (connection/connection.ts); an HTTP
 * request has a fresh one, kept for that request only (transport/http-sink.ts).
 */

/** The session object: plain data, so it can be copied to another process as it is. */
export type SessionData = Record<string, unknown>

/** Where a controller's session lives. */
export interface SessionHolder {
  /** The session, made on first use. */
  readonly session: SessionData
}
