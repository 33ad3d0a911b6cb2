/**
 * Redis through ioredis: one shared command connection per process with auto-pipelining
 * (commands issued in the same event-loop turn go out as one pipeline), plus dedicated
 * connections for subscribe and blocking commands, which cannot share it. Single node (over TCP
 * or a unix socket), Redis Cluster or Sentinel, chosen by config.
 */
import { Redis, Cluster, type RedisOptions } from 'ioredis'
import type { Logger } from 'pino'
import { SdError } from '../core/errors.js'
import { redisOptionsFromUrl, type RedisTarget } from './redis-url.js'

export { redisOptionsFromUrl, type RedisTarget } from './redis-url.js'

/** `config/redis.ts`. */
export interface RedisConfig {
  /**
   * `redis://host:port/db`, or a unix socket: `unix:/run/redis/redis.sock`,
   * `redis+unix:///run/redis/redis.sock?db=1` (docs/models.md); env `REDIS_URL`. Empty (and no
   * path, cluster or sentinels): Redis is off. @default ''
   */
  url: string
  /**
   * Unix socket of a Redis server on this machine (`/run/redis/redis.sock`): when set, Redis is
   * reached through it, and `url` gives only the user, password and db. @default ''
   */
  path: string
  /** Redis Cluster start nodes (`host:port`); when set, `url` is ignored. @default [] */
  cluster: string[]
  /** Sentinels (`host:port`) and the master name; when set, `url` is ignored. @default [] */
  sentinels: string[]
  /** Master name for Sentinel. @default 'mymaster' */
  sentinelName: string
  /** Prefix of every key this app uses. @default 'sd:' */
  keyPrefix: string
  /** Retries of a command while disconnected before it fails (fail fast during an outage). @default 1 */
  maxRetriesPerRequest: number
  /** How long a connect may take. @default 5000 */
  connectTimeoutMs: number
  /**
   * Longest wait between reconnect attempts (ioredis grows it by 100 ms per attempt up to this).
   * It bounds how long a command issued during an outage waits before it fails. @default 1000
   */
  reconnectMaxDelayMs: number
}

/** A Redis client: a single node/Sentinel connection or a cluster. */
export type RedisClient = Redis | Cluster

function hostPort (s: string): { host: string, port: number } {
  const i = s.lastIndexOf(':')
  return { host: s.slice(0, i), port: Number(s.slice(i + 1)) }
}

/** True when the config names a Redis server (url, socket path, cluster nodes or sentinels). */
export function redisConfigured (c: RedisConfig): boolean {
  return c.url !== '' || c.path !== '' || c.cluster.length > 0 || c.sentinels.length > 0
}

/** The single server `url` and `path` name (a socket `path` replaces the URL's host and port). */
function singleTarget (c: RedisConfig): RedisTarget {
  const target = c.url === '' ? {} : redisOptionsFromUrl(c.url)
  if (c.path !== '') {
    delete target.host
    delete target.port
    delete target.tls
    target.path = c.path
  }
  return target
}

/** The Redis connections of one process. */
export class RedisConnections {
  readonly #config: RedisConfig
  readonly #log: Logger
  /** The server of a single-node config, read once (a bad URL fails when the app is made). */
  readonly #target: RedisTarget | undefined
  #shared: RedisClient | undefined
  readonly #dedicated = new Set<RedisClient>()

  constructor (config: RedisConfig, log: Logger) {
    this.#config = config
    this.#log = log
    const single = config.cluster.length === 0 && config.sentinels.length === 0 && (config.url !== '' || config.path !== '')
    this.#target = single ? singleTarget(config) : undefined
  }

  get configured (): boolean {
    return redisConfigured(this.#config)
  }

  #create (): RedisClient {
    const c = this.#config
    if (!this.configured) throw new SdError('SD_ERR_REDIS_UNAVAILABLE', 'Redis is not configured (config/redis.ts or REDIS_URL)')
    const options: RedisOptions = {
      keyPrefix: c.keyPrefix,
      enableAutoPipelining: true,
      maxRetriesPerRequest: c.maxRetriesPerRequest,
      connectTimeout: c.connectTimeoutMs,
      retryStrategy: (attempt: number) => Math.min(attempt * 100, c.reconnectMaxDelayMs),
    }
    let client: RedisClient
    if (c.cluster.length > 0) {
      client = new Cluster(c.cluster.map(hostPort), { redisOptions: options, enableAutoPipelining: true, keyPrefix: c.keyPrefix })
    } else if (c.sentinels.length > 0) {
      client = new Redis({ ...options, sentinels: c.sentinels.map(hostPort), name: c.sentinelName })
    } else {
      // what the URL names wins over the defaults above, as when ioredis reads the URL itself
      client = new Redis({ ...options, ...this.#target })
    }
    client.on('error', (err: Error) => this.#log.warn({ err: err.message }, 'redis error'))
    return client
  }

  /** The shared command connection (auto-pipelined). */
  get shared (): RedisClient {
    this.#shared ??= this.#create()
    return this.#shared
  }

  /**
   * A dedicated connection, for SUBSCRIBE or blocking commands (BLPOP…). ioredis re-subscribes
   * its channels by itself after a reconnect. Closed with the others on shutdown.
   */
  dedicated (): RedisClient {
    const client = this.#create()
    this.#dedicated.add(client)
    client.once('end', () => this.#dedicated.delete(client))
    return client
  }

  /** Status of each connection made so far (ioredis' `status`: `ready`, `connecting`, `reconnecting`, `end`…); none is made for this. */
  clients (): Array<{ role: 'shared' | 'dedicated', status: string }> {
    const out: Array<{ role: 'shared' | 'dedicated', status: string }> = []
    if (this.#shared) out.push({ role: 'shared', status: this.#shared.status })
    for (const c of this.#dedicated) out.push({ role: 'dedicated', status: c.status })
    return out
  }

  async close (): Promise<void> {
    const all = [this.#shared, ...this.#dedicated].filter((c): c is RedisClient => c !== undefined)
    this.#shared = undefined
    this.#dedicated.clear()
    // quit() lets queued commands finish on a live connection; a client that is down or
    // reconnecting is disconnected outright, which also cancels its reconnect timer
    await Promise.all(all.map(async (c) => {
      if (c.status !== 'ready') return c.disconnect()
      try { await c.quit() } catch { c.disconnect() }
    }))
  }
}
