/**
 * Test helpers: start an application on free loopback ports, and minimal clients for every
 * transport written from DESIGN.md's wire protocol (not from the framework's code).
 */
import { connect, type Socket } from 'node:net'
import { connect as connectTls } from 'node:tls'
import { once } from 'node:events'
import { StringDecoder } from 'node:string_decoder'
import { WebSocket } from 'ws'
import { createApp, type Application, type ConfigInput, type CreateAppOptions } from '../framework/index.js'

/** Repo root (the demo app lives there). */
export const root = new URL('..', import.meta.url).pathname

/** Config overrides that put every port on 127.0.0.1 with a free port and silence logs. */
export function testOverrides (extra: ConfigInput = {}): ConfigInput {
  const server = extra.server ?? {}
  return {
    ...extra,
    app: { logLevel: 'silent', ...extra.app },
    server: {
      ...server,
      tcp: { host: '127.0.0.1', port: 0, ...server.tcp },
      text: { host: '127.0.0.1', port: 0, ...server.text },
      http: { host: '127.0.0.1', port: 0, ...server.http },
    },
  }
}

/**
 * Starts the demo app on free ports; with `options.controllers`, only those controllers and
 * no config files (the demo's routes name demo controllers).
 */
export async function startApp (extra: ConfigInput = {}, options: Omit<CreateAppOptions, 'overrides'> = {}): Promise<Application> {
  const configDir = options.controllers ? false : undefined
  const app = await createApp({ root, configDir, ...options, overrides: testOverrides(extra) })
  await app.start()
  return app
}

/** Port of a started transport. */
export function portOf (app: Application, name: 'tcp' | 'text' | 'http' | 'ws'): number {
  const addr = app.address(name)
  if (!addr) throw new Error(`${name} is not listening`)
  return addr.port
}

/** Resolves when `check` returns a truthy value; rejects after `timeoutMs`. */
export async function waitUntil<T> (check: () => T | Promise<T>, timeoutMs = 3000, what = 'condition'): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await check()
    if (v) return v as NonNullable<T>
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** Anything received: replies and pushes, in order. */
export interface Envelope {
  id?: number | string
  data?: unknown
  error?: { code: string, message: string }
}

/** Base: collects messages; `next()` waits for the next one matching a predicate. */
class Inbox<T> {
  readonly received: T[] = []
  #waiters: Array<{ match: (m: T) => boolean, resolve: (m: T) => void }> = []
  closed = false

  protected deliver (msg: T): void {
    const i = this.#waiters.findIndex((w) => w.match(msg))
    if (i >= 0) {
      const [w] = this.#waiters.splice(i, 1)
      w.resolve(msg)
      return
    }
    this.received.push(msg)
  }

  /** Next message matching `match` (already received ones first). */
  next (match: (m: T) => boolean = () => true, timeoutMs = 3000): Promise<T> {
    const i = this.received.findIndex(match)
    if (i >= 0) return Promise.resolve(this.received.splice(i, 1)[0])
    return new Promise((resolve, reject) => {
      const waiter = { match, resolve: (m: T) => { clearTimeout(timer); resolve(m) } }
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1)
        reject(new Error(`no matching message within ${timeoutMs} ms; received: ${JSON.stringify(this.received)}`))
      }, timeoutMs)
      this.#waiters.push(waiter)
    })
  }
}

/** TCP RPC client: uint32 BE length + UTF-8 JSON. */
export class TcpClient extends Inbox<Envelope> {
  readonly socket: Socket
  #buf = Buffer.alloc(0)
  #id = 0

