/**
 * The bus of a server in a dispatch cluster: the same API as the standalone `LocalBus`, with
 * every call reaching the whole cluster. Local connections are served first; the registry in
 * Redis says which other nodes hold a uid or members of a group, and those nodes (never all of
 * them for a unicast) get one request through a dispatcher. A call resolves once every target
 * node has answered, so counts include the connections on other servers and a uid that went
 * offline reports 0 instead of silence.
 *
 * A request body is one line of JSON (the op and its arguments), then, for a push, a newline
 * and the data as JSON: serialised once per call whatever the number of target nodes, and
 * passed to JSON clients as it is (no parse, no re-encode on the receiving server). Replies
 * are numbers (connections reached) or, for `groupMembers`, uid lists. Lookups of uid → nodes
 * (empty ones included) are reused for `uidCacheMs`, and sends that find no entry share one
 * Redis read; a node that starts holding a uid announces it to every server (a NOTICE, which
 * drops the entry), and a node that answers 0 for a cached uid makes the sender look it up again.
 */
import { LocalBus, type Bus, type BindOptions, type SendOptions, type Uid } from '../connection/bus.js'
import { Outgoing, type Connection } from '../connection/connection.js'
import type { ConnectionTable } from '../connection/table.js'
import { turnNow } from '../core/clock.js'
import { SdError } from '../core/errors.js'
import type { ClusterNode } from './cluster-node.js'
import { isValidNodeName } from './link-auth.js'

/** A request between servers (a push's data follows the op on the next line). */
type Op =
  | { o: 'uid', u: string }
  | { o: 'uids', u: string[] }
  | { o: 'group', g: string, x?: string[] }
  | { o: 'all', x?: string[] }
  | { o: 'conn', c: string }
  | { o: 'kick', u: string, r: string }
  | { o: 'close', c: string, r: string }
  | { o: 'members', g: string }

/** A notice: these uids now live (also) on the sender. */
interface UidNotice { o: 'here', u: string[] }

/**
 * A request's text: the op as one line of JSON, then for a push a newline and the data as JSON.
 * A uid push, the commonest request, has the uid as a JSON string for its op line (no object to
 * write or parse). Throws for data that is not JSON-able.
 */
function requestText (op: Op, data: { d: unknown } | undefined): string {
  if (op.o === 'uid' && data !== undefined) return uidText(op.u, data.d)
  const head = JSON.stringify(op)
  return data === undefined ? head : `${head}\n${dataText(data.d)}`
}

/** The text of a push to `uid`: the uid as a JSON string, a newline, the data as JSON. */
function uidText (uid: string, data: unknown): string {
  return `${JSON.stringify(uid)}\n${dataText(data)}`
}

/** A push's data as JSON (`undefined` as `null`, as the codecs send it). */
function dataText (data: unknown): string {
  return JSON.stringify(data) ?? 'null'
}

/** Reads a request's op line: a JSON string is a uid push's uid, anything else an op object. */
function parseOp (head: string): Op {
  if (head.charCodeAt(0) !== 0x22) return JSON.parse(head) as Op
  // a JSON string without escapes is its characters between the quotes (anything else, a
  // malformed line included, goes through JSON.parse)
  const plain = head.length >= 2 && head.charCodeAt(head.length - 1) === 0x22 && !head.includes('\\')
  return uidOp(plain ? head.slice(1, -1) : JSON.parse(head) as string)
}

function uidOp (uid: string): Op {
  return { o: 'uid', u: uid }
}

/** Uid lookups kept at most (the oldest goes first). */
const MAX_CACHED_UIDS = 100_000

function excludeList (options: SendOptions | undefined): string[] | undefined {
  const ex = options?.exclude
  if (ex === undefined) return undefined
  return typeof ex === 'string' ? [ex] : [...ex]
}

function sum (replies: Map<string, unknown>): number {
  let n = 0
  for (const v of replies.values()) if (typeof v === 'number') n += v
  return n
}

function registryDown (err: unknown): SdError {
  return new SdError('SD_ERR_CLUSTER_UNAVAILABLE', `the cluster registry cannot be read: ${err instanceof Error ? err.message : String(err)}`)
}

/** Bus of one server of a cluster. */
export class ClusterBus implements Bus {
  readonly node: ClusterNode
  readonly #table: ConnectionTable
  readonly #local: LocalBus
  readonly #self: string
  readonly #cacheMs: number
  readonly #uidCache = new Map<string, { nodes: string[], at: number }>()
  /** Cache fills under way, by uid (see `#uidNodes`). */
  readonly #lookups = new Map<string, Promise<string[]>>()
  /** Bumped by every notice: a lookup that overlapped one is not cached (it may predate the change). */
  #noticeGen = 0
  #announce: string[] = []

