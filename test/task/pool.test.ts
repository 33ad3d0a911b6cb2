/**
 * The task pool on its own (framework/task/pool.ts): several calls in flight per thread,
 * timeouts of calls waiting in a thread or running in it, crashes with other calls in flight,
 * results that cannot be sent, idle threads, threads that cannot start, close. The tasks are
 * in test/task/pool-fixtures; each test has its own pool.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { defaultConfig } from '../../framework/server/config.js'
import type { TasksConfig } from '../../framework/task/options.js'
import { CALLS_PER_THREAD, TaskPool } from '../../framework/task/pool.js'
import { waitUntil } from '../helpers.js'

const tasksUrl = new URL('./pool-fixtures/pool-tasks.ts', import.meta.url).href
const failsAtStartUrl = new URL('./pool-fixtures/fails-at-start.ts', import.meta.url).href

interface TestPool {
  pool: TaskPool
  lines: Array<Record<string, unknown>>
  /** Calls `PoolTask[method](...args)` with `timeoutMs` (0: none). */
  call: (method: string, args?: unknown[], timeoutMs?: number) => Promise<unknown>
}

function makePool (tasks: Partial<TasksConfig>, options: { idleThreadMs?: number, closeTimeoutMs?: number, preload?: string[] } = {}): TestPool {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write (chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>)
      done()
    },
  })
  const base = defaultConfig()
  const pool = new TaskPool({
    config: { ...base.tasks, ...tasks },
    workerData: { app: { name: 'pool-test', nodeName: base.app.nodeName, logLevel: 'warn' }, mysql: base.mysql, redis: base.redis },
    preload: () => options.preload ?? [tasksUrl],
    log: pino({ level: 'debug' }, stream),
    closeTimeoutMs: options.closeTimeoutMs ?? 1000,
    idleThreadMs: options.idleThreadMs,
  })
  const call = (method: string, args: unknown[] = [], timeoutMs = 0): Promise<unknown> =>
    pool.run({ file: tasksUrl, exportName: 'PoolTask', method, args }, 'PoolTask', timeoutMs)
  return { pool, lines, call }
}

/** The code and message of the error a promise rejects with. */
async function failure (promise: Promise<unknown>): Promise<{ code?: string, message?: string }> {
  try {
    await promise
  } catch (err) {
    const { code, message } = err as { code?: string, message?: string }
    return { code, message }
  }
  throw new Error('expected a rejection')
}

