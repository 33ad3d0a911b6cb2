/**
 * The client SDK for Node (`sd-framework/client`): `tcp://host:port`, `ws://` and `wss://`
 * urls (the global WebSocket, else the `ws` package loaded on first use). Browsers use
 * `/sd/client.js` (browser.ts: ws only).
 */
import { SdClient } from './client.js'
import { tcpLink } from './link-tcp.js'
import { globalWebSocket, wsLinks, type WebSocketCtor } from './link-ws.js'
import type { ClientOptions } from './types.js'
import type { LinkFactory } from './link.js'

export { SdClient } from './client.js'
export * from './types.js'
export * from './wire.js'

const wsLink = wsLinks(async () => globalWebSocket() ?? (await import('ws')).WebSocket as unknown as WebSocketCtor)

const nodeLinks: LinkFactory = (url, handlers, opts) =>
  url.startsWith('tcp://') ? tcpLink(url, handlers, opts) : wsLink(url, handlers, opts)

/**
 * Connects to `url` (`tcp://host:port`, `ws://host:port/ws`, `wss://…`); reconnects until
 * `close()`, and keeps the process alive until then (also while waiting to reconnect).
 */
export function connect (url: string, options: ClientOptions = {}): SdClient {
  if (!/^(tcp|wss?):\/\//.test(url)) throw new TypeError(`unsupported url ${url}: tcp://, ws:// or wss://`)
  return new SdClient(url, options, nodeLinks)
}
