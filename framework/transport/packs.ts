/**
 * Packs turn payloads into messages and back: `json` (UTF-8 JSON envelope), `msgpack`
 * (the same envelope in MessagePack, through @msgpack/msgpack) and `text` (a line is the data of a
 * message routed to the port's configured path). A codec combines a pack with a framing and
 * produces the exact bytes a socket writes.
 */
import { isUtf8 } from 'node:buffer'
import { decode as unpackMsg, encode as packMsg } from '@msgpack/msgpack'
import type { Codec, InboundMessage, MessageId, PushMeta } from '../connection/codec.js'
import type { PackName } from './options.js'
import { SdError } from '../core/errors.js'

export type { Codec, InboundMessage, MessageId } from '../connection/codec.js'

/** A decode failure that still knows the request id, so the error reply can carry it. */
export class BadMessageError extends SdError {
  readonly id: MessageId | undefined

  constructor (detail: string, id?: MessageId) {
    super('SD_ERR_BAD_MESSAGE', detail)
    this.id = id
  }
}

/** Checks an envelope object and returns it as a message. */
export function toMessage (value: unknown): InboundMessage {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new BadMessageError('payload must be an object {id?, path, data?}')
  }
  const env = value as { id?: unknown, path?: unknown, data?: unknown }
  const id = env.id
  if (id !== undefined && typeof id !== 'number' && typeof id !== 'string') {
    throw new BadMessageError('id must be a number or a string')
  }
  if (typeof env.path !== 'string' || env.path.length === 0) {
    throw new BadMessageError('path must be a non-empty string', id as MessageId | undefined)
  }
  return { id: id as MessageId | undefined, path: env.path, data: env.data }
}

/**
 * Deepest nesting of arrays/objects accepted in a JSON or MessagePack payload. Deeper values
 * parse, but overflow the stack later (JSON.stringify of a reply, app code walking them), so
 * they are refused at decode with `SD_ERR_BAD_MESSAGE` on every transport.
 */
export const MAX_NESTING_DEPTH = 64

/**
 * True when the JSON text nests arrays/objects deeper than `max` (brackets inside strings are
 * skipped; malformed text is left to JSON.parse). Valid JSON deeper than `max` holds at least
 * max+1 opening and max+1 closing brackets, so shorter texts (most messages) are not scanned, and
 * texts with few brackets are only counted.
 */
export function jsonTooDeep (text: string, max = MAX_NESTING_DEPTH): boolean {
  const n = text.length
  if (n <= 2 * max + 1) return false
  // a cheap count first: with max or fewer opening brackets anywhere, no nesting can be deeper
  // (String#indexOf is native: this costs one call per bracket, not a loop step per character)
  let openers = 0
  for (let i = text.indexOf('{'); i !== -1 && openers <= max; i = text.indexOf('{', i + 1)) openers++
  for (let i = text.indexOf('['); i !== -1 && openers <= max; i = text.indexOf('[', i + 1)) openers++
  if (openers <= max) return false
  let depth = 0
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x22) { // '"': jump to the closing quote (one not escaped by an odd run of '\\')
      for (;;) {
        i = text.indexOf('"', i + 1)
        if (i === -1) return false
        let k = i - 1
        while (text.charCodeAt(k) === 0x5c) k--
        if ((i - k) % 2 === 1) break
      }
    } else if (c === 0x7b || c === 0x5b) { // '{' '['
      if (++depth > max) return true
    } else if (c === 0x7d || c === 0x5d) {
      depth--
    }
  }
  return false
}

/** True when a decoded value nests arrays/objects deeper than `max` (walks at most `max` levels). */
function valueTooDeep (value: unknown, max: number): boolean {
  if (typeof value !== 'object' || value === null) return false
  if (max === 0) return true
  if (Array.isArray(value)) {
    for (const v of value) if (valueTooDeep(v, max - 1)) return true
  } else if (!ArrayBuffer.isView(value)) {
    for (const k in value) if (valueTooDeep((value as Record<string, unknown>)[k], max - 1)) return true
  }
  return false
}

const tooDeep = `nested deeper than ${MAX_NESTING_DEPTH} levels`

/** `"id"` when it is the envelope's first key (`{"id":7,…`), so a refusal of the whole payload can still carry it. */
const leadingId = /^\s*\{\s*"id"\s*:\s*(-?\d{1,15}(?:\.\d+)?|"(?:[^"\\]|\\.){0,200}")\s*,/

function idOf (text: string): MessageId | undefined {
  const m = leadingId.exec(text)
  if (m === null) return undefined
  try { return JSON.parse(m[1]) as MessageId } catch { return undefined }
}

function decodeJson (payload: Buffer, isText = false): InboundMessage {
  const text = payload.toString('utf8')
  // Invalid UTF-8 decodes to U+FFFD; only then is the (slower) exact check needed.
  if (!isText && text.includes('\uFFFD') && !isUtf8(payload)) throw new BadMessageError('payload is not valid UTF-8')
  if (jsonTooDeep(text)) throw new BadMessageError(tooDeep, idOf(text))
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new BadMessageError('payload is not valid JSON')
  }
  return toMessage(value)
}

