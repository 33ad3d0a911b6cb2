/**
 * The bus of a server in a dispatch cluster: the same API as the standalone `LocalBus`, with
 * every call reaching the whole cluster. Local connections are served first (the `RemoteBus`
 * base); the registry in Redis says which other nodes hold a uid or members of a group, and
 * those nodes (never all of them for a unicast) get one request through the messenger. A call
 * resolves once every target node has answered, so counts include the connections on other
 * servers and a uid that went offline reports 0 instead of silence. Request text: bus-wire.ts.
 *
 * Lookups of uid → nodes (empty ones included) are reused for `uidCacheMs`, and sends that find
 * no entry share one Redis read; a node that starts holding a uid announces it to every server
 * (a notice, which drops the entry), and a node that answers 0 for a cached uid makes the
 * sender look it up again. With registry replicas, a lookup that missed is treated as a cached
 * one; the second lookups, kicks', and a lookup whose replica answer lacks the node that
 * announced the uid within the replicas' max lag read the registry's primary (a replica's
 * answer may be the stale one that missed).
 */
import { groupUids, runPush, type MembershipChange, type PushOp, type QueryOp } from '../connection/bus-ops.js'
import type { Connection } from '../connection/connection.js'
import { RemoteBus, sumCounts } from '../connection/remote-bus.js'
import type { ConnectionTable } from '../connection/table.js'
import { turnNow } from '../core/clock.js'
import { SdError } from '../core/errors.js'
import { isPush, noticeBody, parseNotice, parseOp, requestText, uidText } from './bus-wire.js'
import { isValidNodeName } from './link-auth.js'
import type { Messenger } from './messenger.js'
import type { RegistryView } from './registry-reads.js'

/**
 * What the cluster bus uses of its node: a `ClusterNode` is one; unit tests pass an in-memory
 * fake (a registry and a messenger that reach other fake nodes).
 */
export interface ClusterBusNode {
  readonly name: string
  readonly messenger: Pick<Messenger, 'request' | 'sendOne' | 'notify' | 'onRequest' | 'onNotice'>
  readonly registry: {
    setUid (uid: string, present: boolean): Promise<boolean>
    setGroupCount (group: string, count: number): Promise<boolean>
    readonly view: Pick<RegistryView, 'uidNodes' | 'uidsNodes' | 'groupNodes' | 'isUidOnline' | 'onlineCount' | 'groupCount' | 'groups'> & { readonly readsReplicas?: boolean, readonly replicaMaxLagMs?: number }
  }
  /** Live server nodes other than this one. */
  otherServers (): string[]
  onNodeGone: (name: string) => void
}

/** A node's answer that reached at least one connection. */
function isPositive (v: unknown): v is number {
  return typeof v === 'number' && v > 0
}

/** Uid lookups kept at most (the oldest goes first). */
const MAX_CACHED_UIDS = 100_000

function registryDown (err: unknown): SdError {
  return new SdError('SD_ERR_CLUSTER_UNAVAILABLE', `the cluster registry cannot be read: ${err instanceof Error ? err.message : String(err)}`)
}

async function read<T> (fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    throw registryDown(err)
  }
}

/** Bus of one server of a cluster. */
export class ClusterBus extends RemoteBus {
  readonly node: ClusterBusNode
  readonly #self: string
  readonly #cacheMs: number
  /** Lookups may read a lagging replica: an answer that missed is looked up again, like a cached one. */
  readonly #replicaReads: boolean
  readonly #maxLagMs: number
  /**
   * With replica reads: uid → its last notice (when, and the node that started holding it),
   * oldest first. Within the replicas' max lag of it, a replica's answer that lacks that node
   * predates the change: the lookup reads the primary.
   */
  readonly #noticed = new Map<string, { at: number, node: string }>()
  readonly #uidCache = new Map<string, { nodes: string[], at: number }>()
  /** Cache fills under way, by uid (see `#uidNodes`). */
  readonly #lookups = new Map<string, Promise<string[]>>()
  /** Bumped by every notice: a lookup that overlapped one is not cached (it may predate the change). */
  #noticeGen = 0
  #announce: string[] = []