  constructor (table: ConnectionTable, node: ClusterNode, uidCacheMs = 2000) {
    this.#table = table
    this.#local = new LocalBus(table)
    this.node = node
    this.#self = node.name
    this.#cacheMs = uidCacheMs
    node.messenger.onRequest = (_source, text) => {
      const nl = text.indexOf('\n')
      return nl < 0 ? this.#handle(parseOp(text)) : this.#handle(parseOp(text.slice(0, nl)), text.slice(nl + 1))
    }
    node.messenger.onNotice = (_source, body) => {
      const n = JSON.parse(body.toString('utf8')) as UidNotice
      if (n.o !== 'here' || !Array.isArray(n.u)) return
      this.#noticeGen++
      // a lookup under way may predate the news: later sends read Redis again
      for (const u of n.u) {
        this.#uidCache.delete(String(u))
        this.#lookups.delete(String(u))
      }
    }
    node.onNodeGone = (name) => {
      for (const [uid, e] of this.#uidCache) if (e.nodes.includes(name)) this.#uidCache.delete(uid)
    }
  }

  // ---- serving other nodes' requests --------------------------------------------------------

  /** Runs a request of another node; `data`: a push's data as JSON text. */
  #handle (op: Op, data = 'null'): unknown {
    const local = this.#table
    switch (op.o) {
      case 'uid': return this.#deliverJson(local.byUid(op.u), data)
      case 'uids': {
        const conns: Connection[] = []
        for (const u of op.u) for (const c of local.byUid(u)) conns.push(c)
        return this.#deliverJson(conns, data)
      }
      case 'group': return this.#deliverJson(local.byGroup(op.g), data, op.x)
      case 'all': return this.#deliverJson(local.all(), data, op.x)
      case 'conn': return this.#deliverJson(local.get(op.c) ? [local.get(op.c)!] : [], data)
      case 'kick': {
        const conns = [...local.byUid(op.u)]
        for (const c of conns) c.close(new SdError('SD_ERR_KICKED', op.r))
        return conns.length
      }
      case 'close': {
        const conn = local.get(op.c)
        if (!conn) return 0
        conn.close(new SdError('SD_ERR_KICKED', op.r))
        return 1
      }
      case 'members': {
        const uids = new Set<string>()
        for (const c of local.byGroup(op.g)) if (c.uid !== undefined) uids.add(c.uid)
        return [...uids]
      }
      default:
        // the messenger logs it and answers null
        throw new Error(`unknown request ${String(JSON.stringify(op)).slice(0, 100)} (from a server of another SD version?)`)
    }
  }

