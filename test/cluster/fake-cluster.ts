/**
 * An in-memory dispatch cluster for cluster-bus tests: one registry (uid → nodes, group →
 * counts per node) shared by fake nodes whose messengers call each other's handlers on the
 * next turn, as the real links would. It counts registry reads and records every request, and
 * can lose notices or fail its reads.
 */
import { ClusterBus, type ClusterBusNode } from '../../framework/cluster/cluster-bus.js'
import { ConnectionTable } from '../../framework/connection/table.js'

type Messenger = ClusterBusNode['messenger']

/** Resolves after `n` turns of the event loop (requests and notices take one each). */
export async function turns (n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve))
}

/** One server: its table, its bus and its fake node. */
export interface FakeServer {
  name: string
  table: ConnectionTable
  bus: ClusterBus
  node: ClusterBusNode
}

export class FakeCluster {
  readonly uids = new Map<string, Set<string>>()
  readonly groupCounts = new Map<string, Map<string, number>>()
  readonly servers = new Map<string, FakeServer>()
  /** Requests sent, in order: sender, targets, body. */
  readonly requests: Array<{ from: string, to: string[], body: string }> = []
  /** uid → nodes reads made by any server. */
  uidReads = 0
  /** Notices are lost (a server that missed one keeps its cache entry). */
  loseNotices = false
  /** Registry reads fail. */
  registryDown = false
  /** Lookups read a replica (`readsReplicas`); set before creating servers. */
  replicaReads = false
  /** The replica's copy of uid → nodes while it lags (see `lagReplica`); undefined: current. */
  replica: Map<string, Set<string>> | undefined
  /** uid lookups the fake replica answered. */
  replicaUidReads = 0

  /** The replica stops replicating: lookups that are not `fresh` see the uids as they are now. */
  lagReplica (): void {
    this.replica = new Map([...this.uids].map(([u, set]) => [u, new Set(set)]))
  }

  /** uid → nodes as a lookup sees it: the lagging replica's, an empty answer confirmed on the primary. */
  #uidNodes (uid: string, fresh: boolean): string[] {
    const stale = fresh ? undefined : this.replica?.get(uid)
    if (stale !== undefined && stale.size > 0) {
      this.replicaUidReads++
      return [...stale]
    }
    return [...this.uids.get(uid) ?? []]
  }

  /** A new server named `name` (its connection ids are `<name>.<n>`). */
  server (name: string, uidCacheMs = 60_000): FakeServer {
    const table = new ConnectionTable(`${name}.`)
    const node = this.#node(name)
    const server = { name, table, node, bus: new ClusterBus(table, node, uidCacheMs) }
    this.servers.set(name, server)
    return server
  }

  #read<T> (value: () => T): Promise<T> {
    return this.registryDown ? Promise.reject(new Error('connection refused')) : Promise.resolve(value())
  }

  #answer (from: string, target: string, body: string): unknown {
    const server = this.servers.get(target)
    if (!server) return undefined
    try {
      return server.node.messenger.onRequest(from, body)
    } catch {
      return null // the messenger answers null for a request its handler refused
    }
  }

  #node (name: string): ClusterBusNode {
    const messenger: Messenger = {
      onRequest: () => undefined,
      onNotice: () => {},
      request: (targets, body) => {
        this.requests.push({ from: name, to: [...targets], body })
        return new Promise((resolve) => setImmediate(() => resolve(new Map(targets.map((t) => [t, this.#answer(name, t, body)])))))
      },
      sendOne: (target, body, done) => {
        this.requests.push({ from: name, to: [target], body })
        setImmediate(() => done(undefined, this.#answer(name, target, body)))
      },
      notify: (body) => {
        if (this.loseNotices) return true
        for (const [other, s] of this.servers) if (other !== name) setImmediate(() => s.node.messenger.onNotice(name, body))
        return true
      },
    }
    return {
      name,
      messenger,
      onNodeGone: () => {},
      otherServers: () => [...this.servers.keys()].filter((n) => n !== name),
      registry: {
        setUid: async (uid, present) => {
          let set = this.uids.get(uid)
          if (!set) this.uids.set(uid, (set = new Set()))
          if (present) set.add(name)
          else set.delete(name)
          if (set.size === 0) this.uids.delete(uid)
          return true
        },
        setGroupCount: async (group, count) => {
          let m = this.groupCounts.get(group)
          if (!m) this.groupCounts.set(group, (m = new Map()))
          if (count > 0) m.set(name, count)
          else m.delete(name)
          if (m.size === 0) this.groupCounts.delete(group)
          return true
        },
        view: {
          readsReplicas: this.replicaReads,
          uidNodes: (uid, fresh = false) => { this.uidReads++; return this.#read(() => this.#uidNodes(uid, fresh)) },
          uidsNodes: (uids, fresh = false) => this.#read(() => new Map(uids.map((u): [string, string[]] => [u, this.#uidNodes(u, fresh)]).filter(([, nodes]) => nodes.length > 0))),
          groupNodes: (group) => this.#read(() => new Map(this.groupCounts.get(group) ?? [])),
          isUidOnline: (uid) => this.#read(() => this.uids.has(uid)),
          onlineCount: () => this.#read(() => this.uids.size),
          groupCount: (group) => this.#read(() => [...this.groupCounts.get(group)?.values() ?? []].reduce((a, b) => a + b, 0)),
          groups: () => this.#read(() => [...this.groupCounts.keys()]),
        },
      },
    }
  }
}
