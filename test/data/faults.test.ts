/**
 * Data-layer faults against real private servers started by this file (a `mariadbd` and a
 * `redis-server` on free loopback ports, see ./private-servers.ts); the machine's shared
 * MariaDB and Redis are never used. One app process lives through each outage: MySQL down at
 * boot, then up, then killed; Redis killed and restarted under a live subscription. Clients
 * must get SD_ERR_DB_UNAVAILABLE / SD_ERR_REDIS_UNAVAILABLE while a server is down (promptly:
 * each call must settle within a deadline), and the same process must recover by itself.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import knex from 'knex'
import { Controller, Model, type Application, type RedisClient } from '../../framework/index.js'
import { http, portOf, startApp, TcpClient, waitUntil, type Envelope } from '../helpers.js'
import { findBinary, freePort, PrivateServers, type ServerProcess } from './private-servers.js'

/** Every call to a store that is down must settle within this (a hang fails the test). */
const SETTLE_MS = 5000

/** Resolves with `p`, or rejects when it has not settled after `ms` (`what` names it). */
async function settles<T> (p: Promise<T>, what: string, ms = SETTLE_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms)
  })
  try { return await Promise.race([p, deadline]) } finally { clearTimeout(timer) }
}

/** A TCP request `{id, path, data}` whose reply must come within SETTLE_MS (a hang fails). */
function caller (tcp: () => TcpClient): (path: string, data?: unknown) => Promise<Envelope> {
  let id = 0
  return (path, data) => {
    const mine = ++id
    tcp().frame(JSON.stringify({ id: mine, path, data }))
    return tcp().next((m) => m.id === mine, SETTLE_MS)
  }
}

class NoteModel extends Model {
  async add (text: string): Promise<number> {
    const [id] = await this.db('notes').insert({ text })
    return id
  }

  async count (): Promise<number> {
    const row = await this.db('notes').count({ n: '*' }).first() as { n: number | string }
    return Number(row.n)
  }
}

class NotesController extends Controller {
  add (d: { text: string }): Promise<number> { return this.model(NoteModel).add(d.text) }
  count (): Promise<number> { return this.model(NoteModel).count() }
  async sleep (d: { s: number }): Promise<unknown> { return this.db.raw('SELECT SLEEP(?) AS s', [d.s]) }
  /** Touches no store. */
  ping (): string { return 'pong' }
}

class CacheController extends Controller {
  publish (d: { channel: string, text: string }): Promise<number> { return this.redis.publish(d.channel, d.text) }
  async put (d: { key: string, value: string }): Promise<string | null> {
    await this.redis.set(d.key, d.value)
    return this.redis.get(d.key)
  }
  /** Touches no store. */
  ping (): string { return 'pong' }
}

const POOL_MAX = 4
const haveMariaDb = Boolean((findBinary('mariadbd') ?? findBinary('mysqld')) && (findBinary('mariadb-install-db') ?? findBinary('mysql_install_db')))
const haveRedis = Boolean(findBinary('redis-server'))

