/**
 * `sd start --dispatch` in the foreground: a dispatch server of the cluster named in config.
 * It listens for server links on `cluster.dispatchPort` (env `SD_DISPATCH_PORT`), and on the
 * unix socket `cluster.dispatchPath` (env `SD_DISPATCH_PATH`) when one is set; it registers in
 * Redis (role `dispatch`, with the host and port servers should link to), publishes its linked
 * nodes with each heartbeat, and stops on SIGTERM / SIGINT / `sd stop --dispatch`. Run folder:
 * `.sd/dispatch/` (or `$SD_RUN_DIR/dispatch/`).
 */
import { TlsFiles } from '../transport/tls.js'
import { hostname } from 'node:os'
import { resolve } from 'node:path'
import type { AddressInfo, Server } from 'node:net'
import { pino } from 'pino'
import { clusterName, loadConfig } from '../server/config.js'
import { SdError } from '../core/errors.js'
import { RedisConnections } from '../data/redis.js'
import { Dispatcher } from '../cluster/dispatch-server.js'
import { clusterSecret } from '../cluster/link-auth.js'
import { RedisRegistry } from '../cluster/registry.js'
import { serveControl } from './control.js'
import { startDispatchAdmin } from './dispatch-admin.js'
import type { PrimaryAdmin } from './primary-admin.js'
import { clearRunFiles, runPaths, writeState } from './run-state.js'
import { claimRunFolder } from './serve.js'
import { listenError } from '../core/listen-error.js'

/** What `sd status --dispatch` prints. */
export interface DispatchStatus {
  role: 'dispatch'
  pid: number
  node: string
  cluster: string
  status: string
  uptimeMs: number
  address: { host: string, port: number } | undefined
  /** The unix socket it listens on too, if any. */
  socket: string | undefined
  registry: string
  linked: Array<{ name: string, remote: string, framesIn: number, framesOut: number, rttMs: number | undefined }>
}

function toHostPort (a: AddressInfo | undefined): { host: string, port: number } | undefined {
  return a && { host: a.address, port: a.port }
}

/** The host servers are told to link to. */
function advertised (host: string, configured: string): string {
  if (configured) return configured
  return host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host
}

/** A unix socket that cannot be bound, as one `SD_ERR_PORT_IN_USE` saying what holds it and where it is set. */
function socketError (err: unknown, path: string): SdError {
  const e = err as NodeJS.ErrnoException
  const why = e.code === 'EADDRINUSE'
    ? 'is held by a live process (another dispatch server?)'
    : e.code === 'EEXIST' ? 'exists and is not a socket' : `cannot be bound (${e.code ?? e.message})`
  return new SdError('SD_ERR_PORT_IN_USE', `dispatch socket ${path} ${why}; set SD_DISPATCH_PATH or cluster.dispatchPath in config/cluster.ts to use another path`, { cause: err })
}

