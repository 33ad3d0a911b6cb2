/**
 * A minimal hand-written JSON client, the way a user speaks SD's protocol without the SDK:
 * per call `JSON.stringify({id, path, data})`, a pending promise per id in a Map, each reply
 * parsed with JSON.parse and matched by id; the frames of one turn written together (TCP: one
 * write per turn; WebSocket: the `ws` package, its socket corked per turn). Shaped like
 * sdk-client.ts (same loops, same window), so the two differ only in the client.
 */
import { connect as netConnect, type Socket } from 'node:net'
import { once } from 'node:events'
import WebSocket from 'ws'
import { ECHO_DATA, ECHO_PATH } from './payload.js'
import type { LoadResult } from './pipelined-client.js'
import { runCallLoops, type SdkLoadOptions } from './sdk-client.js'

interface Waiter { resolve (v: unknown): void, reject (e: Error): void }

/** One connection: `call` resolves with the reply's data. */
interface JsonConn { call (path: string, data: unknown): Promise<unknown>, close (): void }

function pendingTable (): { waiting: Map<number, Waiter>, settle (text: string): void, failAll (): void, next (): number } {
  const waiting = new Map<number, Waiter>()
  let id = 0
  return {
    waiting,
    next: () => ++id,
    settle (text) {
      const msg = JSON.parse(text) as { id?: number, data?: unknown, error?: { code: string } }
      const w = msg.id === undefined ? undefined : waiting.get(msg.id)
      if (w === undefined) return
      waiting.delete(msg.id as number)
      if (msg.error) w.reject(new Error(msg.error.code))
      else w.resolve(msg.data)
    },
    failAll () { for (const w of waiting.values()) w.reject(new Error('closed')); waiting.clear() },
  }
}

async function tcpConn (port: number): Promise<JsonConn> {
  const socket: Socket = netConnect({ host: '127.0.0.1', port, noDelay: true })
  await once(socket, 'connect')
  const p = pendingTable()
  let buf: Buffer = Buffer.alloc(0)
  socket.on('data', (chunk: Buffer) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk])
    let off = 0
    while (buf.length - off >= 4) {
      const end = off + 4 + buf.readUInt32BE(off)
      if (end > buf.length) break
      p.settle(buf.toString('utf8', off + 4, end))
      off = end
    }
    buf = off === buf.length ? Buffer.alloc(0) : buf.subarray(off)
  })
  socket.on('close', () => p.failAll())
  socket.on('error', () => {})
  let out: Buffer[] = []
  const flush = (): void => { const b = out; out = []; socket.write(b.length === 1 ? b[0] : Buffer.concat(b)) }
  return {
    call (path, data) {
      const id = p.next()
      const body = Buffer.from(JSON.stringify({ id, path, data }))
      const head = Buffer.allocUnsafe(4)
      head.writeUInt32BE(body.length, 0)
      if (out.length === 0) process.nextTick(flush)
      out.push(head, body)
      return new Promise((resolve, reject) => p.waiting.set(id, { resolve, reject }))
    },
    close: () => socket.destroy(),
  }
}

async function wsConn (url: string): Promise<JsonConn> {
  const ws = new WebSocket(url)
  await once(ws, 'open')
  const p = pendingTable()
  ws.on('message', (data: Buffer, isBinary: boolean) => { if (!isBinary) p.settle(data.toString('utf8')) })
  ws.on('close', () => p.failAll())
  ws.on('error', () => {})
  const sock = (ws as unknown as { _socket: Socket })._socket
  let corked = false
  const uncork = (): void => { corked = false; sock.uncork() }
  return {
    call (path, data) {
      const id = p.next()
      if (!corked) { corked = true; sock.cork(); process.nextTick(uncork) }
      ws.send(JSON.stringify({ id, path, data }))
      return new Promise((resolve, reject) => p.waiting.set(id, { resolve, reject }))
    },
    close: () => ws.close(),
  }
}

/** Runs the load with hand-written clients (`url` as for the SDK: tcp:// or ws://). */
export async function runJsonCalls (options: SdkLoadOptions): Promise<LoadResult> {
  const u = new URL(options.url)
  const conns = await Promise.all(Array.from({ length: options.connections }, () => u.protocol === 'tcp:' ? tcpConn(Number(u.port)) : wsConn(options.url)))
  return runCallLoops(conns, (c) => c.call(ECHO_PATH, ECHO_DATA), (c) => c.close(), options)
}
