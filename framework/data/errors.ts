/**
 * Maps MySQL, pool and Redis failures to SD codes, so a client gets `SD_ERR_DB_*` /
 * `SD_ERR_REDIS_UNAVAILABLE` with a plain message (and the server logs no stack) when a backing
 * store is down, slow or saturated. The library's own text (ioredis's "Reached the max retries
 * per request limit…", a driver's error code) stays in `cause` and goes to the log, through
 * `DataErrorLog`, at most once per interval per code.
 */
import type { Logger } from 'pino'
import { SdError } from '../core/errors.js'
import { toDbError, type Mysql } from './mysql.js'

const redisDown = new Set(['MaxRetriesPerRequestError', 'ClusterAllFailedError'])

/** The SD error for a data-layer failure, or `err` unchanged; `mysql` knows its connect history. */
export function toDataError (err: unknown, mysql?: Mysql): unknown {
  const db = mysql ? mysql.mapError(err) : toDbError(err)
  if (db !== err) return db
  const e = err as Error | undefined
  if (e && (redisDown.has(e.name) || e.message === 'Connection is closed.' || /^Stream isn't writeable/.test(e.message))) {
    return new SdError('SD_ERR_REDIS_UNAVAILABLE', 'Redis cannot be reached; try again later', { cause: err })
  }
  return err
}

/**
 * Logs the library errors behind the data-layer SD errors clients got: the first one of a code
 * at once, then at most one line per `intervalMs` per code, counting the others.
 */
export class DataErrorLog {
  readonly #log: Logger
  readonly #intervalMs: number
  readonly #codes = new Map<string, { at: number, skipped: number }>()

  /** `intervalMs` @default 10000 */
  constructor (log: Logger, intervalMs = 10_000) {
    this.#log = log
    this.#intervalMs = intervalMs
  }

  /** Notes `err` (what a client got) when it maps a library error (`thrown`); other errors are ignored. */
  note (err: unknown, thrown: unknown, action: string): void {
    if (err === thrown || !(err instanceof SdError) || err.cause === undefined) return
    const now = Date.now()
    const seen = this.#codes.get(err.code)
    if (seen !== undefined && now - seen.at < this.#intervalMs) {
      seen.skipped++
      return
    }
    const cause = err.cause as { message?: string, code?: string }
    this.#log.warn({ code: err.code, action, cause: cause?.message ?? String(cause), causeCode: cause?.code, since: seen?.skipped },
      `${err.code}: ${cause?.message ?? String(cause)}`)
    this.#codes.set(err.code, { at: now, skipped: 0 })
  }
}
