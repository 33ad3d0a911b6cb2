/**
 * Enough of the telnet protocol (RFC 854/855/860) for a line-based text port: an input filter
 * that takes IAC commands and option negotiation out of the byte stream and answers them, so
 * `telnet`, PuTTY and `nc` all work. The server asks for one option on connect, `DO BINARY`
 * (RFC 856): without it netkit telnet compares every byte's low 7 bits with its control keys,
 * so a UTF-8 byte such as 0x9C (in `✓`) or 0x83 is sent as `IAC BRK` / `IAC IP` and the text
 * arrives broken. Every other `DO` is refused with `WONT` and every `WILL` with `DONT`, except
 * `DO TIMING-MARK`, answered `WILL TIMING-MARK` (netkit telnet sends it after Ctrl-C and
 * discards all output until the answer comes), and `DO BINARY`, answered `WILL BINARY`.
 * `IAC IP` / `IAC BRK` / `IAC EL` discard the line being typed, `IAC IAC` is a data byte 0xFF,
 * `SB … SE` is skipped, and `CR NUL`, `CR LF` and a bare `CR` all end a line (as `LF`).
 * Sequences split across chunks are handled: the state survives between pushes.
 */
import type { SdError } from '../core/errors.js'

/** Telnet command bytes (RFC 854). */
export const IAC = 255
export const DONT = 254
export const DO = 253
export const WONT = 252
export const WILL = 251
export const SB = 250
export const EL = 248
export const AYT = 246
export const IP = 244
export const BRK = 243
export const SE = 240
/** The TIMING-MARK option (RFC 860). */
export const TIMING_MARK = 6
/** The TRANSMIT-BINARY option (RFC 856): 8-bit data passes untouched. */
export const BINARY = 0

const CR = 0x0d
const LF = 0x0a
const NUL = 0x00
const NEWLINE = Buffer.from([LF])
const FF = Buffer.from([IAC])

/** Where the filter sends what it found. */
export interface TelnetHandlers {
  /** Data bytes with telnet commands removed (line ends as `LF`); an error stops the filter. */
  data (bytes: Buffer): SdError | undefined
  /** Bytes to write back to the client (answers to negotiation). */
  reply (bytes: Buffer): void
  /** The client interrupted (Ctrl-C) or erased the line: drop what was typed of it. */
  discardLine (): void
}

type State = 'data' | 'cr' | 'iac' | 'option' | 'sb' | 'sb-iac'

/** Strips and answers telnet commands in a client's byte stream, chunk by chunk. */
export class TelnetFilter {
  readonly #on: TelnetHandlers
  #state: State = 'data'
  /** The verb (WILL/WONT/DO/DONT) waiting for its option byte. */
  #verb = 0

  constructor (handlers: TelnetHandlers) {
    this.#on = handlers
  }

  /** Opens the negotiation: asks the client to send 8-bit data as it is (`IAC DO BINARY`). */
  start (): void {
    this.#on.reply(Buffer.from([IAC, DO, BINARY]))
  }

  /** Feeds one chunk; returns an error (from `data`) when the stream must be closed. */
  push (chunk: Buffer): SdError | undefined {
    const on = this.#on
    // the common case: plain text with LF endings passes through as it is
    if (this.#state === 'data' && chunk.indexOf(IAC) === -1 && chunk.indexOf(CR) === -1) return on.data(chunk)
    let start = 0
    let err: SdError | undefined
    const flush = (end: number): SdError | undefined => (end > start ? on.data(chunk.subarray(start, end)) : undefined)
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]
      switch (this.#state) {
        case 'data':
          if (b === IAC) {
            if ((err = flush(i))) return err
            this.#state = 'iac'
          } else if (b === CR) {
            if ((err = flush(i)) || (err = on.data(NEWLINE))) return err
            this.#state = 'cr'
          } else {
            continue
          }
          start = i + 1
          continue
        case 'cr':
          this.#state = 'data'
          if (b === LF || b === NUL) {
            start = i + 1
            continue
          }
          start = i
          i-- // read this byte again as data
          continue
        case 'iac':
          start = i + 1
          this.#state = 'data'
          if (b === IAC) {
            if ((err = on.data(FF))) return err
          } else if (b >= WILL && b <= DONT) {
            this.#verb = b
            this.#state = 'option'
          } else if (b === SB) {
            this.#state = 'sb'
          } else if (b === IP || b === BRK || b === EL) {
            on.discardLine()
          } else if (b === AYT) {
            on.reply(Buffer.from('\r\n[yes]\r\n'))
          } // NOP, DM, GA, AO, EC and unknown commands: nothing to do
          continue
        case 'option':
          start = i + 1
          this.#state = 'data'
          this.#answer(this.#verb, b)
          continue
        case 'sb':
          if (b === IAC) this.#state = 'sb-iac'
          start = i + 1
          continue
        case 'sb-iac':
          this.#state = b === SE ? 'data' : 'sb'
          start = i + 1
          continue
      }
    }
    return this.#state === 'data' ? flush(chunk.length) : undefined
  }

  /**
   * Agrees to TIMING-MARK and BINARY, refuses the rest. `WILL BINARY` acknowledges the `DO`
   * sent by `start` and gets no answer (answering an acknowledgement loops, RFC 1143);
   * WONT/DONT need none either.
   */
  #answer (verb: number, option: number): void {
    if (verb === DO) this.#on.reply(Buffer.from([IAC, option === TIMING_MARK || option === BINARY ? WILL : WONT, option]))
    else if (verb === WILL && option !== BINARY) this.#on.reply(Buffer.from([IAC, DONT, option]))
  }
}
