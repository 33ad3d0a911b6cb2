/**
 * Redis over a unix socket, against a private `redis-server` with no TCP port at all: a model's
 * `this.redis` in a running app (`redis+unix://…?db=3`: the db parameter is honoured), the
 * shared and a dedicated (SUBSCRIBE) connection from `redis.path`, and the cluster registry
 * (`unix:` URL) registering a node and answering lookups.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { Redis } from 'ioredis'
import { pino } from 'pino'
import { Controller, Model, type Application } from '../../framework/index.js'
import { RedisConnections } from '../../framework/data/redis.js'
import { redisDefaults } from '../../framework/data/options.js'
import { RedisRegistry } from '../../framework/cluster/registry.js'
import { RegistryView } from '../../framework/cluster/registry-reads.js'
import { portOf, startApp, TcpClient } from '../helpers.js'
import { findBinary } from './private-servers.js'
import { startUnixRedis, type UnixRedis } from './unix-redis.js'

const haveRedis = Boolean(findBinary('redis-server'))
const log = pino({ level: 'silent' })

class CacheModel extends Model {
  async put (key: string, value: string): Promise<string | null> {
    await this.redis.set(key, value)
    return this.redis.get(key)
  }
}

class CacheController extends Controller {
  put (d: { key: string, value: string }): Promise<string | null> { return this.model(CacheModel).put(d.key, d.value) }
}

describe('Redis over a unix socket (private redis-server, no TCP port)', { skip: haveRedis ? false : 'redis-server not installed' }, () => {
  let ux: UnixRedis
  /** A plain client on the socket, to check what the framework wrote. */
  let raw: Redis

  before(async () => {
    ux = await startUnixRedis()
    raw = new Redis({ path: ux.path, maxRetriesPerRequest: 1 })
  })

  after(async () => {
    raw?.disconnect()
    await ux?.stop()
  })

  test("a model's this.redis in a running app, through redis+unix:///path?db=3", async (t) => {
    let app: Application | undefined
    let tcp: TcpClient | undefined
    t.after(async () => {
      tcp?.close()
      await app?.stop()
    })
    app = await startApp({ redis: { url: `redis+unix://${ux.path}?db=3`, keyPrefix: 'ux-model:' } }, { controllers: [CacheController] })
    tcp = await TcpClient.connect(portOf(app, 'tcp'))
    const reply = await tcp.request('/cache/put', { key: 'k1', value: 'over the socket' })
    assert.equal(reply.error, undefined)
    assert.equal(reply.data, 'over the socket')
    await raw.select(3)
    assert.equal(await raw.get('ux-model:k1'), 'over the socket', 'written in db 3 under the app prefix')
    await raw.select(0)
    assert.equal(await raw.get('ux-model:k1'), null, 'not in db 0')
  })

  test('redis.path alone: the shared connection and a dedicated SUBSCRIBE connection', async (t) => {
    const redis = new RedisConnections({ ...redisDefaults(), path: ux.path, keyPrefix: 'ux-path:' }, log)
    t.after(() => redis.close())
    assert.equal(redis.configured, true)
    await redis.shared.set('k', 'v')
    assert.equal(await raw.get('ux-path:k'), 'v')
    const sub = redis.dedicated()
    await sub.subscribe('ux-news')
    const message = once(sub, 'message') as Promise<[string, string]>
    await raw.publish('ux-news', 'hello')
    assert.deepEqual(await message, ['ux-news', 'hello'])
  })

  test('the cluster registry through a unix: URL: a node registers, its uids and groups are looked up', async (t) => {
    const redis = new RedisConnections({ ...redisDefaults(), url: `unix:${ux.path}` }, log)
    const cluster = `ux${process.pid}`
    const registry = new RedisRegistry({ redis: redis.shared, cluster, node: { name: 'ux-srv', role: 'server' } })
    const view = new RegistryView({ redis: redis.shared, cluster })
    t.after(async () => {
      await registry.stop()
      await redis.close()
    })
    assert.equal(await registry.start(), true)
    assert.deepEqual(await Promise.all([registry.setUid('ann', true), registry.setGroupCount('room', 2)]), [true, true])
    assert.deepEqual(await view.uidNodes('ann'), ['ux-srv'])
    assert.equal(await view.isUidOnline('ann'), true)
    assert.equal(await view.groupCount('room'), 2)
    assert.deepEqual((await view.snapshot()).live.map((r) => r.name), ['ux-srv'])
    assert.ok(await raw.exists(`sd:{${cluster}}:node:ux-srv`), 'the record is in the socket-only Redis')
  })
})
