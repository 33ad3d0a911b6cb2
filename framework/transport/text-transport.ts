/**
 * The text port (telnet-style): a TCP port with `eof` framing and the `text` pack, where every
 * line is routed to the one action named by `server.text.route` and replies and pushes are
 * rendered to lines by `server.text.render`. With `server.text.telnet` (the default) the port
 * answers telnet negotiation and ends lines with `\r\n` (telnet.ts); the text pack writes control
 * characters visibly (packs.ts `escapeControls`), so no client can drive another's terminal.
 */
import type { SocketPortConfig } from './options.js'
import { TcpTransport } from './tcp-transport.js'
import type { TransportHost } from './transport.js'
import type { TlsFiles } from './tls.js'

/** Creates the text port's transport (`tls`: its certificate when it serves TLS). */
export function createTextTransport (host: TransportHost, config: SocketPortConfig, tls?: TlsFiles): TcpTransport {
  return new TcpTransport(host, 'text', config, tls)
}
