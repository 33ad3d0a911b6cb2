/**
 * The text port (telnet-style): a TCP port with `eof` framing and the `text` pack, where every
 * line is routed to the one action named by `server.text.route` and replies and pushes are
 * rendered to lines by `server.text.render`.
 */
import type { SocketPortConfig } from '../core/config.js'
import { TcpTransport } from './tcp-transport.js'
import type { TransportHost } from './transport.js'

/** Creates the text port's transport. */
export function createTextTransport (host: TransportHost, config: SocketPortConfig): TcpTransport {
  return new TcpTransport(host, 'text', config)
}
