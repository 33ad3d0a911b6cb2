/**
 * Options of the connection layer, with their defaults (under `config.server`): heartbeats and
 * the limits on what a connection, and all of them together, may leave unsent.
 */

/** The connection layer's options. */
export interface ConnectionOptions {
  /** Close connections that sent nothing for this long; 0 disables. @default 60000 */
  heartbeatIdleMs: number
  /** Push `pingData` to every socket/WS connection this often; 0 disables. @default 0 */
  pingIntervalMs: number
  /** Data of the server ping push. @default 'ping' */
  pingData: unknown
  /** Close a connection whose unsent output exceeds this (a client that does not read). @default 8388608 */
  maxSendBufferBytes: number
  /**
   * Unsent output of all connections of this process together; past it the connections holding
   * the most unsent bytes (the slowest readers) are closed with `SD_ERR_SLOW_READER`; 0 disables.
   * @default 67108864
   */
  maxTotalSendBufferBytes: number
}

/** Defaults of the connection layer's options. */
export function connectionDefaults (): ConnectionOptions {
  return {
    heartbeatIdleMs: 60_000,
    pingIntervalMs: 0,
    pingData: 'ping',
    maxSendBufferBytes: 8 * 1024 * 1024,
    maxTotalSendBufferBytes: 64 * 1024 * 1024,
  }
}
