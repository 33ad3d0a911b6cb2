/**
 * The dispatch-link carrier: one `LinkClient` per dispatch server (found in the registry within
 * `pollMs`, or a static list of `host:port` and `unix:/path` entries), each a route. A node
 * prefers one dispatcher (picked by a hash of its name, so nodes spread over dispatchers) and
 * keeps it while its link lives, so its frames to a node keep their order. A dispatcher's "not
 * linked" ACK entries become `missed`.
 */
import type { LinkSecret } from './link-auth.js'
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { Carrier, CarrierEvents, CarrierRoute, DataHandler, RouteInfo } from './carrier.js'
import { LinkClient, type LinkClientOptions } from './link-client.js'
import type { DataMessage } from './link-frames.js'
import type { RegistryView } from './registry-reads.js'

/** Options of `DispatchCarrier`. */
export interface DispatchCarrierOptions {
  /** This node's name. */
  name: string
  secret: LinkSecret
  /** Link settings (timeouts, buffer limits) for every dispatcher link. */
  link?: Omit<LinkClientOptions, 'host' | 'port' | 'path' | 'name' | 'secret' | 'role'>
  /** Where `start()` finds the dispatchers (their records). @default none: `addDispatcher` only */
  view?: RegistryView
  /**
   * Static list used by `start()` instead of the registry: `'host:port'`, or `'unix:/path'` for a
   * dispatch server of this machine listening on that socket. @default []
   */
  dispatchers?: readonly string[]
  log?: Logger
}

/** Where a dispatch server takes links: a TCP address, or a unix socket of this machine. */
export type DispatcherAddress = { host: string, port: number } | { path: string }

/** `'host:port'` (IPv6 in brackets), or `'unix:/absolute/path'`. */
export function parseAddress (s: string): DispatcherAddress {
  if (s.startsWith('unix:')) {
    const path = s.slice('unix:'.length)
    if (!path.startsWith('/') || path.length < 2) throw new Error(`cluster.dispatchers: '${s}' is not unix:/absolute/path`)
    return { path }
  }
  const i = s.lastIndexOf(':')
  const port = Number(s.slice(i + 1))
  if (i <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`cluster.dispatchers: '${s}' is not host:port or unix:/path`)
  return { host: s.slice(0, i).replace(/^\[|\]$/g, ''), port }
}

/** The route id of an address: `host:port`, or `unix:/path`. */
function addressId (a: DispatcherAddress): string {
  return 'path' in a ? `unix:${a.path}` : `${a.host}:${a.port}`
}

/** A dispatcher link as a route. */
class DispatchRoute implements CarrierRoute {
  constructor (readonly id: string, readonly client: LinkClient) {}
  get ready (): boolean { return this.client.link !== undefined }
  send (msg: DataMessage): boolean { return this.client.send(msg) }
  flush (): void { this.client.link?.flush() }
}

/** Routes through the dispatch servers this node links to. */
export class DispatchCarrier extends EventEmitter<CarrierEvents> implements Carrier {
  readonly name = 'dispatch'
  readonly maxFrameBytes: number
  onData: DataHandler = () => {}
  readonly #options: DispatchCarrierOptions
  readonly #all = new Map<string, DispatchRoute>()
  /** Dispatchers found in the registry: name → link address. */
  readonly #found = new Map<string, { host: string, port: number }>()
  /** The static list, checked when the carrier is made (a bad entry fails at boot). */
  readonly #static: DispatcherAddress[]
  #routes: DispatchRoute[] = []
  #closed = false

  constructor (options: DispatchCarrierOptions) {
    super()
    this.#options = options
    this.maxFrameBytes = options.link?.maxFrameBytes ?? 8 * 1024 * 1024
    this.#static = (options.dispatchers ?? []).map(parseAddress)
  }

