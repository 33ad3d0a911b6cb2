/**
 * Clients of the slow-reader benchmark: one request/reply interface over the TCP port (framed
 * JSON, bench/lib/framed-client.ts) and over WebSocket, with a way to stop reading.
 */
import { once } from 'node:events'
import { WebSocket } from 'ws'
import { Client } from '../lib/framed-client.js'

/** A client that can call, stop reading, and tell whether the server closed it. */
export interface RpcClient {
  request (path: string, data?: unknown): Promise<unknown>
  /** Stops reading: the kernel buffers fill, then the server's. */
  stopReading (): void
  /** True once the socket closed (by the server, unless `close` was called). */
  readonly closed: boolean
  close (): void
}

/** JSON over WebSocket with request ids. */
class WsRpc implements RpcClient {
  readonly #ws: WebSocket
  readonly #waiting = new Map<number, { resolve: (d: unknown) => void, reject: (e: Error) => void }>()
  #id = 0
  closed = false

  constructor (ws: WebSocket) {
    this.#ws = ws
    ws.on('message', (raw: Buffer) => {
      const msg = JSON.parse(raw.toString()) as { id?: number, data?: unknown, error?: { code: string } }
      if (msg.id === undefined) return
      const w = this.#waiting.get(msg.id)
      this.#waiting.delete(msg.id)
      if (msg.error) w?.reject(new Error(msg.error.code))
      else w?.resolve(msg.data)
    })
    ws.on('error', () => {})
    ws.on('close', () => {
      this.closed = true
      for (const w of this.#waiting.values()) w.reject(new Error('closed'))
      this.#waiting.clear()
    })
  }

  request (path: string, data?: unknown): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error('closed'))
    const id = ++this.#id
    this.#ws.send(JSON.stringify({ id, path, data }))
    return new Promise((resolve, reject) => this.#waiting.set(id, { resolve, reject }))
  }

  stopReading (): void { this.#ws.pause() }
  close (): void { this.#ws.terminate() }
}

class TcpRpc implements RpcClient {
  readonly #client: Client
  closed = false

  constructor (client: Client) {
    this.#client = client
    client.socket.on('close', () => { this.closed = true })
  }

  request (path: string, data?: unknown): Promise<unknown> { return this.#client.request(path, data) }
  stopReading (): void { this.#client.socket.pause() }
  close (): void { this.#client.close() }
}

/** Connects over `transport` to the server's TCP or HTTP port. */
export async function connectRpc (transport: 'tcp' | 'ws', ports: { tcp: number, http: number }): Promise<RpcClient> {
  if (transport === 'tcp') return new TcpRpc(await Client.connect(ports.tcp))
  const ws = new WebSocket(`ws://127.0.0.1:${ports.http}/ws`)
  await once(ws, 'open')
  return new WsRpc(ws)
}
