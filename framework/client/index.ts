/**
 * The client SDK for Node (`sd-framework/client`): `tcp://host:port`, `tls://host:port`, `ws://`
 * and `wss://` urls (the global WebSocket, else, or with `tls` options, the `ws` package loaded on
 * first use). Browsers use
 * `/sd/client.js` (browser.ts: ws only). `createPublisher` pushes through a server's admin
 * listener (`POST /sd/publish`) from a Node back end.
 */
import { SdClient } from './client.js'
import { tcpLink } from './link-tcp.js'
import { globalWebSocket, wsLinks, type WebSocketCtor } from './link-ws.js'
import type { ClientOptions } from './types.js'
import type { LinkFactory } from './link.js'

export { SdClient } from './client.js'
export * from './types.js'
export * from './wire.js'
export type { LinkTls } from './link.js'
export { createPublisher, type Publisher, type PublisherOptions, type PublishOptions, type PublishTo } from './publisher.js'

// the global WebSocket takes no TLS options: with them, the `ws` package
const wsLink = wsLinks(async (tls) => (tls === undefined ? globalWebSocket() : undefined) ?? (await import('ws')).WebSocket as unknown as WebSocketCtor)

const nodeLinks: LinkFactory = (url, handlers, opts) =>
  url.startsWith('tcp://') || url.startsWith('tls://') ? tcpLink(url, handlers, opts) : wsLink(url, handlers, opts)

/**
 * Connects to `url` (`tcp://host:port`, `tls://host:port`, `ws://host:port/ws`, `wss://…`);
 * reconnects until `close()`, and keeps the process alive until then (also while waiting to reconnect).
 */
export function connect (url: string, options: ClientOptions = {}): SdClient {
  if (!/^(tcp|tls|wss?):\/\//.test(url)) throw new TypeError(`unsupported url ${url}: tcp://, tls://, ws:// or wss://`)
  return new SdClient(url, options, nodeLinks)
}
