/**
 * The part of a task worker that runs calls, loaded by `thread-main.mjs` in every worker thread:
 * imports the task modules, then answers the calls the pool posts on the Worker's port
 * (`{id, file, exportName, method, args}` → `{id, ok, value | error}`), each on a new instance
 * of its class, several at a time when they are async. Owns the worker's MySQL and Redis
 * connections: made on the first call, closed when the pool asks.
 */
import { parentPort, threadId, workerData } from 'node:worker_threads'
import { pino } from 'pino'
import { SdError } from '../core/errors.js'
import { toDataError } from '../data/errors.js'
import { Mysql } from '../data/mysql.js'
import { RedisConnections } from '../data/redis.js'
import type { TaskClass, TaskServices } from './task.js'
import { CALL_SLOTS, toWireError, unsendableError, type CallMessage, type CloseMessage, type TaskCall, type TaskWorkerData, type TaskWorkerMessage, type WireError } from './wire.js'

/** Imports a module by URL (`thread-main.mjs` installs tsx first for TypeScript files). */
export type Importer = (url: string) => Promise<Record<string, unknown>>

const data = workerData as TaskWorkerData
const port = parentPort as NonNullable<typeof parentPort>
/** Call states shared with the pool (see `CALL_SLOTS`). */
const slots = new Int32Array(data.slots)
const SLOT_MASK = CALL_SLOTS - 1
let services: TaskServices | undefined
/** Loaded classes by `file#exportName` (a promise while loading). */
const classes = new Map<string, TaskClass | Promise<TaskClass>>()

function post (msg: TaskWorkerMessage): void {
  port.postMessage(msg)
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
 * Runs one call: returns the method's result (a promise when the method is async or its class
 * is still loading) or throws what the method threw. Synchronous on purpose: a synchronous
 * method's result goes back without a promise of its own.
 */
function createRunner (importUrl: Importer): (call: TaskCall) => unknown {
  // the class of the previous call: most calls in a row are to the same class (no key to build)
  let lastFile = ''
  let lastExport = ''
  let lastClass: TaskClass | undefined
  return function run (call: TaskCall): unknown {
    let cls: TaskClass | Promise<TaskClass> | undefined = lastClass
    if (call.file !== lastFile || call.exportName !== lastExport || cls === undefined) {
      const key = `${call.file}#${call.exportName}`
      cls = classes.get(key)
      if (typeof cls !== 'function') {
        const loading = cls ?? loadClass(call, importUrl, key)
        classes.set(key, loading)
        return loading.then(() => run(call))
      }
      lastFile = call.file
      lastExport = call.exportName
      lastClass = cls
    }
    const task = new cls(servicesOf()) as unknown as Record<string, unknown>
    const method = task[call.method]
    if (typeof method !== 'function') throw new SdError('SD_ERR_TASK_NOT_FOUND', `${call.exportName}.${call.method}`)
    return method.apply(task, call.args)
  }
}

function isThenable (v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function'
}

/** The wire form of what a task threw, data-layer failures mapped to their SD codes. */
function wire (err: unknown): WireError {
  return toWireError(toDataError(err, services?.data.mysql))
}

function reply (id: number, value: unknown): void {
  try {
    port.postMessage({ id, ok: true, value })
  } catch (err) {
    // a result structured clone cannot copy (a function, a class with private fields): this call fails, the thread lives on
    port.postMessage({ id, ok: false, error: unsendableError(err) })
  }
}

function replyError (id: number, err: unknown): void {
  port.postMessage({ id, ok: false, error: wire(err) })
}

/**
 * Loads the task modules, answers calls from the pool, then reports `ready`. A call the pool
 * cancelled before it started (it timed out while waiting in this thread's queue) is skipped.
 */
export async function serve (importUrl: Importer): Promise<void> {
  const run = createRunner(importUrl)
  // The classes of the task modules are known before the first call, so that every call starts
  // as soon as the thread reads it (in order). A module that fails to load reports it on each
  // of its calls.
  const modules = await Promise.allSettled(data.preload.map(importUrl))
  modules.forEach((m, i) => {
    if (m.status !== 'fulfilled') return
    for (const [name, value] of Object.entries(m.value)) if (typeof value === 'function') classes.set(`${data.preload[i]}#${name}`, value as TaskClass)
  })
  port.on('message', (msg: CallMessage | CloseMessage) => {
    if ((msg as CloseMessage).sdTasks !== undefined) {
      void closeServices()
      return
    }
    const id = (msg as CallMessage).id
    if (Atomics.compareExchange(slots, id & SLOT_MASK, id, -id) !== id) {
      port.postMessage({ id, ok: false })
      return
    }
    let result: unknown
    try {
      result = run(msg as CallMessage)
    } catch (err) {
      replyError(id, err)
      return
    }
    if (isThenable(result)) result.then((value) => { reply(id, value) }, (err: unknown) => { replyError(id, err) })
    else reply(id, result)
  })
  post({ sdTasks: 'ready', threadId })
}
