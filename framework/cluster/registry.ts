/**
 * The cluster registry in Redis, as one node writes it: its record kept alive by heartbeats
 * (a key with a TTL), and which uids it holds and how many of its connections are in each
 * group. Each node writes only its own entries and keeps a mirror of them, so it can rewrite
 * them at any time: when Redis lost them (restart, failover) the next heartbeat finds the
 * record gone and the registry re-registers by itself. Reads, the node list, purging dead
 * nodes and `watch()` are the `view` (registry-reads.ts); key layout:
 * registry-scripts.ts.
 */
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { RedisClient } from '../data/redis.js'
import { isValidNodeName, type ClusterRole } from './link-auth.js'
import { APPLY, REGISTER, SYNC, runScript, type RegistryKeys } from './registry-scripts.js'
import { RegistryView, type NodeRecord, type RegistryViewOptions } from './registry-reads.js'

export type { NodeRecord } from './registry-reads.js'

/** Options of `RedisRegistry` (the view's, plus this node and its heartbeat). */
export interface RedisRegistryOptions extends Omit<RegistryViewOptions, 'self'> {
  /** This node. */
  node: { name: string, role: ClusterRole, host?: string, port?: number }
  /** Heartbeat period. @default 1000 */
  heartbeatMs?: number
  /** Life of a node record without heartbeat. @default 3000 */
  ttlMs?: number
}

/** Lifecycle: `registered` while the record is in Redis; `lost` while Redis is unreachable or the record must be rewritten. */
export type RegistryStatus = 'idle' | 'registered' | 'lost' | 'closed'

/** Events of a registry. */
export interface RegistryEvents {
  status: [status: RegistryStatus]
  /** This node's record and entries were written again from its mirror. */
  reregistered: []
}

/** Items per script call when writing many (keeps each call short). */
const CHUNK = 1000

/** The cluster registry of one node. */
export class RedisRegistry extends EventEmitter<RegistryEvents> {
  /** Lookups, the node list, purges and `watch()` of the same cluster. */
  readonly view: RegistryView
  readonly #redis: RedisClient
  readonly #keys: RegistryKeys
  readonly #heartbeatMs: number
  readonly #ttlMs: number
  readonly #log: Logger | undefined
  readonly #node: RedisRegistryOptions['node']
  readonly #startedAt = Date.now()
  #status: RegistryStatus = 'idle'
  #meta: Record<string, unknown> | undefined
  // mirror of this node's entries, and what is not written yet
  readonly #uids = new Set<string>()
  readonly #groups = new Map<string, number>()
  #pendingUids = new Map<string, boolean>()
  #pendingGroups = new Map<string, number>()
  #waiters: Array<(written: boolean) => void> = []
  #flushScheduled = false
  /** Set when Redis may not match the mirror: the next heartbeat rewrites everything. */
  #dirty = true
  /** Writes run one after another. */
  #chain: Promise<unknown> = Promise.resolve()
  #heartbeat: NodeJS.Timeout | undefined
  #beating = false
  /** Last Redis error seen by a write (status pages). */
  lastError: string | undefined

  constructor (options: RedisRegistryOptions) {
    super()
    if (!isValidNodeName(options.node.name)) throw new Error(`invalid node name ${JSON.stringify(options.node.name)}`)
    this.view = new RegistryView({ ...options, self: options.node.name })
    this.#redis = options.redis
    this.#keys = this.view.keys
    this.#node = options.node
    this.#log = options.log
    this.#heartbeatMs = options.heartbeatMs ?? 1000
    this.#ttlMs = options.ttlMs ?? 3000
  }

