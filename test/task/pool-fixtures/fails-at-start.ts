/** A task module that ends any worker thread importing it (test/task/pool.test.ts: a thread that cannot start). */
import { isMainThread } from 'node:worker_threads'

if (!isMainThread) process.exit(7)

export const nothing = 0
