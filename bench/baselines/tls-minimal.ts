/**
 * Baseline: a hand-written minimal node:tls server with the SD wire protocol (uint32 BE length
 * + UTF-8 JSON), echoing `{id, data}`: tcp-minimal.ts over TLS, key and certificate from
 * SD_TLS_KEY / SD_TLS_CERT (the files SD serves in the same run). Frames are parsed in place, a
 * split frame is joined once, and the replies to one chunk leave in one write.
 */
import { readFileSync } from 'node:fs'
import type { AddressInfo, Socket } from 'node:net'
import { createServer } from 'node:tls'
import { serve } from '../lib/server-child.js'

const HEADER = 4

function frame (json: string): Buffer {
  const len = Buffer.byteLength(json)
  const out = Buffer.allocUnsafe(HEADER + len)
  out.writeUInt32BE(len, 0)
  out.write(json, HEADER, 'utf8')
  return out
}

function handle (socket: Socket): void {
  let rest: Buffer | null = null
  socket.on('data', (chunk: Buffer) => {
    const buf = rest === null ? chunk : Buffer.concat([rest, chunk])
    const replies: Buffer[] = []
    let off = 0
    while (buf.length - off >= HEADER) {
      const len = buf.readUInt32BE(off)
      if (buf.length - off - HEADER < len) break
      let reply: string
      try {
        const msg = JSON.parse(buf.toString('utf8', off + HEADER, off + HEADER + len)) as { id?: unknown, data?: unknown }
        reply = JSON.stringify({ id: msg.id, data: msg.data })
      } catch {
        reply = '{"error":{"code":"BAD_MESSAGE","message":"invalid JSON"}}'
      }
      replies.push(frame(reply))
      off += HEADER + len
    }
    rest = off < buf.length ? buf.subarray(off) : null
    if (replies.length === 1) socket.write(replies[0])
    else if (replies.length > 1) socket.write(Buffer.concat(replies))
  })
  socket.on('error', () => {})
}

const sockets = new Set<Socket>()
const server = createServer({ noDelay: true, key: readFileSync(process.env.SD_TLS_KEY ?? ''), cert: readFileSync(process.env.SD_TLS_CERT ?? '') }, (socket) => {
  sockets.add(socket)
  socket.on('close', () => sockets.delete(socket))
  handle(socket)
})
server.listen(0, '127.0.0.1', () => {
  serve({
    ports: { tcp: (server.address() as AddressInfo).port },
    connections: () => sockets.size,
    stop: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy()
      server.close(() => resolve())
    }),
  })
})
