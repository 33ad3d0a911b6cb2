/**
 * The read side of the cluster registry: lookups (uid → nodes, group counts, online count),
 * the list of nodes and dispatchers, purging dead nodes, and `watch()`, which polls for nodes
 * appearing and disappearing. It writes nothing of its own, so a status command or a
 * dispatcher can use it without holding any uid. Key layout: registry-scripts.ts.
 *
 * With replicas (registry-replicas.ts), lookups read a replica when one is usable; an empty
 * answer about uids or a group's nodes is read again on the primary (replica lag must never
 * make a user look offline), counts are not (they may lag by up to the replicas' max lag).
 * The node list, purges and claims are scripts: they stay on the primary.
 */
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { RedisClient } from '../data/redis.js'
import type { ClusterRole } from './link-auth.js'
import type { ReplicaReads } from './registry-replicas.js'
import { CLAIM_LEFT, PURGE, SNAPSHOT, RegistryKeys, runScript } from './registry-scripts.js'

/** A node as the registry records it. */
export interface NodeRecord {
  name: string
  role: ClusterRole
  /** Where its link port listens (dispatchers), or its public address (servers). */
  host?: string
  port?: number
  pid: number
  /** ms since the epoch. */
  startedAt: number
  /** Time of the heartbeat that wrote this record, ms since the epoch. */
  heartbeatAt: number
  /** Free-form figures (connections, link health), refreshed with each heartbeat. */
  meta?: Record<string, unknown>
}

/** Options of `RegistryView`. */
export interface RegistryViewOptions {
  /** A Redis client (single node or Cluster); its own `keyPrefix` applies. */
  redis: RedisClient
  /** Cluster name: the `{hash tag}` of every key. @default 'default' */
  cluster?: string
  /** Prefix put before `{cluster}:`. @default '' if the client has a keyPrefix (the framework's: 'sd:'), else 'sd:' */
  keyPrefix?: string
  /** Period of `watch()` polls. @default 500 */
  pollMs?: number
  /** Uids removed per purge step (each step is one short script). @default 1000 */
  purgeBatch?: number
  /** A node `watch()` must not purge (the caller itself: its own heartbeat repairs it). */
  self?: string
  /** Replicas that take the lookups (`cluster.registryReplicas`); without them every read goes to `redis`. */
  replicas?: ReplicaReads
  log?: Logger
}

/** Events of `watch()`. */
export interface RegistryViewEvents {
  /** A node appeared (or its record came back). */
  up: [record: NodeRecord]
  /** A node's record expired or was removed. */
  down: [name: string]
  /** A dead node's entries were removed (by this view). */
  purged: [name: string]
}

/** Reads the registry of one cluster. */
export class RegistryView extends EventEmitter<RegistryViewEvents> {
  readonly #redis: RedisClient
  readonly #replicas: ReplicaReads | undefined
  readonly keys: RegistryKeys
  readonly #pollMs: number
  readonly #purgeBatch: number
  readonly #self: string | undefined
  readonly #log: Logger | undefined
  #poll: NodeJS.Timeout | undefined
  #polling = false
  #live = new Map<string, NodeRecord>()
  readonly #purging = new Set<string>()
  /** Last Redis error seen by a poll or purge (status pages). */
  lastError: string | undefined

  constructor (options: RegistryViewOptions) {
    super()
    this.#redis = options.redis
    this.#replicas = options.replicas
    this.keys = new RegistryKeys(options.redis, options.cluster ?? 'default', options.keyPrefix)
    this.#pollMs = options.pollMs ?? 500
    this.#purgeBatch = options.purgeBatch ?? 1000
    this.#self = options.self
    this.#log = options.log
  }

