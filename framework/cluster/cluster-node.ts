/**
 * This server as a member of a cluster: its record and entries in the Redis registry
 * (heartbeats, re-registration), the carrier that reaches the other servers (`cluster.carrier`:
 * links to the dispatch servers found through the registry within `pollMs` or a static list,
 * or Redis pub/sub), the messenger over it, and the replicas its lookups read
 * (`cluster.registryReplicas`). The `ClusterBus` (cluster-bus.ts) builds the controller API on top.
 */
import type { Logger } from 'pino'
import type { ClusterConfig } from './options.js'
import type { RedisClient } from '../data/redis.js'
import type { Carrier, CarrierName } from './carrier.js'
import { createCarrier } from './carriers.js'
import { Messenger, type DispatcherLinkInfo } from './messenger.js'
import { clusterOverview, type ClusterOverview } from './overview.js'
import { RedisRegistry } from './registry.js'
import { connectReplica, ReplicaReads, type ReplicaStatus } from './registry-replicas.js'
import { RegistryKeys } from './registry-scripts.js'

/** Options of `ClusterNode`. */
export interface ClusterNodeOptions {
  config: ClusterConfig
  /** Cluster name (`clusterName(config)`). */
  cluster: string
  /** This node's name. */
  nodeName: string
  redis: RedisClient
  /** Opens a dedicated Redis connection (the Redis carrier's subscriber and publisher). @default redis.duplicate() */
  connectRedis?: () => RedisClient
  /** Opens a connection to a registry replica (`cluster.registryReplicas` entry). @default connectReplica (the primary's options, the replica's address) */
  connectReplica?: (entry: string) => RedisClient
  log?: Logger
  /** Figures published with each heartbeat (connections, ports…). */
  meta?: () => Record<string, unknown>
}

/** What `sd status --cluster` and the status page show about this node. */
export interface ClusterNodeStatus {
  cluster: string
  node: string
  /** How this node reaches the others (`cluster.carrier`). */
  carrier: CarrierName
  registry: string
  registryError: string | undefined
  /** The carrier's routes: each dispatcher link, or the one Redis route. */
  dispatchers: DispatcherLinkInfo[]
  resent: number
  /** The registry replicas (`cluster.registryReplicas`), when there are any. */
  replicas?: ReplicaStatus[]
}

/** One server's membership of the cluster. */
export class ClusterNode {
  readonly name: string
  readonly cluster: string
  readonly registry: RedisRegistry
  readonly messenger: Messenger
  readonly carrier: CarrierName
  /** Where lookups read, when `cluster.registryReplicas` names replicas. */
  readonly replicas: ReplicaReads | undefined
  readonly #carrier: Carrier
  readonly #config: ClusterConfig
  readonly #log: Logger | undefined
  readonly #meta: (() => Record<string, unknown>) | undefined
  #metaTimer: NodeJS.Timeout | undefined
  /** Nodes whose record is missing, waiting out their TTL before they count as gone. */
  readonly #gone = new Map<string, NodeJS.Timeout>()
  /** Called when a node's record expired (its entries are, or are being, purged). */
  onNodeGone: (name: string) => void = () => {}
  /**
   * Called on one server of the cluster (the first to claim them) with the uids a dead node's
   * purge took offline: users of that node who are gone without a normal close.
   */
  onUidsLeft: (node: string, uids: string[]) => void = () => {}