/** MessagePack of a value, as a Buffer sharing the encoder's memory (no copy). */
function packMsgpack (value: unknown): Buffer {
  const bytes = packMsg(value)
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

function decodeMsgpack (payload: Buffer): InboundMessage {
  let value: unknown
  try {
    value = unpackMsg(payload)
  } catch {
    throw new BadMessageError('payload is not valid MessagePack')
  }
  // each nesting level takes at least one byte
  if (payload.length > MAX_NESTING_DEPTH && valueTooDeep(value, MAX_NESTING_DEPTH)) throw new BadMessageError(tooDeep)
  return toMessage(value)
}

/** Renders data as a text line: strings as they are, anything else as JSON. */
export function defaultRender (data: unknown): string {
  return typeof data === 'string' ? data : JSON.stringify(data) ?? ''
}

/** C0 controls, DEL and C1 controls (U+0080–U+009F): what could drive a terminal. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/g

function hexEscape (c: string): string {
  return '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0')
}

/**
 * Makes a line safe for a terminal: every C0 control (newlines and tabs included), DEL and C1
 * control becomes visible as `\xHH` (ESC → `\x1b`, CR → `\x0d`, U+009B → `\x9b`), so one
 * message is always one line and no client can send escape sequences to another's screen.
 */
export function escapeControls (line: string): string {
  return CONTROL.test(line) ? line.replace(CONTROLS, hexEscape) : line
}

/**
 * The envelope of a push with meta (client/wire.ts's `PushEnvelope`): data first, then stream,
 * epoch, offset and the ack id when set; a sync meta gives the position only, with `sync: true`
 * (where the stream stands) or `skip: true` (this offset is a push the connection was left out of).
 */
function metaEnvelope (data: unknown, meta: PushMeta): Record<string, unknown> {
  if (meta.y === 1) return { stream: meta.s, epoch: meta.e, offset: meta.o, sync: true }
  if (meta.y === 2) return { stream: meta.s, epoch: meta.e, offset: meta.o, skip: true }
  const env: Record<string, unknown> = { data: data === undefined ? null : data, stream: meta.s, epoch: meta.e, offset: meta.o }
  if (meta.a !== undefined) env.ack = meta.a
  return env
}

/** `{"data":<json>,…}` for data given as JSON text: the same text `JSON.stringify(metaEnvelope(…))` gives, without parsing the data. */
function jsonWithMeta (json: string, meta: PushMeta): string {
  const pos = `"stream":${JSON.stringify(meta.s)},"epoch":${JSON.stringify(meta.e)},"offset":${JSON.stringify(meta.o)}`
  if (meta.y === 1) return `{${pos},"sync":true}`
  if (meta.y === 2) return `{${pos},"skip":true}`
  return meta.a === undefined ? `{"data":${json},${pos}}` : `{"data":${json},${pos},"ack":${JSON.stringify(meta.a)}}`
}

/** A text line starting with this authenticates the connection (`/sd/auth <token>`). */
const AUTH_LINE = '/sd/auth '

/** Options of `createCodec`. */
export interface CodecOptions {
  pack: PackName
  /** For `text`: the path every line is routed to. */
  route?: string
  /** For `text`: turns data into a line. */
  render?: (data: unknown) => string
}

/** Builds the codec of a port. */
export function createCodec (options: CodecOptions): Codec {
  switch (options.pack) {
    case 'json':
      return {
        pack: 'json',
        decode: decodeJson,
        reply: (id, data) => JSON.stringify({ id, data: data === undefined ? null : data }),
        error: (id, error) => JSON.stringify(id === undefined || id === null ? { error } : { id, error }),
        push: (data, meta) => JSON.stringify(meta === undefined ? { data: data === undefined ? null : data } : metaEnvelope(data, meta)),
        // the same text JSON.stringify({data}) gives, without parsing the data
        pushJson: (json, meta) => meta === undefined ? `{"data":${json}}` : jsonWithMeta(json, meta),
      }
    case 'msgpack':
      return {
        pack: 'msgpack',
        decode: decodeMsgpack,
        reply: (id, data) => packMsgpack({ id, data: data === undefined ? null : data }),
        error: (id, error) => packMsgpack(id === undefined || id === null ? { error } : { id, error }),
        push: (data, meta) => packMsgpack(meta === undefined ? { data: data === undefined ? null : data } : metaEnvelope(data, meta)),
      }
    case 'text': {
      const route = options.route ?? ''
      const render = options.render ?? defaultRender
      return {
        pack: 'text',
        decode (payload) {
          if (!isUtf8(payload)) throw new BadMessageError('line is not valid UTF-8')
          const line = payload.toString('utf8')
          // the one built-in line: `/sd/auth <token>` authenticates the connection
          if (line.startsWith(AUTH_LINE)) return { id: null, path: '/sd/auth', data: line.slice(AUTH_LINE.length).trim() }
          if (!route) throw new BadMessageError('this port has no route configured for its lines')
          return { id: null, path: route, data: line }
        },
        // whatever the app renders, no control byte but the line ending reaches the socket
        reply: (_id, data) => escapeControls(render(data)),
        error: (_id, error) => escapeControls(`ERROR ${error.code}: ${error.message}`),
        // a line of the data, meta or not; a sync or skip message (no data) is nothing to a text client
        push: (data, meta) => meta?.y !== undefined ? '' : escapeControls(render(data)),
      }
    }
  }
}
