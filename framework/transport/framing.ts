/**
 * Stream framing for socket ports. Decoders take chunks as they arrive and call back once per
 * complete frame; a frame that fits in one chunk is passed as a view of that chunk (no copy),
 * one split across chunks is joined once when complete. Limits are checked before buffering.
 */
import { SdError } from '../core/errors.js'

/**
 * Receives chunks, emits frames. `push` returns an error instead of throwing. A handler that
 * returns `false` stops the decoder after that frame (the connection has as many requests
 * running as it may): the rest of the chunk, and chunks pushed meanwhile, wait uncopied until
 * `resume()`.
 */
export interface FrameDecoder {
  /** Feeds one chunk; returns an error when the stream must be closed. */
  push (chunk: Buffer): SdError | undefined
  /** Goes on with the frames held since a handler returned `false`; may stop again. */
  resume (): SdError | undefined
  /** True from a handler's `false` until `resume()`. */
  readonly stopped: boolean
  /** Bytes held for an incomplete frame. */
  readonly buffered: number
}

/**
 * Called with each complete frame's payload; the buffer is only valid during the call.
 * Returning `false` stops the decoder after this frame (anything else goes on).
 */
export type FrameHandler = (payload: Buffer) => boolean | void

const HEADER = 4

/** Marks, among the chunks waiting while stopped, where the incomplete frame is dropped. */
const DISCARD = Symbol('discard')

/**
 * Bytes of an incomplete frame, copied into one buffer that doubles as it fills (never past
 * `cap`): memory stays proportional to what was received, however small the chunks.
 */
class Collector {
  #buf: Buffer | null = null
  #len = 0

  get length (): number {
    return this.#len
  }

