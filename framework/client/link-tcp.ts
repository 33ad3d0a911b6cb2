/** TCP link (Node only): node:net (node:tls for `tls://`) loaded dynamically, frames prefixed by a uint32 BE length. */
import type { Link, LinkHandlers, LinkOptions } from './link.js'

/** Opens `tcp://host:port` or `tls://host:port`; frames over `maxFrameBytes` close the link with an error. */
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
  let buf: Buffer = Buffer.alloc(0)
  let failure: Error | undefined
  socket.on('data', (chunk: Buffer) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk])
    while (buf.length >= 4) {
      const len = buf.readUInt32BE(0)
      if (len > opts.maxFrameBytes) {
        failure = new Error(`frame of ${len} bytes over maxFrameBytes ${opts.maxFrameBytes}`)
        socket.destroy()
        return
      }
      if (buf.length < 4 + len) break
      const frame = buf.subarray(4, 4 + len)
      buf = buf.subarray(4 + len)
      handlers.onFrame(frame)
    }
  })
  socket.on('error', (err) => { failure ??= err })
  socket.once('close', () => handlers.onClose(failure))
  return {
    send (frame) {
      const body = typeof frame === 'string' ? Buffer.from(frame, 'utf8') : frame
      const head = Buffer.allocUnsafe(4)
      head.writeUInt32BE(body.length, 0)
      socket.cork()
      socket.write(head)
      socket.write(body)
      socket.uncork()
    },
    close () { socket.destroy() },
  }
}
