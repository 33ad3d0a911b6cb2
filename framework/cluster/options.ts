/** Options of the dispatch cluster (`config/cluster.ts`), with their defaults. */
import type { LinkTlsConfig } from '../transport/tls.js'

/** `config/cluster.ts`: the dispatch cluster (`sd start --cluster` / `--dispatch`; docs/cluster.md). */
export interface ClusterConfig {
  /** Join the cluster (`sd start --cluster`); env `SD_CLUSTER=1`. @default false */
  enabled: boolean
  /** Cluster name: the `{hash tag}` of every registry key in Redis; env `SD_CLUSTER_NAME`. @default the app name */
  name: string
  /** Shared secret of the links (16 bytes or more); env `SD_CLUSTER_SECRET` (keep it out of files). @default '' */
  secret: string
  /** Interface a dispatch server listens on (loopback: set it, or env `SD_HOST`, to link servers of other machines). @default '127.0.0.1' */
  dispatchHost: string
  /** Link port of a dispatch server; env `SD_DISPATCH_PORT`. @default 9991 */
  dispatchPort: number
  /**
   * A dispatch server also listens on this unix socket, for servers of the same machine
   * (`dispatchers: ['unix:<path>']`), besides its TCP port; relative to the app root; env
   * `SD_DISPATCH_PATH`. Empty: no socket. @default ''
   */
  dispatchPath: string
  /** Host servers are told to link to (published in Redis); env `SD_ADVERTISE_HOST`. @default '127.0.0.1' when dispatchHost is a wildcard or loopback, else dispatchHost */
  advertiseHost: string
  /** Static dispatcher list (`'host:port'`, or `'unix:/path'` for one on this machine) instead of discovery through Redis. @default [] */
  dispatchers: string[]
  /** How servers reach each other: `dispatch` (links to dispatch servers), `redis` (Redis pub/sub, no dispatch server needed), or a carrier registered with `registerCarrier`; env `SD_CLUSTER_CARRIER`. @default 'dispatch' */
  carrier: string
  /** Node record heartbeat period. @default 1000 */
  heartbeatMs: number
  /** Life of a node record without heartbeat; a dead node is purged about this long after it died. @default 3000 */
  ttlMs: number
  /** Discovery and dead-node checks period. @default 500 */
  pollMs: number
  /** A cross-server call without every reply after this long fails with SD_ERR_CLUSTER_UNAVAILABLE. @default 5000 */
  requestTimeoutMs: number
  /** A request without every reply after this long is sent again (deduplicated by the receiver). @default 1000 */
  retryMs: number
  /** How long a uid → nodes lookup is reused (changes are also announced to every server). @default 2000 */
  uidCacheMs: number
  /**
   * Read-only Redis replicas of the registry's Redis (`redis://host:port`, `host:port` or
   * `unix:/path/to/redis.sock`), nearest first: a server reads uid and group lookups from the
   * first one that is up and current; writes, scripts and the confirmation of "offline" stay on
   * the primary. Env `SD_REGISTRY_REPLICAS` (comma-separated). @default []
   */
  registryReplicas: string[]
  /** A replica lagging more than this behind the primary is skipped (lag measured by stamps every quarter of it). @default 1000 */
  registryReplicaMaxLagMs: number
  /**
   * TLS of the links: dispatch links (a dispatch server serves it, servers connect with it) and
   * the gateway's link port and its workers' links. PEM file paths (relative to the app root);
   * `ca` checks the peer's certificate. Unix-socket links stay plain. @default undefined (plain)
   */
  tls?: LinkTlsConfig
}

/** Defaults of `config.cluster`. */
export function clusterDefaults (): ClusterConfig {
  return {
    enabled: false, name: '', secret: '', dispatchHost: '127.0.0.1', dispatchPort: 9991, dispatchPath: '', advertiseHost: '', dispatchers: [], carrier: 'dispatch',
    heartbeatMs: 1000, ttlMs: 3000, pollMs: 500, requestTimeoutMs: 5000, retryMs: 1000, uidCacheMs: 2000,
    registryReplicas: [], registryReplicaMaxLagMs: 1000,
  }
}
