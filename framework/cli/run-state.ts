/**
 * The run folder of a server (`<app>/.sd/`): `sd.pid` (the primary's pid), `state.json`
 * (ports, workers, start time), `control.sock` (what `sd status|reload|stop` talk to) and
 * `sd.log` (output of `sd start --daemon`). A pid file whose process is gone, after a crash or
 * a reboot, is detected and removed, so a stale file never blocks the next start.
 */
import { createHash } from 'node:crypto'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { PrimaryMode } from '../multicore/primary.js'

/** Paths of the run folder. */
export interface RunPaths {
  dir: string
  pid: string
  state: string
  socket: string
  log: string
}

/** What `state.json` holds. */
export interface RunState {
  pid: number
  root: string
  startedAt: string
  workers: number
  /** How the processes are split (`direct` when absent: written before issue 18). */
  mode?: PrimaryMode
  workerPids: number[]
  /** By registered transport (`tcp`, `text`, `http`, …), and `dispatch` for a dispatch server. */
  ports: Partial<Record<string, number>>
}

/** The run folder of the app at `root` (env `SD_RUN_DIR` puts it elsewhere); a dispatch server's is its `dispatch/` folder. */
export function runPaths (root: string, role: 'server' | 'dispatch' = 'server'): RunPaths {
  const base = process.env.SD_RUN_DIR ? resolve(process.env.SD_RUN_DIR) : join(root, '.sd')
  const dir = role === 'dispatch' ? join(base, 'dispatch') : base
  // a unix socket path is limited to ~107 bytes: a deep folder gets a short one in tmpdir
  let socket = join(dir, 'control.sock')
  if (Buffer.byteLength(socket) > 100) socket = join(tmpdir(), `sd-${createHash('sha256').update(dir).digest('hex').slice(0, 16)}.sock`)
  return { dir, pid: join(dir, 'sd.pid'), state: join(dir, 'state.json'), socket, log: join(dir, 'sd.log') }
}

/**
 * True when `pid` runs an `sd` command (Linux: from /proc; elsewhere it cannot be told and is
 * assumed). A recycled pid that belongs to another program is never signalled.
 */
export async function isSdProcess (pid: number): Promise<boolean> {
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => undefined)
  if (cmdline === undefined) return process.platform !== 'linux'
  const argv = cmdline.split('\0')
  return argv.some((a) => /(^|\/)sd(\.js)?$/.test(a)) && argv.includes('start')
}

/** True when a process with this pid exists (and may be signalled). */
export function processAlive (pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** What the pid file says: the pid and whether that process is alive. */
export async function readPid (paths: RunPaths): Promise<{ pid: number, alive: boolean } | undefined> {
  const text = await readFile(paths.pid, 'utf8').catch(() => undefined)
  if (text === undefined) return undefined
  const pid = Number(text.trim())
  return { pid, alive: processAlive(pid) }
}

export async function readState (paths: RunPaths): Promise<RunState | undefined> {
  const text = await readFile(paths.state, 'utf8').catch(() => undefined)
  if (text === undefined) return undefined
  try { return JSON.parse(text) as RunState } catch { return undefined }
}

/** Removes the pid, state and socket files (not the log). */
export async function clearRunFiles (paths: RunPaths): Promise<void> {
  await Promise.all([paths.pid, paths.state, paths.socket].map((p) => rm(p, { force: true })))
}

/** Creates the pid file; false when one exists already (another start got there first). */
export async function writePid (paths: RunPaths, pid: number): Promise<boolean> {
  await mkdir(paths.dir, { recursive: true, mode: 0o700 })
  try {
    await writeFile(paths.pid, `${pid}\n`, { flag: 'wx' })
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  }
}

export async function writeState (paths: RunPaths, state: RunState): Promise<void> {
  await mkdir(paths.dir, { recursive: true, mode: 0o700 })
  await writeFile(paths.state, JSON.stringify(state, null, 2) + '\n')
}
