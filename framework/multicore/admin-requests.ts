/**
 * What the primary's admin listener asks its processes over IPC: `metrics` (every process's
 * registry and snapshot, merged into the whole server's) and `publish` (run on one process's
 * bus, round robin). The Primary owns the processes; this keeps the requests and their answers.
 */
import type { BusTarget } from '../connection/bus-publish.js'
import { PendingRequests } from '../connection/remote-bus.js'
import { SdError } from '../core/errors.js'
import type { ProcessSnapshot } from '../core/snapshot.js'
import { sdErrorFrom, type FromWorker, type ToWorker } from './ipc-protocol.js'
import { MetricsBook } from './metrics-book.js'
import { mergeProcessMetrics, type ProcessMetrics } from './metrics-merge.js'
import type { SlotRole } from './roles.js'

/** How long a worker may take to answer an admin publish before it fails with `SD_ERR_NO_WORKER`. */
export const PUBLISH_TIMEOUT_MS = 10_000

/** How long a process may take to answer `metrics` before a scrape leaves it out. */
export const METRICS_TIMEOUT_MS = 2000

/** A process serving now, as the requests see it. */
export interface AdminTarget {
  /** The process (node:cluster worker id): its requests are settled when it exits (`gone`). */
  readonly id: number
  /** Slot number (0 for the gateway). */
  readonly n: number
  readonly role: SlotRole
  send: (msg: ToWorker) => void
}

type Published = Extract<FromWorker, { t: 'published' }>

/** The admin requests of one primary; `serving()` lists the processes that serve now. */
export class AdminRequests {
  readonly #serving: () => AdminTarget[]
  /** `metrics` requests to every process (one that does not answer in time is left out). */
  readonly #metrics = new PendingRequests()
  /** `publish` requests, and the round robin over the processes that run them. */
  readonly #publish = new PendingRequests()
  #turn = 0
  /** Requests each process (by worker id) has not answered: settled at once when it exits. */
  readonly #unanswered = new Map<number, Set<{ kind: 'metrics' | 'publish', r: number }>>()
  /** Each process's last registry and the counters of those that exited: whole-server counters never go down. */
  readonly #book = new MetricsBook()

  constructor (serving: () => AdminTarget[]) {
    this.#serving = serving
  }

  /** Takes a process's answer to one of these requests. */
  answer (msg: Extract<FromWorker, { t: 'metrics' | 'published' }>): void {
    if (msg.t === 'metrics') this.#metrics.settle(msg.r, msg.m)
    else this.#publish.settle(msg.r, msg)
  }

  /**
   * Runs an admin publish on the bus of one process, which reaches the whole server (and
   * cluster): a server or business worker, round robin; the gateway only when it runs alone
   * (`--gateway`). Resolves to the connections reached; `SD_ERR_NO_WORKER` when none serves or
   * it does not answer in time.
   */
  async publish (to: BusTarget, data: unknown, recover?: boolean): Promise<number> {
    const all = this.#serving()
    const withBus = all.some((s) => s.role !== 'gateway') ? all.filter((s) => s.role !== 'gateway') : all
    if (withBus.length === 0) throw new SdError('SD_ERR_NO_WORKER', 'no worker process serves to run the publish')
    const target = withBus[this.#turn++ % withBus.length]
    const msg = (r: number): ToWorker => recover === undefined ? { t: 'publish', r, to, d: data } : { t: 'publish', r, to, d: data, recover }
    const answer = await this.#ask(target, 'publish', this.#publish, msg, undefined as Published | undefined, PUBLISH_TIMEOUT_MS)
    if (answer === undefined) throw new SdError('SD_ERR_NO_WORKER', `worker ${target.n} did not answer the publish within ${PUBLISH_TIMEOUT_MS} ms`)
    if (answer.e !== undefined) throw sdErrorFrom(answer.e.code, answer.e.message)
    return answer.n ?? 0
  }

  /** Prometheus text of the whole server: every process's registry (the gateway's too) merged; docs/metrics.md. */
  async metrics (): Promise<string> {
    return await (await this.#merged(false)).text()
  }

  /** The whole server's figures now, summed over its processes. */
  async snapshot (): Promise<ProcessSnapshot> {
    // the registries are not needed (and cost every process a collection each second)
    return (await this.#merged(true)).snapshot
  }

  async #merged (snapshotOnly: boolean): ReturnType<typeof mergeProcessMetrics> {
    const serving = this.#serving()
    const ask = (target: AdminTarget): Promise<ProcessMetrics | undefined> =>
      this.#ask(target, 'metrics', this.#metrics, (r) => (snapshotOnly ? { t: 'metrics', r, s: true } : { t: 'metrics', r }), undefined as ProcessMetrics | undefined, METRICS_TIMEOUT_MS)
    const answers = await Promise.all(serving.map(ask))
    if (snapshotOnly) return await mergeProcessMetrics(answers)
    const fresh = new Map<number, unknown[]>()
    answers.forEach((a, i) => {
      if (a?.json == null) return
      fresh.set(serving[i].id, a.json)
      this.#book.record(serving[i].id, a.json)
    })
    if (answers.some((a) => a !== undefined && a.json === null)) return await mergeProcessMetrics(answers) // metrics off
    const parts = this.#book.parts(fresh, serving.map((t) => t.id))
    // nothing to show (no process answered, none ever did): an error, never an empty 200
    if (parts.length === 0) throw new SdError('SD_ERR_NO_WORKER', 'no process of the server answered the scrape')
    return await mergeProcessMetrics(answers, parts)
  }


  /** Sends one request to `target`, remembered as unanswered until it settles. */
  async #ask<T> (target: AdminTarget, kind: 'metrics' | 'publish', table: PendingRequests, msg: (r: number) => ToWorker, fallback: T, timeoutMs: number): Promise<T> {
    let mine = this.#unanswered.get(target.id)
    if (mine === undefined) this.#unanswered.set(target.id, (mine = new Set()))
    const open = mine
    // the two tables number their requests each from 1: an entry keeps its kind with its number
    const entry = { kind, r: -1 }
    try {
      return await table.start<T>((r) => { entry.r = r; open.add(entry); target.send(msg(r)); return true }, fallback, timeoutMs)
    } finally {
      open.delete(entry)
      if (open.size === 0 && this.#unanswered.get(target.id) === open) this.#unanswered.delete(target.id)
    }
  }

  /**
   * A process exited: its requests will never be answered. A scrape leaves it out now, a
   * publish fails now with `SD_ERR_NO_WORKER` (not at the timeout, blaming a slow worker).
   */
  gone (id: number, n: number): void {
    this.#book.retire(id)
    const open = this.#unanswered.get(id)
    if (open === undefined) return
    this.#unanswered.delete(id)
    for (const { kind, r } of open) {
      if (kind === 'metrics') this.#metrics.settle(r, undefined)
      else this.#publish.settle(r, { t: 'published', r, e: { code: 'SD_ERR_NO_WORKER', message: `no business worker ready: worker ${n} exited before answering the publish (it may have reached some connections)` } } satisfies Published)
    }
  }
}
