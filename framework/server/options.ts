/**
 * The composition layer's own options, with their defaults: `config/app.ts` (identity, logging,
 * where controllers and timers are) and the parts of `config/server.ts` the application itself
 * reads (in-flight requests per connection, the shutdown wait).
 */

/** `config/app.ts`: identity and logging. */
export interface AppConfig {
  /** Application name (logs, cluster key prefix). @default 'sd-app' */
  name: string
  /** Node name; env `SD_NODE_NAME`. @default generated from host name and pid */
  nodeName: string
  /** pino log level. @default 'info' */
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
  /** Directory of controllers, relative to the app root. @default 'app/controllers' */
  controllersDir: string
  /** Directory of Timer classes (what `config/timers.ts` names as `handler`), relative to the app root. @default 'app/timers' */
  timersDir: string
}

/** The application's own options under `config.server`. */
export interface ServerOwnOptions {
  /** Stop reading a connection while this many of its requests are still running (frames already read wait). @default 256 */
  maxPendingPerConnection: number
  /** On SIGTERM/SIGINT, wait this long for running requests before closing sockets. @default 10000 */
  shutdownTimeoutMs: number
}

/** Defaults of `config.app`. */
export function appDefaults (): AppConfig {
  return { name: 'sd-app', nodeName: '', logLevel: 'info', controllersDir: 'app/controllers', timersDir: 'app/timers' }
}

/** Defaults of the application's own `config.server` options. */
export function serverOwnDefaults (): ServerOwnOptions {
  return { maxPendingPerConnection: 256, shutdownTimeoutMs: 10_000 }
}
