/**
 * The SD demo app (`/bench/echo` on every transport) on free loopback ports, logs silenced and
 * the idle timeout off so idle benchmark connections stay open. `--heartbeat-idle-ms=N` turns
 * the idle check on (bench/connections.ts: its sweep runs, with N longer than the measurement).
 */
import { createApp } from '../../framework/index.js'
import { serve } from '../lib/server-child.js'

const root = new URL('../..', import.meta.url).pathname
const idleArg = process.argv.slice(2).find((a) => a.startsWith('--heartbeat-idle-ms='))
const heartbeatIdleMs = idleArg === undefined ? 0 : Number(idleArg.slice(idleArg.indexOf('=') + 1))
const app = await createApp({
  root,
  overrides: {
    app: { logLevel: 'silent' },
    server: {
      tcp: { host: '127.0.0.1', port: 0 },
      text: { host: '127.0.0.1', port: 0 },
      http: { host: '127.0.0.1', port: 0 },
      heartbeatIdleMs,
      // when `maxConnections` and `maxConnectionsPerIp` exist, bench:connections needs them above
      // its count (one client process, so one source address, holds up to 12,500 connections)
    },
  },
})
await app.start()

const port = (name: 'tcp' | 'http'): number => {
  const addr = app.address(name)
  if (!addr) throw new Error(`SD did not start its ${name} port`)
  return addr.port
}

serve({
  ports: { tcp: port('tcp'), ws: port('http'), http: port('http') },
  connections: () => app.connections.size,
  stop: () => app.stop(),
})
