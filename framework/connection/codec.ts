/**
 * The message envelope and the codec a connection writes through, as the connection layer
 * needs them; transport/packs.ts implements codecs (json, text, msgpack) for its ports.
 */
import type { ErrorBody } from '../core/errors.js'

/**
 * What a recoverable push carries besides its data (client/wire.ts's `PushEnvelope`, in short
 * names for the links): stream, epoch, offset, the ack id, and `y` for a message without data:
 * 1 a sync (where the stream stands, after a bind or join), 2 a skip (this offset is a group push
 * the connection was excluded from: its client moves past it instead of recovering it).
 */
export interface PushMeta {
  s: string
  e: string
  o: number
  a?: string
  y?: 1 | 2
}

/** Payload encoding: `json`, `text` (a line is the data) or `msgpack`. */
export type PackName = 'json' | 'text' | 'msgpack'

/** Request ids are numbers or strings; `null` means "reply if there is something to say" (text). */
export type MessageId = number | string

/** A decoded client message. */
export interface InboundMessage {
  /** `undefined`: no reply expected; `null`: reply without id (packs that carry none). */
  id: MessageId | undefined | null
  path: string
  data: unknown
}

/**
 * Encodes outgoing messages and decodes incoming payloads for one port. Encoders return the
 * payload only; socket transports add the framing when they write.
 */
export interface Codec {
  readonly pack: PackName
  /** Decodes a payload; throws `SdError` (with `id` attached when one was readable). */
  decode (payload: Buffer, isText?: boolean): InboundMessage
  /** Payload of a reply `{id, data}`. */
  reply (id: MessageId | null, data: unknown): string | Buffer
  /** Payload of an error `{id?, error}`. */
  error (id: MessageId | undefined | null, body: ErrorBody): string | Buffer
  /**
   * Payload of a push `{data}`; with `meta`, `{data, stream, epoch, offset, ack?}`, or for a
   * meta without data (`y`) `{stream, epoch, offset, sync|skip: true}` (the text pack: '',
   * and the connection writes nothing).
   */
  push (data: unknown, meta?: PushMeta): string | Buffer
  /** Payload of a push whose data is given as JSON text (codecs that can use it as it is). */
  pushJson?: (json: string, meta?: PushMeta) => string
}

