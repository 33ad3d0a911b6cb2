/**
 * The history in Redis (`HistoryStore`), shared by every process and server using the same
 * Redis and cluster name, and kept across restarts. Per stream: a Redis Stream of entries
 * `P h:<stream>` (id `<offset>-0`, fields t = ms, d = JSON text, a = ack id) and a hash
 * `P hm:<stream>` (epoch, top), P = `<keyPrefix>{<cluster>}:` (one hash tag: Redis Cluster safe).
 * Acks travel on the pub/sub channel `P ack:<owner>`, heard on a dedicated connection.
 */
import type { AckListener, HistoryLimits, HistoryStore, RecoveredEntry, RecoveredStream, StreamPosition } from '../connection/history.js'
import { META_MIN_TTL_MS, randomName, recoverGap } from '../connection/memory-history.js'
import type { RedisClient } from './redis.js'

/** What a Redis history needs. */
export interface RedisHistoryOptions extends HistoryLimits {
  /** The shared command connection (its keyPrefix applies to the keys). */
  redis: RedisClient
  /** Opens the dedicated subscriber connection (on the first `onAck`). */
  connect: () => RedisClient
  /** Cluster name: the `{hash tag}` of the keys. */
  cluster: string
}

// KEYS: entries, meta; ARGV: data, ack ('' none), maxCount, entries ttl, meta ttl, new epoch, now ms
const APPEND = `
local epoch = redis.call('HGET', KEYS[2], 'epoch')
if not epoch then
  epoch = ARGV[6]
  redis.call('HSET', KEYS[2], 'epoch', epoch, 'top', 0)
  redis.call('DEL', KEYS[1])
end
local top = redis.call('HINCRBY', KEYS[2], 'top', 1)
if ARGV[2] == '' then
  redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[3], top .. '-0', 't', ARGV[7], 'd', ARGV[1])
else
  redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[3], top .. '-0', 't', ARGV[7], 'd', ARGV[1], 'a', ARGV[2])
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return {epoch, top}
`

// KEYS: meta, entries; ARGV: new epoch, meta ttl. A new epoch drops entries left without their
// meta (evicted under maxmemory): their ids would be above the new top and fail every XADD.
const POSITION = `
local m = redis.call('HMGET', KEYS[1], 'epoch', 'top')
if m[1] then return {m[1], tonumber(m[2])} end
redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'top', 0)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('DEL', KEYS[2])
return {ARGV[1], 0}
`

type Commands = {
  sdHistoryAppend (entries: string, meta: string, ...args: Array<string | number>): Promise<[string, number]>
  sdHistoryPosition (meta: string, entries: string, ...args: Array<string | number>): Promise<[string, number]>
}

/** Entries read per XRANGE while skipping those older than maxAgeMs. */
const READ_BATCH = 100

/** The history of every process sharing one Redis. */
export class RedisHistory implements HistoryStore {
  readonly owner = randomName(12)
  readonly #options: RedisHistoryOptions
  readonly #redis: RedisClient & Commands
  /** Prefix as passed to commands (the client adds its keyPrefix). */
  readonly #prefix: string
  /** Prefix as stored (channels are not prefixed by the client). */
  readonly #stored: string
  readonly #metaTtlMs: number
  readonly #listeners: AckListener[] = []
  #sub: RedisClient | undefined

  constructor (options: RedisHistoryOptions) {
    if (!/^[^{}\s]+$/.test(options.cluster)) throw new Error(`invalid cluster name ${JSON.stringify(options.cluster)}: no spaces or braces`)
    this.#options = options
    const redis = options.redis
    const clientOptions = redis.options as { keyPrefix?: string, redisOptions?: { keyPrefix?: string } }
    const clientPrefix = clientOptions.keyPrefix ?? clientOptions.redisOptions?.keyPrefix ?? ''
    this.#prefix = `${clientPrefix ? '' : 'sd:'}{${options.cluster}}:`
    this.#stored = clientPrefix + this.#prefix
    this.#metaTtlMs = Math.max(options.maxAgeMs, META_MIN_TTL_MS)
    if (!('sdHistoryAppend' in redis)) {
      redis.defineCommand('sdHistoryAppend', { numberOfKeys: 2, lua: APPEND })
      redis.defineCommand('sdHistoryPosition', { numberOfKeys: 2, lua: POSITION })
    }
    this.#redis = redis as RedisClient & Commands
  }