  append (chunk: Buffer, cap: number): void {
    const need = this.#len + chunk.length
    if (this.#buf === null || need > this.#buf.length) {
      const size = Math.min(cap, Math.max(need, 256, this.#buf === null ? 0 : this.#buf.length * 2))
      const next = Buffer.allocUnsafe(Math.max(size, need))
      if (this.#buf !== null) this.#buf.copy(next, 0, 0, this.#len)
      this.#buf = next
    }
    chunk.copy(this.#buf, this.#len)
    this.#len = need
  }

  /** The collected bytes; the collector is empty afterwards. */
  take (): Buffer {
    const out = this.#buf === null ? Buffer.alloc(0) : this.#buf.subarray(0, this.#len)
    this.#buf = null
    this.#len = 0
    return out
  }
}

/**
 * Stopping and resuming, shared by both framings: `parse` reads a chunk from an offset and
 * calls `stop` at the frame boundary where a handler said `false`.
 */
abstract class StoppableDecoder implements FrameDecoder {
  protected readonly onFrame: FrameHandler
  #stopped = false
  /** The chunk the decoder stopped in, read from `#restOff` on resume. */
  #rest: Buffer | null = null
  #restOff = 0
  /** Chunks pushed while stopped (none while the socket is paused, as it is then), and `DISCARD` marks. */
  #waiting: Array<Buffer | typeof DISCARD> = []

  constructor (onFrame: FrameHandler) {
    this.onFrame = onFrame
  }

  abstract get buffered (): number
  protected abstract parse (chunk: Buffer, off: number): SdError | undefined

  get stopped (): boolean {
    return this.#stopped
  }

  push (chunk: Buffer): SdError | undefined {
    if (this.#stopped) {
      this.#waiting.push(chunk)
      return undefined
    }
    return this.parse(chunk, 0)
  }

  resume (): SdError | undefined {
    if (!this.#stopped) return undefined
    this.#stopped = false
    let chunk = this.#rest
    let off = this.#restOff
    this.#rest = null
    for (;;) {
      if (chunk !== null) {
        const err = this.parse(chunk, off)
        if (err !== undefined || this.#stopped) return err
      }
      const next = this.#waiting.shift()
      if (next === undefined) return undefined
      if (next === DISCARD) {
        this.dropPartial()
        chunk = null
        continue
      }
      chunk = next
      off = 0
    }
  }

  /**
   * Drops the incomplete frame received so far (telnet's Ctrl-C). While stopped, the bytes
   * before the drop still wait unparsed, so the drop waits in line behind them.
   */
  discard (): void {
    if (this.#stopped) this.#waiting.push(DISCARD)
    else this.dropPartial()
  }

  /** Forgets the bytes of the frame being collected. */
  protected abstract dropPartial (): void

  /** Called by `parse` when a handler returned false; `off` is just past that frame. */
  protected stop (chunk: Buffer, off: number): undefined {
    this.#stopped = true
    if (off < chunk.length) {
      this.#rest = chunk
      this.#restOff = off
    }
    return undefined
  }
}

/** `length` framing: uint32 big-endian payload length, then the payload. */
export class LengthDecoder extends StoppableDecoder {
  readonly #max: number
  /** Bytes of a header split across chunks. */
  #header: Buffer | null = null
  /** Payload length of the frame being collected, or -1 while reading a header. */
  #need = -1
  readonly #partial = new Collector()

  constructor (maxFrameBytes: number, onFrame: FrameHandler) {
    super(onFrame)
    this.#max = maxFrameBytes
  }

  get buffered (): number {
    return this.#partial.length + (this.#header ? this.#header.length : 0)
  }

  /** Nothing to drop: losing part of a length-framed frame would lose the stream's framing. */
  protected dropPartial (): void {}

  protected parse (chunk: Buffer, off: number): SdError | undefined {
    const end = chunk.length
    if (this.#need >= 0) {
      const take = Math.min(this.#need - this.#partial.length, end - off)
      this.#partial.append(off === 0 && take === end ? chunk : chunk.subarray(off, off + take), this.#need)
      off += take
      if (this.#partial.length < this.#need) return undefined
      this.#need = -1
      if (this.onFrame(this.#partial.take()) === false) return this.stop(chunk, off)
    } else if (this.#header) {
      const take = Math.min(HEADER - this.#header.length, end - off)
      this.#header = Buffer.concat([this.#header, chunk.subarray(off, off + take)])
      off += take
      if (this.#header.length < HEADER) return undefined
      const len = this.#header.readUInt32BE(0)
      this.#header = null
      if (len > this.#max) return tooLarge(len, this.#max)
      if (end - off < len) return this.#startPartial(chunk, off, len)
      off += len
      if (this.onFrame(chunk.subarray(off - len, off)) === false) return this.stop(chunk, off)
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
      off += len
      if (this.onFrame(chunk.subarray(off - len, off)) === false) return this.stop(chunk, off)
    }
    return undefined
  }

  #startPartial (chunk: Buffer, off: number, len: number): undefined {
    this.#need = len
    if (off < chunk.length) this.#partial.append(chunk.subarray(off), len)
    return undefined
  }
}

function tooLarge (len: number, max: number): SdError {
  return new SdError('SD_ERR_FRAME_TOO_LARGE', `${len} bytes announced, limit is ${max}`)
}

const LF = 0x0a
const CR = 0x0d

/** `eof` framing: frames end with `\n`; a `\r` before it is dropped. */
export class LineDecoder extends StoppableDecoder {
  readonly #max: number
  readonly #partial = new Collector()

  constructor (maxLineBytes: number, onFrame: FrameHandler) {
    super(onFrame)
    this.#max = maxLineBytes
  }

  get buffered (): number {
    return this.#partial.length
  }

  protected dropPartial (): void {
    this.#partial.take()
  }

  protected parse (chunk: Buffer, off: number): SdError | undefined {
    let nl = chunk.indexOf(LF, off)
    while (nl !== -1) {
      let line: Buffer
      if (this.#partial.length > 0) {
        if (this.#partial.length + nl - off > this.#max) return lineTooLong(this.#partial.length + nl - off, this.#max)
        this.#partial.append(chunk.subarray(off, nl), this.#max + 1)
        line = this.#partial.take()
      } else {
        line = chunk.subarray(off, nl)
      }
      if (line.length > this.#max) return lineTooLong(line.length, this.#max)
      off = nl + 1
      if (this.onFrame(line.length > 0 && line[line.length - 1] === CR ? line.subarray(0, line.length - 1) : line) === false) return this.stop(chunk, off)
      nl = chunk.indexOf(LF, off)
    }
    if (off < chunk.length) {
      const have = this.#partial.length + chunk.length - off
      if (have > this.#max) return lineTooLong(have, this.#max)
      this.#partial.append(chunk.subarray(off), this.#max + 1)
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
  return joinLines(parts, '\n')
}

/** Frames payloads for `eof` framing on a telnet port: each followed by `\r\n` (the NVT newline). */
export function frameTelnetLines (parts: ReadonlyArray<string | Buffer>): string | Buffer {
  return joinLines(parts, '\r\n')
}

function joinLines (parts: ReadonlyArray<string | Buffer>, end: string): string | Buffer {
  if (parts.every((p) => typeof p === 'string')) return parts.join(end) + end
  const nl = Buffer.from(end)
  return Buffer.concat(parts.flatMap((p) => [typeof p === 'string' ? Buffer.from(p) : p, nl]))
}
