/** Options of the gateway/worker split (`config/gateway.ts`), with their defaults. */

/** What this process is: today's single process (`direct`), a gateway, or a business worker. */
export type GatewayRole = 'direct' | 'gateway' | 'worker'

/** How a gateway picks the worker of a request. */
export type GatewayRouting = 'least-busy' | 'sticky'

/** `config/gateway.ts`: the gateway/worker split (`sd start --split`, `--gateway`, `--worker`). */
export interface GatewayConfig {
  /** This process's role; env `SD_ROLE` (`gateway` or `worker`; absent: `direct`). @default 'direct' */
  role: GatewayRole
  /** Interface the gateway's link port listens on (set `0.0.0.0` for workers of other machines); env `SD_GATEWAY_HOST`. @default '127.0.0.1' */
  host: string
  /** The gateway's link port (workers connect to it); env `SD_GATEWAY_PORT`. @default 9992 */
  port: number
  /** Static gateway list of a worker (`'host:port'`); env `SD_GATEWAYS` (comma-separated). Empty: discover gateways through Redis. @default [] */
  addresses: string[]
  /** Shared secret of the links (16 bytes or more); env `SD_GATEWAY_SECRET`. Empty: `cluster.secret` (`SD_CLUSTER_SECRET`). @default '' */
  secret: string
  /** How long a request waits at the gateway for a ready worker before `SD_ERR_NO_WORKER`. @default 10000 */
  workerWaitMs: number
  /** Most requests waiting for a worker at once; past it a request gets `SD_ERR_NO_WORKER` at once. @default 10000 */
  maxWaiting: number
  /** `least-busy` (fewest requests in flight, ties in turn) or `sticky` (a connection keeps its first worker while it is ready). @default 'least-busy' */
  routing: GatewayRouting
  /** How often a worker lists gateways (static list or Redis registry) to link new ones. @default 1000 */
  discoveryIntervalMs: number
  /**
   * Announce this gateway in the Redis registry (when Redis is configured) so `sd start --worker`
   * on other machines finds it; env `SD_GATEWAY_ANNOUNCE` (`0`/`1`). `sd start --split` turns it
   * off when it made its own secret (no other worker could join). @default true
   */
  announce: boolean
  /** Host workers of other machines connect to, as announced; empty: `host`, or this machine's first external IPv4 address when `host` is a wildcard. @default '' */
  advertiseHost: string
}

/** Defaults of `config.gateway`. */
export function gatewayDefaults (): GatewayConfig {
  return {
    role: 'direct', host: '127.0.0.1', port: 9992, addresses: [], secret: '',
    workerWaitMs: 10000, maxWaiting: 10000, routing: 'least-busy', discoveryIntervalMs: 1000,
    announce: true, advertiseHost: '',
  }
}

/** Allowed values of the enum keys, by config path. */
export const gatewayEnums: Record<string, readonly string[]> = {
  'gateway.role': ['direct', 'gateway', 'worker'],
  'gateway.routing': ['least-busy', 'sticky'],
}

/** Where a worker links to. */
export interface GatewayAddress {
  host: string
  port: number
}

/** Lists the gateways a worker should be linked to (a static list, or the Redis registry). */
export interface GatewayDirectory {
  list (): Promise<GatewayAddress[]>
}

/** Parses `'host:port'`; undefined when malformed. */
export function parseGatewayAddress (text: string): GatewayAddress | undefined {
  const at = text.lastIndexOf(':')
  if (at <= 0) return undefined
  const port = Number(text.slice(at + 1))
  if (!Number.isInteger(port) || port <= 0 || port > 65535) return undefined
  return { host: text.slice(0, at).replace(/^\[|\]$/g, ''), port }
}

/** `gateway.addresses` as a directory: always the same list. */
export function staticDirectory (addresses: readonly string[]): GatewayDirectory {
  const list: GatewayAddress[] = []
  for (const a of addresses) {
    const parsed = parseGatewayAddress(a)
    if (parsed) list.push(parsed)
  }
  return { list: async () => list }
}