  constructor (table: ConnectionTable, node: ClusterBusNode, uidCacheMs = 2000) {
    super(table)
    this.node = node
    this.#self = node.name
    this.#cacheMs = uidCacheMs
    this.#replicaReads = node.registry.view.readsReplicas === true
    this.#maxLagMs = node.registry.view.replicaMaxLagMs ?? 1000
    node.messenger.onRequest = (_source, text) => {
      const nl = text.indexOf('\n')
      return nl < 0 ? this.#handle(parseOp(text)) : this.#handle(parseOp(text.slice(0, nl)), text.slice(nl + 1))
    }
    node.messenger.onNotice = (source, body) => {
      const uids = parseNotice(body)
      if (uids === undefined) return
      this.#noticeGen++
      // a lookup under way may predate the news: later sends read Redis again
      for (const u of uids) {
        this.#uidCache.delete(u)
        this.#lookups.delete(u)
      }
      if (this.#replicaReads) this.#noted(uids, source)
    }
    node.onNodeGone = (name) => {
      for (const [uid, e] of this.#uidCache) if (e.nodes.includes(name)) this.#uidCache.delete(uid)
    }
  }

  /** Records a notice of `node` about `uids`; drops entries past the max lag (and the oldest past the bound). */
  #noted (uids: readonly string[], node: string): void {
    const now = Date.now()
    for (const u of uids) {
      this.#noticed.delete(u) // to the end of the (time) order
      this.#noticed.set(u, { at: now, node })
    }
    for (const [u, { at }] of this.#noticed) {
      if (now - at < this.#maxLagMs && this.#noticed.size <= MAX_CACHED_UIDS) break
      this.#noticed.delete(u)
    }
  }

  /** Runs a request of another node; `data`: a push's data as JSON text. */
  #handle (op: PushOp | QueryOp, data = 'null'): unknown {
    if (isPush(op)) return runPush(this.table, op, undefined, data)
    // the only query a node asks another (the rest are answered by the registry)
    if (op.o === 'members') return groupUids(this.table, op.g)
    // the messenger logs it and answers null
    throw new Error(`unknown request ${String(JSON.stringify(op)).slice(0, 100)} (from a server of another SD version?)`)
  }

  // ---- routing to other nodes ---------------------------------------------------------------

  /** Sends `op` to `nodes` (this node left out); resolves to the replies. */
  #request (nodes: readonly string[], op: PushOp | QueryOp, data?: unknown): Promise<Map<string, unknown>> {
    const targets = nodes.filter((n) => n !== this.#self)
    if (targets.length === 0) return Promise.resolve(new Map())
    let text: string
    try {
      text = requestText(op, data)
    } catch (err) {
      return Promise.reject(err) // not JSON-able (a BigInt, a cycle): rejects like a codec error
    }
    return this.node.messenger.request(targets, text)
  }

  async #count (nodes: readonly string[], op: PushOp, data?: unknown): Promise<number> {
    return nodes.length === 0 ? 0 : sumCounts((await this.#request(nodes, op, data)).values())
  }

  protected async route (op: PushOp, data: unknown): Promise<number> {
    switch (op.o) {
      case 'uid': return this.#toUid(op.u, op, data)
      case 'uids': {
        const byNode = await read(() => this.node.registry.view.uidsNodes(op.u))
        if (this.#replicaReads) return this.#toUidsChecked(byNode, op, data)
        const nodes = new Set<string>()
        for (const list of byNode.values()) for (const node of list) nodes.add(node)
        nodes.delete(this.#self)
        return this.#count([...nodes], op, data)
      }
      case 'all': return this.#count(this.node.otherServers(), op, data)
      case 'group': return this.#count(await this.#groupNodes(op.g), op, data)
      case 'conn':
      case 'close': {
        const node = nodeOfConnection(op.c)
        return node === undefined || node === this.#self ? 0 : this.#count([node], op, data)
      }
      case 'kick': return this.#count(await this.#lookUp(op.u, true), op)
    }
  }

  /** The hot path: a fresh cache entry costs no lookup, and "on no other node" no await. */
  protected override routeUid (uid: string, data: unknown, n: number): Promise<number> {
    const hit = this.#uidCache.get(uid)
    if (hit === undefined || turnNow() - hit.at >= this.#cacheMs) return this.#toUid(uid, { o: 'uid', u: uid }, data).then((m) => n + m)
    if (hit.nodes.length === 0) return Promise.resolve(n)
    const nodes = hit.nodes
    if (nodes.length === 1) {
      // the commonest cross-server send: one node holds the uid (one promise per send)
      let text: string
      try {
        text = uidText(uid, data)
      } catch (err) {
        return Promise.reject(err)
      }
      return new Promise<number>((resolve, reject) => this.node.messenger.sendOne(nodes[0], text, (err, v) => {
        if (err) reject(err)
        else if (isPositive(v)) resolve(n + v)
        else resolve(this.#resendFresh(uid, nodes, { o: 'uid', u: uid }, data).then((more) => n + more))
      }))
    }
    // several holders: the general path finds the same cache entry and re-sends the same way
    return this.#toUid(uid, { o: 'uid', u: uid }, data).then((m) => n + m)
  }

  /**
   * Nodes holding `uid`, from the cache or Redis. Sends to a uid whose entry is missing or
   * expired share one Redis read (a busy uid's entry expiring must not cost a read per send in
   * flight); `#lookUp` reads Redis for a caller that needs a read of its own.
   */
  async #uidNodes (uid: string): Promise<{ nodes: string[], cached: boolean }> {
    const hit = this.#uidCache.get(uid)
    if (hit && Date.now() - hit.at < this.#cacheMs) return { nodes: hit.nodes, cached: true }
    const shared = this.#lookups.get(uid)
    // a read another send started may predate this send: its answer counts as cached (a node
    // that answers 0 makes this send look again)
    if (shared !== undefined) return { nodes: await shared, cached: true }
    const lookup = this.#lookUp(uid)
    this.#lookups.set(uid, lookup)
    const forget = (): void => { if (this.#lookups.get(uid) === lookup) this.#lookups.delete(uid) }
    lookup.then(forget, forget)
    return { nodes: await lookup, cached: false }
  }

  /** Reads the nodes holding `uid` (other than this one) from Redis, and caches them; `fresh`: from the primary. */
  async #lookUp (uid: string, fresh = false): Promise<string[]> {
    const gen = this.#noticeGen
    let nodes = await read(() => this.node.registry.view.uidNodes(uid, fresh))
    const noticed = fresh || this.#noticed.size === 0 ? undefined : this.#noticed.get(uid)
    if (noticed !== undefined && !nodes.includes(noticed.node)) {
      // the replica does not have the change the notice announced yet: the primary has
      if (Date.now() - noticed.at < this.#maxLagMs) nodes = await read(() => this.node.registry.view.uidNodes(uid, true))
      else this.#noticed.delete(uid)
    }
    const others = nodes.filter((n) => n !== this.#self)
    // overlapped a notice: it may predate the change (and the notice dropped the entry already)
    if (gen !== this.#noticeGen) return others
    // "on no other node" is cached too (a local send must not cost a Redis round trip); a node
    // that starts holding the uid announces it, which drops the entry everywhere. Deleted first,
    // so the entry moves to the end of the eviction order.
    this.#uidCache.delete(uid)
    this.#uidCache.set(uid, { nodes: others, at: Date.now() })
    if (this.#uidCache.size > MAX_CACHED_UIDS) for (const old of this.#uidCache.keys()) { this.#uidCache.delete(old); break }
    return others
  }

  /** Sends a uid-addressed op to the nodes holding it; a cached answer that missed is looked up again. */
  async #toUid (uid: string, op: PushOp, data?: unknown): Promise<number> {
    const { nodes, cached } = await this.#uidNodes(uid)
    if (nodes.length === 0) return 0
    const replies = await this.#request(nodes, op, data)
    let n = sumCounts(replies.values())
    if ((cached || this.#replicaReads) && nodes.some((node) => !isPositive(replies.get(node)))) {
      n += await this.#resendFresh(uid, nodes, op, data)
    }
    return n
  }

  /** A cached lookup of `uid` missed on some of `tried`: sends to the holders a fresh lookup adds. */
  async #resendFresh (uid: string, tried: readonly string[], op: PushOp, data?: unknown): Promise<number> {
    const again = (await this.#lookUp(uid, true)).filter((node) => !tried.includes(node))
    return this.#count(again, op, data)
  }

  /**
   * `sendToUids` when lookups read replicas: a node that answers fewer connections than the
   * uids the replica placed there (or no answer) may have lost some of them to another node
   * within the lag. Those uids are read again on the primary, and the op goes to their holders
   * not tried yet (never twice to a node: each delivers only to the uids it holds).
   */
  async #toUidsChecked (byNode: ReadonlyMap<string, readonly string[]>, op: PushOp & { o: 'uids' }, data: unknown): Promise<number> {
    const placed = new Map<string, number>()
    for (const list of byNode.values()) for (const node of list) if (node !== this.#self) placed.set(node, (placed.get(node) ?? 0) + 1)
    const tried = [...placed.keys()]
    const replies = await this.#request(tried, op, data)
    let n = sumCounts(replies.values())
    const short = new Set<string>()
    for (const [node, uids] of placed) {
      const v = replies.get(node)
      if (typeof v !== 'number' || v < uids) short.add(node)
    }
    // a uid the replica still places here that left this node is a suspect too (the local table is current)
    // and so is one a server announced (it bound the uid) within the max lag that the replica does not place there yet
    const now = Date.now()
    const stale = (uid: string, list: readonly string[]): boolean => {
      if (list.includes(this.#self) && this.table.byUid(uid).size === 0) return true
      const noticed = this.#noticed.get(uid)
      return noticed !== undefined && now - noticed.at < this.#maxLagMs && !list.includes(noticed.node)
    }
    const suspects: string[] = []
    for (const [uid, list] of byNode) if (list.some((node) => short.has(node)) || stale(uid, list)) suspects.push(uid)
    if (suspects.length === 0) return n
    const again = new Set<string>()
    for (const list of (await read(() => this.node.registry.view.uidsNodes(suspects, true))).values()) {
      for (const node of list) if (node !== this.#self && !placed.has(node)) again.add(node)
    }
    if (again.size > 0) n += await this.#count([...again], op, data)
    return n
  }

  async #groupNodes (group: string): Promise<string[]> {
    return [...(await read(() => this.node.registry.view.groupNodes(group))).keys()].filter((n) => n !== this.#self)
  }

  // ---- queries: the registry covers every node, this one included ---------------------------

  protected async ask (q: QueryOp): Promise<unknown> {
    const view = this.node.registry.view
    switch (q.o) {
      case 'online': return read(() => view.isUidOnline(q.u))
      case 'count': return read(() => view.onlineCount())
      case 'groupCount': return read(() => view.groupCount(q.g))
      case 'groups': return read(() => view.groups())
      case 'members': {
        const uids = new Set(groupUids(this.table, q.g))
        const nodes = await this.#groupNodes(q.g)
        if (nodes.length > 0) {
          for (const list of (await this.#request(nodes, q)).values()) {
            if (Array.isArray(list)) for (const u of list) uids.add(String(u))
          }
        }
        return [...uids]
      }
      case 'connections': return undefined // each server reports its own
    }
  }

  // ---- membership: local table first, then the registry -------------------------------------

  /** Other servers close the uid's connections first (a fresh lookup, not the cache). */
  protected override async kickBeforeBind (uid: string): Promise<void> {
    const nodes = await this.#lookUp(uid, true)
    if (nodes.length > 0) await this.#request(nodes, { o: 'kick', u: uid, r: `uid ${uid} signed in elsewhere` })
  }

  protected async changed (change: MembershipChange): Promise<void> {
    switch (change.t) {
      case 'bind':
        if (change.previous !== undefined && change.previous !== change.u) void this.#syncUid(change.previous)
        // announced once Redis has it, so a node that drops its cache entry reads the new state
        await this.#syncUid(change.u)
        if (change.first) this.#announceUid(change.u)
        return
      case 'unbind': if (change.u !== undefined) await this.#syncUid(change.u); return
      case 'join':
      case 'leave': await this.#syncGroup(change.g); return
      case 'close':
        // the registry forgets what only this connection held
        if (change.was?.uid !== undefined) void this.#syncUid(change.was.uid)
        if (change.was?.groups) for (const g of change.was.groups) void this.#syncGroup(g)
    }
  }

  /** A connection of this server opened: nothing to record until it binds or joins. */
  override opened (_conn: Connection): void {}

  #syncUid (uid: string): Promise<boolean> {
    return this.node.registry.setUid(uid, this.table.byUid(uid).size > 0)
  }

  #syncGroup (group: string): Promise<boolean> {
    return this.node.registry.setGroupCount(group, this.table.byGroup(group).size)
  }

  /** Tells every server that `uid` is now (also) here, once per turn for all such uids. */
  #announceUid (uid: string): void {
    if (this.#announce.push(uid) > 1) return
    setImmediate(() => {
      const u = this.#announce
      this.#announce = []
      this.node.messenger.notify(noticeBody(u))
    })
  }
}

/** The node a connection id belongs to: ids are `<node>.<n>` in a cluster. */
export function nodeOfConnection (id: string): string | undefined {
  const i = id.lastIndexOf('.')
  const node = i > 0 ? id.slice(0, i) : undefined
  return node !== undefined && isValidNodeName(node) ? node : undefined
}
