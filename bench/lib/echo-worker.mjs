// Baseline of bench/task.ts: a raw worker_threads Worker that answers each message at once
// with its id and first argument (what a no-op task returns), through postMessage.
import { parentPort } from 'node:worker_threads'

parentPort.on('message', (msg) => {
  parentPort.postMessage({ id: msg.id, value: msg.args[0] })
})
