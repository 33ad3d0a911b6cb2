/**
 * Starting benchmark servers (SD and the baselines) as children and talking to them.
 */
import { startChild, type Child, type ChildOptions } from './child.js'
import type { Ports, ServerMessage, ServerStats } from './server-child.js'

/** A server under test. */
export interface ServerSpec {
  /** Name shown in the output. */
  name: string
  /** Script under `bench/`. */
  script: string
}

/** The SD demo app. */
export const sdServer: ServerSpec = { name: 'sd', script: 'servers/sd.ts' }
/** Hand-written node:net server with SD's TCP framing. */
export const tcpMinimal: ServerSpec = { name: 'tcp-minimal', script: 'baselines/tcp-minimal.ts' }
/** Hand-written node:tls server with SD's TCP framing (key and certificate from SD_TLS_KEY / SD_TLS_CERT). */
export const tlsMinimal: ServerSpec = { name: 'tls-minimal', script: 'baselines/tls-minimal.ts' }
/** Raw ws WebSocketServer. */
export const wsRaw: ServerSpec = { name: 'ws-raw', script: 'baselines/ws-raw.ts' }
/** Bare fastify. */
export const fastifyBare: ServerSpec = { name: 'fastify-bare', script: 'baselines/fastify-bare.ts' }

/** A server child that has announced its ports. */
export interface RunningServer {
  spec: ServerSpec
  child: Child
  ports: Ports
}

const READY_TIMEOUT_MS = 20_000
const STATS_TIMEOUT_MS = 10_000

function asMessage (msg: unknown): ServerMessage | undefined {
  return typeof msg === 'object' && msg !== null && 'type' in msg ? msg as ServerMessage : undefined
}

/** Starts a server child and waits for its ports. */
export async function startServer (spec: ServerSpec, options: ChildOptions = {}): Promise<RunningServer> {
  const child = startChild(spec.script, options)
  try {
    const ports = await child.message((m) => {
      const msg = asMessage(m)
      return msg?.type === 'ready' ? msg.ports : undefined
    }, READY_TIMEOUT_MS)
    return { spec, child, ports }
  } catch (err) {
    await child.stop()
    throw err
  }
}

/**
 * Asks a server for its memory (after gc when it runs with --expose-gc and `gc` is true) and
 * connection count.
 */
export function serverStats (server: RunningServer, gc = true): Promise<ServerStats> {
  const answer = server.child.message((m) => {
    const msg = asMessage(m)
    return msg?.type === 'stats' ? msg.stats : undefined
  }, STATS_TIMEOUT_MS)
  server.child.send({ type: 'stats', gc })
  return answer
}

/** The port of `transport`, or an error naming the server. */
export function portOf (server: RunningServer, transport: keyof Ports): number {
  const port = server.ports[transport]
  if (port === undefined) throw new Error(`${server.spec.name} does not serve ${transport}`)
  return port
}
