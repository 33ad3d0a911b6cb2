/**
 * SD for Node.js: the public API. Applications import only from here.
 */
export { Application, createApp, type AppStatus, type CreateAppOptions } from './core/application.js'
export { Controller, type ControllerClass, type HttpExchange } from './core/controller.js'
export {
  defineConfig, defaultConfig, loadConfig,
  type Config, type ConfigInput, type AppConfig, type ServerConfig, type SocketPortConfig, type HttpConfig, type WsConfig,
  type RoutesConfig, type RouteSpec, type TransportName, type Framing, type PackName, type TasksConfig, type ViewsConfig,
} from './core/config.js'
export { SdError, AppError, errorCodes, type ErrorCode, type ErrorBody } from './core/errors.js'
export type { Hooks, HookName, Middleware } from './core/hooks.js'
export type { Bus, BindOptions, SendOptions, Uid } from './connection/bus.js'
export { Model, type ModelClass, type DataServices } from './data/model.js'
export type { MysqlConfig } from './data/mysql.js'
export { Migrations, type MigrationRun, type MigrationStatus } from './data/migrations.js'
export type { Knex } from 'knex'
export type { RedisConfig, RedisClient } from './data/redis.js'
export type { Connection } from './connection/connection.js'
export type { ListenAddress, Transport } from './transport/transport.js'