describe('task pool', () => {
  test('starts on the first call; a thread has up to CALLS_PER_THREAD calls in flight, the rest wait in order', async () => {
    const { pool, call } = makePool({ minWorkers: 1, maxWorkers: 1 })
    try {
      assert.equal(pool.status, 'idle')
      assert.equal(pool.threads, 0)
      const peaks = await Promise.all(Array.from({ length: 3 * CALLS_PER_THREAD }, () => call('overlap', [60]) as Promise<number>))
      assert.equal(pool.status, 'running')
      assert.equal(pool.threads, 1)
      assert.equal(Math.max(...peaks), CALLS_PER_THREAD)
      assert.equal(pool.pending, 0)
      // results go to the right callers
      const values = await Promise.all(Array.from({ length: 20 }, (_, i) => call('echo', [{ i }])))
      assert.deepEqual(values, Array.from({ length: 20 }, (_, i) => ({ i })))
    } finally {
      await pool.close()
    }
  })

  test('a call that times out while it waits in its thread is cancelled there; the thread lives on', async () => {
    const { pool, call } = makePool({ minWorkers: 1, maxWorkers: 1 })
    try {
      const thread = await call('thread')
      const running = call('spin', [400])
      const waiting = call('record', ['late'], 100)
      const err = await failure(waiting)
      assert.equal(err.code, 'SD_ERR_TASK_TIMEOUT')
      assert.equal(err.message, 'task timed out: PoolTask.record after 100 ms')
      assert.equal(await running, thread, 'the running call finished on its thread')
      assert.deepEqual(pool.threadIds, [thread])
      assert.deepEqual(await call('recorded'), [], 'the cancelled call did not run')
    } finally {
      await pool.close()
    }
  })

  test('a call running past its timeout: its thread is replaced, and calls it had not started run on the new one', async () => {
    const { pool, call, lines } = makePool({ minWorkers: 1, maxWorkers: 1 })
    try {
      const first = await call('thread')
      const stuck = call('spin', [20_000], 300)
      const behind = [call('echo', ['b']), call('echo', ['c'])]
      const started = Date.now()
      assert.equal((await failure(stuck)).code, 'SD_ERR_TASK_TIMEOUT')
      assert.ok(Date.now() - started < 3000)
      assert.deepEqual(await Promise.all(behind), ['b', 'c'])
      const second = await call('thread')
      assert.notEqual(second, first)
      await waitUntil(() => pool.threads === 1 && !pool.threadIds.includes(first as number), 3000, 'the old thread to end')
      assert.ok(!lines.some((l) => l.level === 50), 'nothing logged as an error')
    } finally {
      await pool.close()
    }
  })

  test('a call its thread had started when another call on it timed out fails with SD_ERR_TASK_CRASHED', async () => {
    const { pool, call, lines } = makePool({ minWorkers: 1, maxWorkers: 1 })
    try {
      await call('thread')
      const started = failure(call('sleep', [5000]))
      const stuck = call('spin', [20_000], 300)
      assert.equal((await failure(stuck)).code, 'SD_ERR_TASK_TIMEOUT')
      assert.deepEqual(await started, { code: 'SD_ERR_TASK_CRASHED', message: 'task worker crashed: PoolTask.sleep' })
      assert.ok(lines.some((l) => l.msg === 'task call lost: its thread was terminated because another call on it timed out' && l.task === 'PoolTask.sleep'))
      assert.equal(await call('echo', ['after']), 'after')
    } finally {
      await pool.close()
    }
  })

  test('a worker that exits fails the call it ran with SD_ERR_TASK_CRASHED; calls it had not started run on its replacement', async () => {
    const { pool, call, lines } = makePool({ minWorkers: 1, maxWorkers: 1 })
    try {
      const first = await call('thread')
      const exiting = call('exit', [3])
      const behind = [call('echo', ['b']), call('echo', ['c'])]
      assert.deepEqual(await failure(exiting), { code: 'SD_ERR_TASK_CRASHED', message: 'task worker crashed: PoolTask.exit' })
      assert.deepEqual(await Promise.all(behind), ['b', 'c'])
      assert.notEqual(await call('thread'), first)
      const crash = lines.find((l) => l.msg === 'task worker crashed; it is replaced')
      assert.equal(crash?.reason, 'worker exited with code: 3')
      assert.equal(crash?.task, 'PoolTask.exit')
    } finally {
      await pool.close()
    }
  })

  test('a result that cannot be cloned fails its call with SD_ERR_TASK_CRASHED; the thread lives on', async () => {
    const { pool, call, lines } = makePool({ minWorkers: 1, maxWorkers: 1 })
    try {
      const thread = await call('thread')
      assert.deepEqual(await failure(call('unsendable')), { code: 'SD_ERR_TASK_CRASHED', message: 'task worker crashed: PoolTask.unsendable' })
      assert.ok(lines.some((l) => l.msg === 'task result cannot be sent back to the caller' && l.task === 'PoolTask.unsendable'))
      assert.equal(await call('thread'), thread)
      assert.deepEqual(pool.threadIds, [thread])
    } finally {
      await pool.close()
    }
  })

  test('more calls than threads start more threads, up to maxWorkers; those above minWorkers stop when idle', async () => {
    const { pool, call } = makePool({ minWorkers: 1, maxWorkers: 2 }, { idleThreadMs: 300 })
    try {
      const calls = [call('sleep', [50]), call('sleep', [50])]
      assert.equal(pool.threads, 2)
      await Promise.all(calls)
      await waitUntil(() => pool.threads === 1, 5000, 'the extra thread to stop')
      assert.equal(await call('echo', ['still']), 'still')
      assert.equal(pool.threads, 1)
    } finally {
      await pool.close()
    }
  })

  test('a thread that cannot start fails the calls waiting for it, never a hang', async () => {
    const { pool, call, lines } = makePool({ minWorkers: 1, maxWorkers: 1 }, { preload: [failsAtStartUrl] })
    try {
      assert.deepEqual(await failure(call('echo', ['x'])), { code: 'SD_ERR_TASK_CRASHED', message: 'task worker crashed: PoolTask.echo' })
      const line = lines.find((l) => l.msg === 'task worker failed to start')
      assert.equal(line?.reason, 'worker exited with code: 7')
      assert.equal((await failure(call('echo', ['y']))).code, 'SD_ERR_TASK_CRASHED')
      await waitUntil(() => pool.threads === 0, 3000, 'the failed threads to be gone')
    } finally {
      await pool.close()
    }
  })

  test('close: waiting and new calls get SD_ERR_SHUTTING_DOWN, a call running past closeTimeoutMs too; the threads end', async () => {
    const { pool, call, lines } = makePool({ minWorkers: 1, maxWorkers: 1 }, { closeTimeoutMs: 200 })
    await call('thread')
    // CALLS_PER_THREAD running, two waiting in the pool
    const running = Array.from({ length: CALLS_PER_THREAD + 2 }, () => failure(call('sleep', [10_000])))
    const closing = pool.close()
    assert.equal(pool.status, 'closing')
    assert.equal((await failure(call('echo', ['late']))).code, 'SD_ERR_SHUTTING_DOWN')
    for (const err of await Promise.all(running)) assert.equal(err.code, 'SD_ERR_SHUTTING_DOWN')
    await closing
    assert.equal(pool.status, 'closed')
    assert.equal(pool.threads, 0)
    assert.equal(pool.pending, 0)
    assert.ok(lines.some((l) => l.msg === 'task pool closing with calls still running'))
    assert.ok(lines.some((l) => l.msg === 'task workers closed their connections'))
  })

  test('each status change of the pool is emitted and logged; each of a thread\'s is logged', async () => {
    const { pool, call, lines } = makePool({ minWorkers: 1, maxWorkers: 1 })
    const seen: string[] = []
    pool.on('status', (status) => seen.push(status))
    assert.equal(await call('echo', ['hi']), 'hi')
    await pool.close()
    assert.deepEqual(seen, ['running', 'closing', 'closed'])
    assert.deepEqual(lines.filter((l) => l.msg === 'task pool status').map((l) => l.status), ['running', 'closing', 'closed'])
    const thread = lines.filter((l) => l.msg === 'task thread status')
    assert.deepEqual(thread.map((l) => l.status), ['ready', 'stopping', 'exited'])
    assert.equal(new Set(thread.map((l) => l.threadId)).size, 1)
  })
})
