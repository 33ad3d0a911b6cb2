/**
 * `npm run bench:flood`: a connection flood against `sd start --workers 1`. Opens 20,000 TCP
 * connections from 127.0.0.1 to the TCP port within 10 s (the server runs under
 * `prlimit --nofile`, so the flood goes past its descriptors), closes them all, then measures
 * how long until each port (tcp, text, http) answers a real request again, and whether the
 * server survived (same worker pid, primary alive). Prints the numbers; a server that answers
 * in well under a second after the flood is the goal (issue 15). The flood runs in child
 * processes of at most (open-files limit - 2000) sockets each, all from 127.0.0.1.
 * Env: FLOOD_CONNECTIONS (20000), FLOOD_WORKERS (1), FLOOD_SERVER_NOFILE (4096),
 * FLOOD_OPEN_MS (10000), FLOOD_DEADLINE_MS (120000: give up waiting for a port after this).
 */
import { fork, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { request as httpRequest } from 'node:http'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const repo = fileURLToPath(new URL('..', import.meta.url))
const total = Number(process.env.FLOOD_CONNECTIONS ?? 20_000)
const workers = Number(process.env.FLOOD_WORKERS ?? 1)
const serverNofile = Number(process.env.FLOOD_SERVER_NOFILE ?? 4096)
const openMs = Number(process.env.FLOOD_OPEN_MS ?? 10_000)
const deadlineMs = Number(process.env.FLOOD_DEADLINE_MS ?? 120_000)

/** This process's soft limit of open files (Infinity when it cannot be read). */
function nofileLimit (): number {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'))
    return m === null || m[1] === 'unlimited' ? Infinity : Number(m[1])
  } catch { return Infinity }
}

interface Server { child: ChildProcess, runDir: string, ports: { tcp: number, text: number, http: number }, output: () => string }

