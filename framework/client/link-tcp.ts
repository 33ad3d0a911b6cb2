/** TCP link (Node only): node:net (node:tls for `tls://`) loaded dynamically, frames prefixed by a uint32 BE length. */
import type { Link, LinkHandlers, LinkOptions } from './link.js'

const EMPTY = Buffer.alloc(0)

/**
 * Opens `tcp://host:port` or `tls://host:port`; frames over `maxFrameBytes` close the link with
 * an error. Frames arrive as strings with `opts.text` (the json pack), else as bytes. Frames
 * sent in one turn of the event loop (calls made as replies resolve) leave in one write.
 */
export async function tcpLink (url: string, handlers: LinkHandlers, opts: LinkOptions): Promise<Link> {
  const u = new URL(url)
  const host = u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1'
  const port = Number(u.port)
  const secure = u.protocol === 'tls:'
  let socket: import('node:net').Socket
  if (secure) {
    const { connect } = await import('node:tls')
    const { isIP } = await import('node:net')
    const tls = opts.tls ?? {}
    socket = connect({ host, port, ca: tls.ca as string | Buffer | undefined, rejectUnauthorized: tls.rejectUnauthorized ?? true, servername: isIP(host) === 0 ? host : undefined })
  } else {
    const { connect } = await import('node:net')
    socket = connect({ host, port })
  }
  socket.setNoDelay(true)
  await new Promise<void>((resolve, reject) => {
    // over TLS: open once the handshake is done (a refused certificate is an 'error')
    socket.once(secure ? 'secureConnect' : 'connect', () => { socket.off('error', reject); resolve() })
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
