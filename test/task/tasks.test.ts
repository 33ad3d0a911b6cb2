/**
 * Tasks end to end: controllers call the task classes of test/task/fixtures through
 * `this.task()`, clients call the controllers over TCP and HTTP, and the tasks run in worker
 * threads with their own MySQL and Redis connections (the real servers of this machine).
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { pino, type Logger } from 'pino'
import { Controller, Task, type Application } from '../../framework/index.js'
import { CALLS_PER_THREAD } from '../../framework/task/pool.js'
import { BenchController } from '../../app/controllers/BenchController.js'
import { http, portOf, startApp, TcpClient, waitUntil } from '../helpers.js'
import { coldRequest } from './cold-request.js'
import { createTestDatabase, deleteRedisKeys, mysqlBaseUrl, rawRedis, redisUrl, testKeyPrefix, type TestDatabase } from '../stores.js'
import { EchoTask, FailTask, SpinTask } from './fixtures/basic.js'
import { StoreTask } from './fixtures/stores.js'

/** A task class that is never registered. */
class UnregisteredTask extends Task {
  run (): number { return 1 }
}

type Failure = 'appError' | 'sdError' | 'plain' | 'exit' | 'asyncThrow'

class TasksController extends Controller {
  echo (d: unknown): Promise<unknown> { return this.task(EchoTask).echo(d) }
  join (d: { parts: string[] }): Promise<string> { return this.task(EchoTask).join(...d.parts) }
  thread (): Promise<number> { return this.task(EchoTask).thread() }
  spin (d: { ms: number, marker?: string, timeoutMs?: number }): Promise<{ spunMs: number }> {
    return this.task(SpinTask, d.timeoutMs === undefined ? undefined : { timeoutMs: d.timeoutMs }).spin(d.ms, d.marker)
  }

  fail (d: { how: Failure, marker?: string }): Promise<unknown> {
    const task = this.task(FailTask)
    if (d.how === 'exit') return task.exit(3, d.marker ?? '/dev/null')
    if (d.how === 'asyncThrow') return task.asyncThrow(d.marker ?? '/dev/null')
    return task[d.how]()
  }

  detach (d: { key: string, value: string }): string {
    this.task(StoreTask).setKey.detach(d.key, d.value, 20)
    return 'started'
  }

  detachFailure (): string {
    this.task(FailTask).appError.detach()
    return 'started'
  }

  items (d: { texts: string[] }): Promise<unknown> { return this.task(StoreTask).addAndSummarize(d.texts) }
  count (): Promise<number> { return this.task(StoreTask).count() }
  unknown (): Promise<number> { return this.task(UnregisteredTask).run() }
}

/** A pino logger whose lines are kept as objects. */
function captureLog (): { logger: Logger, lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write (chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>)
      done()
    },
  })
  return { logger: pino({ level: 'debug' }, stream), lines }
}