describe('MySQL down at boot, then up, then killed (private mariadbd)', { skip: haveMariaDb ? false : 'mariadbd / mariadb-install-db not installed' }, () => {
  let servers: PrivateServers
  let datadir: string
  let port: number
  let mysqld: ServerProcess | undefined
  let app: Application | undefined
  let tcp: TcpClient | undefined

  before(async () => {
    servers = new PrivateServers()
    port = await freePort()
    datadir = await servers.installMariaDb()
    app = await startApp({ mysql: { url: `mysql://root@127.0.0.1:${port}/sd_faults`, poolMax: POOL_MAX, acquireTimeoutMs: 400, queryTimeoutMs: 20_000 } }, { controllers: [NotesController] })
    tcp = await TcpClient.connect(portOf(app, 'tcp'))
  })
  after(async () => {
    tcp?.close()
    await Promise.allSettled([app?.stop()])
    await servers?.cleanup()
  })

  const call = caller(() => tcp!)
  /** `n` calls at once, enough to open every pool connection. */
  const burst = (n = POOL_MAX): Promise<Envelope[]> => Promise.all(Array.from({ length: n }, () => call('/notes/count')))
  /** True when a reply is a result or SD_ERR_DB_UNAVAILABLE (what a call racing a lost connection may get). */
  const okOrUnavailable = (r: Envelope): boolean => r.error === undefined || r.error.code === 'SD_ERR_DB_UNAVAILABLE'

  test('nothing listens on the MySQL port at boot: the app starts and model calls answer SD_ERR_DB_UNAVAILABLE', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await call('/notes/count')
      assert.equal(res.error?.code, 'SD_ERR_DB_UNAVAILABLE', JSON.stringify(res))
    }
    const res = await settles(http(portOf(app!, 'http'), '/notes/count'), 'HTTP /notes/count')
    assert.equal(res.status, 503)
    assert.equal((res.body as Envelope).error?.code, 'SD_ERR_DB_UNAVAILABLE')
    assert.equal((await call('/notes/ping')).data, 'pong', 'routes without MySQL still answer')
  })

  test('mariadbd comes up on that port: the same app process recovers without a restart', async () => {
    mysqld = await servers.startMariaDb(datadir, port)
    const admin = knex({ client: 'mysql2', connection: `mysql://root@127.0.0.1:${port}/` })
    try {
      await admin.raw('CREATE DATABASE sd_faults CHARACTER SET utf8mb4')
      await admin.schema.withSchema('sd_faults').createTable('notes', (t) => { t.increments('id'); t.text('text').notNullable() })
    } finally {
      await admin.destroy()
    }
    // The very next calls succeed: no restart, no wait for a retry timer.
    const added = await call('/notes/add', { text: 'after recovery' })
    assert.equal(added.error, undefined, JSON.stringify(added))
    assert.equal(typeof added.data, 'number')
    assert.equal((await call('/notes/count')).data, 1)
    const res = await settles(http(portOf(app!, 'http'), '/notes/count'), 'HTTP /notes/count')
    assert.equal(res.status, 200)
    assert.equal(res.body, 1)
  })

  test('the server closes idle pool connections while requests arrive (KILL CONNECTION): never SD_ERR_INTERNAL', async () => {
    // A pooled connection whose FIN has arrived but whose socket is not closed yet passes
    // knex's validation; the query's write then fails with EPIPE. That race is hit in about
    // half the rounds here, so 20 rounds catch an unmapped EPIPE (SD_ERR_INTERNAL) reliably.
    const admin = knex({ client: 'mysql2', connection: `mysql://root@127.0.0.1:${port}/`, pool: { min: 1, max: 1 } })
    try {
      const replies: Envelope[] = []
      for (let round = 0; round < 20; round++) {
        replies.push(...await burst())
        const [rows] = await admin.raw("SELECT id FROM information_schema.processlist WHERE db = 'sd_faults' AND id <> CONNECTION_ID()") as [Array<{ id: number }>]
        assert.ok(rows.length > 0, 'the app has pool connections open')
        const kills = Promise.all(rows.map((r) => admin.raw(`KILL CONNECTION ${Number(r.id)}`)))
        replies.push(...await burst(2 * POOL_MAX))
        await kills
      }
      const bad = replies.filter((r) => !okOrUnavailable(r))
      assert.deepEqual(bad, [], 'every reply is a result or SD_ERR_DB_UNAVAILABLE')
      assert.ok(replies.some((r) => r.error === undefined), 'most calls succeed: the server is up')
    } finally {
      await admin.destroy()
    }
    const res = await call('/notes/count')
    assert.equal(res.error, undefined, `the pool replaced the killed connections: ${JSON.stringify(res)}`)
  })

  test('mariadbd is killed under a running query: it and later calls answer SD_ERR_DB_UNAVAILABLE (no hang, no crash), other routes still answer', async () => {
    // Every pool connection is open when the server dies: one runs SLEEP(30), the others are idle.
    await burst()
    const running = call('/notes/sleep', { s: 30 })
    const admin = knex({ client: 'mysql2', connection: `mysql://root@127.0.0.1:${port}/`, pool: { min: 0, max: 1 } })
    try {
      await waitUntil(async () => {
        const [rows] = await admin.raw("SELECT COUNT(*) AS n FROM information_schema.processlist WHERE info LIKE 'SELECT SLEEP(%'") as [Array<{ n: number }>]
        return Number(rows[0].n) === 1
      }, 5000, 'SLEEP(30) to run on the server')
    } finally {
      await admin.destroy()
    }
    const killed = servers.kill(mysqld!)
    // Calls racing the crash: a result (if one beat it) or SD_ERR_DB_UNAVAILABLE, nothing else.
    const racing = await burst()
    await killed
    assert.deepEqual(racing.filter((r) => !okOrUnavailable(r)), [], 'calls racing the kill')
    const cut = await running
    assert.equal(cut.error?.code, 'SD_ERR_DB_UNAVAILABLE', `the query running at the kill: ${JSON.stringify(cut)}`)
    for (let i = 0; i < 4; i++) {
      const res = await call(i % 2 === 0 ? '/notes/count' : '/notes/add', { text: 'during outage' })
      assert.equal(res.error?.code, 'SD_ERR_DB_UNAVAILABLE', `call ${i} after the kill: ${JSON.stringify(res)}`)
    }
    const many = await burst(2 * POOL_MAX)
    assert.deepEqual(many.map((r) => r.error?.code), Array(2 * POOL_MAX).fill('SD_ERR_DB_UNAVAILABLE'), 'more calls at once than poolMax')
    const res = await settles(http(portOf(app!, 'http'), '/notes/add', { method: 'POST', body: JSON.stringify({ text: 'x' }), headers: { 'content-type': 'application/json' } }), 'HTTP /notes/add')
    assert.equal(res.status, 503)
    assert.equal((res.body as Envelope).error?.code, 'SD_ERR_DB_UNAVAILABLE')
    assert.equal((await call('/notes/ping')).data, 'pong')
    assert.equal((await settles(http(portOf(app!, 'http'), '/notes/ping'), 'HTTP /notes/ping')).body, 'pong')
    assert.equal(app!.status, 'running')
  })
})

