/**
 * A port that cannot be bound (`EADDRINUSE`, `EACCES`, `EADDRNOTAVAIL`) becomes one clear
 * `SD_ERR_PORT_IN_USE` naming the port's transport, host:port, and the env var and config key
 * that move it, instead of node's `bind EADDRINUSE` stack.
 */
import { SdError } from './errors.js'

/** Where each listening port is set: env var and config key (file). */
const portSettings: Record<string, { env: string, key: string, file: string }> = {
  tcp: { env: 'SD_TCP_PORT', key: 'server.tcp.port', file: 'config/server.ts' },
  text: { env: 'SD_TEXT_PORT', key: 'server.text.port', file: 'config/server.ts' },
  http: { env: 'SD_HTTP_PORT', key: 'server.http.port', file: 'config/server.ts' },
  dispatch: { env: 'SD_DISPATCH_PORT', key: 'cluster.dispatchPort', file: 'config/cluster.ts' },
}

const why: Record<string, string> = {
  EADDRINUSE: 'is already in use (another sd process, or another program)',
  EACCES: 'needs privileges this process does not have (ports below 1024)',
  EADDRNOTAVAIL: 'cannot be bound: the host is not an address of this machine',
}

/** `SD_ERR_PORT_IN_USE` for a bind failure of `port` (`tcp`, `text`, `http`, `dispatch`); other errors unchanged. */
export function listenError (err: unknown, port: string, host: string, portNumber: number): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  if (code === undefined || !(code in why)) return err
  const where = portSettings[port]
  const move = where ? `; set ${where.env} or ${where.key} in ${where.file} to use another port` : ''
  return new SdError('SD_ERR_PORT_IN_USE', `${port} port ${host}:${portNumber} ${why[code]}${move}`, { cause: err })
}