/** Runs a dispatch server until a signal or `sd stop --dispatch`; resolves once it listens. */
export async function runDispatch (options: { root: string }): Promise<{ dispatcher: Dispatcher, stop: () => Promise<void> }> {
  const { root } = options
  const config = await loadConfig({ root })
  const c = config.cluster
  const name = config.app.nodeName || `${hostname()}-dispatch-${process.pid}`
  const cluster = clusterName(config)
  const log = pino({ name: config.app.name, level: config.app.logLevel, base: { role: 'dispatch', node: name, pid: process.pid } })
  const redis = new RedisConnections(config.redis, log)
  if (!redis.configured) throw new SdError('SD_ERR_CONFIG_INVALID', '--dispatch needs Redis (REDIS_URL, or url, cluster or sentinels in config/redis.ts): the cluster registry lives there')
  const secret = clusterSecret(c.secret || undefined)
  const paths = runPaths(root, 'dispatch')
  await claimRunFolder(paths, `a dispatch server runs from ${paths.dir}: sd stop --dispatch, or set SD_RUN_DIR to run another`, (pid) => log.warn({ pid }, 'removed a stale pid file: that dispatch server is not running'))

  const socketPath = c.dispatchPath === '' ? undefined : resolve(root, c.dispatchPath)
  const tls = c.tls === undefined ? undefined : new TlsFiles('cluster.tls', c.tls, root)
  const dispatcher = new Dispatcher({ name, secret, host: c.dispatchHost, port: c.dispatchPort, path: socketPath, log, tls })
  const startedAt = Date.now()
  let registry: RedisRegistry | undefined
  let control: Server | undefined
  let meta: NodeJS.Timeout | undefined
  let admin: PrimaryAdmin | undefined

  const status = (): DispatchStatus => ({
    role: 'dispatch',
    pid: process.pid,
    node: name,
    cluster,
    status: dispatcher.status,
    uptimeMs: Date.now() - startedAt,
    address: toHostPort(dispatcher.address()),
    socket: dispatcher.socketPath,
    registry: registry?.status ?? 'idle',
    linked: dispatcher.linked().map((l) => ({ name: l.name, remote: l.remote, framesIn: l.stats.framesIn, framesOut: l.stats.framesOut, rttMs: l.stats.rttMs })),
  })

  let stopping: Promise<void> | undefined
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      clearInterval(meta)
      await admin?.stop()
      await registry?.stop().catch(() => {})
      await dispatcher.close()
      control?.close()
      await redis.close()
      await clearRunFiles(paths)
      log.info('stopped')
    })()
    return stopping
  }
  const exitAfter = (why: string): void => {
    log.info({ why }, 'shutting down')
    stop().then(() => process.exit(0), (err: unknown) => {
      log.error({ err }, 'shutdown failed')
      process.exit(1)
    })
  }
  process.on('SIGTERM', () => exitAfter('SIGTERM'))
  process.on('SIGINT', () => exitAfter('SIGINT'))

  try {
    control = await serveControl(paths.socket, async (cmd) => {
      if (cmd === 'stop') setImmediate(() => exitAfter('sd stop'))
      return status()
    })
    const address = await dispatcher.listen().catch((err: unknown) => {
      if (socketPath !== undefined && (err as { address?: string } | undefined)?.address === socketPath) throw socketError(err, socketPath)
      throw listenError(err, 'dispatch', c.dispatchHost, c.dispatchPort, { env: 'SD_DISPATCH_PORT', key: 'cluster.dispatchPort', file: 'config/cluster.ts' })
    })
    registry = new RedisRegistry({
      redis: redis.shared, cluster, node: { name, role: 'dispatch', host: advertised(c.dispatchHost, c.advertiseHost), port: address.port },
      heartbeatMs: c.heartbeatMs, ttlMs: c.ttlMs, pollMs: c.pollMs, log,
    })
    const publish = (): void => registry?.setMeta({ linked: dispatcher.nodes() })
    publish()
    meta = setInterval(publish, c.heartbeatMs)
    meta.unref()
    if (!(await registry.start())) log.warn({ err: registry.lastError }, 'Redis is not reachable yet: servers find this dispatcher once it is')
    // dead servers are purged by any watcher; a dispatcher watches too, so a cluster whose
    // servers all died is still cleaned up
    await registry.view.watch()
    admin = await startDispatchAdmin(config, dispatcher, name, registry.view, cluster, log)
    await writeState(paths, { pid: process.pid, root, startedAt: new Date(startedAt).toISOString(), workers: 0, workerPids: [], ports: { dispatch: address.port } })
    const on = socketPath === undefined ? '' : ` and unix:${socketPath}`
    log.info({ host: address.address, port: address.port, socket: socketPath, cluster }, `dispatch server listening on ${address.address}:${address.port}${on}`)
  } catch (err) {
    await stop()
    throw err
  }
  return { dispatcher, stop }
}
