/**
 * `sd start` in the foreground: this process becomes the primary. It claims the run folder
 * (removing a stale pid file), forks the workers, serves the control socket, and on SIGTERM or
 * SIGINT stops every worker gracefully and exits 0. SIGUSR2 reloads the workers.
 */
import { availableParallelism } from 'node:os'
import type { Server } from 'node:net'
import { pino } from 'pino'
import { loadConfig } from '../server/config.js'
import { Primary, type PrimaryMode, type ServerStatus } from '../multicore/primary.js'
import { sendControl, serveControl } from './control.js'
import { startPrimaryAdmin, type PrimaryAdmin } from './primary-admin.js'
import { buildDir, hasBuild } from './build.js'
import { clearRunFiles, isSdProcess, readPid, runPaths, writePid, writeState, type RunPaths } from './run-state.js'

/** Options of `runServer`. */
export interface RunServerOptions {
  root: string
  /** Worker processes (business workers in split and worker modes). @default 1 */
  workers: number
  /** Which processes to run: `sd start` (direct), `--split`, `--gateway`, `--worker`. @default 'direct' */
  mode?: PrimaryMode
  /** Extra environment of the workers (e.g. `NODE_ENV`). */
  env?: Record<string, string>
  /** Run the sources even when `dist/` holds a build (`sd dev`). @default false */
  sources?: boolean
}

/** The server is already running (its control socket answered). */
export class AlreadyRunningError extends Error {}

/**
 * Claims the run folder: the pid file is created exclusively, so of two starts racing only one
 * wins; a pid file left by a process that is gone is removed first (`onStale` says so).
 */
export async function claimRunFolder (paths: RunPaths, hint: string, onStale: (pid: number | undefined) => void): Promise<void> {
  for (let attempt = 0; !(await writePid(paths, process.pid)); attempt++) {
    const previous = await readPid(paths)
    if (previous?.alive && await sendControl(paths.socket, 'status', 2000).then(() => true, () => false)) {
      throw new AlreadyRunningError(`already running (pid ${previous.pid}); ${hint}`)
    }
    if (attempt > 0 || (previous?.alive && await isSdProcess(previous.pid))) {
      throw new AlreadyRunningError(`pid ${previous?.pid ?? '?'} in ${paths.pid} is an sd process that does not answer; stop it, or remove the file`)
    }
    onStale(previous?.pid)
    await clearRunFiles(paths)
  }
}

/** `--workers` value: a number, or `auto` for one per CPU. */
export function parseWorkers (value: string | undefined): number {
  if (value === undefined || value === '') return 1
  if (value === 'auto') return availableParallelism()
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new Error(`--workers must be a number from 1 to 256 or 'auto', got ${JSON.stringify(value)}`)
  return n
}

/** The log line of a server that runs. */
function runningMessage (mode: PrimaryMode, workers: number, linkPort: number | undefined): string {
  const n = `${workers} worker${workers === 1 ? '' : 's'}`
  switch (mode) {
    case 'direct': return `server running with ${n}`
    case 'split': return `server running split: a gateway (link port ${linkPort ?? '?'}) and ${n}`
    case 'gateway': return `gateway running (link port ${linkPort ?? '?'}); workers link to it with sd start --worker`
    case 'worker': return `${n} running, linked to their gateways`
  }
}

/** Runs the server until a signal or `sd stop`; resolves once it serves. */
export async function runServer (options: RunServerOptions): Promise<{ primary: Primary, status: () => Promise<ServerStatus> }> {
  const { root, workers } = options
  const mode = options.mode ?? 'direct'
  const config = await loadConfig({ root })
  const log = pino({ name: config.app.name, level: config.app.logLevel, base: { role: 'primary', pid: process.pid } })
  const paths = runPaths(root)

  await claimRunFolder(paths, 'use sd stop or sd reload', (pid) => log.warn({ pid }, 'removed a stale pid file: that server is not running'))

  const build = !options.sources && hasBuild(root)
  if (build) log.info('running the production build in dist/ (sd build); delete dist/ to run the sources')
  const startedAt = new Date().toISOString()
  const saveState = (): void => {
    writeState(paths, { pid: process.pid, root, startedAt, workers, mode, workerPids: primary.pids, ports: primary.ports })
      .catch((err: unknown) => log.warn({ err }, 'could not write state.json'))
  }
  const primary: Primary = new Primary({
    root,
    appRoot: build ? buildDir(root) : root,
    workers,
    mode,
    log,
    stopTimeoutMs: config.server.shutdownTimeoutMs + 5000,
    env: options.env,
    onChange: () => { if (primary.status !== 'starting' && primary.status !== 'stopping' && primary.status !== 'stopped') saveState() },
  })
  let control: Server | undefined
  /** The admin listener (`admin.enabled`): the primary runs it for the whole server. */
  let admin: PrimaryAdmin | undefined
  let stopping: Promise<void> | undefined
  const shutdown = (why: string): Promise<void> => {
    stopping ??= (async () => {
      log.info({ why }, 'shutting down')
      await admin?.stop()
      await primary.stop()
      control?.close()
      await clearRunFiles(paths)
      log.info('stopped')
    })()
    return stopping
  }
  const exitAfter = (why: string): void => {
    shutdown(why).then(() => process.exit(0), (err: unknown) => {
      log.error({ err }, 'shutdown failed')
      process.exit(1)
    })
  }
  let signals = 0
  const onSignal = (signal: NodeJS.Signals): void => {
    if (++signals > 1) {
      log.warn({ signal }, 'second signal: exiting now')
      process.exit(1)
    }
    exitAfter(signal)
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
  process.on('SIGUSR2', () => { primary.reload().catch((err: unknown) => log.error({ err }, 'reload failed')) })

  try {
    control = await serveControl(paths.socket, async (cmd) => {
      if (cmd === 'status') return { ...await primary.statusReport(), admin: admin?.address() }
      if (cmd === 'reload') {
        await primary.reload()
        return primary.statusReport()
      }
      setImmediate(() => exitAfter('sd stop'))
      // split mode stops in two steps (workers drain, then the gateway): each may take the timeout
      return { stopping: true, stopTimeoutMs: (config.server.shutdownTimeoutMs + 5000) * (mode === 'split' ? 2 : 1) }
    })
    const ports = await primary.start()
    admin = await startPrimaryAdmin(config, primary, log)
    // a signal while the listener started found none to stop: stop it now
    if (stopping !== undefined) await admin?.stop()
    await writeState(paths, { pid: process.pid, root, startedAt, workers, mode, workerPids: primary.pids, ports })
    log.info({ workers, mode, ports }, runningMessage(mode, workers, ports.gateway))
  } catch (err) {
    await shutdown('start failed')
    throw err
  }
  return { primary, status: () => primary.statusReport() }
}
