/** Envelope packs: json (text frames) and msgpack (binary frames, through @msgpack/msgpack). */
import { decode, encode } from '@msgpack/msgpack'
import type { SdPack } from './types.js'

/** Turns envelopes into frames and back. */
export interface Pack {
  /** Frames are text (json). */
  readonly text: boolean
  encode (value: unknown): string | Uint8Array
  decode (frame: string | Uint8Array): unknown
}

const utf8 = new TextDecoder()

const jsonPack: Pack = {
  text: true,
  encode: (value) => JSON.stringify(value),
  decode: (frame) => JSON.parse(typeof frame === 'string' ? frame : utf8.decode(frame)) as unknown,
}

const msgpackPack: Pack = {
  text: false,
  encode: (value) => encode(value),
  decode: (frame) => decode(typeof frame === 'string' ? new TextEncoder().encode(frame) : frame),
}

/** The pack of a name. */
export function packOf (name: SdPack): Pack {
  if (name === 'json') return jsonPack
  if (name === 'msgpack') return msgpackPack
  throw new TypeError(`unknown pack ${String(name)}`)
}