  get routes (): readonly CarrierRoute[] { return this.#routes }

  unavailableReason (): string {
    return this.#all.size === 0 ? 'no dispatch server is known (none registered, none configured)' : 'no dispatch server is reachable'
  }

  /** Links to the static list, or to every dispatcher the registry shows (as they come). */
  async start (): Promise<void> {
    if (this.#static.length > 0) {
      for (const address of this.#static) this.#add(address)
      return
    }
    this.#options.view?.on('up', (r) => {
      if (r.role !== 'dispatch' || r.host === undefined || r.port === undefined) return
      const known = this.#found.get(r.name)
      // the same dispatcher restarted on another address: the old one is gone
      if (known && (known.host !== r.host || known.port !== r.port)) this.removeDispatcher(known.host, known.port)
      this.#found.set(r.name, { host: r.host, port: r.port })
      this.addDispatcher(r.host, r.port)
    })
  }

  /**
   * A dispatcher gone from the registry is dropped unless its link still works (then only its
   * Redis is in trouble); if it comes back, its record brings it back.
   */
  nodeGone (name: string): void {
    const d = this.#found.get(name)
    if (d && !this.isReady(d.host, d.port)) {
      this.#found.delete(name)
      this.removeDispatcher(d.host, d.port)
    }
  }

  /** Adds a dispatcher to link to (no-op when known). */
  addDispatcher (host: string, port: number): void {
    this.#add({ host, port })
  }

  #add (target: DispatcherAddress): void {
    const address = addressId(target)
    if (this.#closed || this.#all.has(address)) return
    const o = this.#options
    const where = 'path' in target ? { host: '', path: target.path } : target
    const client = new LinkClient({ ...o.link, ...where, name: o.name, secret: o.secret, role: 'server' })
    const route = new DispatchRoute(address, client)
    this.#all.set(address, route)
    client.on('ready', (peer) => {
      o.log?.info({ dispatcher: peer.name, address }, 'cluster: linked to a dispatch server')
      this.#updateRoutes()
      this.emit('up', route)
    })
    client.on('down', (reason) => {
      o.log?.warn({ address, reason }, 'cluster: lost the link to a dispatch server')
      this.#updateRoutes()
      this.emit('down', route)
    })
    client.on('denied', (reason) => o.log?.error({ address, reason }, 'cluster: a dispatch server refused this node (is SD_CLUSTER_SECRET the same everywhere?)'))
    client.on('data', (msg) => this.onData(msg, route))
    client.on('ack', (entries) => {
      let missed: Set<string> | undefined
      for (const e of entries) for (const target of e.missed) (missed ??= new Set()).add(target)
      if (missed) this.emit('missed', route, missed)
    })
    client.start()
  }

  /** Stops linking to a dispatcher (it left the registry); what went through it goes another way. */
  removeDispatcher (host: string, port: number): void {
    const route = this.#all.get(addressId({ host, port }))
    if (!route) return
    this.#all.delete(route.id)
    void route.client.close()
    this.#updateRoutes()
    this.emit('down', route)
  }

  /** True when the link to the dispatcher at host:port is ready. */
  isReady (host: string, port: number): boolean {
    return this.#all.get(addressId({ host, port }))?.ready === true
  }

  info (): RouteInfo[] {
    return [...this.#all.values()].map((r) => ({
      address: r.id,
      name: r.client.peer?.name,
      status: r.client.status,
      preferred: r === this.#routes[0],
      rttMs: r.client.link?.stats.rttMs,
      lastError: r.client.lastError,
      stats: r.client.link?.stats,
    }))
  }

  #updateRoutes (): void {
    const ready = [...this.#all.values()].filter((r) => r.ready)
    ready.sort((a, b) => (a.client.peer!.name < b.client.peer!.name ? -1 : 1))
    const current = this.#routes[0]
    if (current !== undefined && current.ready && this.#all.has(current.id)) {
      // a node sticks to its dispatcher while that link lives, so its messages to a node keep
      // their order (a dispatcher joining does not move it)
      this.#routes = [current, ...ready.filter((r) => r !== current)]
    } else if (ready.length > 1) {
      // each node prefers a different dispatcher (spreads load)
      const start = hash(this.#options.name) % ready.length
      this.#routes = [...ready.slice(start), ...ready.slice(0, start)]
    } else {
      this.#routes = ready
    }
    this.emit('routes', this.#routes.length)
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#routes = []
    await Promise.all([...this.#all.values()].map((r) => r.client.close()))
    this.#all.clear()
  }
}

/** FNV-1a of a string (picks a node's preferred dispatcher). */
function hash (s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return h >>> 0
}
