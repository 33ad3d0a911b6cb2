/**
 * The application's contract: what controllers, hooks and timers may ask of a running
 * application, declared here so core needs nothing from the layers that implement it. The
 * layers above fill in three open declarations by module augmentation (as fastify plugins do):
 * `TransportNames` (each transport adds its name), `AppConfigView` (server/config.ts adds the
 * whole `Config`) and `NodeStats` (server adds the cluster figures).
 */
import type { Logger } from 'pino'

/**
 * Names of the transports messages can arrive on, one key per registered transport
 * (`declare module '.../core/contract.js' { interface TransportNames { tcp: true } }`).
 */
export interface TransportNames {
  /** The pipeline's HTTP entry (core/pipeline.ts) names its requests `http`. */
  http: true
}

/** Name of a transport messages can arrive on (`tcp`, `text`, `http`, `ws`, or a registered one). */
export type TransportName = keyof TransportNames & string

/** The configuration as controllers and timers see it; server/config.ts merges its `Config` in. */
export interface AppConfigView {
  /** Sections SD does not know are kept for the app (e.g. `config/chat.ts`). */
  readonly [section: string]: unknown
}

/** Lifecycle of an application. */
export type AppStatus = 'created' | 'starting' | 'running' | 'closing' | 'closed'

/** What `Application.stats()` (and `this.nodeStats()`) reports. */
export interface NodeStats {
  node: string
  pid: number
  status: AppStatus
  uptimeMs: number
  /** Open connections by transport (HTTP requests are not connections). */
  connections: Partial<Record<TransportName, number>>
  rssBytes: number
  heapUsedBytes: number
}

/** Options of a push. */
export interface SendOptions {
  /** Connection ids to leave out of a group or all broadcast: one or several. */
  exclude?: string | readonly string[]
  /**
   * Keep the push in its stream's history (`uid:<uid>`, `group:<group>`) so a client that
   * reconnects receives it (sendToUid, sendToUids, sendToGroup). @default config `recovery.uids` / `recovery.groups`
   */
  recover?: boolean
  /**
   * sendToUid only: ask every connection of the uid to acknowledge (implies `recover`); the call
   * then resolves to how many connections acknowledged within `timeoutMs`. @default false
   */
  ack?: boolean
  /** How long `ack` waits for acknowledgements. @default 5000 */
  timeoutMs?: number
}

/** Options of `bindUid`. */
export interface BindOptions {
  /** Close the uid's other connections (cluster-wide) with `SD_ERR_KICKED`. @default false */
  kick?: boolean
}

/** A uid as the bus keys it: numbers become strings. */
export type Uid = string | number

/** A client connection as core sees it (connection/connection.ts's `Connection` is one). */
export interface ConnectionRef {
  /** Unique id (`this.connectionId` in controllers). */
  readonly id: string
  readonly transport: TransportName
  /** Uid bound with `bindUid`, if any. */
  readonly uid: string | undefined
  /** Per-connection session object. */
  readonly session: Record<string, unknown>
  /** The client's address (as the socket saw it), when the connection knows it. */
  readonly remoteAddress?: string
  /** Pushes data to this connection; false when it was dropped. */
  push (data: unknown): boolean
  /** Closes it after what is already queued is sent. */
  close (): void
}

/**
 * Pushes and cluster-wide queries that need no caller: the one declaration of these calls,
 * forwarded as they are by controllers and timers (`forwardBusCalls`).
 */
export interface BusCalls {
  /** Pushes to one connection by id (`this.connectionId` of another request), on any node; resolves to 1 or 0. */
  sendToConnection (connectionId: string, data: unknown, options?: SendOptions): Promise<number>
  /** Pushes to every connection of `uid`; resolves to how many got it (with `ack`: how many acknowledged). */
  sendToUid (uid: Uid, data: unknown, options?: SendOptions): Promise<number>
  /** Pushes to every connection of each uid. */
  sendToUids (uids: readonly Uid[], data: unknown, options?: SendOptions): Promise<number>
  /** Pushes to every connection, minus `exclude`. */
  sendToAll (data: unknown, options?: SendOptions): Promise<number>
  /** Pushes to every member of `group`, minus `exclude`. */
  sendToGroup (group: string, data: unknown, options?: SendOptions): Promise<number>
  /** Closes one connection by id, on any node, with `SD_ERR_KICKED`; false when it is not open. */
  closeConnection (connectionId: string, reason?: string): Promise<boolean>
  /** Closes every connection of `uid`; resolves to how many were closed. */
  kickUid (uid: Uid, reason?: string): Promise<number>
  /** True when `uid` has a connection anywhere. */
  isUidOnline (uid: Uid): Promise<boolean>
  /** Distinct uids online. */
  onlineCount (): Promise<number>
  /** Distinct uids bound in `group`. */
  groupMembers (group: string): Promise<string[]>
  /** Connections in `group` (bound or not). */
  groupCount (group: string): Promise<number>
  /** Groups with at least one member. */
  groups (): Promise<string[]>
}

/** Names of the `BusCalls` methods, for `forwardBusCalls`. */
const busCallNames = [
  'sendToConnection', 'sendToUid', 'sendToUids', 'sendToAll', 'sendToGroup', 'closeConnection',
  'kickUid', 'isUidOnline', 'onlineCount', 'groupMembers', 'groupCount', 'groups',
] as const satisfies ReadonlyArray<keyof BusCalls>

/**
 * The bus as controllers call it: `BusCalls` plus the calls about one connection. The
 * connection layer's `Bus` has the same methods (with its `Connection` for `ConnectionRef`).
 */
export interface BusApi extends BusCalls {
  bindUid (conn: ConnectionRef, uid: Uid, options?: BindOptions): Promise<void>
  unbindUid (conn: ConnectionRef): Promise<void>
  joinGroup (conn: ConnectionRef, group: string): Promise<void>
  leaveGroup (conn: ConnectionRef, group: string): Promise<void>
  /** Connections per transport of the whole server, when it has several worker processes (else undefined: ask this process). */
  serverConnections? (): Promise<Record<string, number> | undefined>
}

/** What a controller (and a timer) needs from the application. */
export interface ControllerHost {
  readonly bus: BusApi
  readonly log: Logger
  readonly config: AppConfigView
  stats (): NodeStats
}

/** The application as hooks see it (`onStart`, `onStop`, `onNodeGone`). */
export interface AppContract extends ControllerHost {
  readonly status: AppStatus
}

/**
 * Puts the `BusCalls` methods on a class's prototype, each forwarding to the instance's bus
 * (`bus(this)`) as it is. Declare them with `interface X extends BusCalls {}` next to the class.
 */
export function forwardBusCalls<T> (cls: { prototype: T }, bus: (self: T) => BusCalls): void {
  const proto = cls.prototype as Record<string, unknown>
  for (const name of busCallNames) {
    Object.defineProperty(proto, name, {
      configurable: true,
      writable: true,
      // three fixed parameters (the most any call takes): no rest array per call
      value: function (this: T, a: unknown, b: unknown, c: unknown): unknown {
        const target = bus(this) as unknown as Record<string, (a: unknown, b: unknown, c: unknown) => unknown>
        return target[name](a, b, c)
      },
    })
  }
}
