/**
 * A worker process of `sd start`: boots the app in `SD_APP_ROOT` (with the factory its entry
 * file passes in: this layer knows no application), tells the primary its ports, mirrors
 * membership through a `MulticoreBus` when there are several workers in direct mode (never
 * as a gateway or business worker, `SD_ROLE`), and stops
 * gracefully when the primary asks (or on SIGTERM, also while it is still booting). If the
 * primary is killed outright, node:cluster ends the worker at once: its clients see a plain close.
 */
import cluster from 'node:cluster'
import { hostname } from 'node:os'
import type { Logger } from 'pino'
import type { Bus } from '../connection/bus.js'
import { publishOnBus } from '../connection/bus-publish.js'
import type { ConnectionTable } from '../connection/table.js'
import { SdError } from '../core/errors.js'
import { isProtocolMessage, type FromWorker, type ToWorker, type WorkerStats } from './ipc-protocol.js'
import { MulticoreBus } from './multicore-bus.js'
import { Batcher, isBatch } from './batch.js'
import { processNodeName } from './roles.js'
import { processMetrics } from './metrics-merge.js'
import type { ProcessSnapshot } from '../core/snapshot.js'
import type { Ports } from './ports.js'

/** What a worker process uses of the application it runs (server/'s `Application` is one). */
export interface WorkerApp {
  readonly log: Logger
  readonly connections: ConnectionTable
  /** Set when the app is a node of a dispatch cluster (its own bus reaches the other workers). */
  readonly cluster: unknown
  bus: Bus
  start (): Promise<void>
  stop (): Promise<void>
  stats (): WorkerStats
  /** Port of each listening transport (the transport registry's names). */
  ports (): Ports
  /** Reads the TLS certificate files again (a kept gateway on `sd reload`). */
  reloadTls? (): void
  /** Its metrics, for the primary's whole-server `/metrics` (server/app-metrics.ts). */
  readonly metrics?: { json (): Promise<unknown[]>, snapshot (): ProcessSnapshot }
}

/**
 * Builds the application of a worker (server/create-app's `createApp`). `adminListener` is
 * always false: the primary runs the admin listener, never a worker.
 */
export type WorkerAppFactory<A extends WorkerApp> = (options: { root: string, connectionIdPrefix: string, adminListener: false }) => Promise<A>

let bus: MulticoreBus | undefined

const out = new Batcher<FromWorker>((msg) => {
  if (!process.connected || !process.send) return false
  process.send(msg)
  return true
}, (err, msg) => {
  process.emitWarning(`SD: a message to the primary could not be serialised and was dropped: ${(err as Error)?.message ?? String(err)}`)
  bus?.dropped(msg)
})

/** Queues a message to the primary (sent once per turn); false when the channel is gone. */
function send (msg: FromWorker): boolean {
  if (!process.connected) return false
  out.push(msg)
  return true
}

/** Runs the primary's `publish` on the app's bus and answers the count, or the error it threw. */
function publish (app: WorkerApp | undefined, msg: Extract<ToWorker, { t: 'publish' }>): void {
  const fail = (err: unknown): void => {
    // an SD error (SD_ERR_CLUSTER_UNAVAILABLE…) as it is; anything else logged here, shown as internal
    if (!(err instanceof SdError)) app?.log.error({ err }, 'admin publish failed')
    const sd = err instanceof SdError ? err : new SdError('SD_ERR_INTERNAL')
    send({ t: 'published', r: msg.r, e: { code: sd.code, message: sd.message } })
  }
  if (app === undefined) return fail(new SdError('SD_ERR_NO_WORKER', 'this worker is not serving yet'))
  publishOnBus(app.bus, msg.to, msg.d, msg.recover).then((n) => send({ t: 'published', r: msg.r, n }), fail)
}

/** Runs this process as a worker of the app `createApp` builds; resolves once the app serves. */
export async function runWorker<A extends WorkerApp> (createApp: WorkerAppFactory<A>): Promise<A | undefined> {
  const root = process.env.SD_APP_ROOT ?? process.cwd()
  const id = cluster.worker?.id ?? process.pid
  let app: A | undefined
  let stopRequested: string | undefined

  const stop = (why: string): void => {
    if (stopRequested !== undefined) return
    stopRequested = why
    if (!app) return // still booting: stops right after the boot, below
    app.log.info({ why }, 'worker stopping')
    app.stop().then(() => process.exit(0), (err: unknown) => {
      app?.log.error({ err }, 'worker stop failed')
      process.exit(1)
    })
  }
  const reloadTls = (): void => {
    try {
      app?.reloadTls?.()
      app?.log.info('tls certificates read again')
    } catch (err) {
      app?.log.error({ err }, 'tls reload failed: the old certificates stay')
    }
  }
  const handle = (msg: ToWorker): void => {
    if (msg.t === 'stop') stop('asked by the primary')
    else if (msg.t === 'stats') { if (app) send({ t: 'stats', r: msg.r, stats: app.stats() }) }
    else if (msg.t === 'metrics') {
      const metrics = app?.metrics
      const answer = (m: Awaited<ReturnType<typeof processMetrics>> | undefined): void => { send({ t: 'metrics', r: msg.r, m }) }
      if (metrics) processMetrics(metrics, msg.s === true).then(answer, () => answer(undefined))
      else answer(undefined)
    }
    else if (msg.t === 'tls') reloadTls()
    else if (msg.t === 'publish') publish(app, msg)
    else bus?.receive(msg)
  }
  // handlers first: a stop that arrives while the app boots must not be lost
  process.on('message', (m: unknown) => {
    if (isBatch<ToWorker>(m)) for (const msg of m.m) handle(msg)
    else if (isProtocolMessage(m)) handle(m as ToWorker)
  })
  process.on('disconnect', () => {
    bus?.disconnected()
    stop('the primary went away')
  })
  // Ctrl-C reaches every process of the terminal's group: the primary decides; SIGTERM sent
  // to a worker alone stops it gracefully.
  process.on('SIGINT', () => {})
  process.on('SIGTERM', () => stop('SIGTERM'))

  const workers = Number(process.env.SD_WORKERS ?? 1)
  // A cluster node, or a business worker of a split run, is a node of its own: see roles.ts
  const name = processNodeName({ env: process.env, hostname: hostname(), ppid: process.ppid, id })
  if (name !== undefined) process.env.SD_NODE_NAME = name
  const booting = await createApp({ root, connectionIdPrefix: `w${id}.`, adminListener: false })
  // Split roles never mirror membership through the primary: the gateway holds every
  // connection, and workers reach them through their links.
  const split = process.env.SD_ROLE === 'gateway' || process.env.SD_ROLE === 'worker'
  if (workers > 1 && !booting.cluster && !split) booting.bus = bus = new MulticoreBus(booting.connections, send)
  if (stopRequested !== undefined) process.exit(0)
  try {
    await booting.start()
  } catch (err) {
    if (!(err instanceof SdError)) throw err
    // one line a user can act on (port in use…), for the primary to print; no stack
    booting.log.error({ code: err.code }, err.message)
    out.flush()
    if (process.send) process.send({ t: 'failed', code: err.code, message: err.message } satisfies FromWorker, () => process.exit(1))
    else process.exit(1)
    return undefined
  }
  app = booting
  if (stopRequested !== undefined) {
    const why = stopRequested
    stopRequested = undefined
    stop(why)
    return undefined
  }
  const ports = app.ports()
  send({ t: 'ready', ports })
  out.flush()
  return app
}
