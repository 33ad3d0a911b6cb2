/**
 * The cost of an authenticated connection's handshake: connections per second that each do
 * connect + first call (`/bench/echo`) + close, through the client SDK, against the SD demo
 * app without auth and with auth on (HS256, as SD_AUTH_JWT_SECRET sets it: after `/sd/hello`
 * the SDK sends `/sd/auth {token}`, and the first call waits for it), on TCP and WebSocket,
 * and with `BENCH_AUTH_TLS=1` over TLS too (tls:// and wss://, a self-signed certificate made
 * with openssl). Every token is distinct (its own sub), so no verification cache helps.
 * Cases alternate in rounds (the median round is shown) and the servers run side by side in
 * the same run. No target: the issue asks for the cost; the ratio auth/plain is reported.
 * `npm run bench:auth`; `BENCH_AUTH_MS` (per case and round, 3000), `BENCH_AUTH_ROUNDS` (3),
 * `BENCH_AUTH_IN_FLIGHT` (32 connections at a time).
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, type ClientOptions } from '../framework/client/index.js'
import { makeToken } from '../framework/cli/token.js'
import { portOf, startServer, type RunningServer } from './lib/servers.js'
import { int, table } from './lib/table.js'

const DURATION_MS = Number(process.env.BENCH_AUTH_MS ?? 3000)
const ROUNDS = Number(process.env.BENCH_AUTH_ROUNDS ?? 3)
const IN_FLIGHT = Number(process.env.BENCH_AUTH_IN_FLIGHT ?? 32)
const WITH_TLS = process.env.BENCH_AUTH_TLS === '1'
const SECRET = 'bench-auth-secret-0123456789abcdef'
const TOKENS = 5000

interface Case {
  name: string
  server: RunningServer
  url: string
  auth: boolean
  tls: boolean
}

/** The server's CPU time so far (µs). */
function serverCpu (server: RunningServer): Promise<number> {
  const answer = server.child.message((m) => {
    const msg = m as { type?: unknown, us?: unknown } | null
    return msg?.type === 'cpu' && typeof msg.us === 'number' ? msg.us : undefined
  }, 10_000)
  server.child.send({ type: 'cpu' })
  return answer
}

/** What one case measured over one stretch. */
interface Sample {
  /** Connections per second. */
  rate: number
  /** Server CPU per connection (µs). */
  cpuUs: number
}

/** Connections per second over `ms` (each loop connects, calls once, closes, again), and the server's CPU per connection. */
async function measure (c: Case, tokens: string[], ca: string | undefined, ms: number): Promise<Sample> {
  let done = 0
  let next = 0
  const until = performance.now() + ms
  const one = async (): Promise<void> => {
    const options: ClientOptions = { heartbeatMs: 0, recover: false, timeoutMs: 10_000 }
    // typed loosely: the token option comes with the auth work (h-auth)
    if (c.auth) (options as { token?: string }).token = tokens[next++ % tokens.length]
    // the self-signed certificate is the CA (tls:// and wss:// alike)
    if (c.tls) options.tls = { ca }
    const client = connect(c.url, options)
    try {
      await client.call('/bench/echo', { n: 1 })
    } finally {
      client.close()
    }
  }
  const cpuBefore = await serverCpu(c.server)
  const started = performance.now()
  await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
    while (performance.now() < until) {
      await one()
      done++
    }
  }))
  const rate = done / ((performance.now() - started) / 1000)
  // closes still draining are charged to this stretch: the next starts after this read
  const cpuUs = (await serverCpu(c.server) - cpuBefore) / Math.max(1, done)
  return { rate, cpuUs }
}

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

/** A self-signed certificate for 127.0.0.1 (openssl), in a temporary folder. */
function selfSigned (): { dir: string, key: string, cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sd-bench-auth-'))
  const key = join(dir, 'key.pem')
  const cert = join(dir, 'cert.pem')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
    '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' })
  return { dir, key, cert }
}

