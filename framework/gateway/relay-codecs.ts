/**
 * Which transports a gateway relays as raw bytes, and the codecs a worker decodes and answers
 * them with: built from the worker's own config with the options each transport gives its
 * codec (tcp-transport.ts: pack, route, render; ws-transport.ts: pack), so a worker encodes
 * the same bytes the port would in direct mode. Other (registered) transports are decoded at
 * the gateway and sent as messages.
 */
import type { Codec } from '../connection/codec.js'
import type { HttpConfig, SocketPortConfig } from '../transport/options.js'
import { createCodec } from '../transport/packs.js'

/** Transports whose messages travel raw. */
export const RELAYED_TRANSPORTS: ReadonlySet<string> = new Set(['tcp', 'text', 'ws'])

/** The ports' options the codecs are built from (`config.server`). */
export interface RelayPorts {
  tcp: SocketPortConfig
  text: SocketPortConfig
  http: HttpConfig
}

/** A codec per relayed transport. */
export function relayCodecs (server: RelayPorts): ReadonlyMap<string, Codec> {
  const socket = (c: SocketPortConfig): Codec => createCodec({ pack: c.pack, route: c.route, render: c.render })
  return new Map([['tcp', socket(server.tcp)], ['text', socket(server.text)], ['ws', createCodec({ pack: server.http.ws.pack })]])
}
