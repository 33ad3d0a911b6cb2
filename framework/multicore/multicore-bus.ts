/**
 * The bus of one worker process of `sd start --workers N`: local connections are served first
 * (the `RemoteBus` base); every membership change is mirrored to the primary, and what
 * concerns other workers (a uid, a group, everyone, a query) goes through the primary, which
 * knows which worker holds what. A unicast reaches only the workers that hold the uid.
 */
import { runPush, type MembershipChange, type PushOp, type QueryOp } from '../connection/bus-ops.js'
import { PendingRequests, RemoteBus } from '../connection/remote-bus.js'
import type { ConnectionTable } from '../connection/table.js'
import { membershipMessage, type FromWorker, type ToWorker } from './ipc-protocol.js'

/** Sends a message to the primary; false when the channel is gone. */
export type SendToPrimary = (msg: FromWorker) => boolean

/** Bus of a worker process. */
export class MulticoreBus extends RemoteBus {
  readonly #send: SendToPrimary
  readonly #pending = new PendingRequests()

  constructor (table: ConnectionTable, send: SendToPrimary) {
    super(table)
    this.#send = send
  }

  /** A push for the workers the primary finds; resolves to 0 when the channel is gone. */
  protected route (to: PushOp, d: unknown): Promise<number> {
    return this.#pending.start((r) => this.#send({ t: 'send', r, to, d }), 0)
  }

  /** A query the primary answers for every worker; undefined when the channel is gone. */
  protected ask (q: QueryOp): Promise<unknown> {
    return this.#pending.start((r) => this.#send({ t: 'query', r, q }), undefined)
  }

  /** Mirrored to the primary (which, for a bind with kick, closes the other workers' connections of the uid in the same step). */
  protected changed (change: MembershipChange): void {
    this.#send(membershipMessage(change))
  }

  /** Handles what the primary sends: deliveries for local connections and results. */
  receive (msg: ToWorker): void {
    if (msg.t === 'result') this.#pending.settle(msg.r, msg.v)
    else if (msg.t === 'deliver') this.#deliver(msg.to, msg.d)
  }

  #deliver (to: PushOp, d: unknown): void {
    try {
      runPush(this.table, to, d)
    } catch (err) {
      // a codec that cannot encode the data: the rest of the primary's batch still runs
      process.emitWarning(`SD: a push relayed by the primary could not be delivered: ${(err as Error)?.message ?? String(err)}`)
    }
  }

  /** A request that could not be sent (its data cannot be serialised): it settles with its fallback. */
  dropped (msg: FromWorker): void {
    if (msg.t === 'send' || msg.t === 'query') this.#pending.fail(msg.r)
  }

  /** Settles every pending request with its fallback (the primary is gone). */
  disconnected (): void {
    this.#pending.failAll()
  }
}
