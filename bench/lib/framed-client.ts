/**
 * A client of SD's framed TCP port (uint32 BE length + JSON): requests with ids (`{id, path,
 * data}` → `{id, data}` or `{id, error}`), pushes (`{data}`, no id) counted and handed to
 * `onPush`. Used by the benchmarks that push between connections.
 */
import { once } from 'node:events'
import { connect, type Socket } from 'node:net'

/** What a frame from the server holds. */
interface Frame { id?: number, data?: unknown, error?: { code: string, message: string } }

/** A request answered with an error. */
export class ReplyError extends Error {
  readonly code: string

  constructor (code: string, message: string) {
    super(`${code}: ${message}`)
    this.code = code
  }
}

/** A framed JSON client: requests with ids, pushes counted. */
export class Client {
  readonly socket: Socket
  #buf: Buffer = Buffer.alloc(0)
  #id = 0
  readonly #waiting = new Map<number, { resolve: (data: unknown) => void, reject: (err: Error) => void }>()
  /** Pushes received. */
  pushes = 0
  /** Error frames without an id (about the connection, not a request). */
  errors = 0
  /** Called with the data of each push. */
  onPush: ((data: unknown) => void) | undefined
  /** Every frame counts as a push, unparsed (a receiver that makes no more requests). */
  #countOnly = false

  private constructor (socket: Socket) {
    this.socket = socket
    socket.on('data', (chunk: Buffer) => this.#read(chunk))
    socket.on('error', () => {}) // 'close' follows
    socket.on('close', () => {
      for (const { reject } of this.#waiting.values()) reject(new Error('connection closed'))
      this.#waiting.clear()
    })
  }

  static async connect (port: number): Promise<Client> {
    const socket = connect(port, '127.0.0.1')
    await once(socket, 'connect')
    socket.setNoDelay(true)
    return new Client(socket)
  }

  /**
   * From now on every frame counts as a push without being parsed (nor handed to `onPush`):
   * a cheap receiver for benchmarks that push at high rates. No request may be in flight.
   */
  countPushesOnly (): void {
    if (this.#waiting.size > 0) throw new Error('countPushesOnly with requests in flight')
    this.#countOnly = true
  }

  #read (chunk: Buffer): void {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk
    let off = 0
    while (this.#buf.length - off >= 4) {
      const end = off + 4 + this.#buf.readUInt32BE(off)
      if (end > this.#buf.length) break
      if (this.#countOnly) {
        this.pushes++
        off = end
        continue
      }
      const msg = JSON.parse(this.#buf.toString('utf8', off + 4, end)) as Frame
      off = end
      if (msg.id === undefined) {
        if (msg.error) this.errors++
        else { this.pushes++; this.onPush?.(msg.data) }
        continue
      }
      const waiting = this.#waiting.get(msg.id)
      this.#waiting.delete(msg.id)
      if (msg.error) waiting?.reject(new ReplyError(msg.error.code, msg.error.message))
      else waiting?.resolve(msg.data)
    }
    this.#buf = this.#buf.subarray(off)
  }

  /** Sends a request; resolves to the reply's data, rejects with a `ReplyError`, or when the connection closes. */
  request (path: string, data?: unknown): Promise<unknown> {
    if (this.socket.destroyed) return Promise.reject(new Error('connection closed'))
    const id = ++this.#id
    const json = JSON.stringify({ id, path, data })
    const length = Buffer.byteLength(json)
    const frame = Buffer.allocUnsafe(4 + length)
    frame.writeUInt32BE(length)
    frame.write(json, 4)
    this.socket.write(frame)
    return new Promise((resolve, reject) => this.#waiting.set(id, { resolve, reject }))
  }

  close (): void { this.socket.destroy() }
}