const tokens = await Promise.all(Array.from({ length: TOKENS }, (_, i) => makeToken({ sub: `u${i}`, secret: SECRET, ttlMs: 3600_000 })))
const certs = WITH_TLS ? selfSigned() : undefined
const spec = { name: 'sd', script: 'servers/sd.ts' }
const tlsArgs = certs ? [`--tls-key=${certs.key}`, `--tls-cert=${certs.cert}`] : []
const servers: RunningServer[] = []
try {
  const plain = await startServer(spec).then((s) => { servers.push(s); return s })
  const authed = await startServer(spec, { args: [`--auth-secret=${SECRET}`] }).then((s) => { servers.push(s); return s })
  const cases: Case[] = []
  for (const [server, auth] of [[plain, false], [authed, true]] as const) {
    cases.push({ name: `tcp ${auth ? 'auth' : 'plain'}`, server, url: `tcp://127.0.0.1:${portOf(server, 'tcp')}`, auth, tls: false })
    cases.push({ name: `ws ${auth ? 'auth' : 'plain'}`, server, url: `ws://127.0.0.1:${portOf(server, 'ws')}/ws`, auth, tls: false })
  }
  if (certs) {
    const tlsPlain = await startServer(spec, { args: tlsArgs }).then((s) => { servers.push(s); return s })
    const tlsAuthed = await startServer(spec, { args: [...tlsArgs, `--auth-secret=${SECRET}`] }).then((s) => { servers.push(s); return s })
    for (const [server, auth] of [[tlsPlain, false], [tlsAuthed, true]] as const) {
      cases.push({ name: `tls ${auth ? 'auth' : 'plain'}`, server, url: `tls://127.0.0.1:${portOf(server, 'tcp')}`, auth, tls: true })
      cases.push({ name: `wss ${auth ? 'auth' : 'plain'}`, server, url: `wss://127.0.0.1:${portOf(server, 'ws')}/ws`, auth, tls: true })
    }
  }
  const ca = certs ? readFileSync(certs.cert, 'utf8') : undefined
  // warm-up: every case once, briefly (JIT, and the auth path actually refusing nothing)
  for (const c of cases) await measure(c, tokens, ca, 500)
  const rates = new Map<string, Sample[]>(cases.map((c) => [c.name, []]))
  // pairs side by side (tcp plain, tcp auth, ws plain, …), the pair's order swapped every round
  const order = [...cases].sort((a, b) => a.name.split(' ')[0].localeCompare(b.name.split(' ')[0]) || Number(a.auth) - Number(b.auth))
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < order.length; i += 2) {
      const pair = r % 2 === 0 ? [order[i], order[i + 1]] : [order[i + 1], order[i]]
      for (const c of pair) rates.get(c.name)?.push(await measure(c, tokens, ca, DURATION_MS))
    }
  }
  const rate = (name: string): number => median((rates.get(name) ?? []).map((x) => x.rate))
  const cpu = (name: string): number => median((rates.get(name) ?? []).map((x) => x.cpuUs))
  const rows: string[][] = []
  for (const t of ['tcp', 'ws', 'tls', 'wss'].filter((t) => rates.has(`${t} plain`))) {
    const p = rate(`${t} plain`)
    const a = rate(`${t} auth`)
    const pc = cpu(`${t} plain`)
    const ac = cpu(`${t} auth`)
    rows.push([t, int(p), int(a), (a / p).toFixed(2), int(pc), int(ac), `${int(ac - pc)} (${(pc / ac).toFixed(2)})`])
  }
  console.log(`connect + first call + close, ${IN_FLIGHT} in flight, ${ROUNDS} rounds of ${DURATION_MS} ms per case (medians), HS256 tokens, one per sub`)
  console.log(table(['transport', 'plain conn/s', 'auth conn/s', 'auth/plain', 'plain server µs/conn', 'auth server µs/conn', 'auth adds µs (plain/auth)'], rows, new Set([1, 2, 3, 4, 5, 6])))
} finally {
  await Promise.all(servers.map((s) => s.child.stop()))
  if (certs) rmSync(certs.dir, { recursive: true, force: true })
}
