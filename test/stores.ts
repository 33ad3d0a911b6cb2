/**
 * The real MariaDB and Redis of this machine for tests (MYSQL_URL / REDIS_URL override): a
 * database and a key prefix of a test file's own, removed at the end.
 */
import knex, { type Knex } from 'knex'
import { Redis } from 'ioredis'

/** Server URL of the shared MariaDB. */
export const mysqlBaseUrl = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test'
/** URL of the shared Redis. */
export const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

/** A database of one test file's own. */
export interface TestDatabase {
  name: string
  /** URL of the database. */
  url: string
  /** knex on it (closed by `drop`). */
  knex: Knex
  /** Drops the database and closes every connection. */
  drop (): Promise<void>
}

/** Creates `sd_test_<label>_<pid>` (utf8mb4). */
export async function createTestDatabase (label: string): Promise<TestDatabase> {
  const name = `sd_test_${label}_${process.pid}`
  const u = new URL(mysqlBaseUrl)
  u.pathname = `/${name}`
  const admin = knex({ client: 'mysql2', connection: mysqlBaseUrl })
  await admin.raw(`CREATE DATABASE IF NOT EXISTS \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`)
  const db = knex({ client: 'mysql2', connection: u.href })
  return {
    name,
    url: u.href,
    knex: db,
    async drop () {
      await db.destroy()
      await admin.raw(`DROP DATABASE IF EXISTS \`${name}\``)
      await admin.destroy()
    },
  }
}

/** A key prefix of one test file's own: `sd-test-<label>-<pid>:`. */
export function testKeyPrefix (label: string): string {
  return `sd-test-${label}-${process.pid}:`
}

/** Deletes every key under `prefix` on the shared Redis. */
export async function deleteRedisKeys (prefix: string): Promise<void> {
  const r = new Redis(redisUrl)
  try {
    const keys = await r.keys(`${prefix}*`)
    if (keys.length > 0) await r.del(...keys)
  } finally {
    await r.quit()
  }
}

/** A plain ioredis client on the shared Redis, for checking what a test wrote. */
export function rawRedis (): Redis {
  return new Redis(redisUrl)
}
