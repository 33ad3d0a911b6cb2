/**
 * A dispatch server (`sd start --dispatch`): accepts authenticated links from servers and
 * relays DATA frames between them as the same bytes (no clients, no payload decoding); frames
 * from one sender to one target keep their order. Each DATA frame gets one ACK entry once every
 * target is settled: `delivered` counts target sockets that took the bytes (in the kernel's
 * buffer, not proof the target read them), `missed` names targets not written to (no link,
 * over its buffer limit, or died first). DATA is never refused with DENY (that ends a handshake).
 * Links come in on a TCP port, and on a unix socket too when `path` is set (servers of the same
 * machine). The full receipt contract: docs/cluster.md.
 */
import { EventEmitter } from 'node:events'
import { chmod } from 'node:fs/promises'
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import type { Logger } from 'pino'
import { acceptHandshake, isValidNodeName, type LinkRole, type LinkSecret } from './link-auth.js'
import { dataSourceIs, type DataMessage } from './link-frames.js'
import { Link, type LinkOptions, type LinkStats, type PeerInfo } from './link.js'
import { RefusalLog } from './refusal-log.js'
import { PendingHandshakes } from './pending-handshakes.js'
import { claimSocketPath } from './socket-path.js'
import { acceptTls, type TlsFiles } from '../transport/tls.js'

/** Options of `Dispatcher`. */
export interface DispatcherOptions extends LinkOptions {
  /** This dispatcher's node name (unique in the cluster). */
  name: string
  /** The cluster secret (see `clusterSecret()`). */
  secret: LinkSecret
  /** Interface to listen on. @default '0.0.0.0' */
  host?: string
  /** Serve the TCP port over TLS with this certificate (the unix socket stays plain). @default plain */
  tls?: TlsFiles
  /** Link port; 0 picks a free one; env `SD_DISPATCH_PORT` is read by the CLI, not here. @default 9991 */
  port?: number
  /**
   * A unix socket to listen on as well (servers of this machine link through it). A socket file
   * left by a dead process is replaced; a live listener there makes `listen()` fail
   * (`EADDRINUSE`). Mode 0660 (owner and group); removed by `close()`. @default none
   */
  path?: string
  /** Time a new connection has to complete the handshake. @default 2000 */
  handshakeTimeoutMs?: number
  /**
   * Connections still handshaking at once; a new one beyond this closes the oldest of them, so
   * silent or slow sockets cannot keep a real server from linking. @default 64
   */
  maxPendingHandshakes?: number
  /** Refused connections are logged as one summary per this interval, with counts. @default 10000 */
  refusalLogIntervalMs?: number
  /** Roles allowed to link. @default ['server'] */
  allowRoles?: readonly LinkRole[]
  log?: Logger
}

/** Lifecycle of a dispatcher. */
export type DispatcherStatus = 'idle' | 'listening' | 'closing' | 'closed'

/** One linked node as status pages show it. */
export interface LinkedNode {
  name: string
  role: LinkRole
  remote: string
  stats: LinkStats
  bufferedBytes: number
}

/** Events of a dispatcher. */
export interface DispatcherEvents {
  status: [status: DispatcherStatus]
  /** A node authenticated (a link from the same name replaces the older one). */
  link: [peer: PeerInfo]
  /** A node's link closed. */
  unlink: [name: string, reason: string]
  /** A connection was refused or cut before authenticating. */
  refused: [remote: string, reason: string]
}

/** Relays DATA frames between the servers linked to it. */
export class Dispatcher extends EventEmitter<DispatcherEvents> {
  readonly #options: DispatcherOptions
  readonly #server: Server
  /** The unix socket's server, when `path` is set. */
  readonly #unix: Server | undefined
  /** Where each link's connection came from (`host:port`, or `unix:<path>`). */
  readonly #remotes = new WeakMap<Link, string>()
  readonly #links = new Map<string, Link>()
  /** Links still handshaking, oldest first. */
  readonly #pending: PendingHandshakes
  readonly #refusals: RefusalLog
  #status: DispatcherStatus = 'idle'
  /** DATA frames relayed, and target writes that missed. */
  readonly counters = { relayed: 0, missed: 0, refused: 0 }
  /** Bytes of the links closed so far (`bytes()` adds the open ones). */
  readonly #closedBytes = { in: 0, out: 0 }

