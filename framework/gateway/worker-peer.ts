/**
 * One business worker as a gateway sees it: its authenticated link, whether it takes new
 * requests (`ready`, or `draining` once it asked to stop), its requests in flight, and the
 * connection hooks it said it has.
 */
import type { Link } from '../cluster/link.js'
import type { Connection } from '../connection/connection.js'
import { encodeMessage, MAX_MESSAGE_BYTES, type ToWorker } from './protocol.js'

/** `ready`: takes new requests; `draining`: finishes its in-flight ones only. */
export type WorkerPeerState = 'ready' | 'draining'

/** A linked worker. */
export class WorkerPeer {
  readonly name: string
  readonly link: Link
  /** Undefined until its `hello` (then it takes requests). */
  #state: WorkerPeerState | undefined
  /** Request numbers in flight on it. */
  readonly inflight = new Set<number>()
  hooks = { onConnect: false, onClose: false }
  /** Connections (by id) whose `onConnect` runs here: held (not read) until its first `sess`. */
  readonly opening = new Map<string, Connection>()

  constructor (name: string, link: Link) {
    this.name = name
    this.link = link
  }

  get state (): WorkerPeerState | undefined { return this.#state }
  /** True when it may be given a new request. */
  get ready (): boolean { return this.#state === 'ready' && this.link.status === 'ready' }

  setState (state: WorkerPeerState): void {
    this.#state = state
  }

  /**
   * Sends a message (as JSON with `json`); false when the link cannot take it (closing, or over
   * its buffer limit). Throws when it cannot be encoded or is over `MAX_MESSAGE_BYTES` (the
   * worker would cut the link, and every request in flight on it).
   */
  send (msg: ToWorker, json = false): boolean {
    const body = encodeMessage(msg, json)
    if (body.length > MAX_MESSAGE_BYTES) throw new RangeError(`a message of ${body.length} bytes is over the link's ${MAX_MESSAGE_BYTES} byte limit`)
    return this.link.sendMsg(body)
  }
}
