/**
 * Recovery in a running application: picks the history store (`recovery.store`; auto: Redis
 * when configured), wraps the role's bus in the recovering bus where app code runs (not at a
 * gateway, which only relays what workers send), registers the built-in `/sd/*` controller
 * (sd-controller.ts) and closes the store on stop.
 */
import type { Bus } from '../connection/bus.js'
import type { HistoryStore, RecoveredStream, StreamPosition } from '../connection/history.js'
import { MemoryHistory } from '../connection/memory-history.js'
import { RecoveringBus } from '../connection/recovering-bus.js'
import { checkRecovery, type RecoveryConfig } from '../connection/recovery-options.js'
import { SdError } from '../core/errors.js'
import { RedisHistory } from '../data/redis-history.js'
import type { ConnectionTable } from '../connection/table.js'
import type { ControllerClass } from '../core/controller.js'
import type { DataServices } from '../data/model.js'
import type { Logger } from 'pino'
import { clusterName, type Config } from './config.js'
import { sdController, type SdPaths } from './sd-controller.js'
import type { Auth } from './auth.js'

/** Ack ids are `<owner>.<n>`; owners are 12 characters [0-9a-z]. */
const OWNER = /^[0-9a-z]{12}$/

/** What recovery needs of the Application. */
export interface RecoveryHost {
  readonly config: Config
  readonly data: DataServices
  readonly connections: ConnectionTable
  readonly log: Logger
  addController (controller: ControllerClass, name?: string): unknown
  /** Client authentication, when on (`/sd/auth` answers with it). */
  readonly auth?: Auth | undefined
}

/** The recovery side of one application. */
export class Recovery implements SdPaths {
  readonly config: RecoveryConfig
  readonly #app: RecoveryHost
  /** Where the history lives: 'redis' or 'memory' (decided at boot). */
  readonly storeKind: 'redis' | 'memory'
  #store: HistoryStore | undefined
  #bus: RecoveringBus | undefined

  /** Checks `config.recovery` (SD_ERR_CONFIG_INVALID naming the key) and registers `/sd/*`. */
  constructor (app: RecoveryHost) {
    this.#app = app
    this.config = app.config.recovery
    checkRecovery(this.config)
    const redis = app.data.redis.configured
    if (this.config.store === 'redis' && !redis) throw new SdError('SD_ERR_CONFIG_INVALID', 'recovery.store is \'redis\' but Redis is not configured (REDIS_URL or config/redis.ts)')
    this.storeKind = this.config.store === 'memory' || !redis ? 'memory' : 'redis'
    app.addController(sdController(this, app.auth), 'SdController')
  }

  /** True when this process keeps history (enabled, and not a gateway). */
  get active (): boolean { return this.#store !== undefined }
  /** The history store (after `start`), else undefined. */
  get store (): HistoryStore | undefined { return this.#store }

  /** Wraps `bus` in the recovering bus (when enabled and app code runs here); returns the bus to use. */
  async start (bus: Bus): Promise<Bus> {
    const app = this.#app
    if (!this.config.enabled || app.config.gateway.role === 'gateway' || this.#store !== undefined) return bus
    const c = this.config
    this.#store = this.storeKind === 'redis'
      ? new RedisHistory({ maxCount: c.maxCount, maxAgeMs: c.maxAgeMs, redis: app.data.redis.shared, connect: () => app.data.redis.dedicated(), cluster: clusterName(app.config) })
      : new MemoryHistory({ maxCount: c.maxCount, maxAgeMs: c.maxAgeMs, maxStreams: c.maxStreams })
    this.#bus = new RecoveringBus(bus, this.#store, {
      uids: c.uids,
      groups: c.groups,
      ackTimeoutMs: c.ackTimeoutMs,
      onError: (err, what) => app.log.warn({ err }, what),
    })
    // acks from other processes are heard from the first request on
    if (this.#store instanceof RedisHistory) await this.#store.ready().catch((err: unknown) => app.log.warn({ err }, 'recovery: ack channel not subscribed yet'))
    return this.#bus
  }

  /** Whether connection `id` of this process is in `group`; undefined when it is not held here (a split worker's). */
  isMember (id: string, group: string): boolean | undefined {
    const conn = this.#app.connections.get(id)
    return conn === undefined ? undefined : conn.groups?.has(group) === true
  }

  /**
   * What `stream` holds after `since`, at most `limit` entries (and `recovery.maxCount`) and,
   * past the first, `maxBytes` of data (a gap and nothing when this process keeps no history).
   */
  recover (stream: string, since: StreamPosition, limit = Infinity, maxBytes = Infinity): Promise<RecoveredStream> {
    if (this.#store === undefined) return Promise.resolve({ epoch: '', offset: 0, gap: since.offset > 0, entries: [] })
    return this.#store.recover(stream, since, Math.min(limit, this.config.maxCount), maxBytes)
  }

  /** An acknowledgement from a client bound to `uid`: settled here when this process sent it, else sent to its owner. */
  ack (ackId: string, connectionId: string, uid: string): void {
    const store = this.#store
    if (store === undefined) return
    const dot = ackId.indexOf('.')
    if (dot < 0) return
    const owner = ackId.slice(0, dot)
    if (owner === store.owner) this.#bus?.acked(ackId, connectionId, uid)
    else if (OWNER.test(owner)) store.sendAck(owner, ackId, connectionId, uid)
  }

  /** Settles waiting ack sends and closes the store. */
  async close (): Promise<void> {
    this.#bus?.settleAll()
    const store = this.#store
    this.#store = undefined
    await store?.close()
  }
}
