/**
 * Maps MySQL, pool and Redis failures to SD codes, so a client gets `SD_ERR_DB_*` /
 * `SD_ERR_REDIS_UNAVAILABLE` (and the server logs no stack) when a backing store is down,
 * slow or saturated.
 */
import { SdError } from '../core/errors.js'
import { toDbError, type Mysql } from './mysql.js'

const redisDown = new Set(['MaxRetriesPerRequestError', 'ClusterAllFailedError'])

/** The SD error for a data-layer failure, or `err` unchanged; `mysql` knows its connect history. */
export function toDataError (err: unknown, mysql?: Mysql): unknown {
  const db = mysql ? mysql.mapError(err) : toDbError(err)
  if (db !== err) return db
  const e = err as Error | undefined
  if (e && (redisDown.has(e.name) || e.message === 'Connection is closed.' || /^Stream isn't writeable/.test(e.message))) {
    return new SdError('SD_ERR_REDIS_UNAVAILABLE', e.message, { cause: err })
  }
  return err
}
