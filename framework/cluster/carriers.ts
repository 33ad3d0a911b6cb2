/**
 * The carrier registry: `cluster.carrier` names one of these. A new carrier is one file
 * implementing `Carrier` (carrier.ts) and one `registerCarrier` call; config validation, the
 * env override and status pages follow from the registered names.
 */
import type { Logger } from 'pino'
import type { RedisClient } from '../data/redis.js'
import type { Carrier } from './carrier.js'
import { DispatchCarrier } from './dispatch-carrier.js'
import { clusterSecret } from './link-auth.js'
import type { ClusterConfig } from './options.js'
import { RedisCarrier } from './redis-carrier.js'
import { linkTlsClient } from '../transport/tls.js'
import type { RegistryView } from './registry-reads.js'

/** What a carrier is built from (one server's cluster membership). */
export interface CarrierContext {
  /** This node's name. */
  name: string
  /** The cluster's name (the hash tag of its Redis keys). */
  cluster: string
  config: ClusterConfig
  /** The registry's shared Redis connection. */
  redis: RedisClient
  /** Opens a dedicated Redis connection, when the carrier needs its own. */
  connectRedis: (() => RedisClient) | undefined
  /** The live registry (nodes, dispatchers). */
  view: RegistryView
  log: Logger | undefined
}

/** Builds a carrier for one node. */
export type CarrierFactory = (context: CarrierContext) => Carrier

const factories = new Map<string, CarrierFactory>()

/** Registers (or replaces) the carrier called `name`. */
export function registerCarrier (name: string, factory: CarrierFactory): void {
  factories.set(name, factory)
}

/** Names `cluster.carrier` accepts, in registration order. */
export function carrierNames (): string[] {
  return [...factories.keys()]
}

/** The carrier called `name`; throws naming the key for an unknown one. */
export function createCarrier (name: string, context: CarrierContext): Carrier {
  const make = factories.get(name)
  if (make === undefined) throw new Error(`cluster.carrier: unknown carrier ${JSON.stringify(name)} (known: ${carrierNames().join(', ')})`)
  return make(context)
}

registerCarrier('dispatch', (c) => new DispatchCarrier({
  name: c.name,
  secret: clusterSecret(c.config.secret || undefined),
  view: c.view,
  dispatchers: c.config.dispatchers,
  log: c.log,
  link: c.config.tls === undefined ? undefined : { tls: linkTlsClient(c.config.tls) },
}))
registerCarrier('redis', (c) => new RedisCarrier({ name: c.name, cluster: c.cluster, redis: c.redis, connect: c.connectRedis, log: c.log }))
