/**
 * Helpers of the cluster link tests: a dispatcher and link clients on 127.0.0.1 with short
 * timeouts, a raw socket that speaks frames (or garbage), and inboxes for DATA and ACKs.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { lstatSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { once } from 'node:events'
import { Dispatcher, type DispatcherOptions } from '../../framework/cluster/dispatch-server.js'
import type { LinkSecret } from '../../framework/cluster/link-auth.js'
import { LinkClient, type LinkClientOptions } from '../../framework/cluster/link-client.js'
import { LinkFrameDecoder, type AckEntry, type DataMessage, type FrameTypeValue } from '../../framework/cluster/link-frames.js'
import { waitUntil } from '../helpers.js'

/** A fresh cluster secret. */
export function newSecret (): Buffer {
  return randomBytes(32)
}

/** A dispatcher on 127.0.0.1 (a free port unless given), listening. */
export async function startDispatcher (options: Partial<DispatcherOptions> & { secret: LinkSecret }): Promise<{ dispatcher: Dispatcher, port: number }> {
  const dispatcher = new Dispatcher({ name: 'dispatch-1', host: '127.0.0.1', port: 0, handshakeTimeoutMs: 1000, ...options })
  const { port } = await dispatcher.listen()
  return { dispatcher, port }
}

/** Leaves a socket file at `path` that nobody listens on: a process binds it and dies of SIGKILL. */
export async function staleSocketFile (path: string): Promise<void> {
  const child = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`], { stdio: 'ignore' })
  await once(child, 'exit')
  if (!lstatSync(path).isSocket()) throw new Error(`no stale socket at ${path}`)
}

/** What a link client received. */
export interface Inbox {
  data: Array<{ msg: DataMessage, payload: string }>
  acks: AckEntry[]
  denied: string[]
  down: string[]
}

/** A started link client with an inbox (payloads kept as UTF-8 strings); to a port of 127.0.0.1, or a unix socket `path`. */
export function startClient (options: Partial<LinkClientOptions> & { name: string, secret: LinkSecret } & ({ port: number } | { path: string })): { client: LinkClient, inbox: Inbox } {
  const client = new LinkClient({ host: '127.0.0.1', reconnectMinMs: 20, reconnectMaxMs: 200, handshakeTimeoutMs: 1000, ...options })
  const inbox: Inbox = { data: [], acks: [], denied: [], down: [] }
  client.on('data', (msg) => inbox.data.push({ msg, payload: msg.payload.toString('utf8') }))
  client.on('ack', (entries) => inbox.acks.push(...entries))
  client.on('denied', (reason) => inbox.denied.push(reason))
  client.on('down', (reason) => inbox.down.push(reason))
  client.start()
  return { client, inbox }
}

/** Resolves when the client is `ready`. */
export function ready (client: LinkClient, timeoutMs = 3000): Promise<unknown> {
  return waitUntil(() => client.status === 'ready', timeoutMs, `link client to be ready (last error: ${client.lastError})`)
}

/** A raw TCP client of the link port: writes anything, decodes what comes back, notes the close. */
export class RawLinkSocket {
  readonly socket: Socket
  readonly frames: Array<{ type: FrameTypeValue, body: Buffer }> = []
  closed = false

  private constructor (socket: Socket) {
    this.socket = socket
    const decoder = new LinkFrameDecoder(1 << 20, (type, body) => this.frames.push({ type, body: Buffer.from(body) }))
    socket.on('data', (chunk: Buffer) => { decoder.push(chunk) })
    socket.on('close', () => { this.closed = true })
    socket.on('error', () => {})
  }

  static async connect (port: number): Promise<RawLinkSocket> {
    const socket = connect(port, '127.0.0.1')
    await once(socket, 'connect')
    return new RawLinkSocket(socket)
  }

  write (bytes: Buffer | string): void {
    this.socket.write(bytes)
  }

  /** Resolves when the other side closed the connection. */
  waitClosed (timeoutMs = 3000): Promise<unknown> {
    return waitUntil(() => this.closed, timeoutMs, 'the link port to close the raw socket')
  }

  destroy (): void {
    this.socket.destroy()
  }
}
