/**
 * What crosses the thread boundary between the application and a task worker: calls and their
 * replies on the Worker's own port, the worker's start-up data, control messages, and errors.
 * Errors are sent as plain `{code, message, status}` objects, because structured cloning keeps
 * an `Error`'s message but drops its `code`.
 */
import type { LevelWithSilent, Logger } from 'pino'
import { AppError, errorCodes, isPublicError, SdError, type ErrorCode } from '../core/errors.js'
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

/** A call as posted to a worker: `id` is the thread's sequence number of the call. */
export interface CallMessage extends TaskCall {
  id: number
}

/**
 * A worker's answer to the call `id`: its result, or what it threw. `ok: false` without an
 * error: the call was cancelled before it started (it timed out while waiting in the thread's
 * queue) and did not run.
 */
export type ReplyMessage =
  | { id: number, ok: true, value: unknown }
  | { id: number, ok: false, error?: WireError }

/** The pool asks a worker to close its MySQL and Redis connections (it answers `closed`). */
export interface CloseMessage {
  sdTasks: 'close'
}

/**
 * Slots of a thread's call states, shared by the pool and the worker (an `Int32Array` on a
 * SharedArrayBuffer, indexed by `id & (CALL_SLOTS - 1)`): `id` posted and not started, `-id`
 * started, `0` cancelled by the pool before it started. A power of two, larger than the calls
 * a thread may have in flight.
 */
export const CALL_SLOTS = 64

/** `workerData` of every task worker: where the runtime is and what its services connect to. */
export interface TaskWorkerData {
  /** URL of `thread-runtime` (`.ts` from sources, `.js` when compiled). */
  runtime: string
  /** The thread's call slots (`CALL_SLOTS` Int32 values). */
  slots: SharedArrayBuffer
  /** Task modules imported while the thread starts (the registered ones). */
  preload: string[]
  /** Logger settings of the app. */
  app: { name: string, nodeName: string, logLevel: LevelWithSilent }
  mysql: MysqlConfig
  redis: RedisConfig
}

/**
 * Messages a worker posts to the pool besides replies: `ready` once its runtime and the task
 * modules are loaded, `open` when it made its MySQL/Redis services, `closed` when it closed them.
 */
export type TaskWorkerMessage = { sdTasks: 'ready' | 'open' | 'closed', threadId: number }

/** An error thrown by a task, as sent back to the caller. */
export interface WireError {
  sdTaskError: true
  /**
   * `sd`: an SdError; `app`: an AppError; `internal`: anything else (logged, hidden from
   * clients); `unsendable`: the task returned a result that structured clone cannot copy.
   */
  kind: 'sd' | 'app' | 'internal' | 'unsendable'
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

/** The wire form of a result that could not be posted back (`DataCloneError`). */
export function unsendableError (err: unknown): WireError {
  const e = err instanceof Error ? err : new Error(String(err))
  return { sdTaskError: true, kind: 'unsendable', code: 'SD_ERR_TASK_CRASHED', message: e.message, status: 500, stack: e.stack }
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

/**
 * The error a caller sees for a call that failed in its worker: a public error as is, anything
 * else `SD_ERR_INTERNAL` (logged as `task threw`), a result that could not be sent back
 * `SD_ERR_TASK_CRASHED` (logged). No error at all: the worker skipped a call the pool had not
 * cancelled, which the call slots rule out (logged, `SD_ERR_INTERNAL`).
 */
export function callerError (w: WireError | undefined, what: string, log: Logger): SdError | AppError {
  if (w === undefined) {
    log.error({ task: what }, 'task call skipped by its worker')
    return new SdError('SD_ERR_INTERNAL')
  }
  if (w.kind === 'sd' || w.kind === 'app') return fromWireError(w)
  const cause = Object.assign(new Error(w.message), { stack: w.stack })
  if (w.kind === 'unsendable') {
    log.error({ err: cause, task: what }, 'task result cannot be sent back to the caller')
    return new SdError('SD_ERR_TASK_CRASHED', what, { cause })
  }
  log.error({ err: cause, task: what }, 'task threw')
  return new SdError('SD_ERR_INTERNAL', undefined, { cause })
}
