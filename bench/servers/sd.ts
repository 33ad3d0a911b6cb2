/**
 * The SD demo app (`/bench/echo` on every transport) on free loopback ports, logs silenced,
 * the idle timeout off so idle benchmark connections stay open (`--heartbeat-idle-ms=N` turns
 * the idle check on: bench/connections.ts, with N longer than the measurement), connection
 * limits out of reach (bench:connections holds up to 12,500 from one source address), and the
 * per-connection rate limit raised out of reach: one pipelined TCP connection here runs faster
 * (≈70k req/s) than the default 50k/s allows, and the bucket still runs on every message, so
 * its cost is measured.
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
      rateLimit: { messagesPerSecond: 1_000_000_000, burst: 1_000_000_000 },
      maxConnections: 1_000_000,
      maxConnectionsPerIp: 1_000_000,
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
