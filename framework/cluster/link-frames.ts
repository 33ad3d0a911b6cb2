/**
 * The cluster link wire format, used by both ends of a link (server ↔ dispatcher):
 *
 *     frame = uint32 BE payload length | uint8 type | payload
 *
 * The length counts the payload only (not the 5-byte header). A streaming decoder turns
 * chunks into frames and refuses a header that announces more than `maxFrameBytes`, or an
 * unknown type, before buffering any of its payload. DATA frames carry an opaque payload that
 * a dispatcher relays as the same bytes (never decoded, never re-encoded).
 */

/** Frame types. Any other value is a protocol error (the socket is closed). */
export const FrameType = {
  /** Handshake: the challenge (accepting side) or the answer (connecting side). */
  HELLO: 1,
  /** Handshake accepted (carries the accepting side's proof). */
  WELCOME: 2,
  /** Handshake refused: a UTF-8 reason; the sender closes the link. */
  DENY: 3,
  /** A relayed message: routing header + opaque payload. */
  DATA: 4,
  /** Receipts for DATA frames (message ids). */
  ACK: 5,
  /** Liveness probe: 8 opaque bytes the peer echoes in a PONG. */
  PING: 6,
  /** Answer to a PING, echoing its body. */
  PONG: 7,
  /** An opaque message of a gateway ↔ worker link (gateway/protocol.ts): no routing header, the body is the link user's. */
  MSG: 8,
} as const

/** A frame type value. */
export type FrameTypeValue = typeof FrameType[keyof typeof FrameType]

/** Frame type names, for logs. */
export const frameTypeName: Record<number, string> = Object.fromEntries(Object.entries(FrameType).map(([k, v]) => [v, k]))

/**
 * What a link end is: a server (holds clients) or a dispatch server (relays) of the dispatch
 * cluster; a gateway or a business worker of the gateway/worker split (gateway/).
 */
export type LinkRole = ClusterRole | 'gateway' | 'worker'

/** The roles of the dispatch cluster (its registry records only these). */
export type ClusterRole = 'server' | 'dispatch'

/** Largest frame accepted before the handshake succeeds (see link-auth.ts). */
export const HANDSHAKE_MAX_FRAME_BYTES = 512

/** Bytes before a frame's payload: uint32 length + uint8 type. */
export const FRAME_HEADER_BYTES = 5

/** Most targets one DATA frame can name. */
export const MAX_TARGETS = 0xffff
/** Longest node name on the wire, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 0xff

/** Called once per complete frame. The decoder never writes into `payload` again: the receiver may keep it (e.g. to relay it later). */
export type LinkFrameHandler = (type: FrameTypeValue, payload: Buffer) => void

/** Why the decoder refused the stream (the socket must then be closed). */
export interface FrameError {
  reason: 'too-large' | 'bad-type'
  message: string
}

function isFrameType (t: number): t is FrameTypeValue {
  return t >= FrameType.HELLO && t <= FrameType.MSG
}

/**
 * Streaming decoder. A frame inside one chunk is passed as a view of that chunk (no copy); a
 * frame split across chunks is collected into one buffer of exactly its size, allocated once
 * its header is known (so at most `maxFrameBytes` are ever buffered).
 */
export class LinkFrameDecoder {
  /** Largest payload accepted; may be changed between chunks (a link raises it after the handshake). */
  maxFrameBytes: number
  readonly #onFrame: LinkFrameHandler
  /** Header bytes of a frame whose header was split across chunks. */
  readonly #head = Buffer.alloc(FRAME_HEADER_BYTES)
  #headLen = 0
  /** Payload being collected, its type and how much of it is filled. */
  #body: Buffer | null = null
  #bodyType: FrameTypeValue = FrameType.PING
  #bodyLen = 0
  #stopped = false

  constructor (maxFrameBytes: number, onFrame: LinkFrameHandler) {
    this.maxFrameBytes = maxFrameBytes
    this.#onFrame = onFrame
  }

  /** Bytes held for an incomplete frame. */
  get buffered (): number {
    return this.#headLen + this.#bodyLen
  }

  /** Delivers no more frames, not even the rest of the chunk being decoded (the link closed). */
  stop (): void {
    this.#stopped = true
    this.#body = null
    this.#bodyLen = 0
    this.#headLen = 0
  }

