/**
 * The Redis registry of gateways: a gateway announces `{ name, host, port }` (its link
 * address) and keeps it alive with heartbeats; workers list the live ones to link to them.
 *
 * One sorted set, `sd:{<cluster>}:gateways`: member = the entry as JSON, score = its expiry
 * (Redis's own clock, `TIME`, so gateways on machines with skewed clocks agree). One key
 * under the cluster's hash tag works on Redis Cluster, and a list is one read (no SCAN of
 * per-gateway keys, which on Redis Cluster would have to visit the right node). Expired
 * members are dropped by each list; the key itself expires when no gateway beats any more.
 */
import { createHash } from 'node:crypto'
import type { Logger } from 'pino'
import type { RedisClient } from '../data/redis.js'
import { isValidNodeName } from '../cluster/link-auth.js'
import { RegistryKeys, runScript, type Script } from '../cluster/registry-scripts.js'

/** A gateway as the registry holds it: its node name and link address. */
export interface GatewayEntry {
  name: string
  host: string
  port: number
}

/** Options of `GatewayRegistry`. */
export interface GatewayRegistryOptions {
  /** A Redis client (single node or Cluster); its own `keyPrefix` applies. */
  redis: RedisClient
  /** Cluster name: the `{hash tag}` of the key. @default 'default' */
  cluster?: string
  /** Prefix put before `{cluster}:`. @default '' if the client has a keyPrefix (the framework's: 'sd:'), else 'sd:' */
  keyPrefix?: string
  log?: Logger
  /** Heartbeat period of an announced entry. @default 1000 */
  heartbeatMs?: number
  /** Life of an entry without heartbeat. @default 5000 */
  ttlMs?: number
}

function script (src: string): Script {
  return { src, sha: createHash('sha1').update(src).digest('hex') }
}

const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`

/** KEYS[1] set; ARGV: member, ttlMs, previous member ('' for none). */
const ANNOUNCE = script(`${NOW}
local ttl = tonumber(ARGV[2])
if ARGV[3] ~= '' and ARGV[3] ~= ARGV[1] then redis.call('ZREM', KEYS[1], ARGV[3]) end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
if redis.call('PTTL', KEYS[1]) < ttl * 2 then redis.call('PEXPIRE', KEYS[1], ttl * 2) end
return 1`)

/** KEYS[1] set: drops the expired members, returns the live ones. */
const LIST = script(`${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')`)

/** The entry of a member, or undefined when it is not one (written by something else, or corrupt). */
export function parseGatewayEntry (member: string): GatewayEntry | undefined {
  let v: unknown
  try { v = JSON.parse(member) } catch { return undefined }
  if (typeof v !== 'object' || v === null) return undefined
  const { name, host, port } = v as Record<string, unknown>
  if (typeof name !== 'string' || !isValidNodeName(name)) return undefined
  if (typeof host !== 'string' || host === '' || host.length > 255 || /[\s\x00-\x1f]/.test(host)) return undefined
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) return undefined
  return { name, host, port }
}

/** The gateways of one cluster in Redis: announce one, list them. */
export class GatewayRegistry {
  readonly #redis: RedisClient
  readonly #key: string
  readonly #log: Logger | undefined
  readonly #heartbeatMs: number
  readonly #ttlMs: number
  /** The member this process announces (kept byte for byte: the heartbeat rewrites its score). */
  #member: string | undefined
  #heartbeat: NodeJS.Timeout | undefined
  /** True after a failed heartbeat, so an outage logs once. */
  #failing = false
  #closed = false

  constructor (options: GatewayRegistryOptions) {
    this.#redis = options.redis
    this.#key = new RegistryKeys(options.redis, options.cluster ?? 'default', options.keyPrefix).k('gateways')
    this.#log = options.log
    this.#heartbeatMs = options.heartbeatMs ?? 1000
    this.#ttlMs = options.ttlMs ?? 5000
  }

  /** Announces `entry` (replacing one announced before) and starts its heartbeat; rejects when Redis cannot be reached (the heartbeat keeps trying). */
  async announce (entry: GatewayEntry): Promise<void> {
    if (this.#closed) throw new Error('gateway registry is closed')
    const member = JSON.stringify({ name: entry.name, host: entry.host, port: entry.port })
    if (!parseGatewayEntry(member)) throw new Error(`invalid gateway entry ${member}`)
    const previous = this.#member
    this.#member = member
    this.#heartbeat ??= setInterval(() => { void this.#beat() }, this.#heartbeatMs).unref()
    await runScript(this.#redis, ANNOUNCE, [this.#key], [member, this.#ttlMs, previous ?? ''])
  }

  async #beat (): Promise<void> {
    if (this.#member === undefined) return
    try {
      await runScript(this.#redis, ANNOUNCE, [this.#key], [this.#member, this.#ttlMs, ''])
      if (this.#failing) this.#log?.info('gateway registry: announced again')
      this.#failing = false
    } catch (err) {
      if (!this.#failing) this.#log?.warn({ err: (err as Error).message }, 'gateway registry: a heartbeat failed; retrying')
      this.#failing = true
    }
  }

  /** Stops the heartbeat and removes the announced entry (workers stop finding this gateway). */
  async withdraw (): Promise<void> {
    clearInterval(this.#heartbeat)
    this.#heartbeat = undefined
    const member = this.#member
    this.#member = undefined
    if (member !== undefined) await this.#redis.zrem(this.#key, member)
  }

  /** The live gateways, one per name (malformed members are skipped, never thrown). */
  async list (): Promise<GatewayEntry[]> {
    const members = await runScript(this.#redis, LIST, [this.#key], []) as unknown
    const byName = new Map<string, GatewayEntry>()
    // ascending expiry: a later entry of the same name is the fresher one
    for (const m of Array.isArray(members) ? members : []) {
      const entry = typeof m === 'string' ? parseGatewayEntry(m) : undefined
      if (entry) byName.set(entry.name, entry)
    }
    return [...byName.values()]
  }

  /** Stops the heartbeat (the entry expires by itself; `withdraw()` removes it at once). The client is the caller's. */
  async close (): Promise<void> {
    this.#closed = true
    clearInterval(this.#heartbeat)
    this.#heartbeat = undefined
  }
}
