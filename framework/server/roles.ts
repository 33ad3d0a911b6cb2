/**
 * The split's roles wired into an Application (`gateway.role`, env `SD_ROLE`): a gateway sends
 * every request and connection event to business workers (gateway/gateway.ts) instead of its
 * own pipeline; a worker runs the requests its gateways send through the pipeline and hooks
 * (gateway/worker.ts). `direct` uses neither.
 */
import { linkTlsClient, TlsFiles } from '../transport/tls.js'
import { hostname, networkInterfaces } from 'node:os'
import type { Logger } from 'pino'
import { clusterSecret } from '../cluster/link-auth.js'
import type { Bus } from '../connection/bus.js'
import type { ConnectionTable } from '../connection/table.js'
import type { NodeStats } from '../core/contract.js'
import { SdError } from '../core/errors.js'
import type { Pipeline } from '../core/pipeline.js'
import { noParams } from '../core/router.js'
import { Gateway } from '../gateway/gateway.js'
import { staticDirectory, type GatewayDirectory } from '../gateway/options.js'
import type { WorkerConnection } from '../gateway/worker-conn.js'
import { GatewayWorker } from '../gateway/worker.js'
import { GatewayRegistry } from '../gateway/registry.js'
import { RelayCodecs } from '../gateway/relay-codecs.js'
import type { DataServices } from '../data/model.js'
import { clusterName, type Config } from './config.js'
import { Controller, type ServerHost } from './controller.js'

/** The connection hooks a worker runs: the application's lists. */
export interface ConnectionHookLists {
  onConnect: ReadonlyArray<(ctx: Controller) => void | Promise<void>>
  onClose: ReadonlyArray<(ctx: Controller) => void | Promise<void>>
}

/** The links' secret: `gateway.secret`, else `cluster.secret`, else env `SD_CLUSTER_SECRET`. */
export function gatewaySecret (config: Config): Buffer {
  try {
    return clusterSecret(config.gateway.secret || config.cluster.secret || undefined)
  } catch {
    throw new SdError('SD_ERR_CONFIG_INVALID', `gateway.secret (SD_GATEWAY_SECRET, else SD_CLUSTER_SECRET) must be set to at least 16 bytes, the same on gateways and workers, in role ${config.gateway.role}`)
  }
}

/** What the gateway role needs of the application. */
interface GatewayApp {
  readonly config: Config
  readonly log: Logger
  readonly bus: Bus
  readonly connections: ConnectionTable
  stats (): NodeStats
}

/** The gateway side of an application in role gateway. */
export function makeGateway (app: GatewayApp): Gateway {
  const config = app.config
  return new Gateway({
    log: app.log,
    get bus () { return app.bus },
    connections: app.connections,
    nodeName: config.app.nodeName,
    clustered: config.cluster.enabled,
    maxPendingPerConnection: config.server.maxPendingPerConnection,
    localConnections: () => {
      const out: Record<string, number> = {}
      for (const [k, n] of Object.entries(app.stats().connections)) out[k] = n ?? 0
      return out
    },
  }, config.gateway, gatewaySecret(config), config.cluster.tls === undefined ? undefined : new TlsFiles('cluster.tls', config.cluster.tls, '/'))
}

/** The worker side of an application in role worker; `directory`: where gateways are listed (default: `gateway.addresses`). */
export function makeWorker (app: ServerHost & { readonly config: Config }, pipeline: Pipeline<Controller>, hooks: ConnectionHookLists, directory?: GatewayDirectory): GatewayWorker {
  const config = app.config
  if (directory === undefined && config.gateway.addresses.length === 0) {
    throw new SdError('SD_ERR_CONFIG_INVALID', 'gateway.addresses (SD_GATEWAYS) is empty and Redis is not configured: a worker needs its gateways\' host:port, or REDIS_URL to find them in the gateway registry')
  }
  return new GatewayWorker({
    log: app.log,
    nodeName: config.app.nodeName,
    message: (conn, msg) => pipeline.message(conn, msg),
    http: (exchange, path, verb, data) => pipeline.http(exchange, path, verb, data),
    connectionHooks: (name, conn) => runHooks(app, hooks[name], name, conn),
    hooks: () => ({ onConnect: hooks.onConnect.length > 0, onClose: hooks.onClose.length > 0 }),
  }, {
    directory: directory ?? staticDirectory(config.gateway.addresses),
    waitForAll: directory === undefined,
    secret: gatewaySecret(config),
    tls: config.cluster.tls === undefined ? undefined : linkTlsClient(config.cluster.tls),
    discoveryIntervalMs: config.gateway.discoveryIntervalMs,
    codecs: new RelayCodecs(config.server),
  })
}

/** Runs connection hooks with a controller of `conn`; resolves when each settled (failures are logged). */
async function runHooks (app: ServerHost, list: ConnectionHookLists['onConnect'], name: string, conn: WorkerConnection): Promise<void> {
  const ctx = new Controller(app, conn, conn.transport, '', undefined, noParams, null)
  await Promise.all(list.map(async (fn) => {
    try { await fn(ctx) } catch (err) { app.log.error({ err, hook: name }, 'hook failed') }
  }))
}

/** What the registry wiring needs of the application. */
interface RegistryApp {
  readonly config: Config
  readonly log: Logger
  readonly data: DataServices
}

/** The host workers of other machines reach a gateway at: `advertiseHost`, `host`, or (wildcard) this machine's first external IPv4. */
export function advertisedHost (config: Config['gateway']): string {
  if (config.advertiseHost) return config.advertiseHost
  if (config.host !== '0.0.0.0' && config.host !== '::' && config.host !== '') return config.host
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address
  }
  return hostname()
}

/**
 * Role gateway with Redis and `gateway.announce`: announces the link address in the gateway
 * registry (workers started with `sd start --worker` find it there); the registry is returned
 * to withdraw at stop. Undefined otherwise. A Redis outage at boot only warns: the heartbeat
 * keeps trying, and workers with a static list do not need it.
 */
export async function announceGateway (app: RegistryApp, port: number): Promise<GatewayRegistry | undefined> {
  const { config } = app
  if (!config.gateway.announce || !app.data.redis.configured) return undefined
  const registry = new GatewayRegistry({ redis: app.data.redis.shared, cluster: clusterName(config), log: app.log })
  const entry = { name: config.app.nodeName, host: advertisedHost(config.gateway), port }
  await registry.announce(entry).then(
    () => app.log.info(entry, 'gateway announced in the Redis registry'),
    (err: unknown) => app.log.warn({ err: (err as Error).message }, 'gateway registry: could not announce yet; retrying'),
  )
  return registry
}

/** Role worker without `gateway.addresses`: the Redis registry as its directory of gateways (undefined without Redis: `makeWorker` then refuses the config). */
export function registryDirectory (app: RegistryApp): GatewayDirectory | undefined {
  const { config } = app
  if (config.gateway.role !== 'worker' || config.gateway.addresses.length > 0 || !app.data.redis.configured) return undefined
  const registry = new GatewayRegistry({ redis: app.data.redis.shared, cluster: clusterName(config), log: app.log })
  return { list: () => registry.list() }
}
