/**
 * Registry reads on Redis replicas (`cluster.registryReplicas`). `pick()` names the replica a
 * lookup goes to: the first in list order that is ready, did not fail its last read and lags
 * at most `maxLagMs` (no latency probing: list the nearest first). Writes, Lua scripts and
 * the confirmation of empty answers stay on the primary (registry-reads.ts decides which).
 *
 * Lag is measured with stamps, not with INFO: every check writes a stamp (a counter) to this
 * node's stamp key on the primary and reads the key on each replica. A replica showing the
 * newest stamp written is current; one showing an older stamp lacks everything written since
 * the stamp after it, so it lags at least that long. A replica that shows no stamp of this
 * process (not replicating yet, or not a replica of this primary) is not used.
 */
import { randomBytes } from 'node:crypto'
import { Redis, type RedisOptions } from 'ioredis'
import type { Logger } from 'pino'
import { SdError } from '../core/errors.js'
import { redisOptionsFromUrl, type RedisClient } from '../data/redis.js'

/** One replica, as `ReplicaReads` is given it. */
export interface ReplicaEntry {
  /** How it is named in logs and status (its URL or path). */
  name: string
  client: RedisClient
}

/** Options of `ReplicaReads`. */
export interface ReplicaReadsOptions {
  /** The primary: stamps are written there. */
  primary: RedisClient
  /** In order of preference. */
  replicas: readonly ReplicaEntry[]
  /** This node's stamp key (as passed to the clients, which add their own keyPrefix). */
  stampKey: string
  /** A replica lagging more than this is skipped. @default 1000 */
  maxLagMs?: number
  /** Period of the lag checks. @default maxLagMs / 4, between 20 and 500 */
  checkMs?: number
  log?: Logger
}

/** A replica as `sd status` and `nodeStats()` show it. */
export interface ReplicaStatus {
  name: string
  /** The client's status (`ready`, `reconnecting`…). */
  status: string
  /** Lag found by the last check; undefined when unknown (no stamp shown yet, or the check failed). */
  lagMs: number | undefined
  /** Reads go there now. */
  used: boolean
  lastError: string | undefined
}

interface Replica extends ReplicaEntry {
  lagMs: number
  /** A read failed: skipped until a check finds it current again. */
  failed: boolean
  /** When the probe under way was sent (a replica that stops answering is skipped once it is older than maxLagMs). */
  probeSentAt: number | undefined
  lastError: string | undefined
  /** Usable at the last check (to log changes once). */
  wasUsable: boolean
}

/** Stamps kept (older ones are forgotten: a replica still showing one of them lags far too much). */
const MAX_STAMPS = 64
/** Life of the stamp key: it outlives any pause of the checks, and goes away with the node. */
const STAMP_TTL_MS = 60_000

/** Chooses where registry reads go, and measures the replicas' lag. */
export class ReplicaReads {
  readonly #primary: RedisClient
  readonly #replicas: Replica[]
  readonly #stampKey: string
  readonly #maxLagMs: number
  readonly #checkMs: number
  readonly #log: Logger | undefined
  /** Distinguishes this process's stamps from an earlier process of the same node name. */
  readonly #instance = randomBytes(6).toString('hex')
  /** Stamps the primary took, oldest first: sequence number and when it was sent. */
  readonly #stamps: Array<{ seq: number, at: number }> = []
  #seq = 0
  #timer: NodeJS.Timeout | undefined
  #stamping = false
  /** Reads answered by a replica, reads a failing replica handed to the primary, empty answers confirmed there. */
  readonly counts = { replica: 0, fallback: 0, confirmed: 0 }

  constructor (options: ReplicaReadsOptions) {
    this.#primary = options.primary
    this.#replicas = options.replicas.map((r) => ({ ...r, lagMs: Infinity, failed: false, probeSentAt: undefined, lastError: undefined, wasUsable: false }))
    this.#stampKey = options.stampKey
    this.#maxLagMs = options.maxLagMs ?? 1000
    this.#checkMs = options.checkMs ?? Math.max(20, Math.min(500, Math.floor(this.#maxLagMs / 4)))
    this.#log = options.log
  }

