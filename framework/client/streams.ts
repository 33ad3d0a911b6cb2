/**
 * Per-stream positions of recoverable pushes: delivers in order, drops duplicates, holds pushes
 * that arrive ahead of a hole (and asks `/sd/recover` for it, one request in flight per
 * stream), merges what recovery returns with what was held, reports gaps. Deliveries run one
 * after the other (handlers awaited), so an ack is sent after its handler finished.
 */
import type { GapInfo, PushMetaInfo } from './types.js'
import type { PushEnvelope, RecoverReply, RecoveredStream, StreamPosition } from './wire.js'

/** Most streams in one `/sd/recover` request (the server's limit). */
export const MAX_RECOVER_STREAMS = 64

/** Most pushes held per stream while a hole waits for recovery; beyond it the hole is given up as a gap. */
export const MAX_HELD = 1000

/** What the stream tracker needs from the client. */
export interface StreamsDeps {
  /** Runs the push handlers (awaited), then acks when `meta.ack` is set. */
  deliver (data: unknown, meta: PushMetaInfo): Promise<void>
  /** Sends `/sd/ack` for a duplicate that carried an ack. */
  ack (ack: string): void
  /** Calls `/sd/recover`. */
  recover (streams: Record<string, StreamPosition>): Promise<RecoverReply>
  gap (info: GapInfo): void
  error (err: Error): void
}

/** A push waiting its turn; `skip`: an offset the connection was excluded from (nothing to deliver). */
interface Held { epoch: string, offset: number, data: unknown, ack?: string, skip?: boolean }

interface StreamState {
  epoch: string
  /** Last offset handed to delivery (delivered or on its way, in order). */
  offset: number
  /** Highest offset a sync message said exists in this epoch: recovered up to it. */
  known: number
  /** A sync message arrived during a recovery that may predate it: ask once more after it. */
  again?: boolean
  /** Asked once more for a hole above the server's position in its last reply (see `#merge`). */
  above?: boolean
  held: Held[]
  recovering: boolean
}

/** Tracks every stream the client has seen. */
export class Streams {
  readonly #deps: StreamsDeps
  readonly #streams = new Map<string, StreamState>()
  #chain: Promise<void> = Promise.resolve()

  constructor (deps: StreamsDeps) {
    this.#deps = deps
  }

