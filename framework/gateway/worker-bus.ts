/**
 * A business worker's bus: every call goes to a gateway, which runs it on its own bus. Calls
 * about one connection go to the gateway that holds it (a connection id names its gateway:
 * `<gateway node>.<n>`). Pushes and queries go to one gateway when the gateways are dispatch
 * cluster nodes (the cluster reaches the others) or when there is one, else to every linked
 * gateway, answers combined (counts summed, lists joined, online if any says so). With no
 * gateway linked a call resolves 0 / empty / false and that is logged once per outage.
 */
import type { Logger } from 'pino'
import { excludeList, type PushOp, type QueryOp } from '../connection/bus-ops.js'
import type { Bus } from '../connection/bus.js'
import type { BindOptions, ConnectionRef, SendOptions, Uid } from '../core/contract.js'
import { SdError } from '../core/errors.js'
import { WorkerConnection } from './worker-conn.js'
import type { CallBody, WorkerLink } from './worker-link.js'

/** Combines the answers of several gateways. */
function combine (answers: unknown[]): unknown {
  const first = answers[0]
  if (typeof first === 'number') return answers.reduce<number>((n, v) => n + (typeof v === 'number' ? v : 0), 0)
  if (typeof first === 'boolean') return answers.some((v) => v === true)
  if (Array.isArray(first)) return [...new Set(answers.flatMap((v) => Array.isArray(v) ? v as unknown[] : []))]
  if (typeof first === 'object' && first !== null) {
    const sum: Record<string, number> = {}
    for (const v of answers) {
      if (typeof v !== 'object' || v === null) continue
      for (const [k, n] of Object.entries(v)) if (typeof n === 'number') sum[k] = (sum[k] ?? 0) + n
    }
    return sum
  }
  return first
}

/** The bus of a business worker. */
export class WorkerBus implements Bus {
  readonly #links: () => WorkerLink[]
  readonly #log: Logger
  #warned = false

  /** `links`: the ready gateway links, now. */
  constructor (links: () => WorkerLink[], log: Logger) {
    this.#links = links
    this.#log = log
  }

  /** The links a broadcast or query goes to (logs once when there is none). */
  #targets (): WorkerLink[] {
    const links = this.#links()
    if (links.length === 0) {
      if (!this.#warned) this.#log.warn('gateway: a bus call with no gateway linked answers 0 / empty / false')
      this.#warned = true
      return links
    }
    this.#warned = false
    return links.length === 1 || links.some((l) => l.info?.clustered === true) ? [links[0]] : links
  }

  async #all (body: CallBody, fallback: unknown): Promise<unknown> {
    const targets = this.#targets()
    if (targets.length === 0) return fallback
    if (targets.length === 1) return targets[0].call(body, fallback)
    return combine(await Promise.all(targets.map((l) => l.call(body, fallback))))
  }

  /** The gateway holding connection `id`: the one whose node name prefixes it, else any (a cluster node reaches the rest). */
  #holder (id: string): WorkerLink | undefined {
    const node = id.slice(0, id.lastIndexOf('.'))
    const links = this.#links()
    return links.find((l) => l.info?.node === node) ?? (links.some((l) => l.info?.clustered === true) ? links[0] : undefined)
  }

  async #push (op: PushOp, data?: unknown): Promise<number> {
    return Number(await this.#all({ t: 'push', op, d: data }, 0))
  }

  async #query<T> (op: QueryOp, fallback: T): Promise<T> {
    return await this.#all({ t: 'query', op }, fallback) as T
  }

  async #member (conn: ConnectionRef, what: string, body: CallBody & { t: 'member' }): Promise<void> {
    if (!(conn instanceof WorkerConnection)) throw new SdError('SD_ERR_NOT_SUPPORTED', what)
    const uid = await conn.gateway.call(body, conn.uid, conn.epoch)
    conn.uid = typeof uid === 'string' ? uid : undefined
  }

  bindUid (conn: ConnectionRef, uid: Uid, options?: BindOptions): Promise<void> {
    return this.#member(conn, 'bindUid', { t: 'member', op: { m: 'bind', c: conn.id, u: String(uid), kick: options?.kick === true } })
  }

  unbindUid (conn: ConnectionRef): Promise<void> {
    return this.#member(conn, 'unbindUid', { t: 'member', op: { m: 'unbind', c: conn.id } })
  }

  joinGroup (conn: ConnectionRef, group: string): Promise<void> {
    return this.#member(conn, 'joinGroup', { t: 'member', op: { m: 'join', c: conn.id, g: group } })
  }

  leaveGroup (conn: ConnectionRef, group: string): Promise<void> {
    return this.#member(conn, 'leaveGroup', { t: 'member', op: { m: 'leave', c: conn.id, g: group } })
  }

  async sendToConnection (connectionId: string, data: unknown): Promise<number> {
    const link = this.#holder(connectionId)
    return link === undefined ? 0 : Number(await link.call({ t: 'push', op: { o: 'conn', c: connectionId }, d: data }, 0))
  }

  sendToUid (uid: Uid, data: unknown): Promise<number> {
    return this.#push({ o: 'uid', u: String(uid) }, data)
  }

  sendToUids (uids: readonly Uid[], data: unknown): Promise<number> {
    return this.#push({ o: 'uids', u: uids.map(String) }, data)
  }

  sendToAll (data: unknown, options?: SendOptions): Promise<number> {
    const x = excludeList(options?.exclude)
    return this.#push(x === undefined ? { o: 'all' } : { o: 'all', x }, data)
  }

  sendToGroup (group: string, data: unknown, options?: SendOptions): Promise<number> {
    const x = excludeList(options?.exclude)
    return this.#push(x === undefined ? { o: 'group', g: group } : { o: 'group', g: group, x }, data)
  }

  async closeConnection (connectionId: string, reason = 'closed by server'): Promise<boolean> {
    const link = this.#holder(connectionId)
    return link !== undefined && Number(await link.call({ t: 'push', op: { o: 'close', c: connectionId, r: reason } }, 0)) > 0
  }

  kickUid (uid: Uid, reason = 'kicked'): Promise<number> {
    return this.#push({ o: 'kick', u: String(uid), r: reason })
  }

  isUidOnline (uid: Uid): Promise<boolean> {
    return this.#query({ o: 'online', u: String(uid) }, false)
  }

  onlineCount (): Promise<number> {
    return this.#query({ o: 'count' }, 0)
  }

  groupMembers (group: string): Promise<string[]> {
    return this.#query({ o: 'members', g: group }, [])
  }

  groupCount (group: string): Promise<number> {
    return this.#query({ o: 'groupCount', g: group }, 0)
  }

  groups (): Promise<string[]> {
    return this.#query({ o: 'groups' }, [])
  }

  /** Connections per transport of the gateway(s). */
  serverConnections (): Promise<Record<string, number> | undefined> {
    return this.#query<Record<string, number> | undefined>({ o: 'connections' }, undefined)
  }
}
