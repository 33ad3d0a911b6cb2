/**
 * Entry of every task worker thread (piscina's `filename`; its default export runs one call).
 *
 * Plain JavaScript on purpose: a worker thread does not get the tsx loader the main thread
 * registered (`bin/sd.js`, `node --import tsx`), so this file installs it with tsx's
 * `register()` before importing a TypeScript module, and only then (a compiled app never loads
 * tsx). It imports `worker-runtime` (URL in `workerData.runtime`), which does the rest, and the
 * registered task modules, all before the thread reports ready: a thread replacing a crashed or
 * timed-out one takes calls only once it is warm.
 */
import { workerData } from 'node:worker_threads'

/** @type {Promise<void> | undefined} */
let tsx

/** Imports a module by file URL; a `.ts` / `.mts` / `.cts` file first registers tsx in this thread (once). */
function importUrl (url) {
  if (!/\.[cm]?ts$/.test(new URL(url).pathname)) return import(url)
  tsx ??= import('tsx/esm/api').then((api) => { api.register() })
  return tsx.then(() => import(url))
}

/** @type {(call: unknown) => unknown} */
let run
try {
  run = (await importUrl(workerData.runtime)).createRunner(importUrl)
  // A task module that fails to load reports it on each of its calls.
  await Promise.allSettled(workerData.preload.map(importUrl))
} catch (err) {
  const failure = new Error(`task worker could not load ${workerData.runtime}: ${err instanceof Error ? err.message : String(err)}`)
  run = () => { throw failure }
}

/** Runs one task call: `{file, exportName, method, args}` → the method's result. */
export default run
