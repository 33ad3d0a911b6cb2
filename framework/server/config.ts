/**
 * Configuration: `config/*.ts` files export `defineConfig({...})`; the file name is the
 * section (`config/server.ts` → `config.server`). Defaults < files < env < programmatic
 * overrides. Unknown keys and wrong types fail at boot with a message naming the key.
 */
import { readdir } from 'node:fs/promises'
import { extname, basename, join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { SdError } from '../core/errors.js'
import type { RoutesConfig } from '../core/router.js'
import { carrierNames } from '../cluster/carriers.js'
import { clusterDefaults } from '../cluster/options.js'
import { authDefaults, authOptionalKeys } from '../connection/auth-options.js'
import { connectionDefaults } from '../connection/options.js'
import { recoveryDefaults, recoveryEnums } from '../connection/recovery-options.js'
import { mysqlDefaults, redisDefaults } from '../data/options.js'
import { gatewayDefaults, gatewayEnums } from '../gateway/options.js'
import { tasksDefaults } from '../task/options.js'
import { checkTimers } from '../timer/spec.js'
import { transportDefaults, type PortOptions, type TransportPortOptions } from '../transport/options.js'
import { transportEntries } from '../transport/registry.js'
import { checkTlsConfig } from '../transport/tls.js'
import { viewsDefaults } from '../view/options.js'
import { configFileWarning } from './config-files.js'
import { checkedSections, type Config, type ConfigInput } from './config-types.js'
import { appDefaults, serverOwnDefaults } from './options.js'
import { adminDefaults } from '../admin/guard.js'
import { metricsDefaults } from '../metrics/options.js'
import { readEnvFiles } from './env-files.js'

export type { Config, ConfigInput, DeepPartial, ServerConfig } from './config-types.js'
export type { Framing, PackName, SocketPortConfig, WsConfig, HttpConfig, RateLimitConfig } from '../transport/options.js'
export type { AppConfig } from './options.js'
export type { TasksConfig } from '../task/options.js'
export type { ViewsConfig } from '../view/options.js'
export type { ClusterConfig } from '../cluster/options.js'
export type { GatewayConfig } from '../gateway/options.js'
export type { RecoveryConfig } from '../connection/recovery-options.js'
export type { AdminConfig } from '../admin/guard.js'
export type { AuthConfig, AuthJwtConfig, AuthenticateHook, AuthInfo, AuthResult } from '../connection/auth-options.js'
export type { RouteSpec, RoutesConfig } from '../core/router.js'
export type { TransportName } from '../core/contract.js'

/** The cluster's name: `cluster.name`, else the app name. */
export function clusterName (config: Config): string {
  return config.cluster.name || config.app.name
}

export { defineConfig, type ConfigSections } from './config-files.js'

/** Default values of every known key: each module's own defaults, combined. */
export function defaultConfig (): Config {
  const ports: Record<string, PortOptions> = {}
  for (const entry of transportEntries()) ports[entry.key] = entry.defaults()
  return {
    app: appDefaults(),
    server: { ...ports as unknown as TransportPortOptions, ...transportDefaults(), ...connectionDefaults(), ...serverOwnDefaults() },
    routes: {},
    timers: {},
    mysql: mysqlDefaults(),
    redis: redisDefaults(),
    tasks: tasksDefaults(),
    views: viewsDefaults(),
    cluster: clusterDefaults(),
    gateway: gatewayDefaults(),
    recovery: recoveryDefaults(),
    admin: adminDefaults(),
    auth: authDefaults(),
    metrics: metricsDefaults(),
  }
}

/** Allowed values by key path (`*` matches any one key); carriers come from their registry. */
const enums = (): Record<string, readonly string[]> => ({
  'server.*.framing': ['length', 'eof'],
  'server.*.pack': ['json', 'text', 'msgpack'],
  'server.http.ws.pack': ['json', 'msgpack'],
  'cluster.carrier': carrierNames(),
  'app.logLevel': ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
  ...gatewayEnums,
  ...recoveryEnums,
})
/** Keys, by path, that may be absent from the defaults and hold any value of the given type (the transports add theirs). */
function optionalKeys (): Record<string, string> {
  const keys: Record<string, string> = { 'server.pingData': 'any', 'cluster.tls': 'object', ...authOptionalKeys }
  for (const entry of transportEntries()) {
    for (const [key, type] of Object.entries(entry.optionalKeys ?? {})) keys[`server.${entry.key}.${key}`] = type
  }
  return keys
}

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
function mergeChecked (target: Record<string, unknown>, input: Record<string, unknown>, path: string, optional = optionalKeys(), allowedValues = enums()): void {
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
      mergeChecked(current, value, name, optional, allowedValues)
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
    const allowed = ruleFor(allowedValues, name)
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

/** The options of every registered transport's port in `config.server`. */
export function transportPorts (config: Config): Array<[key: string, options: PortOptions]> {
  const server = config.server as unknown as Record<string, PortOptions | undefined>
  const ports: Array<[string, PortOptions]> = []
  for (const entry of transportEntries()) {
    const options = server[entry.key]
    if (options !== undefined) ports.push([entry.key, options])
  }
  return ports
}

/** Env variables that set a port: one per registered transport, and the dispatch server's. */
function envPorts (): Array<[string, (c: Config, port: number) => void]> {
  const ports: Array<[string, (c: Config, port: number) => void]> = transportEntries().map((entry) =>
    [entry.envPort, (c, p) => { (c.server as unknown as Record<string, PortOptions>)[entry.key].port = p }])
  ports.push(['SD_DISPATCH_PORT', (c, p) => { c.cluster.dispatchPort = p }])
  ports.push(['SD_GATEWAY_PORT', (c, p) => { c.gateway.port = p }])
  // a port for the admin listener is the wish to run it
  ports.push(['SD_ADMIN_PORT', (c, p) => { c.admin.port = p; c.admin.enabled = true }])
  return ports
}

/** Applies the documented environment overrides (secrets also from `X_FILE`: env-files.ts). */
export function applyEnv (config: Config, fromProcess: NodeJS.ProcessEnv): void {
  const env = readEnvFiles(fromProcess)
  for (const [name, set] of envPorts()) {
    const raw = env[name]
    if (raw === undefined || raw === '') continue
    const port = Number(raw)
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw invalid(name, `must be a port number, got ${JSON.stringify(raw)}`)
    set(config, port)
  }
  // one host for every port this process listens on for others: the client ports, and the
  // link port when it is a dispatch server (the admin listener keeps its own)
  if (env.SD_HOST) {
    for (const [, port] of transportPorts(config)) port.host = env.SD_HOST
    config.cluster.dispatchHost = env.SD_HOST
  }
  applyTlsEnv(config, env)
  if (env.SD_CLUSTER !== undefined && env.SD_CLUSTER !== '') config.cluster.enabled = env.SD_CLUSTER === '1' || env.SD_CLUSTER === 'true'
  if (env.SD_CLUSTER_SECRET) config.cluster.secret = env.SD_CLUSTER_SECRET
  if (env.SD_DISPATCH_PATH) config.cluster.dispatchPath = env.SD_DISPATCH_PATH
  // a dispatch server in a container: the name servers reach it by (its service name)
  if (env.SD_ADVERTISE_HOST) config.cluster.advertiseHost = env.SD_ADVERTISE_HOST
  if (env.SD_CLUSTER_NAME) config.cluster.name = env.SD_CLUSTER_NAME
  if (env.SD_CLUSTER_CARRIER) {
    const carriers = carrierNames()
    if (!carriers.includes(env.SD_CLUSTER_CARRIER)) throw invalid('SD_CLUSTER_CARRIER', `must be one of ${carriers.join(', ')}, got ${JSON.stringify(env.SD_CLUSTER_CARRIER)}`)
    config.cluster.carrier = env.SD_CLUSTER_CARRIER
  }
  if (env.SD_REGISTRY_REPLICAS !== undefined) config.cluster.registryReplicas = env.SD_REGISTRY_REPLICAS.split(',').map((s) => s.trim()).filter((s) => s !== '')
  if (env.SD_NODE_NAME) config.app.nodeName = env.SD_NODE_NAME
  applyGatewayEnv(config, env)
  if (env.SD_ADMIN_TOKEN) config.admin.token = env.SD_ADMIN_TOKEN
  if (env.SD_ADMIN_HOST) config.admin.host = env.SD_ADMIN_HOST
  if (env.SD_AUTH_JWT_SECRET) config.auth.jwt.secret = env.SD_AUTH_JWT_SECRET
  if (env.MYSQL_URL) config.mysql.url = env.MYSQL_URL
  if (env.REDIS_URL) config.redis.url = env.REDIS_URL
}

/** `SD_TLS_KEY` + `SD_TLS_CERT` (and `SD_TLS_CA`): TLS on every client port that has none of its own. */
function applyTlsEnv (config: Config, env: NodeJS.ProcessEnv): void {
  const key = env.SD_TLS_KEY
  const cert = env.SD_TLS_CERT
  if (!key && !cert) return
  if (!key || !cert) throw invalid(key ? 'SD_TLS_CERT' : 'SD_TLS_KEY', 'must be set too (TLS needs a key and a certificate)')
  const tls = env.SD_TLS_CA ? { key, cert, ca: env.SD_TLS_CA } : { key, cert }
  for (const [, port] of transportPorts(config)) {
    const p = port as PortOptions & { tls?: unknown }
    if (p.tls === undefined) p.tls = { ...tls }
  }
}

/** The split's variables: SD_ROLE, SD_GATEWAY_HOST, SD_GATEWAYS, SD_GATEWAY_SECRET, SD_GATEWAY_ANNOUNCE (SD_GATEWAY_PORT is with the ports). */
function applyGatewayEnv (config: Config, env: NodeJS.ProcessEnv): void {
  const role = env.SD_ROLE
  if (role !== undefined && role !== '') {
    if (role !== 'gateway' && role !== 'worker' && role !== 'direct') throw invalid('SD_ROLE', `must be one of gateway, worker, direct, got ${JSON.stringify(role)}`)
    config.gateway.role = role
  }
  if (env.SD_GATEWAY_HOST) config.gateway.host = env.SD_GATEWAY_HOST
  if (env.SD_GATEWAYS !== undefined) config.gateway.addresses = env.SD_GATEWAYS.split(',').map((s) => s.trim()).filter((s) => s !== '')
  if (env.SD_GATEWAY_SECRET) config.gateway.secret = env.SD_GATEWAY_SECRET
  const announce = env.SD_GATEWAY_ANNOUNCE
  if (announce !== undefined && announce !== '') {
    if (announce !== '0' && announce !== '1') throw invalid('SD_GATEWAY_ANNOUNCE', `must be 0 or 1, got ${JSON.stringify(announce)}`)
    config.gateway.announce = announce === '1'
  }
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
    // eslint-disable-next-line layers/layer-order -- loads the application's config/ files by URL
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
  for (const [key, port] of transportPorts(config)) checkTlsConfig(`server.${key}.tls`, (port as PortOptions & { tls?: unknown }).tls)
  const linkTls = checkTlsConfig('cluster.tls', config.cluster.tls, true)
  // absolute paths: the links are made where the app root is not known
  if (linkTls !== undefined) {
    config.cluster.tls = { ...linkTls, key: resolve(root, linkTls.key), cert: resolve(root, linkTls.cert), ...(linkTls.ca === undefined ? {} : { ca: resolve(root, linkTls.ca) }) }
  }
  return config
}