describe('tasks (two worker threads, MySQL and Redis configured)', () => {
  let app: Application
  let tcp: TcpClient
  let db: TestDatabase
  const log = captureLog()
  const keyPrefix = testKeyPrefix('tasks')
  const redis = rawRedis()
  const dir = mkdtempSync(join(tmpdir(), 'sd-tasks-'))

  before(async () => {
    db = await createTestDatabase('tasks')
    await db.knex.schema.createTable('task_items', (t) => { t.increments('id'); t.string('text', 200).notNullable() })
    app = await startApp({
      tasks: { dir: 'test/task/fixtures', minWorkers: 2, maxWorkers: 2 },
      mysql: { url: db.url },
      redis: { url: redisUrl, keyPrefix },
    }, { controllers: [TasksController, BenchController], logger: log.logger })
    tcp = await TcpClient.connect(portOf(app, 'tcp'))
  })
  after(async () => {
    tcp?.close()
    await app?.stop()
    await redis.quit()
    await deleteRedisKeys(keyPrefix)
    await db?.drop()
    rmSync(dir, { recursive: true, force: true })
  })

  test('a proxy call returns the method result, computed in a worker thread', async () => {
    const value = { text: 'héllo 🎉', list: [1, 2, 3], nested: { ok: true, none: null } }
    assert.deepEqual((await coldRequest(tcp, '/tasks/echo', value)).data, value)
    assert.equal((await tcp.request('/tasks/join', { parts: ['a', 'b', 'c'] })).data, 'a+b+c')
    const thread = (await tcp.request('/tasks/thread')).data
    assert.equal(typeof thread, 'number')
    assert.ok((thread as number) > 0, 'thread 0 is the main thread')
    assert.equal(app.tasks.pool.threads, 2)
    assert.ok(app.tasks.pool.threadIds.includes(thread as number))
    // the proxy is not a thenable and only exposes the class's own methods
    const proxy = app.tasks.proxy(EchoTask) as unknown as Record<string, unknown>
    assert.equal(proxy.then, undefined)
    assert.equal(proxy.model, undefined)
    assert.equal(typeof proxy.echo, 'function')
  })

  test('CPU work in a task does not block the event loop: /bench/echo is answered while it spins', async () => {
    const marker = join(dir, 'spinning')
    let spinDone = false
    const spin = tcp.request('/tasks/spin', { ms: 600, marker }).then((reply) => { spinDone = true; return reply })
    await waitUntil(() => existsSync(marker), 5000, 'the task to start spinning')
    const started = Date.now()
    const echo = await tcp.request('/bench/echo', { ping: 1 })
    assert.deepEqual(echo.data, { ping: 1 })
    assert.equal(spinDone, false, 'the echo reply came before the task result')
    assert.ok(Date.now() - started < 500, `echo took ${Date.now() - started} ms`)
    const result = (await spin).data as { spunMs: number }
    assert.ok(result.spunMs >= 600)
  })

  test('a call past its timeout fails with SD_ERR_TASK_TIMEOUT; its thread is replaced and the next call works', async () => {
    const marker = join(dir, 'spinning-too-long')
    const started = Date.now()
    const reply = await tcp.request('/tasks/spin', { ms: 20_000, timeoutMs: 300, marker })
    assert.deepEqual(reply.error, { code: 'SD_ERR_TASK_TIMEOUT', message: 'task timed out: SpinTask.spin after 300 ms' })
    assert.ok(Date.now() - started < 3000, `timed out after ${Date.now() - started} ms`)
    const spinner = Number(readFileSync(marker, 'utf8'))
    await waitUntil(() => !app.tasks.pool.threadIds.includes(spinner) && app.tasks.pool.threads === 2, 3000, 'the spinning thread to be replaced')
    assert.equal((await tcp.request('/tasks/echo', 'after timeout')).data, 'after timeout')
  })

  test('AppError and SdError reach the client with the same code, message and HTTP status', async () => {
    assert.deepEqual((await tcp.request('/tasks/fail', { how: 'appError' })).error, { code: 'STATS_ERR_BAD_ROOM', message: 'room "x" has no history' })
    assert.deepEqual((await tcp.request('/tasks/fail', { how: 'sdError' })).error, { code: 'SD_ERR_VALIDATION', message: 'invalid data: limit must be positive' })
    const res = await http(portOf(app, 'http'), '/tasks/fail?how=appError')
    assert.equal(res.status, 422)
    assert.deepEqual(res.body, { error: { code: 'STATS_ERR_BAD_ROOM', message: 'room "x" has no history' } })
  })

  test('any other error: the client gets SD_ERR_INTERNAL, the log gets the message', async () => {
    const reply = await tcp.request('/tasks/fail', { how: 'plain' })
    assert.deepEqual(reply.error, { code: 'SD_ERR_INTERNAL', message: 'internal server error' })
    const line = log.lines.find((l) => l.msg === 'task threw')
    assert.equal(line?.task, 'FailTask.plain')
    assert.equal((line?.err as { message?: string })?.message, 'secret internal detail')
    // arguments that cannot be cloned are refused in the caller, and the thread is unaffected
    const echo = app.tasks.proxy(EchoTask)
    await assert.rejects(echo.echo(() => 1), { code: 'SD_ERR_INTERNAL' })
    assert.ok(log.lines.some((l) => l.msg === 'task arguments cannot be sent to a worker'))
    assert.equal(await echo.echo('still fine'), 'still fine')
  })

  test('a worker that exits or throws outside a call fails its call with SD_ERR_TASK_CRASHED; the next call works', async () => {
    const hows = ['exit', 'asyncThrow'] as const
    // the second call may wait for a thread that is still starting (it replaced the one that timed out)
    const replies = await Promise.all(hows.map((how) => coldRequest(tcp, '/tasks/fail', { how, marker: join(dir, how) })))
    hows.forEach((how, i) => {
      assert.deepEqual(replies[i].error, { code: 'SD_ERR_TASK_CRASHED', message: `task worker crashed: FailTask.${how}` }, how)
    })
    const crashed = hows.map((how) => Number(readFileSync(join(dir, how), 'utf8')))
    await waitUntil(() => app.tasks.pool.threads === 2 && crashed.every((id) => !app.tasks.pool.threadIds.includes(id)), 3000, 'the crashed threads to be replaced')
    assert.equal((await coldRequest(tcp, '/tasks/echo', 'after crashes')).data, 'after crashes')
    const crash = log.lines.find((l) => l.msg === 'task worker crashed; it is replaced' && l.task === 'FailTask.exit')
    assert.equal(crash?.reason, 'worker exited with code: 3')
  })

  test('detach runs the call without waiting (observed in Redis); a detached failure is logged', async () => {
    assert.equal((await tcp.request('/tasks/detach', { key: 'detached', value: 'done' })).data, 'started')
    await waitUntil(async () => await redis.get(`${keyPrefix}detached`) === 'done', 5000, 'the detached task to write its key')

    assert.equal((await tcp.request('/tasks/detachFailure')).data, 'started')
    const line = await waitUntil(() => log.lines.find((l) => l.msg === 'detached task failed'), 5000, 'the detached failure to be logged')
    assert.ok(line)
    assert.equal(line.task, 'FailTask.appError')
    assert.equal((line.err as { code?: string }).code, 'STATS_ERR_BAD_ROOM')
  })

  test('a task uses a Model on its own MySQL connection', async () => {
    const texts = ["'; DROP TABLE task_items; --", 'héllo wörld', 'one two three']
    const reply = (await tcp.request('/tasks/items', { texts })).data as { ids: number[], texts: string[], words: number }
    assert.equal(reply.ids.length, 3)
    assert.deepEqual(reply.texts, texts)
    assert.equal(reply.words, 10)
    const rows = await db.knex('task_items').select('id', 'text').orderBy('id') as Array<{ id: number, text: string }>
    assert.deepEqual(rows.map((r) => r.text), texts)
    assert.deepEqual(rows.map((r) => r.id), reply.ids)
    assert.equal((await tcp.request('/tasks/count')).data, 3)
  })

  test('a class that is not registered: SD_ERR_TASK_NOT_FOUND', async () => {
    assert.deepEqual((await tcp.request('/tasks/unknown')).error, { code: 'SD_ERR_TASK_NOT_FOUND', message: 'unknown task: UnregisteredTask' })
  })

  test('stop closes the pool after the workers closed their connections', async () => {
    const admin = (await import('knex')).default({ client: 'mysql2', connection: mysqlBaseUrl })
    try {
      const workerConnections = async (): Promise<number> => {
        const [rows] = await admin.raw('SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB = ?', [db.name]) as [Array<{ n: number }>]
        return Number(rows[0].n)
      }
      await db.knex.destroy()
      tcp.close()
      await app.stop()
      assert.equal(app.tasks.pool.status, 'closed')
      assert.equal(app.tasks.pool.threads, 0)
      assert.ok(log.lines.some((l) => l.msg === 'task workers closed their connections'))
      await waitUntil(async () => await workerConnections() === 0, 3000, 'MySQL connections to close')
    } finally {
      await admin.destroy()
    }
  })
})

