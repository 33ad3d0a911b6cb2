/**
 * Stream framing for socket ports. Decoders take chunks as they arrive and call back once per
 * complete frame; a frame that fits in one chunk is passed as a view of that chunk (no copy),
 * one split across chunks is joined once when complete. Limits are checked before buffering.
 */
import { SdError } from '../core/errors.js'

/** Receives chunks, emits frames. `push` returns an error instead of throwing. */
export interface FrameDecoder {
  /** Feeds one chunk; returns an error when the stream must be closed. */
  push (chunk: Buffer): SdError | undefined
  /** Bytes held for an incomplete frame. */
  readonly buffered: number
}

/** Called with each complete frame's payload; the buffer is only valid during the call. */
export type FrameHandler = (payload: Buffer) => void

const HEADER = 4

/** `length` framing: uint32 big-endian payload length, then the payload. */
export class LengthDecoder implements FrameDecoder {
  readonly #max: number
  readonly #onFrame: FrameHandler
  /** Bytes of a header split across chunks. */
  #header: Buffer | null = null
  /** Payload length of the frame being collected, or -1 while reading a header. */
  #need = -1
  #parts: Buffer[] = []
  #have = 0

  constructor (maxFrameBytes: number, onFrame: FrameHandler) {
    this.#max = maxFrameBytes
    this.#onFrame = onFrame
  }

  get buffered (): number {
    return this.#have + (this.#header ? this.#header.length : 0)
  }

  push (chunk: Buffer): SdError | undefined {
    let off = 0
    const end = chunk.length
    if (this.#need >= 0) {
      const take = Math.min(this.#need - this.#have, end)
      this.#parts.push(take === end ? chunk : chunk.subarray(0, take))
      this.#have += take
      off = take
      if (this.#have < this.#need) return undefined
      const payload = this.#parts.length === 1 ? this.#parts[0] : Buffer.concat(this.#parts, this.#need)
      this.#parts = []
      this.#have = 0
      this.#need = -1
      this.#onFrame(payload)
    } else if (this.#header) {
      const take = Math.min(HEADER - this.#header.length, end)
      this.#header = Buffer.concat([this.#header, chunk.subarray(0, take)])
      off = take
      if (this.#header.length < HEADER) return undefined
      const len = this.#header.readUInt32BE(0)
      this.#header = null
      if (len > this.#max) return tooLarge(len, this.#max)
      if (end - off < len) return this.#startPartial(chunk, off, len)
      this.#onFrame(chunk.subarray(off, off + len))
      off += len
    }
    while (off < end) {
      if (end - off < HEADER) {
        this.#header = Buffer.from(chunk.subarray(off))
        return undefined
      }
      const len = chunk.readUInt32BE(off)
      if (len > this.#max) return tooLarge(len, this.#max)
      off += HEADER
      if (end - off < len) return this.#startPartial(chunk, off, len)
      this.#onFrame(chunk.subarray(off, off + len))
      off += len
    }
    return undefined
  }

  #startPartial (chunk: Buffer, off: number, len: number): undefined {
    this.#need = len
    if (off < chunk.length) {
      this.#parts.push(chunk.subarray(off))
      this.#have = chunk.length - off
    }
    return undefined
  }
}

function tooLarge (len: number, max: number): SdError {
  return new SdError('SD_ERR_FRAME_TOO_LARGE', `${len} bytes announced, limit is ${max}`)
}

const LF = 0x0a
const CR = 0x0d

/** `eof` framing: frames end with `\n`; a `\r` before it is dropped. */
export class LineDecoder implements FrameDecoder {
  readonly #max: number
  readonly #onFrame: FrameHandler
  #parts: Buffer[] = []
  #have = 0

  constructor (maxLineBytes: number, onFrame: FrameHandler) {
    this.#max = maxLineBytes
    this.#onFrame = onFrame
  }

  get buffered (): number {
    return this.#have
  }

  push (chunk: Buffer): SdError | undefined {
    let off = 0
    let nl = chunk.indexOf(LF)
    while (nl !== -1) {
      let line: Buffer
      if (this.#have > 0) {
        this.#parts.push(chunk.subarray(off, nl))
        line = Buffer.concat(this.#parts, this.#have + nl - off)
        this.#parts = []
        this.#have = 0
      } else {
        line = chunk.subarray(off, nl)
      }
      if (line.length > this.#max) return lineTooLong(line.length, this.#max)
      this.#onFrame(line.length > 0 && line[line.length - 1] === CR ? line.subarray(0, line.length - 1) : line)
      off = nl + 1
      nl = chunk.indexOf(LF, off)
    }
    if (off < chunk.length) {
      this.#have += chunk.length - off
      if (this.#have > this.#max) return lineTooLong(this.#have, this.#max)
      this.#parts.push(chunk.subarray(off))
    }
    return undefined
  }
}

function lineTooLong (len: number, max: number): SdError {
  return new SdError('SD_ERR_FRAME_TOO_LARGE', `line of ${len}+ bytes, limit is ${max}`)
}

/**
 * Frames payloads for `length` framing into one buffer (header, payload, header, payload…):
 * strings are encoded straight into it, so a turn of replies costs one allocation.
 */
export function frameLength (parts: ReadonlyArray<string | Buffer>): Buffer {
  const n = parts.length
  const lens = new Array<number>(n)
  let total = 0
  for (let i = 0; i < n; i++) {
    const p = parts[i]
    const len = typeof p === 'string' ? Buffer.byteLength(p) : p.length
    lens[i] = len
    total += HEADER + len
  }
  const out = Buffer.allocUnsafe(total)
  let off = 0
  for (let i = 0; i < n; i++) {
    const p = parts[i]
    out.writeUInt32BE(lens[i], off)
    off += HEADER
    if (typeof p === 'string') out.write(p, off, 'utf8')
    else p.copy(out, off)
    off += lens[i]
  }
  return out
}

/** Frames payloads for `eof` framing: each followed by `\n`. */
export function frameLines (parts: ReadonlyArray<string | Buffer>): string | Buffer {
  if (parts.every((p) => typeof p === 'string')) return parts.join('\n') + '\n'
  const nl = Buffer.from('\n')
  return Buffer.concat(parts.flatMap((p) => [typeof p === 'string' ? Buffer.from(p) : p, nl]))
}
