/** TCP link (Node only): node:net loaded dynamically, frames prefixed by a uint32 BE length. */
import type { Link, LinkHandlers, LinkOptions } from './link.js'

const EMPTY = Buffer.alloc(0)

/**
 * Opens `tcp://host:port`; frames over `maxFrameBytes` close the link with an error. Frames
 * arrive as strings with `opts.text` (the json pack), else as bytes. Frames sent in one turn of
 * the event loop (calls made as replies resolve) leave in one write.
 */
export async function tcpLink (url: string, handlers: LinkHandlers, opts: LinkOptions): Promise<Link> {
  const { connect } = await import('node:net')
  const u = new URL(url)
  const host = u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1'
  const port = Number(u.port)
  const socket = connect({ host, port })
  socket.setNoDelay(true)
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => { socket.off('error', reject); resolve() })
    socket.once('error', reject)
  })
  const text = opts.text === true
  let rest: Buffer = EMPTY
  let failure: Error | undefined
  socket.on('data', (chunk: Buffer) => {
    const buf = rest.length === 0 ? chunk : Buffer.concat([rest, chunk])
    let off = 0
    while (buf.length - off >= 4) {
      const len = buf.readUInt32BE(off)
      if (len > opts.maxFrameBytes) {
        failure = new Error(`frame of ${len} bytes over maxFrameBytes ${opts.maxFrameBytes}`)
        socket.destroy()
        return
      }
      const end = off + 4 + len
      if (end > buf.length) break
      handlers.onFrame(text ? buf.toString('utf8', off + 4, end) : buf.subarray(off + 4, end))
      off = end
      if (socket.destroyed) return
    }
    rest = off === buf.length ? EMPTY : buf.subarray(off)
  })
  socket.on('error', (err) => { failure ??= err })
  socket.once('close', () => handlers.onClose(failure))
  let parts: Buffer[] = []
  let bytes = 0
  const flush = (): void => {
    const out = parts.length === 1 ? parts[0] : Buffer.concat(parts, bytes)
    parts = []
    bytes = 0
    if (!socket.destroyed) socket.write(out)
  }
  return {
    send (frame) {
      let out: Buffer
      if (typeof frame === 'string') {
        const len = Buffer.byteLength(frame)
        out = Buffer.allocUnsafe(4 + len)
        out.writeUInt32BE(len, 0)
        out.write(frame, 4)
      } else {
        out = Buffer.allocUnsafe(4 + frame.length)
        out.writeUInt32BE(frame.length, 0)
        out.set(frame, 4)
      }
      if (parts.length === 0) process.nextTick(flush)
      parts.push(out)
      bytes += out.length
    },
    close () { socket.destroy() },
  }
}