  private constructor (socket: Socket) {
    super()
    this.socket = socket
    socket.on('data', (chunk) => {
      this.#buf = Buffer.concat([this.#buf, chunk])
      while (this.#buf.length >= 4) {
        const len = this.#buf.readUInt32BE(0)
        if (this.#buf.length < 4 + len) break
        const payload = this.#buf.subarray(4, 4 + len)
        this.#buf = this.#buf.subarray(4 + len)
        this.deliver(JSON.parse(payload.toString('utf8')) as Envelope)
      }
    })
    socket.on('close', () => { this.closed = true })
    socket.on('error', () => {})
  }

  static async connect (port: number): Promise<TcpClient> {
    const socket = connect(port, '127.0.0.1')
    await once(socket, 'connect')
    return new TcpClient(socket)
  }

  /** Connects over TLS, trusting `ca` (PEM). */
  static async connectTls (port: number, ca: string | Buffer): Promise<TcpClient> {
    const socket = connectTls({ port, host: '127.0.0.1', ca })
    await once(socket, 'secureConnect')
    return new TcpClient(socket)
  }

  /** Writes raw bytes. */
  raw (bytes: Buffer | string): void {
    this.socket.write(bytes)
  }

  /** Frames and writes a payload. */
  frame (payload: Buffer | string): void {
    const body = Buffer.from(payload)
    const head = Buffer.alloc(4)
    head.writeUInt32BE(body.length)
    this.socket.write(Buffer.concat([head, body]))
  }

  /** Sends `{id, path, data}` and waits for the reply with that id. */
  async request (path: string, data?: unknown): Promise<Envelope> {
    const id = ++this.#id
    this.frame(JSON.stringify({ id, path, data }))
    return this.next((m) => m.id === id)
  }

  /** Sends a message without id (no reply expected). */
  notify (path: string, data?: unknown): void {
    this.frame(JSON.stringify({ path, data }))
  }

  /** Resolves when the server closes the connection. */
  async waitClosed (timeoutMs = 3000): Promise<void> {
    if (this.closed) return
    await waitUntil(() => this.closed, timeoutMs, 'server to close the TCP connection')
  }

  close (): void {
    this.socket.destroy()
  }
}

const IAC = 0xff
const WILL = 0xfb
const DONT = 0xfe

/**
 * Length of the telnet option negotiation that `bytes` starts with: the text port opens with
 * `IAC DO BINARY` (ff fd 00), protocol rather than app output; any run of
 * `IAC WILL|WONT|DO|DONT <option>` is counted. -1 when `bytes` ends inside a command.
 */
export function telnetOpeningLength (bytes: Uint8Array): number {
  let i = 0
  while (i < bytes.length && bytes[i] === IAC) {
    if (i + 1 >= bytes.length) return -1
    if (bytes[i + 1] < WILL || bytes[i + 1] > DONT) break
    if (i + 2 >= bytes.length) return -1
    i += 3
  }
  return i
}

/** What a raw text-port client received, without the telnet negotiation it opens with. */
export function withoutTelnetOpening (bytes: Buffer): Buffer {
  return bytes.subarray(Math.max(0, telnetOpeningLength(bytes)))
}

/**
 * Text-port client: lines in, lines out. The telnet negotiation the port opens with is kept
 * apart in `opening` (it is not a line); everything after it is decoded as UTF-8.
 */
export class LineClient extends Inbox<string> {
  readonly socket: Socket
  /** The telnet commands received before the first byte of text (`IAC DO BINARY` on a telnet port). */
  opening = Buffer.alloc(0)
  #head: Buffer | undefined = Buffer.alloc(0)
  #decoder = new StringDecoder('utf8')
  #partial = ''

  private constructor (socket: Socket) {
    super()
    this.socket = socket
    socket.on('data', (chunk: Buffer) => {
      if (this.#head) {
        // still before the first byte of text: take complete negotiation commands off the front
        const head = Buffer.concat([this.#head, chunk])
        const n = telnetOpeningLength(head)
        if (n >= 0) this.opening = head.subarray(0, n)
        if (n < 0 || n === head.length) { this.#head = head; return }
        this.#head = undefined
        chunk = head.subarray(n)
      }
      const parts = (this.#partial + this.#decoder.write(chunk)).split('\n')
      this.#partial = parts.pop() ?? ''
      // telnet ports end lines with \r\n
      for (const line of parts) this.deliver(line.endsWith('\r') ? line.slice(0, -1) : line)
    })
    socket.on('close', () => { this.closed = true })
    socket.on('error', () => {})
  }

  static async connect (port: number): Promise<LineClient> {
    const socket = connect(port, '127.0.0.1')
    await once(socket, 'connect')
    return new LineClient(socket)
  }

  /** Connects over TLS, trusting `ca` (PEM). */
  static async connectTls (port: number, ca: string | Buffer): Promise<LineClient> {
    const socket = connectTls({ port, host: '127.0.0.1', ca })
    await once(socket, 'secureConnect')
    return new LineClient(socket)
  }

  send (line: string): void {
    this.socket.write(line + '\n')
  }

  async waitClosed (timeoutMs = 3000): Promise<void> {
    if (this.closed) return
    await waitUntil(() => this.closed, timeoutMs, 'server to close the text connection')
  }

  close (): void {
    this.socket.destroy()
  }
}

/** WebSocket client on `/ws`: JSON text frames. */
export class WsClient extends Inbox<Envelope> {
  readonly ws: WebSocket
  #id = 0
  closeCode: number | undefined

  private constructor (ws: WebSocket) {
    super()
    this.ws = ws
    ws.on('message', (data) => this.deliver(JSON.parse(String(data)) as Envelope))
    ws.on('close', (code) => { this.closed = true; this.closeCode = code })
    ws.on('error', () => {})
  }

  static async connect (port: number, path = '/ws'): Promise<WsClient> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`)
    await once(ws, 'open')
    return new WsClient(ws)
  }

  /** Connects with `wss://`, trusting `ca` (PEM). */
  static async connectTls (port: number, ca: string | Buffer, path = '/ws'): Promise<WsClient> {
    const ws = new WebSocket(`wss://127.0.0.1:${port}${path}`, { ca })
    await once(ws, 'open')
    return new WsClient(ws)
  }

  async request (path: string, data?: unknown): Promise<Envelope> {
    const id = ++this.#id
    this.ws.send(JSON.stringify({ id, path, data }))
    return this.next((m) => m.id === id)
  }

  async waitClosed (timeoutMs = 3000): Promise<void> {
    if (this.closed) return
    await waitUntil(() => this.closed, timeoutMs, 'server to close the WebSocket')
  }

  close (): void {
    this.ws.terminate()
  }
}

/** HTTP request to the app; resolves to status and parsed JSON body. */
export async function http (port: number, path: string, init: RequestInit = {}): Promise<{ status: number, body: unknown, text: string, headers: Headers }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, init)
  const text = await res.text()
  let body: unknown
  try { body = JSON.parse(text) } catch { body = undefined }
  return { status: res.status, body, text, headers: res.headers }
}
