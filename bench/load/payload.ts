/**
 * The request every benchmark sends, and a cheap exact check of the reply: a reply is valid
 * when it is `{"id":<id>,"data":<the data sent>}`, compared byte for byte (both baselines and
 * SD serialise with JSON.stringify); anything else is parsed and compared as JSON.
 */

/** Route the demo app answers on every transport. */
export const ECHO_PATH = '/bench/echo'
/** Data of every request. */
export const ECHO_DATA = { msg: 'hello', n: 42 }
/** `ECHO_DATA` as JSON: the HTTP request body and the expected HTTP reply body. */
export const ECHO_JSON = JSON.stringify(ECHO_DATA)

const REQ_HEAD = Buffer.from('{"id":')
const REQ_TAIL = Buffer.from(`,"path":${JSON.stringify(ECHO_PATH)},"data":${ECHO_JSON}}`)
const REPLY_HEAD = REQ_HEAD
const REPLY_TAIL = Buffer.from(`,"data":${ECHO_JSON}}`)
const ZERO = 0x30
const NINE = 0x39

/** Largest request payload (ids stay below 2^53, so at most 16 digits). */
export const MAX_REQUEST_BYTES = REQ_HEAD.length + 16 + REQ_TAIL.length

/** Byte length of the request payload for `id`. */
export function requestLength (digits: string): number {
  return REQ_HEAD.length + digits.length + REQ_TAIL.length
}

/** Writes the JSON request for `id` (given as its decimal digits) at `off`; returns the end offset. */
export function writeRequest (out: Buffer, off: number, digits: string): number {
  off += REQ_HEAD.copy(out, off)
  off += out.write(digits, off, 'latin1')
  return off + REQ_TAIL.copy(out, off)
}

/** The id of a valid reply in `buf[start, end)`, or -1 when the reply is not the echo of a request. */
export function replyId (buf: Buffer, start: number, end: number): number {
  const tailStart = end - REPLY_TAIL.length
  if (tailStart > start + REPLY_HEAD.length && buf.compare(REPLY_HEAD, 0, REPLY_HEAD.length, start, start + REPLY_HEAD.length) === 0 &&
    buf.compare(REPLY_TAIL, 0, REPLY_TAIL.length, tailStart, end) === 0) {
    let id = 0
    for (let i = start + REPLY_HEAD.length; i < tailStart; i++) {
      const c = buf[i]
      if (c < ZERO || c > NINE) return slowReplyId(buf, start, end)
      id = id * 10 + (c - ZERO)
    }
    return id
  }
  return slowReplyId(buf, start, end)
}

function slowReplyId (buf: Buffer, start: number, end: number): number {
  try {
    const reply = JSON.parse(buf.toString('utf8', start, end)) as { id?: unknown, data?: unknown }
    if (typeof reply.id !== 'number' || JSON.stringify(reply.data) !== ECHO_JSON) return -1
    return reply.id
  } catch {
    return -1
  }
}
