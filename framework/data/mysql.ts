/**
 * MySQL through knex + mysql2: one primary pool per process (created on first use, closed on
 * shutdown) and optional read replicas. Every connection gets a server-side statement timeout,
 * so a slow query ends with `SD_ERR_DB_TIMEOUT` instead of holding its connection.
 */
import knex, { type Knex } from 'knex'
import type { Logger } from 'pino'
import { SdError } from '../core/errors.js'

/** `config/mysql.ts`. */
export interface MysqlConfig {
  /** `mysql://user:pass@host:port/db`; env `MYSQL_URL`. Empty: MySQL is off. @default '' */
  url: string
  /** Connections kept open. @default 0 */
  poolMin: number
  /** Most connections open at once. @default 10 */
  poolMax: number
  /** How long a query waits for a free connection before `SD_ERR_DB_POOL_EXHAUSTED`. @default 5000 */
  acquireTimeoutMs: number
  /** Statement timeout set on every connection (`SD_ERR_DB_TIMEOUT`); 0: none. @default 10000 */
  queryTimeoutMs: number
  /** Read replicas (URLs); `read` queries go to them in turn. @default [] */
  replicas: string[]
  /** Migration files (`sd migrate`), relative to the app root. @default 'app/migrations' */
  migrationsDir: string
  /** Seed files (`sd seed`), relative to the app root. @default 'app/seeds' */
  seedsDir: string
  /** Table that records which migrations ran. @default 'sd_migrations' */
  migrationsTable: string
}

type MysqlDriverError = Error & { code?: string, errno?: number }

/** A pool that remembers its last failure to connect (0 once a connect succeeds), to tell "down" from "busy". */
interface Pool {
  readonly knex: Knex
  lastConnectFailure: number
}

function createPool (url: string, config: MysqlConfig, log: Logger): Pool {
  const seconds = config.queryTimeoutMs / 1000
  const pool: Pool = {
    knex: knex({
      client: 'mysql2',
      connection: url,
      acquireConnectionTimeout: config.acquireTimeoutMs,
      log: {
        warn: (m: unknown) => log.warn({ knex: m }, 'knex warning'),
        error: (m: unknown) => log.error({ knex: m }, 'knex error'),
        deprecate: (m: unknown) => log.warn({ knex: m }, 'knex deprecation'),
        debug: (m: unknown) => log.debug({ knex: m }, 'knex debug'),
      },
      pool: {
        min: config.poolMin,
        max: config.poolMax,
        afterCreate: (conn: { query: (sql: string, cb: (err: Error | null) => void) => void }, done: (err: Error | null, conn: unknown) => void) => {
          if (seconds <= 0) return done(null, conn)
          // MariaDB: max_statement_time (s); MySQL: max_execution_time (ms, SELECT only).
          conn.query(`SET SESSION max_statement_time = ${seconds}`, (err) => {
            if (!err) return done(null, conn)
            conn.query(`SET SESSION max_execution_time = ${config.queryTimeoutMs}`, () => done(null, conn))
          })
        },
      },
    }),
    lastConnectFailure: 0,
  }
  // A pool timeout after failed connects looks like a busy pool; remembering connect failures
  // (tarn's public createFail event) tells "down" from "busy" when errors are mapped.
  // A successful connect clears it, so a busy pool after an outage is reported as busy.
  const tarn = (pool.knex.client as { pool?: { on: (event: 'createFail' | 'createSuccess', fn: (id: unknown, err: Error) => void) => void } }).pool
  tarn?.on('createFail', (_id, err) => {
    pool.lastConnectFailure = Date.now()
    log.warn({ err: err.message }, 'MySQL connection failed')
  })
  tarn?.on('createSuccess', () => { pool.lastConnectFailure = 0 })
  return pool
}

/**
 * Maps driver and pool errors to SD codes; other errors are returned as they are.
 * `lastConnectFailure` (ms) tells a pool timeout caused by a server that is down from a busy pool.
 */
