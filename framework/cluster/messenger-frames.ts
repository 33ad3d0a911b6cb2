/**
 * The messenger's payloads inside DATA frames (layouts: docs/cluster.md, "Messenger kinds"):
 * a tick's requests as one REQUEST payload (bodies encoded in one go, decoded in one go), a
 * turn's replies as REPLY payloads (numbers as float64, anything else as JSON).
 */

/** The `kind` byte of the messenger's DATA frames. */
export const Kind = { REQUEST: 1, REPLY: 2, NOTICE: 3 } as const

/** Bytes per REQUEST frame (a tick's requests are split above this). */
const REQUEST_FRAME_BYTES = 1 << 20
/** Bytes of a REQUEST frame before its entries: float64 watermark + uint32 count. */
const REQUEST_HEAD_BYTES = 12
/** Bytes of each entry of a REQUEST frame: float64 id + uint32 body length. */
const ENTRY_HEADER_BYTES = 12
/** Most UTF-8 bytes per UTF-16 code unit (frames are sized by this bound before encoding). */
export const MAX_UTF8_PER_UNIT = 3
/** Bytes of reply entries per REPLY frame (a turn's replies are split above this). */
const REPLY_FRAME_BYTES = 1 << 20
/** Reply entry types: a number (float64 BE), or JSON text (uint32 BE length + UTF-8). */
const REPLY_NUMBER = 0
const REPLY_JSON = 1
/** Bytes of a number reply entry (id + type + value), and before the text of a JSON one. */
const REPLY_NUMBER_BYTES = 17
const REPLY_JSON_BYTES = 13

/** What a REQUEST entry carries. */
export interface RequestEntry {
  id: number
  body: string
}

/** Runs [from, to) of `requests` that each fit one REQUEST frame. */
export function requestRuns (requests: readonly RequestEntry[]): Array<[number, number, number]> {
  const sizes = requests.map((p) => ENTRY_HEADER_BYTES + MAX_UTF8_PER_UNIT * p.body.length)
  return frameRuns(sizes, REQUEST_FRAME_BYTES - REQUEST_HEAD_BYTES)
}

/** One REQUEST payload: the watermark, the entries, then every body as one UTF-8 text. */
export function encodeRequests (requests: readonly RequestEntry[], watermark: number): Buffer {
  const bodies = new Array<string>(requests.length)
  for (let i = 0; i < requests.length; i++) bodies[i] = requests[i].body
  const text = bodies.join('')
  const head = REQUEST_HEAD_BYTES + requests.length * ENTRY_HEADER_BYTES
  const textBytes = Buffer.byteLength(text)
  const payload = Buffer.allocUnsafe(head + textBytes)
  payload.writeDoubleBE(watermark, 0)
  payload.writeUInt32BE(requests.length, 8)
  let off = REQUEST_HEAD_BYTES
  for (const p of requests) {
    payload.writeDoubleBE(p.id, off)
    payload.writeUInt32BE(p.body.length, off + 8)
    off += ENTRY_HEADER_BYTES
  }
  payload.write(text, head, textBytes, 'utf8')
  return payload
}

/** A REQUEST payload's watermark; undefined when it is shorter than its head or its count of entries does not fit (nothing runs). */
export function requestWatermark (payload: Buffer): number | undefined {
  if (payload.length < REQUEST_HEAD_BYTES) return undefined
  const head = REQUEST_HEAD_BYTES + payload.readUInt32BE(8) * ENTRY_HEADER_BYTES
  return head > payload.length ? undefined : payload.readDoubleBE(0)
}

/**
 * Visits a REQUEST payload's entries in order (check it with `requestWatermark` first), stopping
 * at the first whose body runs past the text or whose id is not an integer.
 */
export function forEachRequest (payload: Buffer, visit: (id: number, body: string) => void): void {
  const head = REQUEST_HEAD_BYTES + payload.readUInt32BE(8) * ENTRY_HEADER_BYTES
  const text = payload.toString('utf8', head)
  let at = 0
  for (let off = REQUEST_HEAD_BYTES; off < head; off += ENTRY_HEADER_BYTES) {
    const id = payload.readDoubleBE(off)
    const end = at + payload.readUInt32BE(off + 8)
    if (end > text.length || !Number.isSafeInteger(id)) break // malformed: the rest is dropped
    const body = text.slice(at, end)
    at = end
    visit(id, body)
  }
}

/** REPLY payloads of (id, value) entries, split above 1 MiB; a JSON reply over that is sent as null. */
export function encodeReplies (list: ReadonlyArray<[number, unknown]>): Buffer[] {
  const encoded = list.map(([, value]) => {
    if (typeof value === 'number') return undefined
    const json = Buffer.from(JSON.stringify(value) ?? 'null')
    return json.length > REPLY_FRAME_BYTES ? Buffer.from('null') : json
  })
  const sizes = encoded.map((json) => (json === undefined ? REPLY_NUMBER_BYTES : REPLY_JSON_BYTES + json.length))
  const out: Buffer[] = []
  for (const [from, to, bytes] of frameRuns(sizes, REPLY_FRAME_BYTES)) {
    const payload = Buffer.allocUnsafe(bytes)
    let off = 0
    for (let j = from; j < to; j++) {
      const [id, value] = list[j]
      payload.writeDoubleBE(id, off)
      const json = encoded[j]
      if (json === undefined) {
        payload[off + 8] = REPLY_NUMBER
        payload.writeDoubleBE(value as number, off + 9)
        off += REPLY_NUMBER_BYTES
      } else {
        payload[off + 8] = REPLY_JSON
        payload.writeUInt32BE(json.length, off + 9)
        off += REPLY_JSON_BYTES + json.copy(payload, off + REPLY_JSON_BYTES)
      }
    }
    out.push(payload)
  }
  return out
}

/** Reads a REPLY payload, `visit` per entry; a malformed entry ends it (JSON that does not parse reads as null). */
export function readReplies (payload: Buffer, visit: (id: number, value: unknown) => void): void {
  let off = 0
  while (off + REPLY_NUMBER_BYTES <= payload.length) {
    const id = payload.readDoubleBE(off)
    let value: unknown
    if (payload[off + 8] === REPLY_NUMBER) {
      value = payload.readDoubleBE(off + 9)
      off += REPLY_NUMBER_BYTES
    } else {
      const end = off + REPLY_JSON_BYTES + payload.readUInt32BE(off + 9)
      if (payload[off + 8] !== REPLY_JSON || end > payload.length) return // malformed: the rest is dropped
      try {
        value = JSON.parse(payload.toString('utf8', off + REPLY_JSON_BYTES, end))
      } catch {
        value = null
      }
      off = end
    }
    visit(id, value)
  }
}

/**
 * Splits items of the given sizes into consecutive runs of at most `max` bytes each (an item
 * over `max` goes alone): [from, to, bytes] per run, none for no items.
 */
function frameRuns (sizes: readonly number[], max: number): Array<[number, number, number]> {
  const runs: Array<[number, number, number]> = []
  let from = 0
  let bytes = 0
  for (let i = 0; i < sizes.length; i++) {
    if (i > from && bytes + sizes[i] > max) {
      runs.push([from, i, bytes])
      from = i
      bytes = 0
    }
    bytes += sizes[i]
  }
  if (sizes.length > from) runs.push([from, sizes.length, bytes])
  return runs
}
