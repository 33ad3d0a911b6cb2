/**
 * The SD demo app for bench/auth.ts: like servers/sd.ts (free loopback ports, silent, idle
 * check off, limits out of reach), with authentication on (`--auth-secret=S`: HS256, as
 * SD_AUTH_JWT_SECRET sets it) or off (no flag), and TLS on every port with `--tls-key=F
 * --tls-cert=F` (as SD_TLS_KEY / SD_TLS_CERT). Answers `{type: 'cpu'}` with its CPU time
 * so far (`process.cpuUsage()`, µs), so the bench can charge each connection its server CPU.
 */
import { createApp, type ConfigInput } from '../../framework/index.js'
import { serve } from '../lib/server-child.js'

const root = new URL('../..', import.meta.url).pathname
const arg = (name: string): string | undefined => {
  const found = process.argv.slice(2).find((a) => a.startsWith(`--${name}=`))
  return found === undefined ? undefined : found.slice(name.length + 3)
}
const secret = arg('auth-secret')
const key = arg('tls-key')
const cert = arg('tls-cert')
const tls = key && cert ? { tls: { key, cert } } : {}
const app = await createApp({
  root,
  overrides: {
    app: { logLevel: 'silent' },
    server: {
      tcp: { host: '127.0.0.1', port: 0, ...tls },
      text: { host: '127.0.0.1', port: 0 },
      http: { host: '127.0.0.1', port: 0, ...tls },
      heartbeatIdleMs: 0,
      rateLimit: { messagesPerSecond: 1_000_000_000, burst: 1_000_000_000 },
      maxConnections: 1_000_000,
      maxConnectionsPerIp: 1_000_000,
    },
    // the auth section (typed loosely: it may not be in ConfigInput on every branch)
    ...(secret ? { auth: { jwt: { secret } } } : {}),
  } as ConfigInput,
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

// the server's CPU time, user + system, in µs: what one connection costs here, whatever else runs on the machine
process.on('message', (msg: unknown) => {
  if ((msg as { type?: unknown } | null)?.type !== 'cpu') return
  const cpu = process.cpuUsage()
  process.send?.({ type: 'cpu', us: cpu.user + cpu.system })
})