  get status (): RegistryStatus { return this.#status }
  /** This node's name. */
  get name (): string { return this.#node.name }
  /** Full prefix of the registry's keys in Redis (`sd:{cluster}:` by default). */
  get keyPrefix (): string { return this.#keys.stored }

  #setStatus (status: RegistryStatus): void {
    if (this.#status === status || this.#status === 'closed') return
    this.#status = status
    this.#log?.debug({ status, node: this.#node.name }, 'registry status')
    this.emit('status', status)
  }

  #record (): string {
    const n = this.#node
    const rec: NodeRecord = { name: n.name, role: n.role, host: n.host, port: n.port, pid: process.pid, startedAt: this.#startedAt, heartbeatAt: Date.now(), meta: this.#meta }
    return JSON.stringify(rec)
  }

  #failed (err: unknown): void {
    this.lastError = err instanceof Error ? err.message : String(err)
    this.#dirty = true
    // one warning per outage, not one per heartbeat
    if (this.#status !== 'lost') this.#log?.warn({ err: this.lastError, node: this.#node.name }, 'cluster registry: a Redis write failed; re-registering once Redis answers')
    this.#setStatus('lost')
  }

  #serial<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn, fn)
    this.#chain = run.catch(() => {})
    return run
  }

  // ---- registration and heartbeats ---------------------------------------------------------

  /**
   * Registers this node and starts heartbeats. Resolves true once registered; false when Redis
   * could not be reached (heartbeats keep trying, the node re-registers when Redis is back).
   */
  async start (): Promise<boolean> {
    if (this.#status === 'closed') throw new Error('registry is closed')
    if (this.#heartbeat) return this.#status === 'registered'
    this.#heartbeat = setInterval(() => { void this.#beat() }, this.#heartbeatMs)
    this.#heartbeat.unref()
    try {
      await this.reregister()
      return true
    } catch {
      return false
    }
  }

  /** Sets the free-form figures published with the next heartbeat. */
  setMeta (meta: Record<string, unknown>): void {
    this.#meta = meta
  }

  /** One heartbeat: refresh the record; rewrite everything when Redis lost it or a write failed. */
  async #beat (): Promise<void> {
    if (this.#beating || this.#status === 'closed') return
    this.#beating = true
    try {
      if (this.#dirty) {
        await this.reregister()
      } else {
        let ok: number
        try {
          ok = Number(await runScript(this.#redis, REGISTER, [this.#keys.node(this.#node.name).record, this.#keys.roleSet(this.#node.role)], [this.#record(), this.#ttlMs, this.#node.name, '1']))
        } catch (err) {
          this.#failed(err)
          return
        }
        if (ok !== 1) {
          this.#log?.warn({ node: this.#node.name }, 'cluster registry: this node\'s record was gone (Redis restarted, or heartbeats stalled); re-registering')
          this.#dirty = true
          await this.reregister()
        } else {
          this.#setStatus('registered')
        }
      }
    } catch {
      // #failed() has logged it; the next beat tries again
    } finally {
      this.#beating = false
    }
  }

  /**
   * Writes this node's record and all its entries (uids, group counts) from the mirror,
   * removing entries Redis has that the mirror does not. Called by itself when Redis lost the
   * record; safe to call at any time. Rejects when Redis cannot be reached.
   */
  reregister (): Promise<void> {
    return this.#serial(async () => {
      if (this.#status === 'closed') return
      const node = this.#node.name
      const k = this.#keys.node(node)
      const scratch = this.#keys.k(`sync:${node}`)
      // from here on, changes are applied after this rewrite (they queue behind it)
      this.#dirty = false
      const uids = [...this.#uids]
      const groups: Array<string | number> = []
      for (const [g, c] of this.#groups) groups.push(g, c)
      this.#pendingUids.clear()
      this.#pendingGroups.clear()
      try {
        await runScript(this.#redis, REGISTER, [k.record, this.#keys.roleSet(this.#node.role)], [this.#record(), this.#ttlMs, node, '0'])
        await this.#redis.del(scratch)
        for (let i = 0; i < uids.length; i += CHUNK) await this.#redis.sadd(scratch, ...uids.slice(i, i + CHUNK))
        await this.#redis.pexpire(scratch, 60_000)
        const r = Number(await runScript(this.#redis, SYNC, [k.record, k.nuids, k.online, k.ngroups, k.groups, scratch], [this.#keys.stored, node, ...groups]))
        if (r !== 1) throw new Error('node record vanished during re-registration')
      } catch (err) {
        this.#failed(err)
        throw err
      }
      this.#setStatus('registered')
      this.#log?.info({ node, uids: uids.length, groups: groups.length / 2 }, 'cluster registry: registered')
      this.emit('reregistered')
    })
  }

  // ---- this node's entries -------------------------------------------------------------------

  /**
   * Records whether this node holds `uid` (at least one local connection bound to it).
   * Changes of one event-loop turn are written together; resolves true once written, false
   * when the write failed (the change is kept and written by the next re-registration).
   */
  setUid (uid: string, present: boolean): Promise<boolean> {
    if (present === this.#uids.has(uid)) return this.#settled()
    if (present) this.#uids.add(uid)
    else this.#uids.delete(uid)
    this.#pendingUids.set(uid, present)
    return this.#queue()
  }

  /** Records how many of this node's connections are in `group` (0: none). Batched like `setUid`. */
  setGroupCount (group: string, count: number): Promise<boolean> {
    if (!Number.isInteger(count) || count < 0) throw new RangeError(`group count must be a non-negative integer, got ${count}`)
    if ((this.#groups.get(group) ?? 0) === count) return this.#settled()
    if (count > 0) this.#groups.set(group, count)
    else this.#groups.delete(group)
    this.#pendingGroups.set(group, count)
    return this.#queue()
  }

  /** Resolves once what is queued now was written (or failed). */
  #settled (): Promise<boolean> {
    return this.#pendingUids.size + this.#pendingGroups.size > 0 ? this.#queue() : Promise.resolve(!this.#dirty)
  }

  #queue (): Promise<boolean> {
    const p = new Promise<boolean>((resolve) => this.#waiters.push(resolve))
    if (!this.#flushScheduled) {
      this.#flushScheduled = true
      setImmediate(() => { void this.flush() })
    }
    return p
  }

  /** Writes the queued changes now. */
  flush (): Promise<void> {
    this.#flushScheduled = false
    const uids = this.#pendingUids
    const groups = this.#pendingGroups
    const waiters = this.#waiters
    this.#pendingUids = new Map()
    this.#pendingGroups = new Map()
    this.#waiters = []
    return this.#serial(async () => {
      let written = false
      // before the first registration, or while a rewrite is due, the mirror is written whole instead
      if (!this.#dirty && this.#status === 'registered' && (uids.size > 0 || groups.size > 0)) {
        try {
          written = await this.#apply(uids, groups)
        } catch (err) {
          this.#failed(err)
        }
        if (!written && this.status !== 'closed') {
          this.#dirty = true
          void this.#beat()
        }
      } else {
        written = !this.#dirty && this.#status === 'registered'
      }
      for (const w of waiters) w(written)
    })
  }

  async #apply (uids: Map<string, boolean>, groups: Map<string, number>): Promise<boolean> {
    const node = this.#node.name
    const k = this.#keys.node(node)
    const keys = [k.record, k.nuids, k.online, k.ngroups, k.groups]
    const u = [...uids]
    const g = [...groups]
    for (let i = 0; i < Math.max(u.length, g.length); i += CHUNK) {
      const us = u.slice(i, i + CHUNK)
      const args: Array<string | number> = [this.#keys.stored, node, us.length]
      for (const [uid, on] of us) args.push(uid, on ? '1' : '0')
      for (const [group, c] of g.slice(i, i + CHUNK)) args.push(group, c)
      if (Number(await runScript(this.#redis, APPLY, keys, args)) !== 1) return false
    }
    return true
  }

  /**
   * Stops heartbeats and polls and removes this node from Redis (its record, uids and groups),
   * unless `{ keep: true }`: then its record expires and a watching node purges its entries,
   * exactly as for a node that crashed.
   */
  async stop (options: { keep?: boolean } = {}): Promise<void> {
    if (this.#status === 'closed') return
    clearInterval(this.#heartbeat)
    this.#heartbeat = undefined
    this.view.unwatch()
    this.#setStatus('closed')
    await this.#chain
    if (options.keep) return
    try {
      await this.view.purge(this.#node.name, true)
    } catch (err) {
      this.#log?.warn({ err: (err as Error).message, node: this.#node.name }, 'cluster registry: could not deregister; the record will expire')
    }
  }
}