  constructor (options: DispatcherOptions) {
    super()
    if (!isValidNodeName(options.name)) throw new Error(`invalid dispatcher name ${JSON.stringify(options.name)}`)
    this.#options = options
    this.#refusals = new RefusalLog(options.log, options.refusalLogIntervalMs ?? 10_000)
    this.#pending = new PendingHandshakes(options.maxPendingHandshakes ?? 64)
    const tls = options.tls
    this.#server = createServer((socket) => {
      const remote = `${socket.remoteAddress}:${socket.remotePort}`
      if (tls === undefined) return this.#accept(socket, remote)
      // a plain (or stalled) client never gets past the handshake: counted as refused
      let done = false
      const secure = acceptTls(socket, tls.context, (s) => { done = true; this.#accept(s, remote) }, options.handshakeTimeoutMs ?? 2000)
      secure.on('error', (err) => { if (!done) this.#refused(remote, 'tls handshake failed', err.message) })
    })
    const path = options.path
    this.#unix = path === undefined ? undefined : createServer((socket) => this.#accept(socket, `unix:${path}`))
  }

  get status (): DispatcherStatus { return this.#status }

  #setStatus (status: DispatcherStatus): void {
    if (this.#status === status) return
    this.#status = status
    this.#options.log?.debug({ status, dispatcher: this.#options.name }, 'dispatcher status')
    this.emit('status', status)
  }

  /**
   * Starts listening on the port (and on the unix socket when `path` is set); resolves to the
   * port's bound address. When either cannot be bound, neither stays open.
   */
  async listen (): Promise<AddressInfo> {
    if (this.#status !== 'idle') throw new Error(`dispatcher cannot listen while ${this.#status}`)
    await listenOn(this.#server, { port: this.#options.port ?? 9991, host: this.#options.host ?? '0.0.0.0' })
    const unix = this.#unix
    const path = this.#options.path
    if (unix !== undefined && path !== undefined) {
      try {
        await claimSocketPath(path)
        await listenOn(unix, { path })
        await chmod(path, 0o660)
      } catch (err) {
        if (unix.listening) await new Promise((resolve) => unix.close(resolve))
        await new Promise((resolve) => this.#server.close(resolve))
        throw err
      }
    }
    this.#setStatus('listening')
    return this.address() as AddressInfo
  }

  /** Where it listens (undefined before `listen()`). */
  address (): AddressInfo | undefined {
    const a = this.#server.address()
    return a !== null && typeof a === 'object' ? a : undefined
  }

  /** The unix socket it listens on (undefined without `path`, or before `listen()`). */
  get socketPath (): string | undefined {
    return this.#unix?.listening === true ? this.#options.path : undefined
  }

  /** Connections accepted and still handshaking. */
  get pendingHandshakes (): number {
    return this.#pending.size
  }

  /** Names of the nodes linked now. */
  nodes (): string[] {
    return [...this.#links.keys()]
  }

  /** Linked nodes with their link counters. */
  linked (): LinkedNode[] {
    return [...this.#links].map(([name, link]) => ({
      name,
      role: link.peer?.role ?? 'server',
      remote: this.#remotes.get(link) ?? '',
      stats: { ...link.stats },
      bufferedBytes: link.bufferedBytes,
    }))
  }

  /** Bytes read from and written to server links since start (closed links included). */
  bytes (): { in: number, out: number } {
    const total = { ...this.#closedBytes }
    for (const link of this.#links.values()) {
      total.in += link.stats.bytesIn
      total.out += link.stats.bytesOut
    }
    return total
  }

  /** The ready link of `name` (status pages, tests). */
  linkOf (name: string): Link | undefined {
    return this.#links.get(name)
  }

  #accept (socket: Socket, remote: string): void {
    const o = this.#options
    if (this.#status !== 'listening') return this.#refuse(socket, remote, 'not listening')
    if (!this.#pending.makeRoom()) return this.#refuse(socket, remote, 'too many pending handshakes') // a limit of 0
    const link = new Link(socket, o)
    this.#remotes.set(link, remote)
    this.#pending.add(link)
    acceptHandshake(link, { secret: o.secret, name: o.name, role: 'dispatch', allowRoles: o.allowRoles, timeoutMs: o.handshakeTimeoutMs }).then((peer) => {
      this.#pending.delete(link)
      if (this.#status !== 'listening') return link.destroy('dispatcher closing')
      this.#adopt(link, peer)
    }, (err: Error) => {
      this.#pending.delete(link)
      if (this.#status !== 'listening') return // cut by close(), not refused
      this.#refused(remote, this.#pending.reason(link, err), err.message)
    })
  }

  #refuse (socket: Socket, remote: string, reason: string): void {
    socket.destroy()
    this.#refused(remote, reason, reason)
  }

  /** Counts a refusal, for the periodic summary (one log line per interval, not per connection). */
  #refused (remote: string, reason: string, detail: string): void {
    this.counters.refused++
    this.#refusals.note(remote, reason)
    this.emit('refused', remote, detail)
  }

  #adopt (link: Link, peer: PeerInfo): void {
    const old = this.#links.get(peer.name)
    this.#links.set(peer.name, link)
    // the newest link of a name wins: the old one is usually a half-dead socket of the same node
    if (old) old.destroy(`replaced by a new link from ${peer.name}`)
    const source = Buffer.from(peer.name, 'utf8')
    link.on('data', (msg, body) => this.#relay(link, source, msg, body))
    link.on('close', (reason) => {
      this.#closedBytes.in += link.stats.bytesIn
      this.#closedBytes.out += link.stats.bytesOut
      if (this.#links.get(peer.name) === link) this.#links.delete(peer.name)
      this.#options.log?.info({ node: peer.name, reason }, 'link closed')
      this.emit('unlink', peer.name, reason)
    })
    this.#options.log?.info({ node: peer.name, role: peer.role }, 'node linked')
    this.emit('link', peer)
  }

  /** Relays one DATA frame (`body`: its payload bytes, passed on as they are). */
  #relay (from: Link, source: Buffer, msg: DataMessage, body: Buffer): void {
    // a node may only send as itself
    if (!dataSourceIs(body, source)) return from.destroy(`protocol error: DATA with source ${JSON.stringify(msg.source)} on the link of ${from.peer?.name}`)
    this.counters.relayed++
    let targets: Iterable<[string, Link | undefined]>
    if (msg.targets === 'all') {
      targets = [...this.#links].filter(([name, l]) => l !== from && l.peer?.role === 'server' && name !== msg.source)
    } else {
      const names = msg.targets.length > 1 ? new Set(msg.targets) : msg.targets
      targets = [...names].map((name) => [name, this.#links.get(name)] as [string, Link | undefined])
    }
    if (msg.quiet === true) {
      // the sender hears only about misses, and nothing is watched per write
      let delivered = 0
      let missed: string[] | undefined
      for (const [name, link] of targets) {
        if (link && link.status === 'ready' && link.relay(body)) delivered++
        else {
          this.counters.missed++
          ;(missed ??= []).push(name)
        }
      }
      if (missed) from.ack({ id: msg.id, delivered, missed })
      return
    }
    let waiting = 1
    let delivered = 0
    let missed: string[] | undefined
    const settle = (): void => {
      if (--waiting === 0) from.ack({ id: msg.id, delivered, missed: missed ?? [] })
    }
    const miss = (name: string): void => {
      this.counters.missed++
      ;(missed ??= []).push(name)
    }
    for (const [name, link] of targets) {
      if (!link || link.status !== 'ready') { miss(name); continue }
      waiting++
      const queued = link.relay(body, (err) => {
        if (err) miss(name)
        else delivered++
        settle()
      })
      if (!queued) { waiting--; miss(name) }
    }
    settle()
  }

  /** Stops accepting, closes every link (flushing queued frames), releases the port and removes the socket file. */
  async close (): Promise<void> {
    if (this.#status === 'closed' || this.#status === 'closing') return
    const wasListening = this.#status === 'listening'
    this.#setStatus('closing')
    // closing a unix socket's server removes its file (libuv unlinks the path it bound)
    const servers = wasListening ? [this.#server, this.#unix].filter((s): s is Server => s?.listening === true) : []
    const closed = Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))))
    this.#pending.destroyAll('dispatcher closing')
    await Promise.all([...this.#links.values()].map((l) => l.close('dispatcher closing')))
    await closed
    this.#refusals.flush()
    this.#setStatus('closed')
  }
}

/** `server.listen(options)` as a promise (rejects with the bind error). */
function listenOn (server: Server, options: { port: number, host: string } | { path: string }): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options, () => {
      server.off('error', reject)
      resolve()
    })
  })
}
