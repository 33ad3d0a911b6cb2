/**
 * Configuration: `config/*.ts` files export `defineConfig({...})`; the file name is the
 * section (`config/server.ts` → `config.server`). Defaults < files < env < programmatic
 * overrides. Unknown keys and wrong types fail at boot with a message naming the key.
 */
import { readdir } from 'node:fs/promises'
import { extname, basename, join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { SdError } from '../core/errors.js'
import type { MysqlConfig } from '../data/mysql.js'
import type { RedisConfig } from '../data/redis.js'
import { checkTimers, type TimersConfig } from '../timer/spec.js'
import { configFileWarning } from './config-files.js'

/** Framing of a socket port: `length` (uint32 BE + payload) or `eof` (one line per message). */
export type Framing = 'length' | 'eof'
/** Payload encoding: `json`, `text` (a line is the data) or `msgpack`. */
export type PackName = 'json' | 'text' | 'msgpack'

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
}

/** `config/server.ts`: ports, heartbeats and limits. */
export interface ServerConfig {
  tcp: SocketPortConfig
  text: SocketPortConfig
  http: HttpConfig
  /** Close connections that sent nothing for this long; 0 disables. @default 60000 */
  heartbeatIdleMs: number
  /** Push `pingData` to every socket/WS connection this often; 0 disables. @default 0 */
  pingIntervalMs: number
  /** Data of the server ping push. @default 'ping' */
  pingData: unknown
  /** Close a connection whose unsent output exceeds this (a client that does not read). @default 8388608 */
  maxSendBufferBytes: number
  /** Stop reading a connection while this many of its requests are still running (frames already read wait). @default 256 */
  /**
   * Unsent output of all connections of this process together; past it the connections holding
   * the most unsent bytes (the slowest readers) are closed with `SD_ERR_SLOW_READER`; 0 disables.
   * @default 67108864
   */
  maxTotalSendBufferBytes: number
  maxPendingPerConnection: number
  /** Per-connection message rate limit (socket ports and WebSocket; not HTTP). */
  rateLimit: RateLimitConfig
  /** On SIGTERM/SIGINT, wait this long for running requests before closing sockets. @default 10000 */
  shutdownTimeoutMs: number
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

/** `config/tasks.ts`: the worker-thread pool that runs `app/tasks`. */
export interface TasksConfig {
  /** Folder of task classes, relative to the app root. @default 'app/tasks' */
  dir: string
  /** Worker threads kept alive. @default 1 */
  minWorkers: number
  /** Most worker threads; 0: one per CPU core less one, at least 1. @default 0 */
  maxWorkers: number
  /** Calls that may wait (beyond 8 in flight per thread) before `SD_ERR_TASK_QUEUE_FULL`. @default 1000 */
  maxQueue: number
  /**
   * Calls one client connection may have waiting (beyond the in-flight slots) before its own
   * calls get `SD_ERR_TASK_QUEUE_FULL`, so one connection cannot fill `maxQueue` for others. @default 250
   */
  maxQueuePerConnection: number
  /** Default per-call timeout (`SD_ERR_TASK_TIMEOUT`); 0: none. @default 30000 */
  timeoutMs: number
}

/** `config/views.ts`: eta templates. */
export interface ViewsConfig {
  /** Folder of templates, relative to the app root. @default 'app/views' */
  dir: string
  /** Keep compiled templates in memory. @default true when NODE_ENV is 'production', else false (re-read on every render) */
  cache: boolean
}

/** `config/cluster.ts`: the dispatch cluster (`sd start --cluster` / `--dispatch`; docs/cluster.md). */
export interface ClusterConfig {
  /** Join the cluster (`sd start --cluster`); env `SD_CLUSTER=1`. @default false */
  enabled: boolean
  /** Cluster name: the `{hash tag}` of every registry key in Redis. @default the app name */
  name: string
  /** Shared secret of the links (16 bytes or more); env `SD_CLUSTER_SECRET` (keep it out of files). @default '' */
  secret: string
  /** Interface a dispatch server listens on (loopback: set it, or env `SD_HOST`, to link servers of other machines). @default '127.0.0.1' */
  dispatchHost: string
  /** Link port of a dispatch server; env `SD_DISPATCH_PORT`. @default 9991 */
  dispatchPort: number
  /** Host servers are told to link to (published in Redis). @default '127.0.0.1' when dispatchHost is a wildcard or loopback, else dispatchHost */
  advertiseHost: string
  /** Static dispatcher list (`'host:port'`) instead of discovery through Redis. @default [] */
  dispatchers: string[]
  /** How servers reach each other: links to dispatch servers, or Redis pub/sub (no dispatch server needed); env `SD_CLUSTER_CARRIER`. @default 'dispatch' */
  carrier: 'dispatch' | 'redis'
  /** Node record heartbeat period. @default 1000 */
  heartbeatMs: number
  /** Life of a node record without heartbeat; a dead node is purged about this long after it died. @default 3000 */
  ttlMs: number
  /** Discovery and dead-node checks period. @default 500 */
  pollMs: number
  /** A cross-server call without every reply after this long fails with SD_ERR_CLUSTER_UNAVAILABLE. @default 5000 */
  requestTimeoutMs: number
  /** A request without every reply after this long is sent again (deduplicated by the receiver). @default 1000 */
  retryMs: number
  /** How long a uid → nodes lookup is reused (changes are also announced to every server). @default 2000 */
  uidCacheMs: number
}

/** One custom route: `'GET /': 'Home.index'` or the object form. */
export interface RouteSpec {
  /** `Name.method` of the action. */
  action: string
  /** Transports that may call it (default: all). */
  transports?: TransportName[]
}

/** `config/routes.ts`: custom rules; keys are `'[METHOD ]/path/:param'`. */
export type RoutesConfig = Record<string, string | RouteSpec>

/** Names of transports messages can arrive on. */
export type TransportName = 'tcp' | 'text' | 'http' | 'ws'

/** The whole configuration after defaults, files and overrides. */
export interface Config {
  app: AppConfig
  server: ServerConfig
  routes: RoutesConfig
  /** `config/timers.ts`: name → timer (see docs/timers.md). */
  timers: TimersConfig
  mysql: MysqlConfig
  redis: RedisConfig
  tasks: TasksConfig
  views: ViewsConfig
  cluster: ClusterConfig
  /** Sections SD does not know are kept for the app (e.g. `config/chat.ts`). */
  [section: string]: unknown
}

/** Sections whose keys are checked against the defaults. */
const checkedSections = ['app', 'server', 'mysql', 'redis', 'tasks', 'views', 'cluster'] as const
type CheckedSection = typeof checkedSections[number]

/** Deep partial, for config files and overrides. */
export type DeepPartial<T> = { [K in keyof T]?: T[K] extends (...args: never[]) => unknown ? T[K] : T[K] extends object ? DeepPartial<T[K]> : T[K] }

/** Input accepted for the known sections. */
export type ConfigInput = { [K in CheckedSection]?: DeepPartial<Config[K]> } & { routes?: RoutesConfig, timers?: TimersConfig, [section: string]: unknown }

/** The cluster's name: `cluster.name`, else the app name. */
export function clusterName (config: Config): string {
  return config.cluster.name || config.app.name
}

export { defineConfig, type ConfigSections } from './config-files.js'

/** Default values of every known key. */
export function defaultConfig (): Config {
  const port = (p: number, framing: Framing, pack: PackName, maxFrameBytes: number, route: string): SocketPortConfig =>
    ({ enabled: true, host: '0.0.0.0', port: p, framing, pack, maxFrameBytes, route, telnet: pack === 'text' })
  return {
    app: { name: 'sd-app', nodeName: '', logLevel: 'info', controllersDir: 'app/controllers', timersDir: 'app/timers' },
    server: {
      tcp: port(9093, 'length', 'json', 2 * 1024 * 1024, ''),
      text: port(8480, 'eof', 'text', 64 * 1024, ''),
      http: {
        enabled: true,
        host: '0.0.0.0',
        port: 8081,
        bodyLimitBytes: 1024 * 1024,
        staticDir: 'app/public',
        headersTimeoutMs: 10_000,
        requestTimeoutMs: 30_000,
        keepAliveTimeoutMs: 5000,
        ws: { enabled: true, path: '/ws', pack: 'json', maxFrameBytes: 2 * 1024 * 1024 },
      },
      heartbeatIdleMs: 60_000,
      pingIntervalMs: 0,
      pingData: 'ping',
      maxSendBufferBytes: 8 * 1024 * 1024,
      maxTotalSendBufferBytes: 64 * 1024 * 1024,
      maxPendingPerConnection: 256,
      rateLimit: { messagesPerSecond: 50_000, burst: 100_000, maxRejected: 10_000 },
      shutdownTimeoutMs: 10_000,
      maxConnections: 0,
      maxConnectionsPerIp: 1000,
    },
    routes: {},
    timers: {},
    mysql: {
      url: '', poolMin: 0, poolMax: 10, acquireTimeoutMs: 5000, queryTimeoutMs: 10_000, replicas: [],
      migrationsDir: 'app/migrations', seedsDir: 'app/seeds', migrationsTable: 'sd_migrations',
    },
    redis: { url: '', cluster: [], sentinels: [], sentinelName: 'mymaster', keyPrefix: 'sd:', maxRetriesPerRequest: 1, connectTimeoutMs: 5000, reconnectMaxDelayMs: 1000 },
    tasks: { dir: 'app/tasks', minWorkers: 1, maxWorkers: 0, maxQueue: 1000, maxQueuePerConnection: 250, timeoutMs: 30_000 },
    views: { dir: 'app/views', cache: process.env.NODE_ENV === 'production' },
    cluster: {
      enabled: false, name: '', secret: '', dispatchHost: '127.0.0.1', dispatchPort: 9991, advertiseHost: '', dispatchers: [], carrier: 'dispatch',
      heartbeatMs: 1000, ttlMs: 3000, pollMs: 500, requestTimeoutMs: 5000, retryMs: 1000, uidCacheMs: 2000,
    },
  }
}

/** Allowed values by key path (`*` matches any one key). */
const enums: Record<string, readonly string[]> = {
  'server.*.framing': ['length', 'eof'],
  'server.*.pack': ['json', 'text', 'msgpack'],
  'server.http.ws.pack': ['json', 'msgpack'],
  'cluster.carrier': ['dispatch', 'redis'],
  'app.logLevel': ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
}
/** Keys, by path, that may be absent from the defaults and hold any value of the given type. */
const optional: Record<string, string> = { 'server.tcp.render': 'function', 'server.text.render': 'function', 'server.pingData': 'any' }

/** The rule for `path` in a table keyed by paths where `*` stands for one key. */
function ruleFor<T> (table: Record<string, T>, path: string): T | undefined {
  if (path in table) return table[path]
  const parts = path.split('.')
  for (const [pattern, rule] of Object.entries(table)) {
    const p = pattern.split('.')
    if (p.length === parts.length && p.every((seg, i) => seg === '*' || seg === parts[i])) return rule
  }
  return undefined
}

function isPlainObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function invalid (key: string, why: string): SdError {
  return new SdError('SD_ERR_CONFIG_INVALID', `${key} ${why}`)
}

/** Merges `input` into `target`, checking every key against the defaults' shape. */
function mergeChecked (target: Record<string, unknown>, input: Record<string, unknown>, path: string): void {
  for (const [key, value] of Object.entries(input)) {
    const name = `${path}.${key}`
    if (value === undefined) continue
    const current = target[key]
    const optionalType = ruleFor(optional, name)
    if (optionalType !== undefined) {
      if (optionalType !== 'any' && typeof value !== optionalType) throw invalid(name, `must be a ${optionalType}`)
      target[key] = value
      continue
    }
    if (!(key in target)) throw invalid(name, 'is not a known option')
    if (isPlainObject(current)) {
      if (!isPlainObject(value)) throw invalid(name, 'must be an object')
      mergeChecked(current, value, name)
      continue
    }
    if (Array.isArray(current)) {
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw invalid(name, 'must be an array of strings')
      target[key] = value
      continue
    }
    if (typeof value !== typeof current) throw invalid(name, `must be a ${typeof current}, got ${JSON.stringify(value)}`)
    if (typeof value === 'number') {
      if (!Number.isInteger(value) || value < 0) throw invalid(name, `must be a non-negative integer, got ${value}`)
      if (key === 'port' && value > 65535) throw invalid(name, `must be a port number (0-65535), got ${value}`)
    }
    const allowed = ruleFor(enums, name)
    if (allowed && !allowed.includes(value as string)) {
      throw invalid(name, `must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`)
    }
    target[key] = value
  }
}

function checkRoutes (routes: unknown): RoutesConfig {
  if (!isPlainObject(routes)) throw invalid('routes', 'must be an object')
  for (const [key, spec] of Object.entries(routes)) {
    const action = typeof spec === 'string' ? spec : isPlainObject(spec) ? spec.action : undefined
    if (typeof action !== 'string' || !/^\w+\.\w+$/.test(action)) {
      throw invalid(`routes['${key}']`, 'must name an action as "Name.method"')
    }
  }
  return routes as RoutesConfig
}

/** Applies one layer (a file's export, env, overrides) onto a config. */
export function applyConfig (config: Config, layer: Record<string, unknown>, source: string): void {
  for (const [section, value] of Object.entries(layer)) {
    if (section === 'routes') {
      config.routes = { ...config.routes, ...checkRoutes(value) }
    } else if (section === 'timers') {
      config.timers = { ...config.timers, ...checkTimers(value) }
    } else if ((checkedSections as readonly string[]).includes(section)) {
      if (!isPlainObject(value)) throw invalid(section, `must be an object (${source})`)
      mergeChecked(config[section] as unknown as Record<string, unknown>, value, section)
    } else {
      config[section] = value
    }
  }
}

const envPorts: Array<[string, (c: Config, port: number) => void]> = [
  ['SD_TCP_PORT', (c, p) => { c.server.tcp.port = p }],
  ['SD_TEXT_PORT', (c, p) => { c.server.text.port = p }],
  ['SD_HTTP_PORT', (c, p) => { c.server.http.port = p }],
  ['SD_DISPATCH_PORT', (c, p) => { c.cluster.dispatchPort = p }],
]

/** Applies the documented environment overrides. */
export function applyEnv (config: Config, env: NodeJS.ProcessEnv): void {
  for (const [name, set] of envPorts) {
    const raw = env[name]
    if (raw === undefined || raw === '') continue
    const port = Number(raw)
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw invalid(name, `must be a port number, got ${JSON.stringify(raw)}`)
    set(config, port)
  }
  // one host for every port this process listens on for others: the client ports, and the
  // link port when it is a dispatch server (the admin listener keeps its own)
  if (env.SD_HOST) {
    for (const port of [config.server.tcp, config.server.text, config.server.http]) port.host = env.SD_HOST
    config.cluster.dispatchHost = env.SD_HOST
  }
  if (env.SD_CLUSTER !== undefined && env.SD_CLUSTER !== '') config.cluster.enabled = env.SD_CLUSTER === '1' || env.SD_CLUSTER === 'true'
  if (env.SD_CLUSTER_SECRET) config.cluster.secret = env.SD_CLUSTER_SECRET
  if (env.SD_CLUSTER_CARRIER) {
    if (env.SD_CLUSTER_CARRIER !== 'dispatch' && env.SD_CLUSTER_CARRIER !== 'redis') throw invalid('SD_CLUSTER_CARRIER', `must be one of dispatch, redis, got ${JSON.stringify(env.SD_CLUSTER_CARRIER)}`)
    config.cluster.carrier = env.SD_CLUSTER_CARRIER
  }
  if (env.SD_NODE_NAME) config.app.nodeName = env.SD_NODE_NAME
  if (env.MYSQL_URL) config.mysql.url = env.MYSQL_URL
  if (env.REDIS_URL) config.redis.url = env.REDIS_URL
}

const configExtensions = new Set(['.ts', '.js', '.mjs', '.mts'])

/**
 * Imports every `config/*.ts` file of `dir`; the default export of `name.ts` is section `name`.
 * `warn` hears about files that are no known section and do not declare their own (a typo).
 */
export async function readConfigDir (dir: string, warn?: (message: string) => void): Promise<Record<string, unknown>> {
  let entries: string[]
  try {
    entries = await readdir(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw err
  }
  const layer: Record<string, unknown> = {}
  for (const file of entries.sort()) {
    const ext = extname(file)
    if (!configExtensions.has(ext) || file.endsWith('.d.ts') || file.includes('.test.')) continue
    const mod = await import(pathToFileURL(join(dir, file)).href) as { default?: unknown }
    if (mod.default === undefined) throw invalid(`config/${file}`, 'must have a default export (defineConfig({...}))')
    const name = basename(file, ext)
    const warning = warn && configFileWarning(file, name, mod.default)
    if (warning) warn(warning)
    layer[name] = mod.default
  }
  return layer
}

/** Options of `loadConfig`. */
export interface LoadConfigOptions {
  /** Application root. @default process.cwd() */
  root?: string
  /** Config directory; env `SD_CONFIG_DIR`. @default '<root>/config' */
  configDir?: string | false
  /** Applied last, e.g. ports 0 in tests. */
  overrides?: ConfigInput
  /** Environment to read overrides from. @default process.env */
  env?: NodeJS.ProcessEnv
  /** Hears warnings about config files (e.g. `config/sever.ts`, no known section). @default none */
  onWarning?: (message: string) => void
}

/** Builds the configuration: defaults, `config/*.ts`, env, then `overrides`. */
export async function loadConfig (options: LoadConfigOptions = {}): Promise<Config> {
  const env = options.env ?? process.env
  const root = resolve(options.root ?? process.cwd())
  const config = defaultConfig()
  if (options.configDir !== false) {
    const dir = resolve(root, options.configDir ?? env.SD_CONFIG_DIR ?? 'config')
    applyConfig(config, await readConfigDir(dir, options.onWarning), dir)
  }
  applyEnv(config, env)
  if (options.overrides) applyConfig(config, options.overrides as Record<string, unknown>, 'overrides')
  return config
}
