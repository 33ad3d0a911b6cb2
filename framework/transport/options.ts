/**
 * Options of the transport layer, with their defaults: the client ports (`server.tcp`,
 * `server.text`, `server.http` with its WebSocket endpoint), the per-connection rate limit and
 * the admission limits. server/config.ts combines them into `config.server`.
 */
import type { PackName } from '../connection/codec.js'
import type { TlsConfig } from './tls.js'

/** Framing of a socket port: `length` (uint32 BE + payload) or `eof` (one line per message). */
export type Framing = 'length' | 'eof'
export type { PackName } from '../connection/codec.js'

/** A raw socket port (the TCP RPC port and the text port). */
export interface SocketPortConfig {
  /** Start this port. @default true */
  enabled: boolean
  /** Interface to listen on; env `SD_HOST` (every client port). @default '0.0.0.0' */
  host: string
  /** Port; 0 picks a free one. @default 9093 (tcp), 8480 (text) */
  port: number
  /** Framing. @default 'length' (tcp), 'eof' (text) */
  framing: Framing
  /** Payload encoding. @default 'json' (tcp), 'text' (text) */
  pack: PackName
  /** Largest frame (or line) accepted; a larger one closes the connection. @default 2097152 (tcp), 65536 (text) */
  maxFrameBytes: number
  /** Route every message of this port to this path (packs without a path, e.g. `text`, need it). @default '' */
  route: string
  /** Turns pushed/replied data into a line on a `text` port. @default strings as they are, other values as JSON */
  render?: (data: unknown) => string
  /**
   * Speak telnet on an `eof` port: answer or refuse option negotiation, strip IAC commands from
   * input (Ctrl-C drops the typed line), end output lines with `\r\n` (see framework/transport/telnet.ts).
   * Plain `nc` clients work either way. @default true (text), false (tcp)
   */
  telnet: boolean
  /** Serve TLS with these PEM files (read at start and on `sd reload`); env `SD_TLS_KEY` + `SD_TLS_CERT` for every port without its own. @default undefined (plain) */
  tls?: TlsConfig
}

/** The WebSocket endpoint on the HTTP port. */
export interface WsConfig {
  /** Accept WebSocket upgrades. @default true */
  enabled: boolean
  /** Upgrade path. @default '/ws' */
  path: string
  /** Payload encoding of frames (text frames for json, binary for msgpack). @default 'json' */
  pack: 'json' | 'msgpack'
  /** Largest message accepted; a larger one closes with 1009. @default 2097152 */
  maxFrameBytes: number
}

/** The HTTP port (fastify), with WebSocket on it. */
export interface HttpConfig {
  /** Start this port. @default true */
  enabled: boolean
  /** Interface to listen on; env `SD_HOST` (every client port). @default '0.0.0.0' */
  host: string
  /** Port; 0 picks a free one. @default 8081 */
  port: number
  /** Largest request body; a larger one gets 413 `SD_ERR_BODY_TOO_LARGE`. @default 1048576 */
  bodyLimitBytes: number
  /** Folder served as static files at `/` (relative to the app root; '' to serve none). @default 'app/public' */
  staticDir: string
  /** A request whose headers are not all in after this long is answered 408 and closed. @default 10000 */
  headersTimeoutMs: number
  /** A request (headers and body) not fully received after this long is answered 408 and closed; 0 disables. @default 30000 */
  requestTimeoutMs: number
  /** An idle keep-alive connection is closed after this long. @default 5000 */
  keepAliveTimeoutMs: number
  /** WebSocket endpoint. */
  ws: WsConfig
  /** Serve HTTPS (and wss) with these PEM files (read at start and on `sd reload`); env `SD_TLS_KEY` + `SD_TLS_CERT`. @default undefined (plain) */
  tls?: TlsConfig
}

/**
 * A token bucket per socket/WebSocket connection: each message takes a token; tokens come back
 * at `messagesPerSecond` up to `burst`. A message without a token is answered
 * `SD_ERR_RATE_LIMITED`; after `maxRejected` of those without the bucket filling up again the
 * connection is closed with that code. Generous by default: it stops one connection from
 * taking the server, not a chatty client; a chat or game app sets its own (e.g. 20/s, burst 50).
 */
export interface RateLimitConfig {
  /** Tokens (messages) added per second; 0 turns the limit off. @default 50000 */
  messagesPerSecond: number
  /** Most tokens a connection can save up (the largest burst). @default 100000 */
  burst: number
  /** Close after this many refused messages with no pause long enough to refill the bucket; 0: never close. @default 10000 */
  maxRejected: number
}

/**
 * Options of each registered transport's port, by its key under `config.server`. A transport
 * added by another file declares its own key here (module augmentation) and registers itself
 * (transport/registry.ts).
 */
export interface TransportPortOptions {
  tcp: SocketPortConfig
  text: SocketPortConfig
  http: HttpConfig
}

/** What every port's options have: whether it starts, where it listens. */
export interface PortOptions {
  /** Start this port. */
  enabled: boolean
  /** Interface to listen on; env `SD_HOST` (every client port). */
  host: string
  /** Port; 0 picks a free one. */
  port: number
}

/** The transport layer's options under `config.server`, besides the ports. */
export interface TransportOptions {
  /** Per-connection message rate limit (socket ports and WebSocket; not HTTP). */
  rateLimit: RateLimitConfig
  /**
   * Open client sockets (TCP, text, HTTP and WebSocket together) per process; a new one over it
   * is refused with `SD_ERR_TOO_MANY_CONNECTIONS`. 0: derived from the open-files limit, keeping
   * headroom for MySQL, Redis, links and files (see docs/configuration.md).
   * @default 0 (the open-files limit less a tenth and 256 more, at least 64)
   */
  maxConnections: number
  /** Open client sockets from one IP address per process; 0: no limit. @default 1000 */
  maxConnectionsPerIp: number
}

/** A socket port's defaults. */
export function socketPortDefaults (port: number, framing: Framing, pack: PackName, maxFrameBytes: number): SocketPortConfig {
  return { enabled: true, host: '0.0.0.0', port, framing, pack, maxFrameBytes, route: '', telnet: pack === 'text' }
}

/** The HTTP port's defaults (WebSocket included). */
export function httpDefaults (): HttpConfig {
  return {
    enabled: true,
    host: '0.0.0.0',
    port: 8081,
    bodyLimitBytes: 1024 * 1024,
    staticDir: 'app/public',
    headersTimeoutMs: 10_000,
    requestTimeoutMs: 30_000,
    keepAliveTimeoutMs: 5000,
    ws: { enabled: true, path: '/ws', pack: 'json', maxFrameBytes: 2 * 1024 * 1024 },
  }
}

/** Defaults of the transport layer's options besides the ports. */
export function transportDefaults (): TransportOptions {
  return {
    rateLimit: { messagesPerSecond: 50_000, burst: 100_000, maxRejected: 10_000 },
    maxConnections: 0,
    maxConnectionsPerIp: 1000,
  }
}
