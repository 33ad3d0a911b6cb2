/**
 * SD for Node.js: the public API. Applications import only from here.
 */
import type { AppContract } from './core/contract.js'
import type { BaseController } from './core/controller.js'
import type { Hooks as CoreHooks, Middleware as CoreMiddleware } from './core/hooks.js'
import type { Application } from './server/application.js'
import type { Controller } from './server/controller.js'
export { Application } from './server/application.js'
export type { AppStatus, NodeStats, AppContract, ControllerHost, BusApi, BusCalls, ConnectionRef, TransportNames, AppConfigView } from './core/contract.js'
export { createApp, type CreateAppOptions } from './server/create-app.js'
export { Html } from './view/views.js'
export type { Schema } from './core/validation.js'
export { BaseController, type ControllerClass, type HttpExchange } from './core/controller.js'
export { Controller, type ServerHost } from './server/controller.js'
export {
  defineConfig, defaultConfig, loadConfig, type ConfigSections,
  type Config, type ConfigInput, type AppConfig, type ServerConfig, type SocketPortConfig, type HttpConfig, type WsConfig,
  type RoutesConfig, type RouteSpec, type TransportName, type Framing, type PackName, type TasksConfig, type ViewsConfig,
} from './server/config.js'
export { SdError, AppError, errorCodes, type ErrorCode, type ErrorBody } from './core/errors.js'
export type { HookName } from './core/hooks.js'

/** Application hooks as apps add them: with the full `Controller` and `Application` (core's are generic over both). */
export type Hooks<C extends BaseController = Controller, A extends AppContract = Application> = CoreHooks<C, A>
/** Middleware around every action, with the full `Controller`. */
export type Middleware<C extends BaseController = Controller> = CoreMiddleware<C>
export type { Bus, BindOptions, SendOptions, Uid } from './connection/bus.js'
export { Model, type ModelClass, type DataServices } from './data/model.js'
export type { MysqlConfig } from './data/mysql.js'
export { Migrations, type MigrationRun, type MigrationStatus } from './data/migrations.js'
export type { Knex } from 'knex'
export type { RedisConfig, RedisClient } from './data/redis.js'
export type { Connection } from './connection/connection.js'
export { Timer, type TimerClass, type TimerTick } from './timer/timer.js'
export type { Timers, TimersStatus } from './timer/timers.js'
export type { TimerRunner, RunnerStatus } from './timer/runner.js'
export type { TimerSpec, TimersConfig, Duration, TimePoint } from './timer/spec.js'
export { Task, type TaskClass, type TaskServices } from './task/task.js'
export type { TaskProxy, TaskMethod, TaskCallOptions } from './task/proxy.js'
export type { Tasks } from './task/tasks.js'
export type { TaskPool, TaskPoolStatus } from './task/pool.js'
export type { TaskRegistry, TaskRef } from './task/registry.js'
export type { ListenAddress, Transport, TransportHost } from './transport/transport.js'
export { registerTransport, type TransportEntry } from './transport/registry.js'
export { registerCarrier, type CarrierContext, type CarrierFactory } from './cluster/carriers.js'
export type { Carrier, CarrierRoute, CarrierEvents, RouteInfo } from './cluster/carrier.js'
export type { GatewayConfig, GatewayRole, GatewayRouting, GatewayAddress, GatewayDirectory } from './gateway/options.js'
export type { PortOptions, TransportPortOptions } from './transport/options.js'