  /** Lookups may read a replica (`cluster.registryReplicas`). */
  get readsReplicas (): boolean { return this.#replicas !== undefined }

  /** How far a replica in use may lag (`cluster.registryReplicaMaxLagMs`); undefined without replicas. */
  get replicaMaxLagMs (): number | undefined { return this.#replicas?.maxLagMs }

  /** Nodes seen alive by the last `watch()` poll, by name. */
  get live (): ReadonlyMap<string, NodeRecord> { return this.#live }

  // ---- lookups -------------------------------------------------------------------------------

  /**
   * Runs `run` on a usable replica, else on the primary. A replica whose read fails hands it to
   * the primary (and is skipped until its next check); an answer `empty()` calls empty is read
   * again on the primary.
   */
  async #read<T> (replicas: ReplicaReads, run: (redis: RedisClient) => Promise<T>, empty?: (value: T) => boolean): Promise<T> {
    const replica = replicas.pick()
    if (replica === undefined) return run(this.#redis)
    let value: T
    try {
      value = await run(replica)
    } catch (err) {
      replicas.failed(replica, err)
      return run(this.#redis)
    }
    replicas.counts.replica++
    if (empty === undefined || !empty(value)) return value
    replicas.counts.confirmed++
    return run(this.#redis)
  }

  /** Nodes holding `uid`; `fresh`: read on the primary (a cached or replica answer proved stale). */
  uidNodes (uid: string, fresh = false): Promise<string[]> {
    const key = this.keys.k(`uid:${uid}`)
    if (this.#replicas === undefined || fresh) return this.#redis.smembers(key)
    return this.#read(this.#replicas, (r) => r.smembers(key), (nodes) => nodes.length === 0)
  }

  /**
   * Nodes holding each uid (uids online nowhere are left out). One round trip (two when a
   * replica missed some); `fresh`: read on the primary (a replica's answer proved stale).
   */
  async uidsNodes (uids: readonly string[], fresh = false): Promise<Map<string, string[]>> {
    const unique = [...new Set(uids)]
    if (unique.length === 0) return new Map()
    const replicas = this.#replicas
    const replica = fresh ? undefined : replicas?.pick()
    if (replicas === undefined || replica === undefined) return this.#uidsNodesOn(this.#redis, unique)
    let out: Map<string, string[]>
    try {
      out = await this.#uidsNodesOn(replica, unique)
    } catch (err) {
      replicas.failed(replica, err)
      return this.#uidsNodesOn(this.#redis, unique)
    }
    replicas.counts.replica++
    if (out.size === unique.length) return out
    // uids the replica has nowhere are confirmed on the primary
    replicas.counts.confirmed++
    for (const [uid, nodes] of await this.#uidsNodesOn(this.#redis, unique.filter((u) => !out.has(u)))) out.set(uid, nodes)
    return out
  }

  async #uidsNodesOn (redis: RedisClient, unique: readonly string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>()
    const pipe = redis.pipeline()
    for (const uid of unique) pipe.smembers(this.keys.k(`uid:${uid}`))
    const results = await pipe.exec() ?? []
    results.forEach(([err, nodes], i) => {
      if (err) throw err
      if (Array.isArray(nodes) && nodes.length > 0) out.set(unique[i], nodes as string[])
    })
    return out
  }

  /** True when some node holds `uid` (a replica's "no" is confirmed on the primary). */
  async isUidOnline (uid: string): Promise<boolean> {
    const key = this.keys.k(`uid:${uid}`)
    if (this.#replicas === undefined) return (await this.#redis.exists(key)) === 1
    return this.#read(this.#replicas, async (r) => (await r.exists(key)) === 1, (online) => !online)
  }

  /** Distinct uids online, cluster-wide. */
  onlineCount (): Promise<number> {
    const key = this.keys.k('online')
    return this.#replicas === undefined ? this.#redis.scard(key) : this.#read(this.#replicas, (r) => r.scard(key))
  }

  /** Connections in `group`, cluster-wide. */
  async groupCount (group: string): Promise<number> {
    const key = this.keys.k('groups')
    if (this.#replicas === undefined) return Number(await this.#redis.zscore(key, group) ?? 0)
    return this.#read(this.#replicas, async (r) => Number(await r.zscore(key, group) ?? 0))
  }

  /** Nodes with connections in `group`, with how many each (a replica's "none" is confirmed on the primary). */
  async groupNodes (group: string): Promise<Map<string, number>> {
    const key = this.keys.k(`group:${group}`)
    if (this.#replicas === undefined) return nodeCounts(await this.#redis.hgetall(key))
    return this.#read(this.#replicas, async (r) => nodeCounts(await r.hgetall(key)), (nodes) => nodes.size === 0)
  }

  /** Groups with at least one connection, cluster-wide. */
  groups (): Promise<string[]> {
    const key = this.keys.k('groups')
    return this.#replicas === undefined ? this.#redis.zrangebyscore(key, '(0', '+inf') : this.#read(this.#replicas, (r) => r.zrangebyscore(key, '(0', '+inf'))
  }

  // ---- nodes -----------------------------------------------------------------------------------

  /** Every registered node: alive (record present) and `dead` (record expired, not purged yet). */
  async snapshot (): Promise<{ live: NodeRecord[], dead: string[] }> {
    const flat = await runScript(this.#redis, SNAPSHOT, [this.keys.k('servers'), this.keys.k('dispatchers')], [this.keys.stored]) as string[]
    const live: NodeRecord[] = []
    const dead: string[] = []
    for (let i = 0; i < flat.length; i += 2) {
      const rec = flat[i + 1] ? parseRecord(flat[i + 1]) : undefined
      if (rec) live.push(rec)
      else dead.push(flat[i])
    }
    return { live, dead }
  }

  /** Dispatch servers alive now. */
  async dispatchers (): Promise<NodeRecord[]> {
    return (await this.snapshot()).live.filter((r) => r.role === 'dispatch')
  }

  /**
   * Removes a dead node's uids, group counts and name. Does nothing (false) while its record
   * exists: a live node is never purged. Idempotent, safe to run from several nodes at once.
   * `force` deletes the record first (a node deregistering itself).
   */
  async purge (node: string, force = false): Promise<boolean> {
    const k = this.keys.node(node)
    const keys = [k.record, k.nuids, k.online, k.ngroups, k.groups, this.keys.k('servers'), this.keys.k('dispatchers')]
    for (;;) {
      const r = Number(await runScript(this.#redis, PURGE, keys, [this.keys.stored, node, this.#purgeBatch, force ? '1' : '0']))
      if (r === -1) return false
      if (r === 0) return true
      force = false
    }
  }

  /**
   * The uids that went offline when dead `node` was purged, to the first server that asks
   * (so one server announces them); [] to the others; undefined while the purge is not done.
   */
  async claimLeft (node: string): Promise<string[] | undefined> {
    const keys = [this.keys.node(node).nuids, this.keys.k(`left:${node}`), this.keys.k('servers')]
    const r = await runScript(this.#redis, CLAIM_LEFT, keys, [node])
    return Array.isArray(r) ? r.map(String) : undefined
  }

  // ---- watch ---------------------------------------------------------------------------------

  /**
   * Polls every `pollMs`: emits `up` / `down` as records appear and expire, and purges dead
   * nodes. Resolves after the first poll.
   */
  async watch (): Promise<void> {
    if (this.#poll) return
    this.#poll = setInterval(() => { void this.poll() }, this.#pollMs)
    this.#poll.unref()
    await this.poll()
  }

  /** Stops polling. */
  unwatch (): void {
    clearInterval(this.#poll)
    this.#poll = undefined
  }

  /** One poll (what `watch()` runs every `pollMs`). */
  async poll (): Promise<void> {
    if (this.#polling) return
    this.#polling = true
    try {
      const { live, dead } = await this.snapshot()
      const now = new Map(live.map((r) => [r.name, r]))
      const before = this.#live
      this.#live = now
      for (const [name, rec] of now) if (!before.has(name)) this.emit('up', rec)
      for (const name of before.keys()) if (!now.has(name)) this.emit('down', name)
      for (const name of dead) if (name !== this.#self) void this.#purgeDead(name)
    } catch (err) {
      this.lastError = err instanceof Error ? err.message : String(err)
    } finally {
      this.#polling = false
    }
  }

  async #purgeDead (name: string): Promise<void> {
    if (this.#purging.has(name)) return
    this.#purging.add(name)
    try {
      if (await this.purge(name)) {
        this.#log?.info({ node: name }, 'cluster registry: purged a dead node')
        this.emit('purged', name)
      }
    } catch (err) {
      this.lastError = err instanceof Error ? err.message : String(err)
    } finally {
      this.#purging.delete(name)
    }
  }
}

/** A group's hash (node → count) as numbers. */
function nodeCounts (hash: Record<string, string>): Map<string, number> {
  return new Map(Object.entries(hash).map(([n, c]) => [n, Number(c)]))
}

function parseRecord (json: string): NodeRecord | undefined {
  try {
    const r = JSON.parse(json) as NodeRecord
    return typeof r?.name === 'string' && (r.role === 'server' || r.role === 'dispatch') ? r : undefined
  } catch {
    return undefined
  }
}
