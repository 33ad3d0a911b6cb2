/**
 * The SD demo app (`/bench/echo` on every transport) on free loopback ports, logs silenced,
 * the idle timeout off so idle benchmark connections stay open (`--heartbeat-idle-ms=N` turns
 * the idle check on: bench/connections.ts, with N longer than the measurement), connection
 * limits out of reach (bench:connections holds up to 12,500 from one source address), and the
 * per-connection rate limit raised out of reach: one pipelined TCP connection here runs faster
 * (≈70k req/s) than the default 50k/s allows, and the bucket still runs on every message, so
 * its cost is measured. For bench/auth.ts: `--auth-secret=S` turns authentication on (HS256, as
 * SD_AUTH_JWT_SECRET does), `--tls-key=F --tls-cert=F` TLS on the tcp and http ports; and it
 * answers `{type: 'cpu'}` with its CPU time so far (µs), so a bench can charge each connection
 * its server CPU. For bench/metrics.ts: `--metrics=off|on` sets `metrics.enabled` (default on, as
 * in production), `--admin-port=N` runs the admin listener on 127.0.0.1 (0: a free port,
 * announced as the `admin` port) so a scraper can fetch `/metrics`, and it answers
 * `{type: 'render', times: N}` with the median time (ms) and size (bytes) of N renders of
 * `/metrics` in process.
 */
import { createApp, type ConfigInput } from '../../framework/index.js'
import { serve } from '../lib/server-child.js'

const root = new URL('../..', import.meta.url).pathname
const arg = (name: string): string | undefined => {
  const found = process.argv.slice(2).find((a) => a.startsWith(`--${name}=`))
  return found === undefined ? undefined : found.slice(name.length + 3)
}
const idleArg = arg('heartbeat-idle-ms')
const heartbeatIdleMs = idleArg === undefined ? 0 : Number(idleArg)
const secret = arg('auth-secret')
const key = arg('tls-key')
const cert = arg('tls-cert')
const tls = key && cert ? { tls: { key, cert } } : {}
const metricsArg = arg('metrics') ?? 'on'
if (metricsArg !== 'on' && metricsArg !== 'off') throw new Error(`--metrics must be on or off, got ${metricsArg}`)
const adminPort = arg('admin-port')
const admin = adminPort === undefined ? {} : { admin: { enabled: true, host: '127.0.0.1', port: Number(adminPort) } }
const app = await createApp({
  root,
  overrides: {
    app: { logLevel: 'silent' },
    server: {
      tcp: { host: '127.0.0.1', port: 0, ...tls },
      text: { host: '127.0.0.1', port: 0 },
      http: { host: '127.0.0.1', port: 0, ...tls },
      heartbeatIdleMs,
      rateLimit: { messagesPerSecond: 1_000_000_000, burst: 1_000_000_000 },
      maxConnections: 1_000_000,
      maxConnectionsPerIp: 1_000_000,
    },
    ...(secret ? { auth: { jwt: { secret } } } : {}),
    metrics: { enabled: metricsArg === 'on' },
    ...admin,
  } as ConfigInput,
})
await app.start()

const port = (name: 'tcp' | 'http'): number => {
  const addr = app.address(name)
  if (!addr) throw new Error(`SD did not start its ${name} port`)
  return addr.port
}

const adminAddress = app.ops.address()
serve({
  ports: { tcp: port('tcp'), ws: port('http'), http: port('http'), ...(adminAddress ? { admin: adminAddress.port } : {}) },
  connections: () => app.connections.size,
  stop: () => app.stop(),
})

// the server's CPU time, user + system, in µs: what one connection costs here, whatever else runs on the machine
process.on('message', (msg: unknown) => {
  if ((msg as { type?: unknown } | null)?.type !== 'cpu') return
  const cpu = process.cpuUsage()
  process.send?.({ type: 'cpu', us: cpu.user + cpu.system })
})

// the cost of one scrape, without the HTTP round trip: render `/metrics` `times` times in a row
process.on('message', (msg: unknown) => {
  const request = msg as { type?: unknown, times?: unknown } | null
  if (request?.type !== 'render') return
  void (async () => {
    const times = typeof request.times === 'number' ? request.times : 20
    const ms: number[] = []
    let bytes = 0
    for (let i = 0; i < times; i++) {
      const started = performance.now()
      const text = await app.metrics.text()
      ms.push(performance.now() - started)
      bytes = Buffer.byteLength(text)
    }
    ms.sort((a, b) => a - b)
    process.send?.({ type: 'render', medianMs: ms[Math.floor(ms.length / 2)], bytes })
  })().catch((err: unknown) => { process.send?.({ type: 'render', error: String(err) }) })
})
