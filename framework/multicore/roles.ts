/**
 * Process roles of `sd start` (issue 18): in direct mode every process is a `server` (client
 * ports and controllers); in split mode one `gateway` holds the client ports and `worker`
 * processes run the application behind it, linked to it. This file says which slots a mode
 * has, the environment each role's process gets (read by server/'s config: `SD_ROLE`,
 * `SD_GATEWAYS`, `SD_GATEWAY_SECRET`) and the node name of a business worker.
 */
import { randomBytes } from 'node:crypto'

/** What one slot of the primary runs. */
export type SlotRole = 'server' | 'gateway' | 'worker'

/**
 * How the primary splits its processes: `direct` (N servers, today's), `split` (one gateway,
 * then N workers), `gateway` (the gateway alone), `worker` (N workers for gateways elsewhere).
 */
export type PrimaryMode = 'direct' | 'split' | 'gateway' | 'worker'

/** The gateway's slot number (workers and servers are 1..N). */
export const GATEWAY_SLOT = 0

/** The slots of a mode, the gateway first. */
export function slotRoles (mode: PrimaryMode, workers: number): Array<[n: number, role: SlotRole]> {
  const numbered = (role: SlotRole): Array<[number, SlotRole]> => Array.from({ length: workers }, (_, i) => [i + 1, role])
  switch (mode) {
    case 'direct': return numbered('server')
    case 'split': return [[GATEWAY_SLOT, 'gateway'], ...numbered('worker')]
    case 'gateway': return [[GATEWAY_SLOT, 'gateway']]
    case 'worker': return numbered('worker')
  }
}

/**
 * The link secret of a split run: `SD_GATEWAY_SECRET`, else `SD_CLUSTER_SECRET`, else a random
 * one (32 bytes, hex) that only this run's gateway and workers know.
 */
export function runSecret (env: Record<string, string | undefined> = process.env): string {
  return env.SD_GATEWAY_SECRET || env.SD_CLUSTER_SECRET || randomBytes(32).toString('hex')
}

/** What a role's environment depends on. */
export interface RoleEnvOptions {
  /**
   * The local gateway's link port, once it served: workers get `SD_GATEWAYS=127.0.0.1:<port>`,
   * and a restarted gateway `SD_GATEWAY_PORT=<port>`, so that workers' address stays right
   * even when the first one was given port 0 (a free one).
   */
  gatewayPort?: number
  /** The run's link secret (split mode), given to the gateway and its workers. */
  secret?: string
  /** False when the secret was made for this run: no other worker could join, so the gateway is not announced in Redis (`SD_GATEWAY_ANNOUNCE=0`). @default true */
  announce?: boolean
}

/**
 * Environment added for a process of `role`. A server gets nothing (direct mode unchanged); a
 * worker is never a cluster node (`SD_CLUSTER=0`: the gateway is the node, workers reach other
 * gateways' clients through it).
 */
export function roleEnv (role: SlotRole, options: RoleEnvOptions = {}): Record<string, string> {
  if (role === 'server') return {}
  const env: Record<string, string> = { SD_ROLE: role }
  if (options.secret !== undefined) env.SD_GATEWAY_SECRET = options.secret
  if (role === 'gateway' && options.gatewayPort !== undefined) env.SD_GATEWAY_PORT = String(options.gatewayPort)
  if (role === 'gateway' && options.announce === false) env.SD_GATEWAY_ANNOUNCE = '0'
  if (role === 'worker') {
    env.SD_CLUSTER = '0'
    if (options.gatewayPort !== undefined) env.SD_GATEWAYS = `127.0.0.1:${options.gatewayPort}`
  }
  return env
}

/** What a process's node name is built from. */
export interface NodeNameInput {
  /** The process environment (`SD_ROLE`, `SD_CLUSTER`, `SD_NODE_NAME`, `SD_WORKERS`, `SD_WORKER_SLOT`, `SD_WORKER_GENERATION`). */
  env: Record<string, string | undefined>
  hostname: string
  /** The primary's pid. */
  ppid: number
  /** node:cluster's worker id (when there is no slot). */
  id: number
}

/**
 * The node name a worker process sets (`SD_NODE_NAME`), or undefined to keep the config's.
 * A business worker: `<hostname>-<primary pid>-w<slot>`, or `<SD_NODE_NAME>-w<slot>` when the
 * user named the run. A cluster node (a server or gateway with `SD_CLUSTER=1`): the usual name,
 * `-<slot>` with several. Both add `~<generation>` for a replacement (reload, restart): during a
 * reload old and new run at once and names (and connection ids) must not collide.
 */
export function processNodeName ({ env, hostname, ppid, id }: NodeNameInput): string | undefined {
  const generation = Number(env.SD_WORKER_GENERATION ?? 0)
  const slot = env.SD_WORKER_SLOT ?? String(id)
  let name: string
  if (env.SD_ROLE === 'worker') {
    name = `${env.SD_NODE_NAME || `${hostname}-${ppid}`}-w${slot}`
  } else if (env.SD_CLUSTER === '1') {
    name = env.SD_NODE_NAME || `${hostname}-${ppid}`
    if (Number(env.SD_WORKERS ?? 1) > 1 && env.SD_ROLE !== 'gateway') name += `-${slot}`
  } else {
    return undefined
  }
  return generation > 0 ? `${name}~${generation}` : name
}