  /** A new epoch: unique enough that another store's (or a lost one's) never matches. */
  #newEpoch (): string {
    return randomName(10)
  }

  async append (stream: string, data: unknown, ack?: string): Promise<StreamPosition> {
    const o = this.#options
    const [epoch, top] = await this.#redis.sdHistoryAppend(this.#prefix + 'h:' + stream, this.#prefix + 'hm:' + stream,
      JSON.stringify(data ?? null), ack ?? '', o.maxCount, o.maxAgeMs, this.#metaTtlMs, this.#newEpoch(), Date.now())
    return { epoch, offset: Number(top) }
  }

  async position (stream: string): Promise<StreamPosition> {
    const [epoch, top] = await this.#redis.sdHistoryPosition(this.#prefix + 'hm:' + stream, this.#prefix + 'h:' + stream, this.#newEpoch(), this.#metaTtlMs)
    return { epoch, offset: Number(top) }
  }

  async recover (stream: string, since: StreamPosition, limit: number, maxBytes = Infinity): Promise<RecoveredStream> {
    // the position first: entries are read up to that top, so the two agree
    const { epoch, offset: top } = await this.position(stream)
    const sameEpoch = since.epoch === epoch
    const entries: RecoveredEntry[] = []
    if (!(sameEpoch && since.offset > top) && limit > 0) {
      const oldest = Date.now() - this.#options.maxAgeMs
      let from = (sameEpoch ? since.offset : 0) + 1
      let bytes = 0
      read: while (entries.length < limit && from <= top) {
        const rows = await this.#options.redis.xrange(this.#prefix + 'h:' + stream, `${from}-0`, `${top}-0`, 'COUNT', READ_BATCH) as Array<[string, string[]]>
        for (const [id, fields] of rows) {
          const entry = toEntry(id, fields)
          from = entry.offset + 1
          if (entry.t < oldest) continue
          bytes += entry.bytes
          if (bytes > maxBytes && entries.length > 0) break read
          entries.push(entry.entry)
          if (entries.length >= limit) break
        }
        if (rows.length < READ_BATCH) break
      }
    }
    return { epoch, offset: top, gap: recoverGap(sameEpoch, since, top, entries), entries }
  }

  sendAck (owner: string, ackId: string, connectionId: string, uid: string): void {
    if (owner === this.owner && this.#listeners.length > 0) {
      for (const fn of this.#listeners) fn(ackId, connectionId, uid)
      return
    }
    this.#options.redis.publish(this.#channel(owner), JSON.stringify([ackId, connectionId, uid])).catch(() => {})
  }

  onAck (listener: AckListener): void {
    this.#listeners.push(listener)
    if (this.#sub !== undefined) return
    const sub = this.#sub = this.#options.connect()
    sub.on('message', (_channel: string, message: string) => this.#heard(message))
    // ioredis subscribes again by itself after a reconnect
    sub.subscribe(this.#channel(this.owner)).catch(() => {})
  }

  /** Resolves once the ack channel is subscribed (tests; a process that must not miss the first ack). */
  async ready (): Promise<void> {
    if (this.#sub === undefined) return
    await this.#sub.subscribe(this.#channel(this.owner))
  }

  #heard (message: string): void {
    let parsed: unknown
    try { parsed = JSON.parse(message) } catch { return }
    if (!Array.isArray(parsed) || typeof parsed[0] !== 'string' || typeof parsed[1] !== 'string' || typeof parsed[2] !== 'string') return
    for (const fn of this.#listeners) fn(parsed[0], parsed[1], parsed[2])
  }

  #channel (owner: string): string {
    return `${this.#stored}ack:${owner}`
  }

  async close (): Promise<void> {
    const sub = this.#sub
    this.#sub = undefined
    if (sub === undefined) return
    if (sub.status !== 'ready') { sub.disconnect(); return }
    try { await sub.quit() } catch { sub.disconnect() }
  }
}

function toEntry (id: string, fields: string[]): { offset: number, t: number, bytes: number, entry: RecoveredEntry } {
  let t = 0
  let d = 'null'
  let a: string | undefined
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === 't') t = Number(fields[i + 1])
    else if (fields[i] === 'd') d = fields[i + 1]
    else if (fields[i] === 'a') a = fields[i + 1]
  }
  const offset = Number(id.slice(0, id.indexOf('-')))
  const entry: RecoveredEntry = a === undefined ? { offset, data: JSON.parse(d) as unknown } : { offset, data: JSON.parse(d) as unknown, ack: a }
  return { offset, t, bytes: d.length, entry }
}
