/**
 * A port that cannot be bound (`EADDRINUSE`, `EACCES`, `EADDRNOTAVAIL`) becomes one clear
 * `SD_ERR_PORT_IN_USE` naming the port's transport, host:port, and the env var and config key
 * that move it, instead of node's `bind EADDRINUSE` stack.
 */
import { SdError } from './errors.js'

/** Where a listening port is set: env var and config key (file). */
export interface PortSetting {
  env: string
  key: string
  file: string
}

const why: Record<string, string> = {
  EADDRINUSE: 'is already in use (another sd process, or another program)',
  EACCES: 'needs privileges this process does not have (ports below 1024)',
  EADDRNOTAVAIL: 'cannot be bound: the host is not an address of this machine',
}

/** `SD_ERR_PORT_IN_USE` for a bind failure of `port` (`tcp`, `dispatch`, …), saying where it is set; other errors unchanged. */
export function listenError (err: unknown, port: string, host: string, portNumber: number, where?: PortSetting): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  if (code === undefined || !(code in why)) return err
  const move = where ? `; set ${where.env} or ${where.key} in ${where.file} to use another port` : ''
  return new SdError('SD_ERR_PORT_IN_USE', `${port} port ${host}:${portNumber} ${why[code]}${move}`, { cause: err })
}
