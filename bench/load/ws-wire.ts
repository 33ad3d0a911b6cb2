/**
 * A minimal WebSocket client wire for the load generator: the RFC 6455 upgrade, masked text
 * frames (an all-zero mask key, which the RFC allows, so the payload is written as is) and
 * unmasked server frames.
 */
import { createHash, randomBytes } from 'node:crypto'
import type { Socket } from 'node:net'
import type { Wire } from './pipelined-client.js'
import { MAX_REQUEST_BYTES, requestLength, writeRequest } from './payload.js'

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'
const HEADER = 6 // FIN+opcode, MASK+len (payloads < 126 bytes), 4-byte mask key
const OP_TEXT = 0x1
const OP_CLOSE = 0x8
const OP_PING = 0x9
const MAX_HANDSHAKE_BYTES = 16 * 1024
const HANDSHAKE_TIMEOUT_MS = 5000

if (MAX_REQUEST_BYTES >= 126) throw new Error('ws-wire only writes short frames')

function handshake (socket: Socket): Promise<Buffer> {
  const key = randomBytes(16).toString('base64')
  const accept = createHash('sha1').update(key + GUID).digest('base64')
  socket.write(`GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${socket.remotePort}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`)
  return new Promise((resolve, reject) => {
    let head = Buffer.alloc(0)
    const fail = (why: string): void => {
      cleanup()
      reject(new Error(`WebSocket upgrade failed: ${why}`))
    }
    const timer = setTimeout(() => fail('timeout'), HANDSHAKE_TIMEOUT_MS)
    const onClose = (): void => fail('socket closed')
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk])
      const end = head.indexOf('\r\n\r\n')
      if (end === -1) {
        if (head.length > MAX_HANDSHAKE_BYTES) fail('response headers too large')
        return
      }
      const text = head.toString('latin1', 0, end)
      if (!text.startsWith('HTTP/1.1 101')) return fail(text.split('\r\n')[0])
      if (!text.toLowerCase().includes(`sec-websocket-accept: ${accept.toLowerCase()}`)) return fail('bad Sec-WebSocket-Accept')
      cleanup()
      resolve(head.subarray(end + 4))
    }
    const cleanup = (): void => {
      clearTimeout(timer)
      socket.off('data', onData)
      socket.off('close', onClose)
    }
    socket.on('data', onData)
    socket.on('close', onClose)
  })
}

export const wsWire: Wire = {
  maxRequestBytes: HEADER + MAX_REQUEST_BYTES,
  handshake,
  encode (out, off, digits) {
    out[off] = 0x80 | OP_TEXT
    out[off + 1] = 0x80 | requestLength(digits)
    out.writeUInt32BE(0, off + 2)
    return writeRequest(out, off + HEADER, digits)
  },
  scan (buf, off, onPayload) {
    while (buf.length - off >= 2) {
      const b0 = buf[off]
      const b1 = buf[off + 1]
      if ((b1 & 0x80) !== 0) throw new Error('server frame is masked')
      let start = off + 2
      let len = b1 & 0x7f
      if (len === 126) {
        if (buf.length - off < 4) break
        len = buf.readUInt16BE(off + 2)
        start = off + 4
      } else if (len === 127) {
        if (buf.length - off < 10) break
        if (buf.readUInt32BE(off + 2) !== 0) throw new Error('frame too large')
        len = buf.readUInt32BE(off + 6)
        start = off + 10
      }
      const end = start + len
      if (end > buf.length) break
      const opcode = b0 & 0x0f
      if (opcode === OP_TEXT && (b0 & 0x80) !== 0) onPayload(buf, start, end)
      else if (opcode === OP_CLOSE) throw new Error(`server closed the WebSocket (${len >= 2 ? buf.readUInt16BE(start) : 'no code'})`)
      else if (opcode !== OP_PING) throw new Error(`unexpected frame opcode ${opcode}`)
      off = end
    }
    return off
  },
}
