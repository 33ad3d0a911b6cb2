/**
 * A private `redis-server` that listens on a unix socket only (`--port 0`: no TCP at all), so a
 * test that reaches it proves the socket was used. Its files live in a fresh temporary folder
 * (short, so the socket path fits the system's limit); `stop()` kills it and removes the folder.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { waitUntil } from '../helpers.js'
import { findBinary } from './private-servers.js'

/** A running socket-only Redis. */
export interface UnixRedis {
  /** The socket path. */
  readonly path: string
  /** The temporary folder (holds the socket; tests may put more files there). */
  readonly dir: string
  readonly child: ChildProcess
  output (): string
  /** SIGKILLs the server and removes the folder. */
  stop (): Promise<void>
}

const alive = new Set<ChildProcess>()
process.once('exit', () => { for (const c of alive) c.kill('SIGKILL') })

/** Sends PING on the socket; true on `+PONG`. */
function pings (path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ path })
    const done = (v: boolean): void => { s.destroy(); resolve(v) }
    s.setTimeout(1000, () => done(false))
    s.once('error', () => done(false))
    s.once('connect', () => s.write('PING\r\n'))
    s.once('data', (chunk) => done(chunk.toString('latin1').startsWith('+PONG')))
  })
}

/** Starts `redis-server --port 0 --unixsocket <dir>/redis.sock`; resolves once it answers PING there. */
export async function startUnixRedis (): Promise<UnixRedis> {
  const bin = findBinary('redis-server')
  if (!bin) throw new Error('redis-server not found')
  const dir = mkdtempSync('/tmp/sd-ux-')
  const path = join(dir, 'redis.sock')
  const child = spawn(bin, [
    '--port', '0', '--unixsocket', path, '--unixsocketperm', '700', '--save', '', '--appendonly', 'no',
    '--daemonize', 'no', '--dir', dir, '--loglevel', 'warning',
  ], { stdio: ['ignore', 'pipe', 'pipe'] })
  alive.add(child)
  let out = ''
  const keep = (chunk: Buffer): void => { out = (out + chunk.toString('utf8')).slice(-4000) }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  const exited = once(child, 'exit').catch(() => {}) // a spawn error shows in the output
  child.on('error', (err) => { out += `\nspawn error: ${err.message}` })
  child.once('exit', () => alive.delete(child))
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    await waitUntil(async () => {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`redis-server exited:\n${out}`)
      return pings(path)
    }, 10_000, `redis-server on ${path}`)
  } catch (err) {
    await stop()
    throw err
  }
  return { path, dir, child, output: () => out, stop }
}
