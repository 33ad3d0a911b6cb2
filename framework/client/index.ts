/**
 * The client SDK for Node (`sd-framework/client`): tcp://, ws:// and wss:// urls. Browsers use
 * browser.ts (ws only). See the plan's "Client SDK" section and docs.
 */
import { SdClient } from './client.js'
import type { ClientOptions } from './types.js'
import type { LinkFactory } from './link.js'

export { SdClient } from './client.js'
export * from './types.js'
export * from './wire.js'

const nodeLinks: LinkFactory = () => Promise.reject(new Error('not implemented'))

/** Connects to `url` (`tcp://host:port`, `ws://host:port/ws`, `wss://…`); reconnects until `close()`. */
export function connect (url: string, options: ClientOptions = {}): SdClient {
  return new SdClient(url, options, nodeLinks)
}