  /** Pushes data that arrived as JSON text: one encoding per codec however many connections. */
  #deliverJson (conns: Iterable<Connection>, json: string, exclude?: string[]): number {
    let n = 0
    const skip = exclude && exclude.length > 0 ? new Set(exclude) : undefined
    let out: Outgoing | undefined
    for (const conn of conns) {
      if (skip?.has(conn.id)) continue
      out ??= Outgoing.fromJson(json)
      if (conn.pushOutgoing(out)) n++
    }
    return n
  }

  #deliverLocal (conns: Iterable<Connection>, data: unknown): number {
    // the same path as a local send, so one encoding per codec however many connections
    let n = 0
    let out: Outgoing | undefined
    for (const conn of conns) {
      out ??= new Outgoing(data)
      if (conn.pushOutgoing(out)) n++
    }
    return n
  }

  // ---- sending to other nodes ---------------------------------------------------------------

  /** Sends `op` (and a push's `data`) to `nodes` (this node left out); resolves to the replies. */
  #request (nodes: readonly string[], op: Op, data?: { d: unknown }): Promise<Map<string, unknown>> {
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

  /** Reads the nodes holding `uid` (other than this one) from Redis, and caches them. */
  async #lookUp (uid: string): Promise<string[]> {
    let nodes: string[]
    const gen = this.#noticeGen
    try {
      nodes = await this.node.registry.view.uidNodes(uid)
    } catch (err) {
      throw registryDown(err)
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
  async #toUid (uid: string, op: Op, data?: { d: unknown }): Promise<number> {
    const { nodes, cached } = await this.#uidNodes(uid)
    if (nodes.length === 0) return 0
    const replies = await this.#request(nodes, op, data)
    let n = sum(replies)
    if (cached && nodes.some((node) => replies.get(node) === 0 || replies.get(node) === undefined)) {
      n += await this.#resendFresh(uid, nodes, op, data)
    }
    return n
  }

  /** A cached lookup of `uid` missed on some of `tried`: sends to the holders a fresh lookup adds. */
  async #resendFresh (uid: string, tried: readonly string[], op: Op, data?: { d: unknown }): Promise<number> {
    const again = (await this.#lookUp(uid)).filter((node) => !tried.includes(node))
    return again.length > 0 ? sum(await this.#request(again, op, data)) : 0
  }

  // ---- membership: local table first, then the registry -------------------------------------

  #syncUid (uid: string): Promise<boolean> {
    const present = this.#table.byUid(uid).size > 0
    return this.node.registry.setUid(uid, present)
  }

  #syncGroup (group: string): Promise<boolean> {
    return this.node.registry.setGroupCount(group, this.#table.byGroup(group).size)
  }

  /** Tells every server that `uid` is now (also) here, once per turn for all such uids. */
  #announceUid (uid: string): void {
    if (this.#announce.push(uid) > 1) return
    setImmediate(() => {
      const u = this.#announce
      this.#announce = []
      this.node.messenger.notify(Buffer.from(JSON.stringify({ o: 'here', u } satisfies UidNotice)))
    })
  }

  /** A connection closed here: the registry forgets what only it held. */
  closed (_conn: Connection, was?: { uid?: string, groups?: ReadonlySet<string> }): void {
    if (was?.uid !== undefined) void this.#syncUid(was.uid)
    if (was?.groups) for (const g of was.groups) void this.#syncGroup(g)
  }

  async bindUid (conn: Connection, uid: Uid, options?: BindOptions): Promise<void> {
    const key = String(uid)
    const previous = conn.uid
    if (options?.kick) {
      // other servers close theirs first (a fresh lookup, not the cache)
      const nodes = await this.#lookUp(key)
      if (nodes.length > 0) await this.#request(nodes, { o: 'kick', u: key, r: `uid ${key} signed in elsewhere` })
    }
    const isNew = this.#table.byUid(key).size === 0
    await this.#local.bindUid(conn, key, options)
    if (previous !== undefined && previous !== key) void this.#syncUid(previous)
    // announced once Redis has it, so a node that drops its cache entry reads the new state
    await this.#syncUid(key)
    if (isNew) this.#announceUid(key)
  }

  async unbindUid (conn: Connection): Promise<void> {
    const uid = conn.uid
    await this.#local.unbindUid(conn)
    if (uid !== undefined) await this.#syncUid(uid)
  }

  async joinGroup (conn: Connection, group: string): Promise<void> {
    await this.#local.joinGroup(conn, group)
    await this.#syncGroup(group)
  }

  async leaveGroup (conn: Connection, group: string): Promise<void> {
    await this.#local.leaveGroup(conn, group)
    await this.#syncGroup(group)
  }

  // ---- pushes ---------------------------------------------------------------------------------

  async sendToConnection (connectionId: string, data: unknown): Promise<number> {
    if (this.#table.get(connectionId)) return this.#local.sendToConnection(connectionId, data)
    const node = nodeOfConnection(connectionId)
    if (node === undefined || node === this.#self) return 0
    return sum(await this.#request([node], { o: 'conn', c: connectionId }, { d: data }))
  }

  sendToUid (uid: Uid, data: unknown): Promise<number> {
    const key = String(uid)
    const local = this.#table.byUid(key)
    let n = 0
    try {
      if (local.size > 0) n = this.#deliverLocal(local, data)
    } catch (err) {
      return Promise.reject(err) // a codec error rejects, as with the other buses
    }
    const hit = this.#uidCache.get(key)
    if (hit && turnNow() - hit.at < this.#cacheMs) {
      // the hot paths: a fresh cache entry costs no lookup, and "on no other node" no await
      if (hit.nodes.length === 0) return Promise.resolve(n)
      const nodes = hit.nodes
      if (nodes.length === 1) {
        // the commonest cross-server send: one node holds the uid (one promise per send)
        let text: string
        try {
          text = uidText(key, data)
        } catch (err) {
          return Promise.reject(err)
        }
        return new Promise<number>((resolve, reject) => this.node.messenger.sendOne(nodes[0], text, (err, v) => {
          if (err) reject(err)
          else if (typeof v === 'number' && v > 0) resolve(n + v)
          else resolve(this.#resendFresh(key, nodes, uidOp(key), { d: data }).then((more) => n + more))
        }))
      }
      const op = uidOp(key)
      return this.#request(nodes, op, { d: data }).then((replies) => {
        let m = 0
        let missed = false
        for (const node of nodes) {
          const v = replies.get(node)
          if (typeof v === 'number' && v > 0) m += v
          else missed = true
        }
        // a node that no longer holds the uid: look it up again, send to any new holder
        return missed ? this.#resendFresh(key, nodes, op, { d: data }).then((more) => n + m + more) : n + m
      })
    }
    return this.#toUid(key, uidOp(key), { d: data }).then((m) => n + m)
  }

  async sendToUids (uids: readonly Uid[], data: unknown): Promise<number> {
    const keys = [...new Set(uids.map(String))]
    const n = await this.#local.sendToUids(keys, data)
    let byNode: Map<string, string[]>
    try {
      byNode = await this.node.registry.view.uidsNodes(keys)
    } catch (err) {
      throw registryDown(err)
    }
    const nodes = new Set<string>()
    for (const list of byNode.values()) for (const node of list) nodes.add(node)
    nodes.delete(this.#self)
    if (nodes.size === 0) return n
    return n + sum(await this.#request([...nodes], { o: 'uids', u: keys }, { d: data }))
  }

  async sendToAll (data: unknown, options?: SendOptions): Promise<number> {
    const n = await this.#local.sendToAll(data, options)
    const others = this.node.otherServers()
    if (others.length === 0) return n
    return n + sum(await this.#request(others, { o: 'all', x: excludeList(options) }, { d: data }))
  }

  async sendToGroup (group: string, data: unknown, options?: SendOptions): Promise<number> {
    const n = await this.#local.sendToGroup(group, data, options)
    const nodes = await this.#groupNodes(group)
    if (nodes.length === 0) return n
    return n + sum(await this.#request(nodes, { o: 'group', g: group, x: excludeList(options) }, { d: data }))
  }

  async kickUid (uid: Uid, reason = 'kicked'): Promise<number> {
    const key = String(uid)
    const n = await this.#local.kickUid(key, reason)
    const nodes = await this.#lookUp(key)
    if (nodes.length === 0) return n
    return n + sum(await this.#request(nodes, { o: 'kick', u: key, r: reason }))
  }

  async closeConnection (connectionId: string, reason = 'closed by server'): Promise<boolean> {
    if (await this.#local.closeConnection(connectionId, reason)) return true
    const node = nodeOfConnection(connectionId)
    if (node === undefined || node === this.#self) return false
    return sum(await this.#request([node], { o: 'close', c: connectionId, r: reason })) > 0
  }

  // ---- queries: the registry covers every node, this one included ---------------------------

  async #groupNodes (group: string): Promise<string[]> {
    try {
      return [...(await this.node.registry.view.groupNodes(group)).keys()].filter((n) => n !== this.#self)
    } catch (err) {
      throw registryDown(err)
    }
  }

  async #read<T> (fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (err) {
      throw registryDown(err)
    }
  }

  async isUidOnline (uid: Uid): Promise<boolean> {
    if (this.#table.byUid(String(uid)).size > 0) return true
    return this.#read(() => this.node.registry.view.isUidOnline(String(uid)))
  }

  onlineCount (): Promise<number> {
    return this.#read(() => this.node.registry.view.onlineCount())
  }

  async groupMembers (group: string): Promise<string[]> {
    const uids = new Set(await this.#local.groupMembers(group))
    const nodes = await this.#groupNodes(group)
    if (nodes.length > 0) {
      for (const list of (await this.#request(nodes, { o: 'members', g: group })).values()) {
        if (Array.isArray(list)) for (const u of list) uids.add(String(u))
      }
    }
    return [...uids]
  }

  groupCount (group: string): Promise<number> {
    return this.#read(() => this.node.registry.view.groupCount(group))
  }

  groups (): Promise<string[]> {
    return this.#read(() => this.node.registry.view.groups())
  }
}

/** The node a connection id belongs to: ids are `<node>.<n>` in a cluster. */
export function nodeOfConnection (id: string): string | undefined {
  const i = id.lastIndexOf('.')
  const node = i > 0 ? id.slice(0, i) : undefined
  return node !== undefined && isValidNodeName(node) ? node : undefined
}
