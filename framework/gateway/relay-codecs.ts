/**
 * Which transports a gateway relays as raw bytes, and the codecs a worker decodes and answers
 * them with: built from the worker's own config with the options each transport gives its
 * codec (tcp-transport.ts: pack, route, render; ws-transport.ts: pack), so a worker encodes
 * the same bytes the port would in direct mode. Other (registered) transports are decoded at
 * the gateway and sent as messages.
 */
import type { Codec, PackName } from '../connection/codec.js'
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

/**
 * The codec of a relayed message: the gateway's port says its pack (a worker whose config
 * differs still answers in the client's pack); the text port's `route` and `render` are the
 * worker's own (application code, reloaded with it). Made once per transport and pack.
 */
export class RelayCodecs {
  readonly #server: RelayPorts
  readonly #made = new Map<string, Codec>()
  #last: { transport: string, pack: string | undefined, codec: Codec } | undefined

  constructor (server: RelayPorts) {
    this.#server = server
  }

  /** The codec for `transport` in `pack`; undefined for a transport that is not relayed or a pack no codec has. */
  get (transport: string, pack: string | undefined): Codec | undefined {
    // most requests ask for the codec the last one did (a raw request's strings are one per connection: protocol.ts)
    const last = this.#last
    if (last !== undefined && last.transport === transport && last.pack === pack) return last.codec
    const codec = this.#get(transport, pack)
    if (codec !== undefined) this.#last = { transport, pack, codec }
    return codec
  }

  #get (transport: string, pack: string | undefined): Codec | undefined {
    const key = `${transport}/${pack ?? ''}`
    let codec = this.#made.get(key)
    if (codec !== undefined || !RELAYED_TRANSPORTS.has(transport)) return codec
    const own = transport === 'ws' ? { pack: this.#server.http.ws.pack } : transport === 'text' ? this.#server.text : this.#server.tcp
    const p = (pack ?? own.pack) as PackName
    if (p !== 'json' && p !== 'msgpack' && p !== 'text') return undefined
    const socket = own as Partial<SocketPortConfig>
    codec = createCodec({ pack: p, route: socket.route, render: socket.render })
    this.#made.set(key, codec)
    return codec
  }
}