  /**
   * Feeds one chunk; returns an error when the stream must be closed (nothing more may be fed).
   * Frames decoded before the error have been delivered.
   */
  push (chunk: Buffer): FrameError | undefined {
    if (this.#stopped) return undefined
    let off = 0
    const end = chunk.length
    if (this.#body !== null) {
      const take = Math.min(this.#body.length - this.#bodyLen, end)
      chunk.copy(this.#body, this.#bodyLen, 0, take)
      this.#bodyLen += take
      off = take
      if (this.#bodyLen < this.#body.length) return undefined
      const body = this.#body
      this.#body = null
      this.#bodyLen = 0
      this.#onFrame(this.#bodyType, body)
    } else if (this.#headLen > 0) {
      const take = Math.min(FRAME_HEADER_BYTES - this.#headLen, end)
      chunk.copy(this.#head, this.#headLen, 0, take)
      this.#headLen += take
      off = take
      if (this.#headLen < FRAME_HEADER_BYTES) return undefined
      this.#headLen = 0
      const err = this.#frame(this.#head.readUInt32BE(0), this.#head[4], chunk, off)
      if (typeof err === 'object') return err
      off = err
    }
    while (off < end && !this.#stopped) {
      if (end - off < FRAME_HEADER_BYTES) {
        chunk.copy(this.#head, 0, off, end)
        this.#headLen = end - off
        return undefined
      }
      const err = this.#frame(chunk.readUInt32BE(off), chunk[off + 4], chunk, off + FRAME_HEADER_BYTES)
      if (typeof err === 'object') return err
      off = err
    }
    return undefined
  }

  /** A header was read; the payload starts at `off` in `chunk`. Returns the offset after what was consumed. */
  #frame (len: number, type: number, chunk: Buffer, off: number): number | FrameError {
    if (!isFrameType(type)) return { reason: 'bad-type', message: `unknown frame type ${type}` }
    if (len > this.maxFrameBytes) return { reason: 'too-large', message: `frame of ${len} bytes announced, limit is ${this.maxFrameBytes}` }
    const have = chunk.length - off
    if (have >= len) {
      this.#onFrame(type, chunk.subarray(off, off + len))
      return off + len
    }
    const body = Buffer.allocUnsafe(len)
    chunk.copy(body, 0, off)
    this.#body = body
    this.#bodyType = type
    this.#bodyLen = have
    return chunk.length
  }
}

/** Writes a frame header into `out` at `off`; returns the offset after it. */
export function writeFrameHeader (out: Buffer, off: number, type: FrameTypeValue, payloadBytes: number): number {
  out.writeUInt32BE(payloadBytes, off)
  out[off + 4] = type
  return off + FRAME_HEADER_BYTES
}

/** One frame as a standalone buffer (tests, handshakes; links batch frames themselves). */
export function encodeFrame (type: FrameTypeValue, payload: Buffer = Buffer.alloc(0)): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length)
  writeFrameHeader(out, 0, type, payload.length)
  payload.copy(out, FRAME_HEADER_BYTES)
  return out
}

// ---- DATA ------------------------------------------------------------------------------

/** DATA flag: deliver to every other server link of the dispatcher (the target list is empty). */
export const DATA_FLAG_ALL = 0x01
/**
 * DATA flag: the sender only wants to hear about targets the frame could not be handed to
 * (no link, link full); the dispatcher sends no ACK when every target got it, and does not
 * watch the writes (a link that dies mid-write is the sender's re-send to handle).
 */
export const DATA_FLAG_QUIET = 0x02

/**
 * A relayed message. `id` is the sender's message id (a safe integer, sent as uint64 BE):
 * unique per `source` for the source's lifetime, so a receiver can deduplicate re-sends by
 * `(source, id)`. `kind` is opaque to links and dispatchers (the bus says what a payload is).
 */
export interface DataMessage {
  id: number
  source: string
  /** Node names, or `'all'`: every server link of the dispatcher except the source's. */
  targets: readonly string[] | 'all'
  /** 0–255, meaning defined by the layer above. */
  kind: number
  /** ACK misses only (flag QUIET). */
  quiet?: boolean
  /** Opaque bytes, relayed as they are. */
  payload: Buffer
}

/*
 * DATA payload layout:
 *   uint8  flags          bit 0: ALL (targets = every other server link); bit 1: QUIET; other bits 0
 *   uint8  kind           opaque
 *   uint64 id             big-endian, < 2^53
 *   uint8  source length, source (UTF-8)
 *   uint16 target count, then per target: uint8 length, name (UTF-8)
 *   ...    payload        the rest of the frame
 */

/** Encodes the DATA frame payload (without the 5-byte frame header). */
export function encodeData (msg: DataMessage): Buffer {
  if (!Number.isSafeInteger(msg.id) || msg.id < 0) throw new RangeError(`message id must be a safe non-negative integer, got ${msg.id}`)
  if (!Number.isInteger(msg.kind) || msg.kind < 0 || msg.kind > 255) throw new RangeError(`kind must be 0–255, got ${msg.kind}`)
  const all = msg.targets === 'all'
  const targets = all ? [] : msg.targets as readonly string[]
  if (targets.length > MAX_TARGETS) throw new RangeError(`at most ${MAX_TARGETS} targets per DATA frame`)
  const source = nameBytes(msg.source)
  let size = 2 + 8 + 1 + source + 2
  for (const t of targets) size += 1 + nameBytes(t)
  size += msg.payload.length
  const out = Buffer.allocUnsafe(size)
  out[0] = (all ? DATA_FLAG_ALL : 0) | (msg.quiet === true ? DATA_FLAG_QUIET : 0)
  out[1] = msg.kind
  writeId(out, 2, msg.id)
  let off = writeName(out, 10, msg.source, source)
  out.writeUInt16BE(targets.length, off)
  off += 2
  for (const t of targets) off = writeName(out, off, t, Buffer.byteLength(t))
  msg.payload.copy(out, off)
  return out
}

/** Decodes a DATA payload; `payload` is a view of `body`. Undefined when malformed. */
export function decodeData (body: Buffer): DataMessage | undefined {
  if (body.length < 13) return undefined
  const flags = body[0]
  if ((flags & ~(DATA_FLAG_ALL | DATA_FLAG_QUIET)) !== 0) return undefined
  const id = readId(body, 2)
  if (id === undefined) return undefined
  let off = 10
  const srcLen = body[off++]
  if (srcLen === 0 || off + srcLen + 2 > body.length) return undefined
  const source = body.toString('utf8', off, off + srcLen)
  off += srcLen
  const count = body.readUInt16BE(off)
  off += 2
  const all = (flags & DATA_FLAG_ALL) !== 0
  if (all && count !== 0) return undefined
  const targets: string[] = []
  for (let i = 0; i < count; i++) {
    if (off >= body.length) return undefined
    const len = body[off++]
    if (len === 0 || off + len > body.length) return undefined
    targets.push(body.toString('utf8', off, off + len))
    off += len
  }
  const msg: DataMessage = { id, source, targets: all ? 'all' : targets, kind: body[1], payload: body.subarray(off) }
  if ((flags & DATA_FLAG_QUIET) !== 0) msg.quiet = true
  return msg
}

/** True when the DATA payload's source field is exactly `name` (bytes compared, nothing decoded). */
export function dataSourceIs (body: Buffer, name: Buffer): boolean {
  return body.length >= 11 + name.length && body[10] === name.length && body.compare(name, 0, name.length, 11, 11 + name.length) === 0
}

// ---- ACK -------------------------------------------------------------------------------

/**
 * A receipt for one DATA frame, from the dispatcher to its sender: `delivered` target links
 * had the frame written to them; `missed` lists the targets it could not be written to
 * (unknown or disconnected node, link over its buffer limit, write failed).
 */
export interface AckEntry {
  id: number
  delivered: number
  missed: readonly string[]
}

/*
 * ACK payload: entries until the end of the frame, each:
 *   uint64 id, uint16 delivered, uint16 missed count, then per missed: uint8 length, name
 */

/** Encodes ACK entries into one frame payload. */
export function encodeAck (entries: readonly AckEntry[]): Buffer {
  let size = 0
  for (const e of entries) {
    size += 12
    for (const m of e.missed) size += 1 + nameBytes(m)
  }
  const out = Buffer.allocUnsafe(size)
  let off = 0
  for (const e of entries) {
    writeId(out, off, e.id)
    out.writeUInt16BE(Math.min(e.delivered, 0xffff), off + 8)
    out.writeUInt16BE(e.missed.length, off + 10)
    off += 12
    for (const m of e.missed) off = writeName(out, off, m, Buffer.byteLength(m))
  }
  return out
}

/** Decodes an ACK payload; undefined when malformed. */
export function decodeAck (body: Buffer): AckEntry[] | undefined {
  const out: AckEntry[] = []
  let off = 0
  while (off < body.length) {
    if (off + 12 > body.length) return undefined
    const id = readId(body, off)
    if (id === undefined) return undefined
    const delivered = body.readUInt16BE(off + 8)
    const n = body.readUInt16BE(off + 10)
    off += 12
    const missed: string[] = []
    for (let i = 0; i < n; i++) {
      if (off >= body.length) return undefined
      const len = body[off++]
      if (len === 0 || off + len > body.length) return undefined
      missed.push(body.toString('utf8', off, off + len))
      off += len
    }
    out.push({ id, delivered, missed })
  }
  return out
}

// ---- helpers ---------------------------------------------------------------------------

/** UTF-8 length of a node name; throws when it cannot be sent (empty or over 255 bytes). */
export function nameBytes (name: string): number {
  const n = Buffer.byteLength(name)
  if (n === 0 || n > MAX_NAME_BYTES) throw new RangeError(`node name must be 1–${MAX_NAME_BYTES} bytes: ${JSON.stringify(name.slice(0, 40))}`)
  return n
}

function writeName (out: Buffer, off: number, name: string, len: number): number {
  out[off] = len
  out.write(name, off + 1, len, 'utf8')
  return off + 1 + len
}

function writeId (out: Buffer, off: number, id: number): void {
  out.writeUInt32BE(Math.floor(id / 0x1_0000_0000), off)
  out.writeUInt32BE(id >>> 0, off + 4)
}

/** uint64 BE as a number; undefined above 2^53 − 1. */
function readId (buf: Buffer, off: number): number | undefined {
  const hi = buf.readUInt32BE(off)
  if (hi > 0x1f_ffff) return undefined
  return hi * 0x1_0000_0000 + buf.readUInt32BE(off + 4)
}
