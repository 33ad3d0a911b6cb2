/**
 * Entry of every task worker thread (started by `framework/task/thread.ts`). Plain JavaScript
 * because a worker thread does not inherit the main thread's tsx loader: this file registers
 * tsx only before importing a TypeScript module (a compiled app never loads it). It imports
 * `thread-runtime` (`workerData.runtime`), which loads the task modules before the thread
 * reports ready, so a replacement thread takes calls only once it is warm.
 */
import { parentPort, threadId, workerData } from 'node:worker_threads'

/** @type {Promise<void> | undefined} */
let tsx

/** Imports a module by file URL; a `.ts` / `.mts` / `.cts` file first registers tsx in this thread (once). */
function importUrl (url) {
  if (!/\.[cm]?ts$/.test(new URL(url).pathname)) return import(url)
  tsx ??= import('tsx/esm/api').then((api) => { api.register() })
  return tsx.then(() => import(url))
}

try {
  await (await importUrl(workerData.runtime)).serve(importUrl)
} catch (err) {
  // Without its runtime the thread still answers: each call fails with the reason (logged by the pool).
  const message = `task worker could not load ${workerData.runtime}: ${err instanceof Error ? err.message : String(err)}`
  const error = { sdTaskError: true, kind: 'internal', code: 'SD_ERR_INTERNAL', message, status: 500, stack: err instanceof Error ? err.stack : undefined }
  parentPort.on('message', (msg) => {
    if (msg.sdTasks === 'close') parentPort.postMessage({ sdTasks: 'closed', threadId })
    else parentPort.postMessage({ id: msg.id, ok: false, error })
  })
  parentPort.postMessage({ sdTasks: 'ready', threadId })
}