describe('tasks: bounded queue and explicit registration', () => {
  let app: Application
  let tcp: TcpClient

  before(async () => {
    app = await startApp({ tasks: { dir: 'test/task/no-such-dir', minWorkers: 1, maxWorkers: 1, maxQueue: 1 } }, { controllers: [TasksController] })
    app.tasks.add(EchoTask, new URL('./fixtures/basic.ts', import.meta.url))
    app.tasks.add(SpinTask, new URL('./fixtures/basic.ts', import.meta.url))
    tcp = await TcpClient.connect(portOf(app, 'tcp'))
  })
  after(async () => {
    tcp?.close()
    await app?.stop()
  })

  test('CALLS_PER_THREAD calls in flight and one waiting: the next gets SD_ERR_TASK_QUEUE_FULL at once', async () => {
    assert.equal((await coldRequest(tcp, '/tasks/echo', 'warm')).data, 'warm')
    const spin = app.tasks.proxy(SpinTask)
    assert.ok((await spin.spin(0)).spunMs >= 0)
    const running = spin.spin(500)
    const echo = app.tasks.proxy(EchoTask)
    const others = Array.from({ length: CALLS_PER_THREAD }, (_, i) => echo.echo(`waited ${i}`))
    assert.equal(app.tasks.pool.pending, CALLS_PER_THREAD + 1)
    const started = Date.now()
    const refused = await tcp.request('/tasks/echo', 'refused')
    assert.deepEqual(refused.error, { code: 'SD_ERR_TASK_QUEUE_FULL', message: `task queue is full: EchoTask.echo: ${CALLS_PER_THREAD} in flight, 1 waiting` })
    assert.ok(Date.now() - started < 500, 'refused without waiting')
    assert.ok((await running).spunMs >= 500)
    assert.deepEqual(await Promise.all(others), others.map((_, i) => `waited ${i}`))
    assert.equal((await tcp.request('/tasks/echo', 'room again')).data, 'room again')
  })

  test('a class not in tasks.dir and not added: SD_ERR_TASK_NOT_FOUND', async () => {
    assert.equal((await tcp.request('/tasks/fail', { how: 'appError' })).error?.code, 'SD_ERR_TASK_NOT_FOUND')
  })
})
