/**
 * The configuration's types: the sections each module owns, combined. Kept apart from
 * config.ts (loading and checking) so config-files.ts can name them without a cycle.
 */
import type { ClusterConfig } from '../cluster/options.js'
import type { AuthConfig } from '../connection/auth-options.js'
import type { ConnectionOptions } from '../connection/options.js'
import type { RecoveryConfig } from '../connection/recovery-options.js'
import type { RoutesConfig } from '../core/router.js'
import type { MysqlConfig } from '../data/mysql.js'
import type { RedisConfig } from '../data/redis.js'
import type { GatewayConfig } from '../gateway/options.js'
import type { TasksConfig } from '../task/options.js'
import type { TimersConfig } from '../timer/spec.js'
import type { TransportOptions, TransportPortOptions } from '../transport/options.js'
import type { ViewsConfig } from '../view/options.js'
import type { AppConfig, ServerOwnOptions } from './options.js'
import type { AdminConfig } from '../admin/guard.js'
import type { MetricsConfig } from '../metrics/options.js'

/** `config/server.ts`: ports (one key per registered transport), heartbeats and limits. */
export interface ServerConfig extends TransportPortOptions, TransportOptions, ConnectionOptions, ServerOwnOptions {}

/** The whole configuration after defaults, files and overrides. */
export interface Config {
  app: AppConfig
  server: ServerConfig
  routes: RoutesConfig
  /** `config/timers.ts`: name → timer (see docs/timers.md). */
  timers: TimersConfig
  mysql: MysqlConfig
  redis: RedisConfig
  tasks: TasksConfig
  views: ViewsConfig
  cluster: ClusterConfig
  /** `config/gateway.ts`: the gateway/worker split (docs/gateway.md). */
  gateway: GatewayConfig
  /** `config/recovery.ts`: history of recoverable pushes, acknowledgements (docs/configuration.md). */
  recovery: RecoveryConfig
  /** `config/admin.ts`: who may call admin actions (docs/security.md). */
  admin: AdminConfig
  /** `config/auth.ts`: client authentication (JWT or a hook), public routes, timeout and expiry (docs/security.md). */
  auth: AuthConfig
  /** `config/metrics.ts`: Prometheus metrics on or off (docs/metrics.md). */
  metrics: MetricsConfig
  /** Sections SD does not know are kept for the app (e.g. `config/chat.ts`). */
  [section: string]: unknown
}

/** Sections whose keys are checked against the defaults. */
export const checkedSections = ['app', 'server', 'mysql', 'redis', 'tasks', 'views', 'cluster', 'gateway', 'recovery', 'admin', 'auth', 'metrics'] as const
type CheckedSection = typeof checkedSections[number]

/** Deep partial, for config files and overrides. */
export type DeepPartial<T> = { [K in keyof T]?: T[K] extends (...args: never[]) => unknown ? T[K] : T[K] extends object ? DeepPartial<T[K]> : T[K] }

/** Input accepted for the known sections. */
export type ConfigInput = { [K in CheckedSection]?: DeepPartial<Config[K]> } & { routes?: RoutesConfig, timers?: TimersConfig, [section: string]: unknown }

// core's view of the configuration is this whole Config (see core/contract.ts)
declare module '../core/contract.js' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface AppConfigView extends Config {}
}
