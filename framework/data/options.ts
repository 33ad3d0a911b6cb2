/** Defaults of the data layer's options (`config/mysql.ts`, `config/redis.ts`; types in mysql.ts, redis.ts). */
import type { MysqlConfig } from './mysql.js'
import type { RedisConfig } from './redis.js'

/** Defaults of `config.mysql`. */
export function mysqlDefaults (): MysqlConfig {
  return {
    url: '', poolMin: 0, poolMax: 10, acquireTimeoutMs: 5000, queryTimeoutMs: 10_000, replicas: [],
    migrationsDir: 'app/migrations', seedsDir: 'app/seeds', migrationsTable: 'sd_migrations',
  }
}

/** Defaults of `config.redis`. */
export function redisDefaults (): RedisConfig {
  return { url: '', path: '', cluster: [], sentinels: [], sentinelName: 'mymaster', keyPrefix: 'sd:', maxRetriesPerRequest: 1, connectTimeoutMs: 5000, reconnectMaxDelayMs: 1000 }
}
