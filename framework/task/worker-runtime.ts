/**
 * The part of a task worker that runs calls, loaded by `worker.mjs` in every worker thread:
 * imports each task module once, runs `new Cls(services)[method](...args)`, and sends what the
 * task threw as `{code, message, status}`. Owns the worker's MySQL and Redis connections: made
 * on the first call, closed when the pool asks on its BroadcastChannel.
 */
import { BroadcastChannel, parentPort, threadId, workerData } from 'node:worker_threads'
import { pino } from 'pino'
import { SdError } from '../core/errors.js'
import { toDataError } from '../data/errors.js'
import { Mysql } from '../data/mysql.js'
import { RedisConnections } from '../data/redis.js'
import type { TaskClass, TaskServices } from './task.js'
import { toWireError, type TaskCall, type TaskWorkerData, type TaskWorkerMessage, type WireError } from './wire.js'

/** Imports a module by URL (`worker.mjs` installs tsx first for TypeScript files). */
export type Importer = (url: string) => Promise<Record<string, unknown>>

const data = workerData as TaskWorkerData
let services: TaskServices | undefined
/** Loaded classes by `file#exportName` (a promise while loading). */
const classes = new Map<string, TaskClass | Promise<TaskClass>>()

function post (msg: TaskWorkerMessage): void {
  parentPort?.postMessage(msg)
}

/** This worker's services, made on first use (their connections open on first query). */
function servicesOf (): TaskServices {
  if (services === undefined) {
    const log = pino({ name: data.app.name, level: data.app.logLevel, base: { node: data.app.nodeName, thread: threadId } })
    services = { log, data: { mysql: new Mysql(data.mysql, log), redis: new RedisConnections(data.redis, log) } }
    post({ sdTasks: 'open', threadId })
  }
  return services
}

async function closeServices (): Promise<void> {
  const s = services
  services = undefined
  if (s !== undefined) await Promise.allSettled([s.data.mysql.close(), s.data.redis.close()])
  post({ sdTasks: 'closed', threadId })
}

const channel = new BroadcastChannel(data.channel)
;(channel as BroadcastChannel & { unref (): void }).unref()
channel.onmessage = () => { void closeServices() }

async function loadClass (call: TaskCall, importUrl: Importer, key: string): Promise<TaskClass> {
  try {
    const cls = (await importUrl(call.file))[call.exportName]
    if (typeof cls !== 'function') throw new SdError('SD_ERR_TASK_NOT_FOUND', `${call.exportName} in ${call.file}`)
    classes.set(key, cls as TaskClass)
    return cls as TaskClass
  } catch (err) {
    classes.delete(key)
    throw err
  }
}

/**
 * The function piscina calls for each task call: returns the method's result (a promise when
 * the method is async) and throws or rejects with a `WireError`. Synchronous on purpose: a
 * synchronous method's result goes back without a promise of its own.
 */
export function createRunner (importUrl: Importer): (call: TaskCall) => unknown {
  return function run (call: TaskCall): unknown {
    try {
      const key = `${call.file}#${call.exportName}`
      const cls = classes.get(key)
      if (typeof cls !== 'function') {
        const loading = cls ?? loadClass(call, importUrl, key)
        classes.set(key, loading)
        return loading.then(() => run(call), rejectWire)
      }
      const task = new cls(servicesOf()) as unknown as Record<string, unknown>
      const method = task[call.method]
      if (typeof method !== 'function') throw new SdError('SD_ERR_TASK_NOT_FOUND', `${call.exportName}.${call.method}`)
      const result: unknown = method.apply(task, call.args)
      return isThenable(result) ? Promise.resolve(result).then(undefined, rejectWire) : result
    } catch (err) {
      throw wire(err)
    }
  }
}

function isThenable (v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function'
}

/** The wire form of what a task threw, data-layer failures mapped to their SD codes. */
function wire (err: unknown): WireError {
  return toWireError(toDataError(err, services?.data.mysql))
}

function rejectWire (err: unknown): never {
  throw wire(err)
}
