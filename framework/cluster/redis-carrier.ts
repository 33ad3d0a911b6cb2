/**
 * The Redis pub/sub carrier: each node subscribes to a channel of its own,
 * `<prefix>{<cluster>}:n:<node>`, and to the cluster's `…:all` (notices); frames are published
 * as the DATA bytes of link-frames.ts (encoded once per frame, the same Buffer to every target).
 * One route, `redis`: failover is ioredis's own reconnect, and what a reconnect re-sends is
 * deduplicated by the messenger. PUBLISH answering 0 receivers means the target is not
 * listening: reported as `missed`. On Redis Cluster that count covers one shard's clients only,
 * so misses are not reported there (a dead target settles when its record expires).
 */
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { RedisClient } from '../data/redis.js'
import type { Carrier, CarrierEvents, CarrierRoute, DataHandler, RouteInfo } from './carrier.js'
import { decodeData, encodeData, type DataMessage } from './link-frames.js'
import { RegistryKeys } from './registry-scripts.js'

/** Options of `RedisCarrier`. */
export interface RedisCarrierOptions {
  /** This node's name. */
  name: string
  /** Cluster name (the `{hash tag}` of the channels, as of the registry's keys). */
  cluster: string
  /** The node's shared Redis client (its options and key prefix name the channels). */
  redis: RedisClient
  /** Opens a dedicated connection (one subscriber, one publisher). @default redis.duplicate() */
  connect?: () => RedisClient
  /** Largest DATA payload. @default 8388608 (8 MiB) */
  maxFrameBytes?: number
  log?: Logger
}

/** Names of the channels of one cluster. */
function redisChannels (redis: RedisClient, cluster: string): { node: (name: string) => string, all: string } {
  const stored = new RegistryKeys(redis, cluster).stored
  return { node: (name) => `${stored}n:${name}`, all: `${stored}all` }
}

/** Most channel names remembered (names of nodes; workers that restart bring new ones). */
const MAX_CHANNEL_NAMES = 10_000

/** Resolves once `client` is ready; rejects on its first error before that (it keeps trying). */
function publisherReady (client: RedisClient): Promise<void> {
  if (client.status === 'ready') return Promise.resolve()
  return new Promise((resolve, reject) => {
    const ready = (): void => { client.off('error', failed); resolve() }
    const failed = (err: Error): void => { client.off('ready', ready); reject(err) }
    client.once('ready', ready)
    client.once('error', failed)
  })
}

/** Frames through Redis pub/sub. */
export class RedisCarrier extends EventEmitter<CarrierEvents> implements Carrier, CarrierRoute {
  readonly name = 'redis'
  readonly id = 'redis'
  readonly maxFrameBytes: number
  onData: DataHandler = () => {}
  readonly #options: RedisCarrierOptions
  readonly #channelOf: (name: string) => string
  readonly #all: string
  readonly #own: string
  readonly #channels = new Map<string, string>()
  readonly #reportMisses: boolean
  #pub: RedisClient | undefined
  #sub: RedisClient | undefined
  #subscribed = false
  #ready = false
  #routes: readonly CarrierRoute[] = []
  #closed = false
  lastError: string | undefined

  constructor (options: RedisCarrierOptions) {
    super()
    this.#options = options
    this.maxFrameBytes = options.maxFrameBytes ?? 8 * 1024 * 1024
    const channels = redisChannels(options.redis, options.cluster)
    this.#channelOf = channels.node
    this.#all = channels.all
    this.#own = channels.node(options.name)
    this.#reportMisses = !('nodes' in options.redis) // ioredis Cluster: counts cover one shard
  }

