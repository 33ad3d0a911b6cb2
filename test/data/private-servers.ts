/**
 * Private MariaDB and Redis servers for fault tests: real `mariadbd` / `redis-server` child
 * processes on free loopback ports, with their files in one temporary directory. A test can
 * kill and restart them at will without touching the machine's shared servers (3306, 6379).
 * `cleanup()` kills every child and removes the directory; children still alive when this
 * process exits are killed too.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { waitUntil } from '../helpers.js'
export { freePort } from '../free-port.js'

/** Full path of an executable on PATH (or in the sbin directories daemons live in), or undefined. */
export function findBinary (name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin']
  for (const dir of dirs) {
    if (!dir) continue
    const file = join(dir, name)
    try { accessSync(file, constants.X_OK); return file } catch {}
  }
  return undefined
}

const isRoot = process.getuid?.() === 0
const alive = new Set<ChildProcess>()
const dirs = new Set<string>()
/** Last resort when this process ends without `cleanup()` (an uncaught error, a cancelled run). */
function reap (): void {
  for (const c of alive) c.kill('SIGKILL')
  for (const d of dirs) { try { rmSync(d, { recursive: true, force: true }) } catch {} }
}
process.once('exit', reap)
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  // Reap, then die of the same signal as before (the listener is gone once it has run).
  process.once(signal, () => { reap(); process.kill(process.pid, signal) })
}

/** A running server child process. */
export interface ServerProcess {
  readonly child: ChildProcess
  readonly port: number
  /** The last output lines (for failure messages). */
  output (): string
}

/** Sends one raw line to 127.0.0.1:`port` and resolves to the first bytes answered ('' on any error). */
function ask (port: number, line: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1')
    const done = (v: string): void => { s.destroy(); resolve(v) }
    s.setTimeout(1000, () => done(''))
    s.once('error', () => done(''))
    s.once('connect', () => { if (line) s.write(line) })
    s.once('data', (chunk) => done(chunk.toString('latin1')))
  })
}

async function killChild (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill('SIGKILL')
  await exited
}

/** Owns the temporary directory and the child processes of one test file. */
export class PrivateServers {
  readonly dir = mkdtempSync(join(tmpdir(), 'sd-faults-'))
  readonly #children = new Set<ChildProcess>()

  constructor () {
    dirs.add(this.dir)
  }

  #spawn (bin: string, args: string[], port: number): ServerProcess {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    const keep = (chunk: Buffer): void => { out = (out + chunk.toString('utf8')).slice(-4000) }
    child.stdout?.on('data', keep)
    child.stderr?.on('data', keep)
    child.on('error', (err) => { out += `\nspawn error: ${err.message}` })
    this.#children.add(child)
    alive.add(child)
    child.once('exit', () => { this.#children.delete(child); alive.delete(child) })
    return { child, port, output: () => out }
  }

  /** Waits for `ready()`; fails at once with the server's output if it exits first. */
  async #ready (server: ServerProcess, ready: () => Promise<boolean>, what: string): Promise<void> {
    await waitUntil(async () => {
      if (server.child.exitCode !== null || server.child.signalCode !== null) {
        throw new Error(`${what} exited (${server.child.exitCode ?? server.child.signalCode}):\n${server.output()}`)
      }
      return ready()
    }, 10_000, `${what} on port ${server.port} to accept connections`)
  }

  /** Creates a MariaDB data directory (root@localhost and root@127.0.0.1 without password). */
  async installMariaDb (name = 'mysql'): Promise<string> {
    const datadir = join(this.dir, name)
    // Temporary tables go to a private tmpdir too: bootstraps running at once in a shared /tmp
    // were seen to fail ("Could not remove temporary table … Unknown table 'mysql.tmp_user_sys'").
    mkdirSync(join(this.dir, `${name}-tmp`))
    const bin = findBinary('mariadb-install-db') ?? findBinary('mysql_install_db')
    if (!bin) throw new Error('mariadb-install-db not found')
    const child = spawn(bin, ['--no-defaults', `--datadir=${datadir}`, '--auth-root-authentication-method=normal', '--skip-test-db', `--tmpdir=${datadir}-tmp`, ...(isRoot ? ['--user=root'] : [])], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (c: Buffer) => { out += c.toString('utf8') })
    child.stderr.on('data', (c: Buffer) => { out += c.toString('utf8') })
    const [code] = await once(child, 'exit') as [number | null]
    if (code !== 0) throw new Error(`mariadb-install-db failed (${code}):\n${out.slice(-4000)}`)
    return datadir
  }

  /** Starts `mariadbd` on `datadir` and 127.0.0.1:`port`; resolves once it sends its handshake. */
  async startMariaDb (datadir: string, port: number): Promise<ServerProcess> {
    const bin = findBinary('mariadbd') ?? findBinary('mysqld')
    if (!bin) throw new Error('mariadbd not found')
    const server = this.#spawn(bin, [
      '--no-defaults', `--datadir=${datadir}`, `--port=${port}`, '--bind-address=127.0.0.1',
      `--socket=${join(datadir, 'mysqld.sock')}`, `--pid-file=${join(datadir, 'mysqld.pid')}`, `--tmpdir=${datadir}-tmp`,
      '--skip-log-bin', '--skip-name-resolve', '--innodb-buffer-pool-size=16M',
      ...(isRoot ? ['--user=root'] : []),
    ], port)
    // The server speaks first: a handshake packet whose 5th byte is protocol version 10.
    await this.#ready(server, async () => (await ask(port, '')).charCodeAt(4) === 10, 'mariadbd')
    return server
  }

  /** Starts `redis-server` on 127.0.0.1:`port` with no persistence (plus `extra` arguments); resolves once it answers PING. */
  async startRedis (port: number, extra: string[] = []): Promise<ServerProcess> {
    const bin = findBinary('redis-server')
    if (!bin) throw new Error('redis-server not found')
    const server = this.#spawn(bin, [
      '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--daemonize', 'no', '--dir', this.dir, '--loglevel', 'warning', ...extra,
    ], port)
    await this.#ready(server, async () => (await ask(port, 'PING\r\n')).startsWith('+PONG'), 'redis-server')
    return server
  }

  /** SIGKILLs a server (a crash, not a clean shutdown) and waits until it is gone. */
  kill (server: ServerProcess): Promise<void> {
    return killChild(server.child)
  }

  /** Kills every child still running and removes the directory. */
  async cleanup (): Promise<void> {
    await Promise.all([...this.#children].map(killChild))
    rmSync(this.dir, { recursive: true, force: true })
    dirs.delete(this.dir)
  }
}
