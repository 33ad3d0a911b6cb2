import { spawn } from 'node:child_process'
import { closeSync, openSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { Command, Flags, ux } from '@oclif/core'
import { loadConfig } from '../../core/config.js'
import { appRoot, rootFlag } from '../context.js'
import { sendControl } from '../control.js'
import { processAlive, readPid, runPaths } from '../run-state.js'
import { AlreadyRunningError, parseWorkers, runServer } from '../serve.js'

const bin = fileURLToPath(new URL('../../../bin/sd.js', import.meta.url))

/** `sd start`: runs the app in the current folder. */
export default class Start extends Command {
  static override summary = 'Run the application in the current folder (TCP, text, HTTP and WebSocket ports).'
  static override description = `A primary process forks the workers (node:cluster: they share the ports). SIGTERM or SIGINT (or sd stop) stops them gracefully and exits 0; SIGUSR2 (or sd reload) replaces them one by one with fresh code. Pid, state and control socket live in .sd/.`
  static override examples = ['<%= config.bin %> start', '<%= config.bin %> start --workers auto --daemon', 'SD_TCP_PORT=9000 <%= config.bin %> start']
  static override flags = {
    workers: Flags.string({ char: 'w', description: 'worker processes: a number, or auto (one per CPU); env SD_WORKERS', default: process.env.SD_WORKERS ?? '1' }),
    daemon: Flags.boolean({ char: 'd', description: 'run in the background (log in .sd/sd.log)', default: false }),
    dispatch: Flags.boolean({ description: 'run a dispatch server of a cluster (needs Redis settings)', default: false }),
    cluster: Flags.boolean({ description: 'join a cluster (needs Redis settings); env SD_CLUSTER=1', default: process.env.SD_CLUSTER === '1' }),
    root: rootFlag,
  }

  async run (): Promise<void> {
    const { flags } = await this.parse(Start)
    const root = appRoot(flags.root)
    let workers: number
    try {
      workers = parseWorkers(flags.workers)
    } catch (err) {
      this.error((err as Error).message, { exit: 2 })
    }
    if (flags.dispatch || flags.cluster) {
      const config = await loadConfig({ root })
      const redis = config.redis.url !== '' || config.redis.cluster.length > 0 || config.redis.sentinels.length > 0
      const what = flags.dispatch ? '--dispatch' : '--cluster'
      if (!redis) this.error(`${what} needs Redis settings: set REDIS_URL (or url, cluster or sentinels in config/redis.ts); the cluster registry lives there`, { exit: 2 })
      this.error(`${what}: the cluster layer is not in this version yet; run without it (standalone, or --workers N for several cores)`, { exit: 2 })
    }
    if (flags.daemon) return this.#daemon(root, workers)
    await runServer({ root, workers }).catch((err: unknown) => {
      if (err instanceof AlreadyRunningError) this.error(err.message, { exit: 1 })
      throw err
    })
  }

  /** Starts a detached `sd start` and returns once it serves. */
  async #daemon (root: string, workers: number): Promise<void> {
    const paths = runPaths(root)
    const previous = await readPid(paths)
    if (previous?.alive && await sendControl(paths.socket, 'status', 2000).then(() => true, () => false)) {
      this.error(`already running (pid ${previous.pid})`, { exit: 1 })
    }
    await mkdir(paths.dir, { recursive: true, mode: 0o700 })
    const out = openSync(paths.log, 'a')
    // the child runs in `root`: a relative SD_RUN_DIR must mean the same folder there
    const env = { ...process.env, ...(process.env.SD_RUN_DIR ? { SD_RUN_DIR: paths.dir } : {}) }
    const child = spawn(process.execPath, [bin, 'start', '--workers', String(workers), '--root', root], { cwd: root, detached: true, stdio: ['ignore', out, out], env })
    child.unref()
    closeSync(out)
    ux.action.start('Starting in the background')
    const deadline = Date.now() + 60_000
    for (;;) {
      const answer = await sendControl(paths.socket, 'status', 2000).catch(() => undefined)
      if (answer?.ok && (answer.data as { status?: string }).status === 'running') break
      if (child.pid === undefined || !processAlive(child.pid) || Date.now() > deadline) {
        if (child.pid !== undefined && processAlive(child.pid)) process.kill(child.pid, 'SIGTERM')
        ux.action.stop('failed')
        this.error(`the server did not start; see ${paths.log}`, { exit: 1 })
      }
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    ux.action.stop(`running (pid ${child.pid}); log: ${paths.log}`)
  }
}
