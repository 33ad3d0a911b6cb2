/**
 * The history of one process (`HistoryStore` kept in memory): the store when Redis is not
 * configured. Its epochs start with a random prefix of this process, so a client that recovers
 * from another process (or after a restart) is told about the gap instead of getting wrong entries.
 */
import { randomBytes } from 'node:crypto'
import type { AckListener, HistoryLimits, HistoryStore, RecoveredEntry, RecoveredStream, StreamPosition } from './history.js'

/** Bounds of a memory store. */
export interface MemoryHistoryOptions extends HistoryLimits {
  /** Streams kept at most; past it the least recently written one is dropped. @default 10000 */
  maxStreams: number
}

/** Meta of a stream (top, epoch) outlives its entries by this much at least (as in Redis). */
export const META_MIN_TTL_MS = 24 * 3600_000

interface Entry { offset: number, t: number, data: unknown, ack?: string }
interface Stream { epoch: string, top: number, entries: Entry[], writtenAt: number }

/** A random name of `length` characters [0-9a-z] (store owners, epoch prefixes). */
export function randomName (length: number): string {
  const bytes = randomBytes(length)
  let s = ''
  for (const b of bytes) s += (b % 36).toString(36)
  return s
}

/**
 * Keeps streams in a Map in write order (an append moves its stream to the end), so the
 * least recently written is the first; a timer (unref'd) drops what has expired.
 */
export class MemoryHistory implements HistoryStore {
  readonly owner = randomName(12)
  readonly #epochPrefix = randomName(6)
  #epochs = 0
  readonly #streams = new Map<string, Stream>()
  readonly #limits: MemoryHistoryOptions
  readonly #metaTtlMs: number
  readonly #listeners: AckListener[] = []
  readonly #sweep: NodeJS.Timeout

  constructor (limits: MemoryHistoryOptions) {
    this.#limits = limits
    this.#metaTtlMs = Math.max(limits.maxAgeMs, META_MIN_TTL_MS)
    this.#sweep = setInterval(() => this.#expire(Date.now()), Math.min(Math.max(limits.maxAgeMs, 1000), 60_000))
    this.#sweep.unref()
  }

  /** Streams held now (tests, stats). */
  get size (): number { return this.#streams.size }

  #stream (name: string, now: number): Stream {
    let s = this.#streams.get(name)
    if (s !== undefined && now - s.writtenAt > this.#metaTtlMs) {
      this.#streams.delete(name)
      s = undefined
    }
    if (s === undefined) {
      s = { epoch: `${this.#epochPrefix}${(this.#epochs++).toString(36)}`, top: 0, entries: [], writtenAt: now }
      this.#streams.set(name, s)
      this.#bound()
    }
    return s
  }

  #bound (): void {
    while (this.#streams.size > this.#limits.maxStreams) {
      const first = this.#streams.keys().next().value as string
      this.#streams.delete(first)
    }
  }

  async append (stream: string, data: unknown, ack?: string): Promise<StreamPosition> {
    const now = Date.now()
    const s = this.#stream(stream, now)
    if (now - s.writtenAt > this.#limits.maxAgeMs) s.entries = []
    s.top++
    const entry: Entry = { offset: s.top, t: now, data }
    if (ack !== undefined) entry.ack = ack
    s.entries.push(entry)
    if (s.entries.length > this.#limits.maxCount) s.entries.splice(0, s.entries.length - this.#limits.maxCount)
    s.writtenAt = now
    // most recently written last
    this.#streams.delete(stream)
    this.#streams.set(stream, s)
    return { epoch: s.epoch, offset: s.top }
  }

  async position (stream: string): Promise<StreamPosition> {
    const s = this.#stream(stream, Date.now())
    return { epoch: s.epoch, offset: s.top }
  }

  async recover (stream: string, since: StreamPosition, limit: number, maxBytes = Infinity): Promise<RecoveredStream> {
    const now = Date.now()
    const s = this.#stream(stream, now)
    const oldest = now - this.#limits.maxAgeMs
    const sameEpoch = since.epoch === s.epoch
    const after = sameEpoch ? since.offset : 0
    const entries: RecoveredEntry[] = []
    let bytes = 0
    if (!(sameEpoch && since.offset > s.top)) {
      for (const e of s.entries) {
        if (entries.length >= limit) break
        if (e.offset <= after || e.t < oldest) continue
        if (maxBytes !== Infinity) {
          bytes += jsonLength(e.data)
          if (bytes > maxBytes && entries.length > 0) break
        }
        entries.push(e.ack === undefined ? { offset: e.offset, data: e.data } : { offset: e.offset, data: e.data, ack: e.ack })
      }
    }
    return { epoch: s.epoch, offset: s.top, gap: recoverGap(sameEpoch, since, s.top, entries), entries }
  }

  sendAck (owner: string, ackId: string, connectionId: string, uid: string): void {
    // one process: an ack for another owner has nowhere to go
    if (owner !== this.owner) return
    for (const fn of this.#listeners) fn(ackId, connectionId, uid)
  }

  onAck (listener: AckListener): void {
    this.#listeners.push(listener)
  }

  async close (): Promise<void> {
    clearInterval(this.#sweep)
    this.#streams.clear()
  }

  #expire (now: number): void {
    for (const [name, s] of this.#streams) {
      if (now - s.writtenAt > this.#metaTtlMs) this.#streams.delete(name)
      else if (now - s.writtenAt > this.#limits.maxAgeMs) s.entries = []
    }
  }
}

/** Length of `data` as JSON text (what a recovered entry weighs in a reply); 0 when it has none. */
export function jsonLength (data: unknown): number {
  try {
    return JSON.stringify(data)?.length ?? 0
  } catch {
    return 0
  }
}

/**
 * Whether the client missed something that is gone (plan "Store semantics"): same epoch: the
 * first returned offset skips one, or the top moved and nothing is returned, or the client is
 * ahead of the top; other epoch: the client had seen something of the old one.
 */
export function recoverGap (sameEpoch: boolean, since: StreamPosition, top: number, entries: readonly RecoveredEntry[]): boolean {
  if (!sameEpoch) return since.offset > 0
  if (since.offset > top) return true
  if (entries.length > 0) return entries[0].offset > since.offset + 1
  return top > since.offset
}
