/** SD's TCP framing for the load generator: uint32 big-endian payload length, then the payload. */
import type { Wire } from './pipelined-client.js'
import { MAX_REQUEST_BYTES, requestLength, writeRequest } from './payload.js'

const HEADER = 4

export const tcpWire: Wire = {
  maxRequestBytes: HEADER + MAX_REQUEST_BYTES,
  encode (out, off, digits) {
    out.writeUInt32BE(requestLength(digits), off)
    return writeRequest(out, off + HEADER, digits)
  },
  scan (buf, off, onPayload) {
    while (buf.length - off >= HEADER) {
      const end = off + HEADER + buf.readUInt32BE(off)
      if (end > buf.length) break
      onPayload(buf, off + HEADER, end)
      off = end
    }
    return off
  },
}