describe('Redis killed and restarted mid-run (private redis-server)', { skip: haveRedis ? false : 'redis-server not installed' }, () => {
  let servers: PrivateServers
  const channel = 'sd-faults'
  const received: string[] = []
  let port: number
  let redisd: ServerProcess | undefined
  let app: Application | undefined
  let tcp: TcpClient | undefined
  let subscriber: RedisClient | undefined

  before(async () => {
    servers = new PrivateServers()
    port = await freePort()
    redisd = await servers.startRedis(port)
    // Default maxRetriesPerRequest (1): the setting the docs promise fails fast.
    app = await startApp({ redis: { url: `redis://127.0.0.1:${port}`, keyPrefix: 'sd-faults:', connectTimeoutMs: 1000 } }, { controllers: [CacheController] })
    tcp = await TcpClient.connect(portOf(app, 'tcp'))
    subscriber = app.data.redis.dedicated()
    subscriber.on('message', (ch: string, text: string) => { if (ch === channel) received.push(text) })
    await subscriber.subscribe(channel)
  })
  after(async () => {
    tcp?.close()
    await Promise.allSettled([app?.stop()]) // closes the shared and dedicated connections
    await servers?.cleanup()
  })

  const call = caller(() => tcp!)

  /** Publishes `<prefix>-<n>` through the shared connection until the subscriber has one. */
  async function publishUntilReceived (prefix: string): Promise<void> {
    let n = 0
    await waitUntil(async () => {
      if (received.some((m) => m.startsWith(prefix))) return true
      await call('/cache/publish', { channel, text: `${prefix}-${n++}` })
      return false
    }, 10_000, `the subscriber to receive a "${prefix}" message`)
  }

  test('a dedicated subscriber receives what the shared connection publishes', async () => {
    const res = await call('/cache/publish', { channel, text: 'before-1' })
    assert.equal(res.data, 1, 'one subscriber')
    await waitUntil(() => received.includes('before-1'), 3000, 'the message')
    assert.equal((await call('/cache/put', { key: 'k', value: 'v1' })).data, 'v1')
  })

  test('redis-server is killed: commands settle promptly with SD_ERR_REDIS_UNAVAILABLE, other routes still answer', async () => {
    await servers.kill(redisd!)
    for (const path of ['/cache/put', '/cache/publish']) {
      const res = await call(path, { key: 'k', value: 'outage', channel, text: 'outage' })
      assert.equal(res.error?.code, 'SD_ERR_REDIS_UNAVAILABLE', `${path} after the kill: ${JSON.stringify(res)}`)
    }
    // Several at once (one auto-pipeline) settle too.
    const many = await Promise.all([1, 2, 3].map((i) => call('/cache/put', { key: `k${i}`, value: 'outage' })))
    assert.deepEqual(many.map((r) => r.error?.code), Array(3).fill('SD_ERR_REDIS_UNAVAILABLE'))
    const res = await settles(http(portOf(app!, 'http'), '/cache/put?key=k&value=outage'), 'HTTP /cache/put')
    assert.equal(res.status, 503)
    assert.equal((res.body as Envelope).error?.code, 'SD_ERR_REDIS_UNAVAILABLE')
    assert.equal((await call('/cache/ping')).data, 'pong')
    assert.equal(app!.status, 'running')
  })

  test('redis-server restarts on the same port: the subscription and the shared connection come back by themselves', async () => {
    redisd = await servers.startRedis(port)
    await publishUntilReceived('after-restart')
    assert.equal((await call('/cache/put', { key: 'k', value: 'v2' })).data, 'v2')
    const res = await call('/cache/publish', { channel, text: 'after-restart-final' })
    assert.equal(res.data, 1, 'exactly one subscriber again')
    await waitUntil(() => received.includes('after-restart-final'), 3000, 'the final message')
    assert.ok(!received.includes('outage'), 'nothing published during the outage was delivered')
  })
})
