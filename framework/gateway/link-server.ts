/**
 * The gateway's link port: accepts worker links, authenticates them with the shared secret
 * (cluster/link-auth.ts, role `worker` only) and hands each ready link to its owner. A peer with
 * the wrong secret gets DENY; garbage bytes or silence close that socket; the port keeps serving.
 * As the dispatch server's: at most `maxPendingHandshakes` sockets handshake at once (a new one
 * evicts the oldest, so a flood of silent sockets cannot hold memory or keep a worker out), and
 * refusals are logged as one summary per interval, not one line per socket.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import type { Logger } from 'pino'
import { acceptHandshake } from '../cluster/link-auth.js'
import { Link, type PeerInfo } from '../cluster/link.js'
import { PendingHandshakes } from '../cluster/pending-handshakes.js'
import { RefusalLog } from '../cluster/refusal-log.js'
import { MAX_MESSAGE_BYTES } from './protocol.js'
import { acceptTls, type TlsFiles } from '../transport/tls.js'

/** Options of `GatewayLinkServer`. */
export interface GatewayLinkServerOptions {
  host: string
  port: number
  /** This gateway's node name. */
  name: string
  secret: Buffer
  log: Logger
  /** A worker link passed the handshake. */
  onLink: (link: Link, peer: PeerInfo) => void
  /** Time a new connection has to complete the handshake. @default 2000 */
  handshakeTimeoutMs?: number
  /** Connections handshaking at once; a new one beyond this closes the oldest of them. @default 64 */
  maxPendingHandshakes?: number
  /** Serve the link port over TLS (`cluster.tls`). @default plain */
  tls?: TlsFiles
}

/** The listening side of gateway ↔ worker links. */
export class GatewayLinkServer {
  readonly #o: GatewayLinkServerOptions
  readonly #server: Server
  readonly #links = new Set<Link>()
  /** Links still handshaking, oldest first. */
  readonly #pending: PendingHandshakes
  readonly #refusals: RefusalLog
  #closing = false

  constructor (options: GatewayLinkServerOptions) {
    this.#o = options
    this.#refusals = new RefusalLog(options.log, 10_000)
    this.#pending = new PendingHandshakes(options.maxPendingHandshakes ?? 64)
    const tls = options.tls
    this.#server = createServer((socket) => {
      if (tls === undefined) return this.#accept(socket)
      // a plain or stalled client never gets past the TLS handshake
      let done = false
      const secure = acceptTls(socket, tls.context, (s) => { done = true; this.#accept(s) }, options.handshakeTimeoutMs ?? 2000)
      secure.on('error', (err) => { if (!done) this.#refusals.note(`${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`, `tls handshake failed: ${err.message}`) })
    })
  }

  /** Listens; resolves to the port. */
  listen (): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject)
      this.#server.listen(this.#o.port, this.#o.host, () => {
        this.#server.off('error', reject)
        resolve((this.#server.address() as AddressInfo).port)
      })
    })
  }

  /** The port, once listening. */
  get port (): number | undefined {
    const addr = this.#server.address()
    return addr !== null && typeof addr === 'object' ? addr.port : undefined
  }

  #accept (socket: Socket): void {
    if (this.#closing) { socket.destroy(); return }
    const remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`
    if (!this.#pending.makeRoom()) { socket.destroy(); this.#refusals.note(remote, 'too many pending handshakes'); return }
    const link = new Link(socket, { maxFrameBytes: MAX_MESSAGE_BYTES })
    this.#links.add(link)
    this.#pending.add(link)
    link.once('close', () => { this.#links.delete(link); this.#pending.delete(link) })
    acceptHandshake(link, { secret: this.#o.secret, name: this.#o.name, role: 'gateway', allowRoles: ['worker'], timeoutMs: this.#o.handshakeTimeoutMs }).then((peer) => {
      this.#pending.delete(link)
      if (this.#closing) return link.destroy('gateway closing')
      this.#o.onLink(link, peer)
    }, (err: Error) => {
      this.#pending.delete(link)
      if (this.#closing) return
      this.#refusals.note(remote, this.#pending.reason(link, err))
    })
  }

  /** Stops accepting and closes every link (flushing what is queued). */
  async close (): Promise<void> {
    this.#closing = true
    this.#refusals.flush()
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()))
    await Promise.all([...this.#links].map((l) => l.close('gateway stopping')))
    await closed
  }
}
