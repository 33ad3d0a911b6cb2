import { spawn } from 'node:child_process'
import { closeSync, openSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { Command, Flags, ux } from '@oclif/core'
import { loadConfig } from '../../server/config.js'
import { appRoot, rootFlag } from '../context.js'
import { sendControl } from '../control.js'
import { processAlive, readPid, runPaths } from '../run-state.js'
import { AlreadyRunningError, parseWorkers, runServer } from '../serve.js'
import { runDispatch } from '../dispatch-server.js'
import { clusterSecret } from '../../cluster/link-auth.js'
import { redisConfigured } from '../../data/redis.js'
import { SdError } from '../../core/errors.js'
import { failWith } from '../fail.js'
import { checkStartMode, startMode, StartUsageError } from '../start-mode.js'
import type { PrimaryMode } from '../../multicore/primary.js'

const bin = fileURLToPath(new URL('../../../bin/sd.js', import.meta.url))

/** `sd start`: runs the app in the current folder. */
export default class Start extends Command {
  static override summary = 'Run the application in the current folder (TCP, text, HTTP and WebSocket ports).'
  static override description = `A primary process forks the workers (node:cluster: they share the ports). SIGTERM or SIGINT (or sd stop) stops them gracefully and exits 0; SIGUSR2 (or sd reload) replaces them one by one with fresh code. Pid, state and control socket live in .sd/.

With --split, one gateway process holds every client port and --workers N business workers run the application behind it: sd reload replaces only the workers, and no client is disconnected. --gateway and --worker run the two halves on different machines.`
  static override examples = ['<%= config.bin %> start', '<%= config.bin %> start --workers auto --daemon', 'SD_TCP_PORT=9000 <%= config.bin %> start', '<%= config.bin %> start --split --workers 4', 'SD_GATEWAY_SECRET=… <%= config.bin %> start --worker --workers 8']
  static override flags = {
    workers: Flags.string({ char: 'w', description: 'worker processes: a number, or auto (one per CPU); env SD_WORKERS', default: process.env.SD_WORKERS ?? '1' }),
    daemon: Flags.boolean({ char: 'd', description: 'run in the background (log in .sd/sd.log)', default: false }),
    dispatch: Flags.boolean({ description: 'run a dispatch server of the cluster (needs Redis and SD_CLUSTER_SECRET); link port: cluster.dispatchPort, env SD_DISPATCH_PORT', default: false }),
    split: Flags.boolean({ description: 'one gateway process holds the client ports, --workers N business workers run the app behind it (sd reload keeps every client)', default: false }),
    gateway: Flags.boolean({ description: 'only the gateway (client ports, link port gateway.port, env SD_GATEWAY_PORT); its workers run sd start --worker elsewhere; needs SD_GATEWAY_SECRET or SD_CLUSTER_SECRET', default: false }),
    worker: Flags.boolean({ description: 'only business workers (--workers N) for gateways elsewhere: SD_GATEWAYS or gateway.addresses, else the Redis registry; needs SD_GATEWAY_SECRET or SD_CLUSTER_SECRET', default: false }),
    cluster: Flags.boolean({ description: 'join the cluster named in config (needs Redis; SD_CLUSTER_SECRET too on the dispatch carrier, the default); env SD_CLUSTER=1', default: process.env.SD_CLUSTER === '1' }),
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
    const config = await loadConfig({ root })
    let mode: PrimaryMode | 'dispatch'
    try {
      mode = startMode(flags)
      if (mode !== 'dispatch') checkStartMode(mode, config)
    } catch (err) {
      if (err instanceof StartUsageError) this.error(err.message, { exit: 2 })
      throw err
    }
    // business workers are never cluster nodes: their gateway is
    const clustered = mode !== 'worker' && (flags.dispatch || flags.cluster || config.cluster.enabled)
    if (clustered) {
      const what = flags.dispatch ? '--dispatch' : '--cluster'
      if (!redisConfigured(config.redis)) this.error(`${what} needs Redis settings: set REDIS_URL (or url, cluster or sentinels in config/redis.ts); the cluster registry lives there`, { exit: 2 })
      // the secret authenticates dispatch links; the Redis carrier has none
      if (flags.dispatch || config.cluster.carrier === 'dispatch') {
        try {
          clusterSecret(config.cluster.secret || undefined)
        } catch (err) {
          this.error(`${what}: ${(err as Error).message}`, { exit: 2 })
        }
      }
    }
    if (flags.daemon) return this.#daemon(root, workers, [...(mode === 'direct' ? [] : [`--${mode}`]), ...(flags.cluster && mode !== 'dispatch' ? ['--cluster'] : [])])
    if (mode === 'dispatch') {
      await runDispatch({ root }).catch((err: unknown) => {
        if (err instanceof AlreadyRunningError) this.error(err.message, { exit: 1 })
        if (err instanceof SdError) failWith(this, err)
        throw err
      })
      return
    }
    await runServer({ root, workers, mode, env: clustered ? { SD_CLUSTER: '1' } : undefined }).catch((err: unknown) => {
      if (err instanceof AlreadyRunningError) this.error(err.message, { exit: 1 })
      if (err instanceof SdError) failWith(this, err) // port in use…: one line, no stack
      throw err
    })
  }

  /** Starts a detached `sd start` and returns once it serves. */
  async #daemon (root: string, workers: number, extra: string[]): Promise<void> {
    const paths = runPaths(root, extra.includes('--dispatch') ? 'dispatch' : 'server')
    const previous = await readPid(paths)
    if (previous?.alive && await sendControl(paths.socket, 'status', 2000).then(() => true, () => false)) {
      this.error(`already running (pid ${previous.pid})`, { exit: 1 })
    }
    await mkdir(paths.dir, { recursive: true, mode: 0o700 })
    const out = openSync(paths.log, 'a')
    // the child runs in `root`: a relative SD_RUN_DIR must mean the same folder there
    const env = { ...process.env, ...(process.env.SD_RUN_DIR ? { SD_RUN_DIR: runPaths(root).dir } : {}) }
    const child = spawn(process.execPath, [bin, 'start', ...(extra.includes('--dispatch') ? [] : ['--workers', String(workers)]), ...extra, '--root', root], { cwd: root, detached: true, stdio: ['ignore', out, out], env })
    child.unref()
    closeSync(out)
    ux.action.start('Starting in the background')
    const deadline = Date.now() + 60_000
    for (;;) {
      const answer = await sendControl(paths.socket, 'status', 2000).catch(() => undefined)
      const state = (answer?.ok ? (answer.data as { status?: string }).status : undefined)
      if (state === 'running' || state === 'listening') break
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