  get ready (): boolean { return this.#ready }
  get routes (): readonly CarrierRoute[] { return this.#routes }

  unavailableReason (): string {
    return `Redis pub/sub is not reachable${this.lastError ? ` (${this.lastError})` : ''}`
  }

  /**
   * Opens both connections and subscribes; resolves once subscribed and the publisher is ready
   * (the route is ready then), or rejects (it keeps trying).
   */
  start (): Promise<void> {
    const connect = this.#options.connect ?? (() => this.#options.redis.duplicate())
    const pub = this.#pub = connect()
    const sub = this.#sub = connect()
    for (const c of [pub, sub]) {
      c.on('error', (err: Error) => { this.lastError = err.message })
      c.on('close', () => this.#update())
      c.on('ready', () => this.#update())
    }
    sub.on('messageBuffer', (_channel: Buffer, message: Buffer) => this.#onMessage(message))
    // subscribed again on every reconnect (SUBSCRIBE is idempotent; a first attempt made while
    // Redis was down is retried then)
    sub.on('ready', () => { void this.#subscribe().catch(() => {}) })
    return Promise.all([this.#subscribe(), publisherReady(pub)]).then(() => {})
  }

  async #subscribe (): Promise<void> {
    const sub = this.#sub
    if (!sub || this.#closed) return
    try {
      await sub.subscribe(this.#own, this.#all)
      this.#subscribed = true
    } catch (err) {
      this.lastError = (err as Error).message
      throw err
    } finally {
      this.#update()
    }
  }

  #update (): void {
    if (this.#sub?.status !== 'ready') this.#subscribed = false
    const ready = !this.#closed && this.#subscribed && this.#pub?.status === 'ready'
    if (ready === this.#ready) return
    this.#ready = ready
    if (ready) this.lastError = undefined // connected again: an old error would mislead status pages
    this.#routes = ready ? [this] : []
    if (!this.#closed) this.#options.log?.[ready ? 'info' : 'warn']({ carrier: 'redis' }, ready ? 'cluster: Redis pub/sub ready' : 'cluster: lost Redis pub/sub')
    this.emit('routes', this.#routes.length)
    this.emit(ready ? 'up' : 'down', this)
  }

  #onMessage (message: Buffer): void {
    const msg = decodeData(message)
    if (msg === undefined || msg.source === this.#options.name) return // malformed, or our own notice
    this.onData(msg, this)
  }

  send (msg: DataMessage): boolean {
    const pub = this.#pub
    if (!this.#ready || pub === undefined) return false
    const frame = encodeData(msg)
    if (frame.length > this.maxFrameBytes) return false
    if (msg.targets === 'all') {
      pub.publish(this.#all, frame).catch(() => {})
      return true
    }
    const targets = msg.targets
    if (!this.#reportMisses) {
      for (const target of targets) pub.publish(this.#channel(target), frame).catch(() => {})
      return true
    }
    // one `missed` per frame (the messenger scans its pending requests per event); the Set is
    // made only when a target has no listener
    if (targets.length === 1) {
      const target = targets[0]!
      pub.publish(this.#channel(target), frame).then((n) => { if (n === 0) this.emit('missed', this, new Set([target])) }, () => {})
      return true
    }
    let left = targets.length
    let missed: Set<string> | undefined
    const settle = (target: string, receivers: number): void => {
      if (receivers === 0) (missed ??= new Set()).add(target)
      if (--left === 0 && missed !== undefined) this.emit('missed', this, missed)
    }
    for (const target of targets) {
      pub.publish(this.#channel(target), frame).then((n) => settle(target, n), () => settle(target, 1))
    }
    return true
  }

  /** Nothing to do: a gone node's channel simply has no subscriber. */
  nodeGone (): void {}

  /** Commands go out with ioredis's auto-pipelining (one write per tick). */
  flush (): void {}

  #channel (node: string): string {
    let channel = this.#channels.get(node)
    if (channel === undefined) {
      if (this.#channels.size >= MAX_CHANNEL_NAMES) this.#channels.clear()
      this.#channels.set(node, (channel = this.#channelOf(node)))
    }
    return channel
  }

  info (): RouteInfo[] {
    const status = this.#closed ? 'closed' : this.#ready ? 'ready' : 'connecting'
    return [{ address: 'redis', name: 'redis', status, preferred: this.#ready, rttMs: undefined, lastError: this.lastError, stats: undefined }]
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#update()
    await Promise.all([this.#pub, this.#sub].map(async (c) => {
      if (c === undefined) return
      if (c.status !== 'ready') return c.disconnect()
      try { await c.quit() } catch { c.disconnect() }
    }))
  }
}
