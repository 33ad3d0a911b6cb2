/**
 * An in-memory carrier for messenger tests: nodes of one `FakeNetwork`, each with the same
 * named routes. A route can be taken down (emits `down`), drop the next frames it is given
 * (they vanish, as bytes in a dying dispatcher's buffers do), or delay delivery. A target that
 * is not on the network, or whose route of that name is down, is reported `missed`.
 */
import { EventEmitter } from 'node:events'
import type { Carrier, CarrierEvents, CarrierRoute, DataHandler, RouteInfo } from '../../framework/cluster/carrier.js'
import type { DataMessage } from '../../framework/cluster/link-frames.js'

/** The nodes that can reach each other. */
export class FakeNetwork {
  readonly nodes = new Map<string, FakeCarrier>()

  /** A node with routes named `routeIds` (all up). */
  carrier (name: string, routeIds: readonly string[] = ['r1', 'r2']): FakeCarrier {
    const c = new FakeCarrier(this, name, routeIds)
    this.nodes.set(name, c)
    return c
  }
}

/** One route of one node. */
export class FakeRoute implements CarrierRoute {
  ready = true
  /** Frames to lose, next first (accepted by `send`, never delivered). */
  dropNext = 0
  /** Lose every frame whose kind is in this set. */
  readonly dropKinds = new Set<number>()
  /** Delivery delay. */
  delayMs = 0
  /** Frames given to `send`, delivered or not. */
  readonly sent: DataMessage[] = []

  constructor (readonly id: string, readonly carrier: FakeCarrier) {}

  send (msg: DataMessage): boolean {
    if (!this.ready) return false
    this.sent.push(msg)
    if (this.dropNext > 0) {
      this.dropNext--
      return true
    }
    if (this.dropKinds.has(msg.kind)) return true
    // the bytes are copied, as a socket would: the sender may reuse its buffer
    const copy: DataMessage = { ...msg, payload: Buffer.from(msg.payload) }
    const deliver = (): void => this.carrier.deliver(this.id, copy)
    if (this.delayMs > 0) setTimeout(deliver, this.delayMs)
    else setImmediate(deliver)
    return true
  }

  flush (): void {}
}

/** One node's carrier. */
export class FakeCarrier extends EventEmitter<CarrierEvents> implements Carrier {
  readonly name = 'fake'
  readonly maxFrameBytes = 1024 * 1024
  onData: DataHandler = () => {}
  readonly all: FakeRoute[]
  #routes: FakeRoute[]
  /** Keeps the process alive while open, as a real carrier's sockets do. */
  readonly #alive = setInterval(() => {}, 60_000)
  closed = false

  constructor (readonly network: FakeNetwork, readonly node: string, routeIds: readonly string[]) {
    super()
    this.all = routeIds.map((id) => new FakeRoute(id, this))
    this.#routes = [...this.all]
  }

  get routes (): readonly CarrierRoute[] { return this.#routes }

  route (id: string): FakeRoute {
    const r = this.all.find((x) => x.id === id)
    if (!r) throw new Error(`no route ${id}`)
    return r
  }

  unavailableReason (): string { return 'no fake route is up' }
  async start (): Promise<void> {}
  nodeGone (): void {}

  /** Takes a route down or up (emits `routes`, then `down` / `up`). */
  set (id: string, up: boolean): void {
    const r = this.route(id)
    if (r.ready === up) return
    r.ready = up
    this.#routes = this.all.filter((x) => x.ready)
    this.emit('routes', this.#routes.length)
    this.emit(up ? 'up' : 'down', r)
  }

  /** A frame sent through this node's route `id` reaches its targets (or is missed). */
  deliver (id: string, msg: DataMessage): void {
    const from = this.route(id)
    const targets = msg.targets === 'all' ? [...this.network.nodes.keys()].filter((n) => n !== this.node) : msg.targets
    const missed = new Set<string>()
    for (const t of targets) {
      const peer = this.network.nodes.get(t)
      const via = peer?.all.find((x) => x.id === id)
      if (!peer || peer.closed || !via?.ready) missed.add(t)
      else peer.onData(msg, via)
    }
    if (missed.size > 0 && msg.targets !== 'all' && from.ready) this.emit('missed', from, missed)
  }

  info (): RouteInfo[] {
    return this.all.map((r) => ({ address: r.id, name: r.id, status: r.ready ? 'ready' : 'down', preferred: r === this.#routes[0], rttMs: undefined, lastError: undefined, stats: undefined }))
  }

  async close (): Promise<void> {
    this.closed = true
    clearInterval(this.#alive)
    this.network.nodes.delete(this.node)
  }
}
