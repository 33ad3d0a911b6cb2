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

// Appends a batch. KEYS: entries, meta of each stream in the batch (pairs). ARGV: maxCount,
// entries ttl, meta ttl, new epoch (for a stream without one), now ms, the stream number
// (1-based pair) of each append comma-separated ('' when all are in the first), the count k of
// acked appends, then the data of each append in order, then k pairs (append number, ack id).
// A stream's appends of one batch become ONE stream entry (one XADD: about a third of the Redis
// time of an entry each), id `<its last offset>-0`, fields t, then d (and a, when acked) per
// append in offset order; top moves by their count. Trimming drops entries wholly older than
// the last maxCount offsets (MINID ~: whole stream nodes; recover() reads only the last
// maxCount offsets anyway). Returns the epoch of each stream, then its new top.
const APPEND = `
local streams = #KEYS / 2
local n = #ARGV - 7 - 2 * tonumber(ARGV[7])
local acks = {}
for j = 8 + n, #ARGV, 2 do
  acks[tonumber(ARGV[j])] = ARGV[j + 1]
end
local of = {}
if ARGV[6] ~= '' then
  local i = 0
  for s in string.gmatch(ARGV[6], '%d+') do
    i = i + 1
    of[i] = tonumber(s)
  end
end
local fields = {}
local count = {}
for s = 1, streams do
  fields[s] = {'t', ARGV[5]}
  count[s] = 0
end
for i = 1, n do
  local s = of[i] or 1
  local f = fields[s]
  f[#f + 1] = 'd'
  f[#f + 1] = ARGV[7 + i]
  if acks[i] then
    f[#f + 1] = 'a'
    f[#f + 1] = acks[i]
  end
  count[s] = count[s] + 1
end
local out = {}
for s = 1, streams do
  local h, hm = KEYS[2 * s - 1], KEYS[2 * s]
  local epoch = redis.call('HGET', hm, 'epoch')
  if not epoch then
    epoch = ARGV[4]
    redis.call('HSET', hm, 'epoch', epoch, 'top', 0)
    redis.call('DEL', h)
  end
  local top = redis.call('HINCRBY', hm, 'top', count[s])
  redis.call('XADD', h, 'MINID', '~', math.max(0, top - tonumber(ARGV[1]) + 1), top .. '-0', unpack(fields[s]))
  redis.call('PEXPIRE', h, ARGV[2])
  redis.call('PEXPIRE', hm, ARGV[3])
  out[s] = epoch
  out[streams + s] = top
end
return out
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
  sdHistoryAppendMany (numberOfKeys: number, ...args: Array<string | number>): Promise<Array<string | number>>
  sdHistoryPosition (meta: string, entries: string, ...args: Array<string | number>): Promise<[string, number]>
}

/** Entries read per XRANGE while skipping those older than maxAgeMs. */
const READ_BATCH = 100

/** Most appends in one script call (a bigger batch is split). */
const MAX_BATCH = 128

/** An append waiting for its batch to be sent. */
interface QueuedAppend {
  stream: string
  /** The data as JSON text. */
  d: string
  ack: string
  resolve (p: StreamPosition): void
  reject (err: unknown): void
}

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
  /** Appends made in this turn of the event loop (I/O callbacks included: flushed by setImmediate): one script call, one round trip. */
  #batch: QueuedAppend[] = []
  readonly #epochPrefix = randomName(8)
  #epochSeq = 0

  constructor (options: RedisHistoryOptions) {
    if (!/^[^{}\s]+$/.test(options.cluster)) throw new Error(`invalid cluster name ${JSON.stringify(options.cluster)}: no spaces or braces`)
    this.#options = options
    const redis = options.redis
    const clientOptions = redis.options as { keyPrefix?: string, redisOptions?: { keyPrefix?: string } }
    const clientPrefix = clientOptions.keyPrefix ?? clientOptions.redisOptions?.keyPrefix ?? ''
    this.#prefix = `${clientPrefix ? '' : 'sd:'}{${options.cluster}}:`
    this.#stored = clientPrefix + this.#prefix
    this.#metaTtlMs = Math.max(options.maxAgeMs, META_MIN_TTL_MS)
    if (!('sdHistoryAppendMany' in redis)) {
      redis.defineCommand('sdHistoryAppendMany', { lua: APPEND })
      // appends are batched per turn already; ioredis auto-pipelining would hold a batch until the
      // previous pipeline's reply (one pipeline in flight per client), one round trip after another
      const options = redis.options as { autoPipeliningIgnoredCommands?: string[] }
      if (Array.isArray(options.autoPipeliningIgnoredCommands)) options.autoPipeliningIgnoredCommands = [...options.autoPipeliningIgnoredCommands, 'sdHistoryAppendMany']
      redis.defineCommand('sdHistoryPosition', { numberOfKeys: 2, lua: POSITION })
    }
    this.#redis = redis as RedisClient & Commands
  }

  /** A new epoch: unique enough that another store's (or a lost one's) never matches (a random prefix per store, then a counter). */
  #newEpoch (): string {
    return this.#epochPrefix + (++this.#epochSeq).toString(36)
  }

  append (stream: string, data: unknown, ack?: string): Promise<StreamPosition> {
    let d: string
    try {
      d = JSON.stringify(data ?? null)
    } catch (err) {
      return Promise.reject(err)
    }
    return new Promise((resolve, reject) => {
      if (this.#batch.length === 0) setImmediate(this.#flush)
      this.#batch.push({ stream, d, ack: ack ?? '', resolve, reject })
    })
  }

  /** Sends the appends made in this turn, in order, MAX_BATCH per script call (the tick that finds none does nothing). */
  readonly #flush = (): void => {
    const all = this.#batch
    if (all.length === 0) return
    this.#batch = []
    for (let i = 0; i < all.length; i += MAX_BATCH) this.#appendMany(i === 0 && all.length <= MAX_BATCH ? all : all.slice(i, i + MAX_BATCH))
  }

  #appendMany (batch: QueuedAppend[]): void {
    const o = this.#options
    const keys: string[] = []
    const data: string[] = []
    const acks: Array<string | number> = []
    // a group's sends share one stream: its keys go once
    const numbers = new Map<string, number>()
    const streamOf: number[] = []
    const counts: number[] = []
    for (let i = 0; i < batch.length; i++) {
      const a = batch[i]
      let n = numbers.get(a.stream)
      if (n === undefined) {
        n = numbers.size + 1
        numbers.set(a.stream, n)
        counts[n] = 0
        keys.push(this.#prefix + 'h:' + a.stream, this.#prefix + 'hm:' + a.stream)
      }
      counts[n]++
      streamOf.push(n)
      data.push(a.d)
      if (a.ack !== '') acks.push(i + 1, a.ack)
    }
    const streams = numbers.size
    const args = [o.maxCount, o.maxAgeMs, this.#metaTtlMs, this.#newEpoch(), Date.now(), streams === 1 ? '' : streamOf.join(','), acks.length / 2]
    this.#redis.sdHistoryAppendMany(keys.length, ...keys, ...args, ...data, ...acks).then((out) => {
      // a stream's appends took the offsets up to its new top, in order
      const next: number[] = []
      for (let s = 1; s <= streams; s++) next[s] = Number(out[streams + s - 1]) - counts[s] + 1
      for (let i = 0; i < batch.length; i++) {
        const s = streamOf[i]
        batch[i].resolve({ epoch: String(out[s - 1]), offset: next[s]++ })
      }
    }, (err: unknown) => {
      for (const a of batch) a.reject(err)
    })
  }

  async position (stream: string): Promise<StreamPosition> {
    // appends queued in this turn go first: commands reach Redis in the order they were made
    if (this.#batch.length > 0) this.#flush()
    const [epoch, top] = await this.#redis.sdHistoryPosition(this.#prefix + 'hm:' + stream, this.#prefix + 'h:' + stream, this.#newEpoch(), this.#metaTtlMs)
    return { epoch, offset: Number(top) }
  }

  async recover (stream: string, since: StreamPosition, limit: number, maxBytes = Infinity): Promise<RecoveredStream> {
    // the position first: entries are read up to that top, so the two agree
    const { epoch, offset: top } = await this.position(stream)
    const sameEpoch = since.epoch === epoch
    const entries: RecoveredEntry[] = []
    const budget = { bytes: maxBytes }
    if (!(sameEpoch && since.offset > top) && limit > 0) {
      const oldest = Date.now() - this.#options.maxAgeMs
      // only the last maxCount offsets count as kept (the approximate trim may leave older ones)
      let from = Math.max((sameEpoch ? since.offset : 0) + 1, top - this.#options.maxCount + 1)
      while (entries.length < limit && from <= top) {
        // an entry holds offsets up to its id: the first one read may start before `from`
        const rows = await this.#options.redis.xrange(this.#prefix + 'h:' + stream, `${from}-0`, `${top}-0`, 'COUNT', READ_BATCH) as Array<[string, string[]]>
        for (const [id, fields] of rows) {
          const last = Number(id.slice(0, id.indexOf('-')))
          const start = from
          from = last + 1
          if (readEntries(last, fields, start, oldest, entries, limit, budget)) break
        }
        if (entries.length >= limit || budget.bytes <= 0 || rows.length < READ_BATCH) break
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

/**
 * Adds the appends of one stream entry (`last`: its last offset; fields t, then d [a] per append)
 * with offsets ≥ `from` to `out`, unless older than `oldest`; true once `out` holds `limit` or
 * the data would pass `budget.bytes` (the first entry always goes: a reply makes progress).
 * An entry of one append (`t d [a]`) is the same format.
 */
function readEntries (last: number, fields: string[], from: number, oldest: number, out: RecoveredEntry[], limit: number, budget: { bytes: number }): boolean {
  let t = 0
  let appends = 0
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === 't') t = Number(fields[i + 1])
    else if (fields[i] === 'd') appends++
  }
  if (t < oldest) return false
  let offset = last - appends
  let entry: RecoveredEntry | undefined
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const f = fields[i]
    if (f === 'd') {
      offset++
      entry = undefined
      if (offset < from) continue
      if (out.length >= limit) return true
      const text = fields[i + 1]
      if (out.length > 0 && text.length > budget.bytes) { budget.bytes = 0; return true }
      budget.bytes -= text.length
      entry = { offset, data: JSON.parse(text) as unknown }
      out.push(entry)
    } else if (f === 'a' && entry !== undefined) {
      entry.ack = fields[i + 1]
    }
  }
  return out.length >= limit
}
