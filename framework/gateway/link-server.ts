/**
 * The gateway's link port: accepts worker links, authenticates them with the shared secret
 * (cluster/link-auth.ts, role `worker` only) and hands each ready link to its owner. A peer with
 * the wrong secret gets DENY; garbage bytes or silence close that socket; the port keeps serving.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import type { Logger } from 'pino'
import { acceptHandshake } from '../cluster/link-auth.js'
import { Link, type PeerInfo } from '../cluster/link.js'
import { MAX_MESSAGE_BYTES } from './protocol.js'

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
}

/** The listening side of gateway ↔ worker links. */
export class GatewayLinkServer {
  readonly #o: GatewayLinkServerOptions
  readonly #server: Server
  readonly #links = new Set<Link>()
  #closing = false

  constructor (options: GatewayLinkServerOptions) {
    this.#o = options
    this.#server = createServer((socket) => this.#accept(socket))
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
    const link = new Link(socket, { maxFrameBytes: MAX_MESSAGE_BYTES })
    this.#links.add(link)
    link.once('close', () => this.#links.delete(link))
    acceptHandshake(link, { secret: this.#o.secret, name: this.#o.name, role: 'gateway', allowRoles: ['worker'] }).then((peer) => {
      if (this.#closing) return link.destroy('gateway closing')
      this.#o.onLink(link, peer)
    }, (err: Error) => {
      this.#o.log.warn({ remote, err: err.message }, 'gateway: link refused')
    })
  }

  /** Stops accepting and closes every link (flushing what is queued). */
  async close (): Promise<void> {
    this.#closing = true
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()))
    await Promise.all([...this.#links].map((l) => l.close('gateway stopping')))
    await closed
  }
}