  /** Positions of known streams (what a reconnect recovers from). */
  positions (): Record<string, StreamPosition> {
    const out: Record<string, StreamPosition> = {}
    for (const [name, st] of this.#streams) out[name] = { epoch: st.epoch, offset: st.offset }
    return out
  }

  /** Resolves once every delivery handed over so far has finished. */
  idle (): Promise<void> {
    return this.#chain
  }

  /** One incoming push (live). */
  onPush (env: PushEnvelope): void {
    const name = env.stream
    if (typeof name !== 'string' || typeof env.epoch !== 'string' || !Number.isSafeInteger(env.offset) || (env.offset as number) < 0) {
      if (env.sync === true) return
      this.#deliver(env.data, { recovered: false, ack: typeof env.ack === 'string' ? env.ack : undefined })
      return
    }
    const offset = env.offset as number
    const st = this.#streams.get(name)
    if (env.sync === true) {
      this.#sync(name, st, env.epoch, offset)
      return
    }
    const item: Held = env.skip === true
      ? { epoch: env.epoch, offset, data: undefined, skip: true }
      : { epoch: env.epoch, offset, data: env.data, ack: typeof env.ack === 'string' ? env.ack : undefined }
    if (st === undefined) {
      this.#streams.set(name, { epoch: item.epoch, offset: item.offset, known: 0, held: [], recovering: false })
      this.#deliverItem(name, item, false)
      return
    }
    if (st.held.length >= MAX_HELD) {
      // bounded memory: give up on the hole (a gap) and deliver what is held
      if (item.epoch === st.epoch) st.held.push(item)
      st.held = st.held.filter(h => h.epoch === st.epoch)
      this.#release(name, st, true)
      return
    }
    if (st.recovering) { st.held.push(item); return }
    if (item.epoch !== st.epoch) { st.held.push(item); this.#recoverLive(name); return }
    if (item.offset <= st.offset) { this.#duplicate(item); return }
    if (item.offset === st.offset + 1) {
      st.offset = item.offset
      this.#deliverItem(name, item, false)
      this.#release(name, st)
      return
    }
    st.held.push(item)
    this.#recoverLive(name)
  }

  /**
   * A sync message: where the stream stands. A new stream starts there. For a known one, a
   * position ahead (a bind or join after a reconnect, before `/sd/recover` ran) or another epoch
   * means pushes were missed: they are recovered, never skipped.
   */
  #sync (name: string, st: StreamState | undefined, epoch: string, offset: number): void {
    if (st === undefined) {
      this.#streams.set(name, { epoch, offset, known: offset, held: [], recovering: false })
      return
    }
    if (epoch === st.epoch) {
      if (offset <= st.offset) return
      st.known = Math.max(st.known, offset)
    } else if (st.offset === 0 && st.held.length === 0) {
      st.epoch = epoch
      st.offset = st.known = offset
      return
    }
    if (!st.recovering) this.#recoverLive(name)
    else st.again = true
  }

  /** A recovery started by a live push: a dropped link is not an error (the reconnect recovers). */
  #recoverLive (name: string): void {
    this.recoverStreams([name]).catch((err: unknown) => {
      const code = (err as { code?: unknown }).code
      if (code !== 'SD_ERR_CLIENT_DISCONNECTED' && code !== 'SD_ERR_CLIENT_CLOSED') this.#deps.error(err instanceof Error ? err : new Error(String(err)))
    })
  }

  /** Asks `/sd/recover` for these streams (all known ones when omitted); merges the replies. */
  recoverStreams (names?: string[]): Promise<void> {
    const list = (names ?? [...this.#streams.keys()]).filter(n => {
      const st = this.#streams.get(n)
      return st !== undefined && !st.recovering
    })
    const runs: Promise<void>[] = []
    for (let i = 0; i < list.length; i += MAX_RECOVER_STREAMS) runs.push(this.#recoverBatch(list.slice(i, i + MAX_RECOVER_STREAMS)))
    return Promise.all(runs).then(() => undefined)
  }

  async #recoverBatch (names: string[]): Promise<void> {
    const request: Record<string, StreamPosition> = {}
    for (const n of names) {
      const st = this.#streams.get(n) as StreamState
      st.recovering = true
      request[n] = { epoch: st.epoch, offset: st.offset }
    }
    let reply: RecoverReply
    try {
      reply = await this.#deps.recover(request)
    } catch (err) {
      // the link dropped or the server refused: held pushes wait for the next recovery
      for (const n of names) { const st = this.#streams.get(n); if (st) st.recovering = false }
      throw err
    }
    const again: string[] = []
    // left out by the reply's size limit: asked for again (the server answers at least one stream each time)
    const more = Array.isArray(reply.more) && Object.keys(reply.streams ?? {}).length > 0 ? reply.more : []
    for (const n of names) {
      const st = this.#streams.get(n)
      if (st === undefined) continue
      st.recovering = false
      if (Array.isArray(reply.denied) && reply.denied.includes(n)) {
        // not ours any more: forget the stream; what was held is delivered as it stands
        this.#streams.delete(n)
        const held = st.held.sort((a, b) => a.offset - b.offset)
        for (const h of held) this.onPush(h.skip === true ? { stream: n, epoch: h.epoch, offset: h.offset, skip: true } : { stream: n, epoch: h.epoch, offset: h.offset, data: h.data, ack: h.ack })
        continue
      }
      const rs = reply.streams?.[n]
      if (rs === undefined && more.includes(n)) again.push(n)
      else if (rs === undefined) this.#release(n, st, true) // the server said nothing of it: held pushes go out
      else if (this.#merge(n, st, rs)) again.push(n)
    }
    if (again.length > 0) await this.recoverStreams(again)
  }

  /** Applies one stream's recovery; true when more remains to be asked for. */
  #merge (name: string, st: StreamState, rs: RecoveredStream): boolean {
    if (rs.epoch !== st.epoch) {
      st.epoch = rs.epoch
      st.offset = st.known = 0
    }
    if (rs.gap) this.#deps.gap({ stream: name, epoch: rs.epoch, offset: rs.offset })
    const entries = Array.isArray(rs.entries) ? rs.entries : []
    // offsets this connection was excluded from (held skips): passed over, not delivered
    const skips = new Set(st.held.filter((h) => h.skip === true && h.epoch === st.epoch).map((h) => h.offset))
    for (const e of entries) {
      if (e.offset <= st.offset) { this.#duplicate({ epoch: st.epoch, offset: e.offset, data: e.data, ack: e.ack }); continue }
      st.offset = e.offset
      this.#deliverItem(name, { epoch: st.epoch, offset: e.offset, data: e.data, ack: e.ack, skip: skips.has(e.offset) }, true)
    }
    st.held = st.held.filter(h => h.epoch === st.epoch)
    this.#release(name, st)
    // the reply was cut short (the server's limit), or a sync said there is more: ask again before filling holes
    if (entries.length > 0 && st.offset < rs.offset) return true
    if (st.again === true || st.offset < st.known) {
      st.again = false
      if (st.offset < st.known && rs.offset >= st.known) st.known = st.offset // the server has no more: not asked forever
      else return true
    }
    if (entries.length === 0 && rs.offset > st.offset) st.offset = rs.offset
    // a hole above where the server stood when it answered is no proof of loss: pushes appended
    // by other processes can overtake each other on their way here. Asked once more (by then the
    // server has every held offset) before it is taken for a gap.
    const next = st.held.find((h) => h.offset > st.offset)
    if (next !== undefined && next.offset > st.offset + 1 && st.offset >= rs.offset && st.above !== true) {
      st.above = true
      return true
    }
    st.above = false
    return this.#release(name, st, true)
  }

  /**
   * Delivers held pushes that now follow in order. A hole left after a recovery means the
   * server does not have those pushes: reported as a gap, and the held ones delivered.
   */
  #release (name: string, st: StreamState, afterRecover = false): boolean {
    st.held.sort((a, b) => a.offset - b.offset)
    while (st.held.length > 0) {
      const h = st.held[0]
      if (h.offset <= st.offset) { st.held.shift(); this.#duplicate(h); continue }
      if (h.offset !== st.offset + 1) {
        if (!afterRecover) return false
        this.#deps.gap({ stream: name, epoch: st.epoch, offset: h.offset - 1 })
      }
      st.held.shift()
      st.offset = h.offset
      this.#deliverItem(name, h, false)
    }
    return false
  }

  #duplicate (item: Held): void {
    if (item.ack === undefined) return
    const ack = item.ack
    // after what is on its way, so the ack never overtakes a handler still running
    this.#chain = this.#chain.then(() => this.#deps.ack(ack)).catch(() => {})
  }

  #deliverItem (stream: string, item: Held, recovered: boolean): void {
    if (item.skip === true) return
    this.#deliver(item.data, { stream, offset: item.offset, recovered, ack: item.ack })
  }

  #deliver (data: unknown, meta: PushMetaInfo): void {
    this.#chain = this.#chain
      .then(() => this.#deps.deliver(data, meta))
      .catch((err: unknown) => this.#deps.error(err instanceof Error ? err : new Error(String(err))))
  }
}
