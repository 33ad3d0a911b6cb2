/** The client SDK for browsers (`/sd/client.js`): ws:// and wss:// only, the global WebSocket. */
import { SdClient } from './client.js'
import { globalWebSocket, wsLinks } from './link-ws.js'
import type { ClientOptions } from './types.js'

export { SdClient } from './client.js'
export * from './types.js'
export * from './wire.js'

const links = wsLinks(() => {
  const Ctor = globalWebSocket()
  if (Ctor === undefined) throw new Error('no WebSocket in this environment')
  return Ctor
})

/** Connects to `url` (`ws://host:port/ws` or `wss://…`); reconnects until `close()`. */
export function connect (url: string, options: ClientOptions = {}): SdClient {
  if (!/^wss?:\/\//.test(url)) throw new TypeError(`unsupported url ${url}: ws:// or wss://`)
  return new SdClient(url, options, links)
}