export function toDbError (err: unknown, lastConnectFailure = 0): unknown {
  if (err instanceof SdError) return err
  const e = err as MysqlDriverError
  if (e?.name === 'KnexTimeoutError' && /acquiring a connection/i.test(e.message)) {
    const down = Date.now() - lastConnectFailure < 2 * 60_000
    return down
      ? new SdError('SD_ERR_DB_UNAVAILABLE', 'MySQL cannot be reached', { cause: err })
      : new SdError('SD_ERR_DB_POOL_EXHAUSTED', 'no free connection in time', { cause: err })
  }
  if (e?.errno === 1969 || e?.errno === 3024 || e?.code === 'ER_STATEMENT_TIMEOUT' || e?.code === 'ER_QUERY_TIMEOUT') {
    return new SdError('SD_ERR_DB_TIMEOUT', 'statement timeout', { cause: err })
  }
  if (['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'PROTOCOL_CONNECTION_LOST', 'ECONNRESET', 'EPIPE'].includes(e?.code ?? '')) {
    return new SdError('SD_ERR_DB_UNAVAILABLE', 'MySQL cannot be reached; try again later', { cause: err })
  }
  return err
}

/** What tarn (knex's pool) tells of itself. */
interface TarnCounts { numUsed (): number, numFree (): number, numPendingAcquires (): number }

/** One MySQL pool at one instant (metrics). */
export interface MysqlPoolState {
  role: 'primary' | 'replica'
  /** Connections lent out, idle, and acquires waiting for one. */
  used: number
  free: number
  pending: number
}

/** The MySQL pools of one process. */
export class Mysql {
  readonly #config: MysqlConfig
  readonly #log: Logger
  #primary: Pool | undefined
  #replicas: Pool[] | undefined
  #next = 0

  constructor (config: MysqlConfig, log: Logger) {
    this.#config = config
    this.#log = log
  }

  /** True when a URL is configured. */
  get configured (): boolean {
    return this.#config.url !== ''
  }

  /** knex on the primary: writes, transactions, and reads that must see them. */
  get primary (): Knex {
    if (!this.configured) throw new SdError('SD_ERR_DB_UNAVAILABLE', 'MySQL is not configured (config/mysql.ts or MYSQL_URL)')
    this.#primary ??= createPool(this.#config.url, this.#config, this.#log)
    return this.#primary.knex
  }

  /** knex on a read replica (in turn), or the primary when there is none. */
  get reader (): Knex {
    if (this.#config.replicas.length === 0) return this.primary
    this.#replicas ??= this.#config.replicas.map((url) => createPool(url, this.#config, this.#log))
    return this.#replicas[this.#next++ % this.#replicas.length].knex
  }

  /** `toDbError` with this process's pools' connect history. */
  mapError (err: unknown): unknown {
    const pools = [this.#primary, ...(this.#replicas ?? [])]
    return toDbError(err, Math.max(0, ...pools.map((p) => p?.lastConnectFailure ?? 0)))
  }

  /** State of the pools made so far (none is made for this: a pool opens on first use). */
  pools (): MysqlPoolState[] {
    const out: MysqlPoolState[] = []
    const add = (pool: Pool | undefined, role: MysqlPoolState['role']): void => {
      const tarn = (pool?.knex.client as { pool?: TarnCounts } | undefined)?.pool
      if (tarn) out.push({ role, used: tarn.numUsed(), free: tarn.numFree(), pending: tarn.numPendingAcquires() })
    }
    add(this.#primary, 'primary')
    for (const replica of this.#replicas ?? []) add(replica, 'replica')
    return out
  }

  /** Closes every pool (on shutdown). */
  async close (): Promise<void> {
    const pools = [this.#primary, ...(this.#replicas ?? [])].filter((p): p is Pool => p !== undefined)
    this.#primary = undefined
    this.#replicas = undefined
    await Promise.all(pools.map((p) => p.knex.destroy()))
  }
}