async function startServer (): Promise<Server> {
  const runDir = await mkdtemp(join(tmpdir(), 'sd-flood-run-'))
  const child = spawn('prlimit', [`--nofile=${serverNofile}:${serverNofile}`, process.execPath, 'bin/sd.js', 'start', '--workers', String(workers)], {
    cwd: repo,
    env: { ...process.env, SD_TCP_PORT: '0', SD_TEXT_PORT: '0', SD_HTTP_PORT: '0', SD_RUN_DIR: runDir, NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout?.setEncoding('utf8').on('data', (c: string) => { out += c })
  child.stderr?.setEncoding('utf8').on('data', (c: string) => { out += c })
  const deadline = Date.now() + 60_000
  for (;;) {
    const text = await readFile(join(runDir, 'state.json'), 'utf8').catch(() => undefined)
    if (text) return { child, runDir, ports: (JSON.parse(text) as { ports: Server['ports'] }).ports, output: () => out }
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`sd start did not start: ${out}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** Opens up to `n` connections within `openMs`; resolves once each connected or failed. */
async function flood (port: number, n: number): Promise<{ sockets: Socket[], connected: number, failed: number, ms: number }> {
  const sockets: Socket[] = []
  let connected = 0
  let failed = 0
  const started = Date.now()
  let settle: () => void = () => {}
  const settled = new Promise<void>((resolve) => { settle = resolve })
  const done = (): void => { if (connected + failed === sockets.length && (sockets.length === n || Date.now() - started > openMs)) settle() }
  while (sockets.length < n && Date.now() - started < openMs) {
    for (let i = 0; i < 200 && sockets.length < n; i++) {
      const s = connect({ port, host: '127.0.0.1' })
      s.once('connect', () => { connected++; done() })
      s.once('error', () => { failed++; done() })
      s.on('close', () => {})
      sockets.push(s)
    }
    await new Promise((resolve) => setImmediate(resolve))
  }
  const timer = setTimeout(settle, Math.max(1000, openMs - (Date.now() - started)))
  done()
  await settled
  clearTimeout(timer)
  return { sockets, connected, failed, ms: Date.now() - started }
}

/** A flood child: opens its share, reports, closes them all when told to. */
async function floodChild (): Promise<void> {
  const f = await flood(Number(process.env.FLOOD_PORT), Number(process.env.FLOOD_SHARE))
  process.send?.({ opened: f.sockets.length, connected: f.connected, failed: f.failed, ms: f.ms })
  process.once('message', () => {
    for (const s of f.sockets) s.destroy()
    process.send?.({ closed: true }, () => process.exit(0))
  })
}

interface FloodReport { opened: number, connected: number, failed: number, ms: number }

/**
 * Floods `port` from child processes (a process cannot hold 20,000 sockets under this
 * machine's open-files limit, and the limit cannot be raised here); returns the totals and a
 * function that closes every flood socket.
 */
async function floodFromChildren (port: number): Promise<{ report: FloodReport, close: () => Promise<void> }> {
  const perChild = Math.max(1000, nofileLimit() - 2000)
  const shares: number[] = []
  for (let left = total; left > 0; left -= perChild) shares.push(Math.min(perChild, left))
  const children = shares.map((share) => fork(fileURLToPath(import.meta.url), [], {
    execArgv: process.execArgv, env: { ...process.env, FLOOD_ROLE: 'client', FLOOD_PORT: String(port), FLOOD_SHARE: String(share) },
  }))
  const reports = await Promise.all(children.map(async (c) => (await once(c, 'message'))[0] as FloodReport))
  const report = reports.reduce((a, r) => ({ opened: a.opened + r.opened, connected: a.connected + r.connected, failed: a.failed + r.failed, ms: Math.max(a.ms, r.ms) }))
  const close = async (): Promise<void> => {
    await Promise.all(children.map(async (c) => { c.send('close'); await once(c, 'message') }))
  }
  return { report, close }
}

/** One attempt of a real request; resolves true when the port answered within `ms`. */
function probe (kind: 'tcp' | 'text' | 'http', port: number, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    let finished = false
    const finish = (ok: boolean, s?: Socket): void => {
      if (finished) return
      finished = true
      clearTimeout(timer)
      s?.destroy()
      resolve(ok)
    }
    const timer = setTimeout(() => { finish(false, sock) }, ms)
    let sock: Socket | undefined
    if (kind === 'http') {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/bench/echo?x=1', agent: false }, (res) => {
        res.resume()
        finish(res.statusCode === 200)
      })
      req.on('error', () => finish(false))
      req.end()
      return
    }
    const s = sock = connect({ port, host: '127.0.0.1' })
    s.on('error', () => finish(false, s))
    s.on('close', () => finish(false, s))
    s.on('data', (chunk: Buffer) => finish(kind === 'text' ? chunk.includes('\n') : chunk.length >= 4, s))
    if (kind === 'text') {
      s.write('flood\n')
    } else {
      const body = Buffer.from(JSON.stringify({ id: 1, path: '/bench/echo', data: 1 }))
      const head = Buffer.alloc(4)
      head.writeUInt32BE(body.length)
      s.write(Buffer.concat([head, body]))
    }
  })
}

/**
 * Ms from `since` until `kind` answers, or undefined past the deadline. A fresh attempt starts
 * every 100 ms while earlier ones wait (up to 3 s each): a SYN dropped by a full accept queue is
 * retried by the kernel only after 1 s, which would hide when the server could answer again.
 */
async function recovery (kind: 'tcp' | 'text' | 'http', port: number, since: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    let done = false
    const attempt = (): void => {
      if (done) return
      if (Date.now() - since > deadlineMs) {
        done = true
        clearInterval(timer)
        resolve(undefined)
        return
      }
      void probe(kind, port, 3000).then((ok) => {
        if (!ok || done) return
        done = true
        clearInterval(timer)
        resolve(Date.now() - since)
      })
    }
    const timer = setInterval(attempt, 100)
    attempt()
  })
}

async function main (): Promise<void> {
  const server = await startServer()
  const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true } catch { return false } }
  const workerPids = (): number[] => [...server.output().matchAll(/"workerPid":(\d+)[^\n]*"worker serving"/g)].map((m) => Number(m[1]))
  const before = workerPids()
  console.log(`sd start --workers ${workers} under prlimit --nofile=${serverNofile}; ports ${JSON.stringify(server.ports)}`)
  try {
    const { report: f, close } = await floodFromChildren(server.ports.tcp)
    console.log(`flood: ${f.opened} opened in ${f.ms} ms from 127.0.0.1: ${f.connected} connected, ${f.failed} failed`)
    await close()
    const closedAt = Date.now()
    const [tcp, text, http] = await Promise.all([
      recovery('tcp', server.ports.tcp, closedAt),
      recovery('text', server.ports.text, closedAt),
      recovery('http', server.ports.http, closedAt),
    ])
    const show = (ms: number | undefined): string => ms === undefined ? `no answer within ${deadlineMs} ms` : `${ms} ms`
    console.log(`answers again after the flood closed: tcp ${show(tcp)}, text ${show(text)}, http ${show(http)}`)
    const after = workerPids()
    const crashed = (server.output().match(/worker crashed/g) ?? []).length
    const survived = server.child.exitCode === null && before.every(alive) && crashed === 0
    console.log(`server survived: ${survived ? 'yes' : 'no'} (primary ${server.child.exitCode === null ? 'alive' : `exited ${server.child.exitCode}`}, worker crashes ${crashed}, workers started ${after.length})`)
    const lines = server.output().split('\n')
    const count = (re: RegExp): number => lines.filter((l) => re.test(l)).length
    console.log(`log lines: ${lines.length - 1} in all; out of descriptors ${count(/descriptors/)}, refused ${count(/refus/i)}`)
  } finally {
    server.child.kill('SIGTERM')
    await once(server.child, 'exit')
    await rm(server.runDir, { recursive: true, force: true })
  }
}

if (process.env.FLOOD_ROLE === 'client') await floodChild()
else await main()