  constructor (options: ClusterNodeOptions) {
    const c = options.config
    this.#config = c
    this.#log = options.log
    this.#meta = options.meta
    this.name = options.nodeName
    this.cluster = options.cluster
    const entries = c.registryReplicas ?? []
    if (entries.length > 0) {
      const maxLagMs = c.registryReplicaMaxLagMs ?? 1000
      const connect = options.connectReplica ?? ((entry: string) => connectReplica(options.redis, entry, maxLagMs))
      this.replicas = new ReplicaReads({
        primary: options.redis,
        replicas: entries.map((entry) => ({ name: entry, client: connect(entry) })),
        stampKey: new RegistryKeys(options.redis, this.cluster).k(`stamp:${this.name}`),
        maxLagMs,
        log: options.log,
      })
    }
    this.registry = new RedisRegistry({
      redis: options.redis, cluster: this.cluster, node: { name: this.name, role: 'server' },
      heartbeatMs: c.heartbeatMs, ttlMs: c.ttlMs, pollMs: c.pollMs, replicas: this.replicas, log: options.log,
    })
    this.carrier = c.carrier ?? 'dispatch'
    this.#carrier = createCarrier(this.carrier, {
      name: this.name, cluster: this.cluster, config: c, redis: options.redis, connectRedis: options.connectRedis, view: this.registry.view, log: options.log,
    })
    this.messenger = new Messenger({
      name: this.name,
      carrier: this.#carrier,
      requestTimeoutMs: c.requestTimeoutMs,
      retryMs: c.retryMs,
      log: options.log,
    })
  }

  /** Live server nodes other than this one (from the last registry poll). */
  otherServers (): string[] {
    const out: string[] = []
    for (const [name, rec] of this.registry.view.live) if (rec.role === 'server' && name !== this.name) out.push(name)
    return out
  }

  /** Registers, starts watching the registry and reaching the other nodes. */
  async start (): Promise<void> {
    const view = this.registry.view
    // before this node registers: nobody sends to it before it can receive
    await this.#carrier.start().catch((err: unknown) => {
      this.#log?.warn({ err, carrier: this.carrier }, 'cluster: the carrier cannot reach the others yet; it keeps trying')
    })
    // A record missing from one poll is not a death: Redis may have restarted empty, and every
    // node writes itself again within a heartbeat. A node still missing after its TTL is gone.
    view.on('down', (name) => {
      const timer = setTimeout(() => {
        this.#gone.delete(name)
        if (!view.live.has(name)) this.#nodeGone(name)
      }, this.#config.ttlMs)
      timer.unref()
      clearTimeout(this.#gone.get(name))
      this.#gone.set(name, timer)
    })
    const ok = await this.registry.start()
    if (!ok) this.#log?.warn({ err: this.registry.lastError }, 'cluster: Redis is not reachable yet; this node registers once it is')
    await view.watch()
    await this.replicas?.start()
    const publish = (): void => {
      // a timer: nothing here may throw (a throw would end the process)
      try {
        const links = this.messenger.links().map((l) => ({ dispatcher: l.name ?? l.address, status: l.status, rttMs: l.rttMs }))
        this.registry.setMeta({ ...this.#meta?.(), carrier: this.carrier, links })
      } catch (err) {
        this.#log?.warn({ err }, 'cluster: could not publish this node\'s figures')
      }
    }
    publish()
    this.#metaTimer = setInterval(publish, this.#config.heartbeatMs)
    this.#metaTimer.unref()
    this.#log?.info({ cluster: this.cluster, node: this.name, registered: ok }, 'cluster: joined')
  }

  #nodeGone (name: string): void {
    this.messenger.forget(name)
    this.messenger.nodeGone(name)
    this.onNodeGone(name)
    void this.#claimLeft(name)
    this.#carrier.nodeGone(name)
  }

  /** Waits for the dead node's purge (any watcher runs it), then claims the uids it took offline. */
  async #claimLeft (name: string): Promise<void> {
    const deadline = Date.now() + 10 * this.#config.ttlMs
    while (Date.now() < deadline) {
      const uids = await this.registry.view.claimLeft(name).catch(() => undefined)
      if (uids !== undefined) {
        if (uids.length > 0) this.onUidsLeft(name, uids)
        return
      }
      await new Promise((resolve) => setTimeout(resolve, this.#config.pollMs).unref())
    }
  }

  /** Waits (at most `timeoutMs`) until a route (a dispatcher link, Redis) is ready; false if none came up. */
  async linked (timeoutMs: number): Promise<boolean> {
    if (this.messenger.ready > 0) return true
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.messenger.off('links', on); resolve(false) }, timeoutMs)
      timer.unref()
      const on = (n: number): void => {
        if (n === 0) return
        clearTimeout(timer)
        this.messenger.off('links', on)
        resolve(true)
      }
      this.messenger.on('links', on)
    })
  }

  /** Every live node of the cluster, from Redis. */
  overview (): Promise<ClusterOverview> {
    return clusterOverview(this.registry.view, this.cluster)
  }

  status (): ClusterNodeStatus {
    return {
      cluster: this.cluster,
      node: this.name,
      carrier: this.carrier,
      registry: this.registry.status,
      registryError: this.registry.lastError,
      dispatchers: this.messenger.links(),
      resent: this.messenger.resent,
      ...(this.replicas && { replicas: this.replicas.status() }),
    }
  }

  /** Leaves the cluster: links closed, entries and record removed from Redis. */
  async stop (): Promise<void> {
    clearInterval(this.#metaTimer)
    for (const timer of this.#gone.values()) clearTimeout(timer)
    this.registry.view.unwatch()
    await this.messenger.close()
    await this.registry.stop()
    this.replicas?.stop()
  }
}
