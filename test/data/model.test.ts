/**
 * Models against the real MariaDB and Redis of this machine (MYSQL_URL / REDIS_URL override).
 * This file uses its own database and key prefix and removes them at the end.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { Controller, Model, type Application } from '../../framework/index.js'
import { startApp, portOf, TcpClient, http } from '../helpers.js'
import { createTestDatabase, deleteRedisKeys, redisUrl, testKeyPrefix, type TestDatabase } from '../stores.js'

const keyPrefix = testKeyPrefix('model')

class NoteModel extends Model {
  async add (text: string): Promise<number> {
    const [id] = await this.db('notes').insert({ text })
    return id
  }

  async get (id: number): Promise<string | undefined> {
    const row = await this.read('notes').where({ id }).first() as { text: string } | undefined
    return row?.text
  }

  count (): Promise<number> {
    return this.db('notes').count({ n: '*' }).first().then((r) => Number((r as { n: number }).n))
  }
}

/** Uses another model inside its transaction. */
class LedgerModel extends Model {
  addTwo (a: string, b: string, fail: boolean): Promise<void> {
    return this.transaction(async (tx) => {
      await tx.model(NoteModel).add(a)
      await tx.model(NoteModel).add(b)
      if (fail) throw new Error('second step failed')
    })
  }

  /** Outer transaction with a nested one that fails and is caught: only the outer row stays. */
  nested (): Promise<void> {
    return this.transaction(async (tx) => {
      await tx.model(NoteModel).add('outer')
      await tx.transaction(async (inner) => {
        await inner.model(NoteModel).add('inner')
        throw new Error('inner failed')
      }).catch(() => {})
    })
  }
}

const releases: Array<() => void> = []
class NotesController extends Controller {
  add (d: { text: string }): Promise<number> { return this.model(NoteModel).add(d.text) }
  get (d: { id: number }): Promise<string | undefined> { return this.model(NoteModel).get(d.id) }
  count (): Promise<number> { return this.model(NoteModel).count() }
  pair (d: { fail: boolean }): Promise<void> { return this.model(LedgerModel).addTwo('a', 'b', d.fail) }
  nested (): Promise<void> { return this.model(LedgerModel).nested() }
  async slow (): Promise<unknown> { return this.db.raw('SELECT SLEEP(2) AS s') }
  hold (): Promise<void> {
    return this.model(LedgerModel).transaction(async () => { await new Promise<void>((resolve) => { releases.push(resolve) }) })
  }
  async cache (d: { key: string, value: string }): Promise<unknown> {
    await this.redis.set(d.key, d.value)
    return this.redis.get(d.key)
  }
}

describe('models on MariaDB and Redis', () => {
  let db: TestDatabase
  let app: Application
  let tcp: TcpClient
  before(async () => {
    db = await createTestDatabase('model')
    await db.knex.schema.createTable('notes', (t) => { t.increments('id'); t.text('text').notNullable() })
    app = await startApp({ mysql: { url: db.url, poolMax: 2, acquireTimeoutMs: 300, queryTimeoutMs: 500 }, redis: { url: redisUrl, keyPrefix } }, { controllers: [NotesController] })
    tcp = await TcpClient.connect(portOf(app, 'tcp'))
  })
  after(async () => {
    tcp?.close()
    await app?.stop()
    await deleteRedisKeys(keyPrefix)
    await db?.drop()
  })

  test('values reach SQL as bindings: injection strings and unicode are stored verbatim', async () => {
    for (const text of ["'; DROP TABLE notes; --", 'Robert"); DELETE FROM notes WHERE ("1"="1', 'héllo 世界 🎉 \u0000 end', '\\\' OR 1=1 #']) {
      const id = (await tcp.request('/notes/add', { text })).data as number
      assert.equal((await tcp.request('/notes/get', { id })).data, text)
    }
    assert.ok(((await tcp.request('/notes/count')).data as number) >= 4, 'the table still exists')
  })

  test('transactions commit on return and leave no partial rows on throw; nested ones use savepoints', async () => {
    const before = (await tcp.request('/notes/count')).data as number
    assert.equal((await tcp.request('/notes/pair', { fail: false })).error, undefined)
    assert.equal((await tcp.request('/notes/count')).data, before + 2)
    assert.equal((await tcp.request('/notes/pair', { fail: true })).error?.code, 'SD_ERR_INTERNAL')
    assert.equal((await tcp.request('/notes/count')).data, before + 2, 'the first insert was rolled back')
    await tcp.request('/notes/nested')
    assert.equal((await tcp.request('/notes/count')).data, before + 3, 'outer row kept, inner savepoint rolled back')
  })

  test('a statement past queryTimeoutMs → SD_ERR_DB_TIMEOUT, and the pool keeps working', async () => {
    assert.equal((await tcp.request('/notes/slow')).error?.code, 'SD_ERR_DB_TIMEOUT')
    assert.equal(typeof (await tcp.request('/notes/count')).data, 'number')
  })

  test('an exhausted pool queues, then answers SD_ERR_DB_POOL_EXHAUSTED after acquireTimeoutMs, never hangs', async () => {
    const held = [tcp.request('/notes/hold'), TcpClient.connect(portOf(app, 'tcp')).then((c) => c.request('/notes/hold').finally(() => c.close()))]
    // Two transactions hold both connections (poolMax 2) until released.
    let exhausted
    for (let i = 0; i < 50; i++) {
      exhausted = await tcp.request('/notes/count')
      if (exhausted.error) break
    }
    assert.equal(exhausted?.error?.code, 'SD_ERR_DB_POOL_EXHAUSTED')
    assert.equal(releases.length, 2, 'both connections were held')
    for (const r of releases.splice(0)) r()
    await Promise.all(held)
    assert.equal(typeof (await tcp.request('/notes/count')).data, 'number')
  })

  test('this.redis reaches Redis under the app key prefix', async () => {
    assert.equal((await tcp.request('/notes/cache', { key: 'k1', value: 'v1' })).data, 'v1')
    const redis = await import('ioredis')
    const r = new redis.Redis(redisUrl)
    assert.equal(await r.get(`${keyPrefix}k1`), 'v1')
    await r.quit()
  })
})

describe('models without MySQL or Redis', () => {
  test('not configured, or unreachable at boot: the server starts and model calls answer clear codes', async (t) => {
    const off = await startApp({}, { controllers: [NotesController] })
    t.after(() => off.stop())
    const res = await http(portOf(off, 'http'), '/notes/count')
    assert.equal(res.status, 503)
    assert.deepEqual(res.body, { error: { code: 'SD_ERR_DB_UNAVAILABLE', message: 'database unavailable: MySQL is not configured (config/mysql.ts or MYSQL_URL)' } })
    assert.equal((await http(portOf(off, 'http'), '/notes/cache?key=a&value=b')).status, 503)

    const down = await startApp({ mysql: { url: 'mysql://root@127.0.0.1:1/none', acquireTimeoutMs: 500 }, redis: { url: 'redis://127.0.0.1:1', connectTimeoutMs: 200, maxRetriesPerRequest: 0 } }, { controllers: [NotesController] })
    t.after(() => down.stop())
    const c = await TcpClient.connect(portOf(down, 'tcp'))
    t.after(() => c.close())
    assert.equal((await c.request('/notes/count')).error?.code, 'SD_ERR_DB_UNAVAILABLE')
    assert.equal((await c.request('/notes/cache', { key: 'a', value: 'b' })).error?.code, 'SD_ERR_REDIS_UNAVAILABLE')
  })
})