  get maxLagMs (): number { return this.#maxLagMs }

  /**
   * Opens the replica connections and starts the periodic checks; resolves after the first
   * (which writes the first stamp), or after `maxLagMs` if it is not done by then (a primary
   * that is down at boot holds up nothing: reads go to the primary until a check finds a
   * replica current). A replica is checked again as soon as it connects.
   */
  async start (): Promise<void> {
    if (this.#timer) return
    this.#timer = setInterval(() => { void this.check() }, this.#checkMs)
    this.#timer.unref()
    for (const r of this.#replicas) {
      r.client.on('ready', () => { void this.check() })
      if (r.client.status === 'wait') r.client.connect().catch(() => {}) // it retries by itself
    }
    let bound: NodeJS.Timeout | undefined
    await Promise.race([this.check(), new Promise<void>((resolve) => { bound = setTimeout(resolve, this.#maxLagMs) })])
    clearTimeout(bound)
  }

  /** Stops the checks and closes the replica connections. */
  stop (): void {
    clearInterval(this.#timer)
    this.#timer = undefined
    for (const r of this.#replicas) r.client.disconnect()
  }

  /** The replica to read from now, or undefined: read the primary. */
  pick (): RedisClient | undefined {
    const now = Date.now()
    for (const r of this.#replicas) if (this.#usable(r, now)) return r.client
    return undefined
  }

  #usable (r: Replica, now: number): boolean {
    return r.client.status === 'ready' && !r.failed && r.lagMs <= this.#maxLagMs &&
      (r.probeSentAt === undefined || now - r.probeSentAt <= this.#maxLagMs)
  }

  /** A read on `client` failed: it is skipped until a check finds it current again. */
  failed (client: RedisClient, err: unknown): void {
    this.counts.fallback++
    const r = this.#replicas.find((x) => x.client === client)
    if (r === undefined) return
    r.failed = true
    r.lastError = err instanceof Error ? err.message : String(err)
  }

  /**
   * One check: writes a new stamp on the primary and, at the same time, reads each replica's
   * (a replica then shows the previous stamp at best, which counts as current when the new one
   * is not acknowledged yet or was sent after the read). A stamp or probe still under way from
   * an earlier check (a server that stopped answering) is not started again: it holds up nothing else.
   */
  async check (): Promise<void> {
    await Promise.all([this.#stamp(), ...this.#replicas.map((r) => this.#probe(r))])
    this.#logChanges()
  }

  async #stamp (): Promise<void> {
    if (this.#stamping) return
    this.#stamping = true
    const seq = ++this.#seq
    const at = Date.now()
    try {
      await this.#primary.set(this.#stampKey, `${this.#instance}:${seq}`, 'PX', STAMP_TTL_MS)
      this.#stamps.push({ seq, at })
      if (this.#stamps.length > MAX_STAMPS) this.#stamps.shift()
    } catch {
      // the primary is down: lag is measured against the stamps it took before
    } finally {
      this.#stamping = false
    }
  }

  async #probe (r: Replica): Promise<void> {
    // a probe still under way (a replica that stopped answering): #usable() looks at its age
    if (r.probeSentAt !== undefined) return
    if (r.client.status !== 'ready') {
      r.lagMs = Infinity
      return
    }
    const sent = Date.now()
    r.probeSentAt = sent
    try {
      const value = await r.client.get(this.#stampKey)
      r.lagMs = this.lagOf(value, sent)
      r.failed = false
    } catch (err) {
      r.lagMs = Infinity
      r.lastError = err instanceof Error ? err.message : String(err)
    } finally {
      r.probeSentAt = undefined
    }
  }

  /** The lag of a replica that showed `value` at time `at`: how long ago the first stamp it lacks was sent. */
  lagOf (value: string | null, at: number): number {
    const prefix = `${this.#instance}:`
    if (value === null || !value.startsWith(prefix)) return Infinity
    const seq = Number(value.slice(prefix.length))
    if (!Number.isInteger(seq)) return Infinity
    // (a stamp older than every one kept: the first kept is long ago, so the lag is large)
    for (const s of this.#stamps) if (s.seq > seq) return Math.max(0, at - s.at)
    return 0 // it shows the newest stamp acknowledged
  }

  #logChanges (): void {
    const now = Date.now()
    for (const r of this.#replicas) {
      const usable = this.#usable(r, now)
      if (usable === r.wasUsable) continue
      r.wasUsable = usable
      if (usable) {
        this.#log?.info({ replica: r.name, lagMs: r.lagMs }, 'cluster registry: reading from a replica')
      } else {
        const why = r.client.status !== 'ready' ? `connection ${r.client.status}` : r.failed ? `a read failed: ${r.lastError}` : r.lagMs === Infinity ? 'no current stamp' : `lag ${r.lagMs} ms`
        this.#log?.warn({ replica: r.name, why, maxLagMs: this.#maxLagMs }, 'cluster registry: a replica is skipped; reads go to the next one or the primary')
      }
    }
  }

  status (): ReplicaStatus[] {
    const used = this.pick()
    return this.#replicas.map((r) => ({
      name: r.name, status: r.client.status, lagMs: Number.isFinite(r.lagMs) ? r.lagMs : undefined, used: r.client === used, lastError: r.lastError,
    }))
  }
}

/**
 * Where a `cluster.registryReplicas` entry points: `unix:/path` (or a bare `/path`) is a unix
 * socket; `redis://[user:password@]host[:port][/db]`, `rediss://…` (TLS) or `host:port` a TCP
 * address. Throws SD_ERR_CONFIG_INVALID for anything else.
 */
export function replicaAddress (entry: string): Partial<RedisOptions> {
  let target: Partial<RedisOptions>
  try {
    target = redisOptionsFromUrl(entry)
  } catch (err) {
    throw new SdError('SD_ERR_CONFIG_INVALID', `cluster.registryReplicas entry ${(err as Error).message.replace(/^[^"]*/, '')}`)
  }
  if (target.username === '') delete target.username // `redis://:password@host`: AUTH with the password only
  if (target.path === undefined && target.host === undefined) {
    throw new SdError('SD_ERR_CONFIG_INVALID', `cluster.registryReplicas entry ${JSON.stringify(entry)} names no host`)
  }
  // the address is the replica's own: nothing of the primary's (path or host, port, TLS) is kept
  return target.path !== undefined
    ? { ...target, host: undefined, port: undefined, tls: undefined }
    : { path: undefined, port: 6379, tls: undefined, ...target }
}

/**
 * A connection (opened by `ReplicaReads.start()`) to the replica at `entry`, with the primary's options (key prefix, password,
 * database) but its own address; it fails fast (no offline queue, no retry of a command cut by
 * a dropped connection, a command timeout of `maxLagMs`), so a read it cannot answer goes to
 * the primary at once. The primary must be a single Redis or Sentinel client.
 */
export function connectReplica (primary: RedisClient, entry: string, maxLagMs: number): RedisClient {
  if (!(primary instanceof Redis)) {
    throw new SdError('SD_ERR_CONFIG_INVALID', 'cluster.registryReplicas needs a single Redis or Sentinel (redis.url or redis.sentinels): on Redis Cluster, reads are spread by the cluster itself')
  }
  const client = primary.duplicate({
    ...replicaAddress(entry),
    sentinels: undefined,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: Math.max(1, maxLagMs),
    lazyConnect: true, // opened by ReplicaReads.start()
  })
  // its errors show in status() and in the log once per change (ReplicaReads), not per attempt
  client.on('error', () => {})
  return client
}
