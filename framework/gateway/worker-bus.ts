/**
 * A business worker's bus: every call goes to a gateway, which runs it on its own bus. Calls
 * about one connection go to the gateway that holds it (a connection id names its gateway:
 * `<gateway node>.<n>`). Pushes and queries go to one gateway when the gateways are dispatch
 * cluster nodes (the cluster reaches the others) or when there is one, else to every linked
 * gateway, answers combined (counts summed, lists joined, online if any says so). With no
 * gateway linked a call resolves 0 / empty / false and that is logged once per outage.
 */
import type { Logger } from 'pino'
import type { MembershipChange, PushOp, QueryOp } from '../connection/bus-ops.js'
import { RemoteBus } from '../connection/remote-bus.js'
import { ConnectionTable } from '../connection/table.js'
import type { BindOptions, ConnectionRef, Uid } from '../core/contract.js'
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

/**
 * The bus of a business worker: the remote-bus base (connection/remote-bus.ts: every call becomes
 * one of bus-ops' operations) over an empty table (a worker holds no connection), whose `route`
 * and `ask` go to the gateways. A worker's connections live at their gateway, so membership calls
 * are made there, and the request's `uid` follows the answer.
 */
export class WorkerBus extends RemoteBus {
  readonly #links: () => WorkerLink[]
  readonly #log: Logger
  #warned = false

  /** `links`: the ready gateway links, now. */
  constructor (links: () => WorkerLink[], log: Logger) {
    super(new ConnectionTable())
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

  /** A push to the gateway holding its connection (`conn`, `close`), else to the gateways (see `#targets`). */
  protected async route (op: PushOp, data: unknown): Promise<number> {
    const body: CallBody = { t: 'push', op, d: data }
    if (op.o !== 'conn' && op.o !== 'close') return Number(await this.#all(body, 0))
    const link = this.#holder(op.c)
    return link === undefined ? 0 : Number(await link.call(body, 0))
  }

  /** A query the gateways answer; undefined with none linked (the empty table answers 0 / empty / false). */
  protected ask (q: QueryOp): Promise<unknown> {
    return this.#all({ t: 'query', op: q }, undefined)
  }

  /** Membership is mirrored nowhere: it is made at the gateway (below). */
  protected changed (_change: MembershipChange): void {}

  async #member (conn: ConnectionRef, what: string, body: CallBody & { t: 'member' }): Promise<void> {
    if (!(conn instanceof WorkerConnection)) throw new SdError('SD_ERR_NOT_SUPPORTED', what)
    const uid = await conn.gateway.call(body, conn.uid, conn.epoch)
    conn.uid = typeof uid === 'string' ? uid : undefined
  }

  override bindUid (conn: ConnectionRef, uid: Uid, options?: BindOptions): Promise<void> {
    return this.#member(conn, 'bindUid', { t: 'member', op: { m: 'bind', c: conn.id, u: String(uid), kick: options?.kick === true } })
  }

  override unbindUid (conn: ConnectionRef): Promise<void> {
    return this.#member(conn, 'unbindUid', { t: 'member', op: { m: 'unbind', c: conn.id } })
  }

  override joinGroup (conn: ConnectionRef, group: string): Promise<void> {
    return this.#member(conn, 'joinGroup', { t: 'member', op: { m: 'join', c: conn.id, g: group } })
  }

  override leaveGroup (conn: ConnectionRef, group: string): Promise<void> {
    return this.#member(conn, 'leaveGroup', { t: 'member', op: { m: 'leave', c: conn.id, g: group } })
  }
}
