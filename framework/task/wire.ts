/**
 * What crosses the thread boundary between the application and a task worker: one call, the
 * worker's start-up data, and errors. Errors are sent as plain `{code, message, status}`
 * objects, because structured cloning keeps an `Error`'s message but drops its `code`.
 */
import { AppError, errorCodes, isPublicError, SdError, type ErrorCode } from '../core/errors.js'
import type { AppConfig } from '../core/config.js'
import type { MysqlConfig } from '../data/mysql.js'
import type { RedisConfig } from '../data/redis.js'

/** One call of a task method, as the worker receives it. */
export interface TaskCall {
  /** URL of the module that exports the task class. */
  file: string
  /** Export name of the class in that module. */
  exportName: string
  /** Method to run on a new instance. */
  method: string
  /** Arguments (structured-cloned). */
  args: unknown[]
}

/** `workerData` of every task worker: where the runtime is and what its services connect to. */
export interface TaskWorkerData {
  /** URL of `worker-runtime` (`.ts` from sources, `.js` when compiled). */
  runtime: string
  /** BroadcastChannel on which the pool asks workers to close their connections. */
  channel: string
  /** Task modules imported while the thread starts (the registered ones). */
  preload: string[]
  /** Logger settings of the app. */
  app: Pick<AppConfig, 'name' | 'nodeName' | 'logLevel'>
  mysql: MysqlConfig
  redis: RedisConfig
}

/** Messages a worker posts to the pool (besides results). */
export type TaskWorkerMessage = { sdTasks: 'open' | 'closed', threadId: number }

/** An error thrown by a task, as sent back to the caller. */
export interface WireError {
  sdTaskError: true
  /** `sd`: an SdError; `app`: an AppError; `internal`: anything else (logged, hidden from clients). */
  kind: 'sd' | 'app' | 'internal'
  code: string
  message: string
  status: number
  /** Stack of an internal error, for the log. */
  stack?: string
}

/** The wire form of anything a task threw. */
export function toWireError (err: unknown): WireError {
  if (isPublicError(err)) {
    return { sdTaskError: true, kind: err instanceof SdError ? 'sd' : 'app', code: err.code, message: err.message, status: err.status }
  }
  const e = err instanceof Error ? err : new Error(String(err))
  return { sdTaskError: true, kind: 'internal', code: 'SD_ERR_INTERNAL', message: e.message, status: 500, stack: e.stack }
}

/** True for a value a worker sent as a task's error (as opposed to a pool failure). */
export function isWireError (value: unknown): value is WireError {
  return typeof value === 'object' && value !== null && (value as WireError).sdTaskError === true
}

/** The SdError or AppError a caller sees for a public wire error (same code, message and status). */
export function fromWireError (w: WireError): SdError | AppError {
  if (w.kind === 'sd' && w.code in errorCodes) {
    const err = new SdError(w.code as ErrorCode)
    err.message = w.message
    return err
  }
  return new AppError(w.code, w.message, w.status)
}
