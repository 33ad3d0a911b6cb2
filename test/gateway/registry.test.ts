/**
 * The gateway registry on the machine's Redis, under a cluster name of this file's own:
 * announce and list, two gateways, expiry once the heartbeat stops (short TTL), withdraw,
 * re-announce on another port, and hostile members skipped rather than thrown.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { Redis } from 'ioredis'
import { GatewayRegistry, parseGatewayEntry } from '../../framework/gateway/registry.js'
import { redisUrl } from '../stores.js'
import { waitUntil } from '../helpers.js'

const cluster = `gwreg${process.pid}`
const key = `sd:{${cluster}}:gateways`
const clients: Redis[] = []
const registries: GatewayRegistry[] = []
let raw: Redis

/** A client like the framework's (keyPrefix 'sd:'). */
function client (): Redis {
  const c = new Redis(redisUrl, { keyPrefix: 'sd:', maxRetriesPerRequest: 1 })
  clients.push(c)
  return c
}

function registry (extra: { ttlMs?: number, heartbeatMs?: number } = {}): GatewayRegistry {
  const r = new GatewayRegistry({ redis: client(), cluster, ...extra })
  registries.push(r)
  return r
}

const names = async (r: GatewayRegistry): Promise<string[]> => (await r.list()).map((e) => e.name).sort()

before(() => { raw = new Redis(redisUrl) })
after(async () => {
  for (const r of registries) await r.close()
  await raw.del(key)
  await raw.quit()
  for (const c of clients) await c.quit()
})

test('announce, list, two gateways, withdraw', async () => {
  const a = registry()
  const b = registry()
  const reader = registry()
  assert.deepEqual(await reader.list(), [])
  await a.announce({ name: 'gw-a', host: '10.0.0.1', port: 9992 })
  await b.announce({ name: 'gw-b', host: '10.0.0.2', port: 9993 })
  assert.deepEqual((await reader.list()).sort((x, y) => x.name.localeCompare(y.name)), [
    { name: 'gw-a', host: '10.0.0.1', port: 9992 },
    { name: 'gw-b', host: '10.0.0.2', port: 9993 },
  ])
  // the key is the one plan.md names, under the cluster's hash tag
  assert.equal(await raw.zcard(key), 2)
  await a.withdraw()
  assert.deepEqual(await names(reader), ['gw-b'])
  await b.withdraw()
  assert.deepEqual(await reader.list(), [])
})

test('an entry expires once its heartbeat stops; a live one stays', async () => {
  const dead = registry({ ttlMs: 300, heartbeatMs: 100 })
  const live = registry({ ttlMs: 300, heartbeatMs: 100 })
  const reader = registry()
  await dead.announce({ name: 'gw-dead', host: '127.0.0.1', port: 9001 })
  await live.announce({ name: 'gw-live', host: '127.0.0.1', port: 9002 })
  assert.deepEqual(await names(reader), ['gw-dead', 'gw-live'])
  await dead.close() // heartbeat stops, nothing removed: as a killed gateway
  await waitUntil(async () => (await names(reader)).length === 1, 5000, 'the dead entry to expire')
  assert.deepEqual(await names(reader), ['gw-live'])
  // the live one outlives several TTLs through its heartbeat
  const until = Date.now() + 1000
  while (Date.now() < until) {
    assert.deepEqual(await names(reader), ['gw-live'])
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  await live.withdraw()
})

test('announcing again replaces the entry (a new port is not listed beside the old one)', async () => {
  const g = registry()
  const reader = registry()
  await g.announce({ name: 'gw-moved', host: '127.0.0.1', port: 9100 })
  await g.announce({ name: 'gw-moved', host: '127.0.0.1', port: 9101 })
  assert.deepEqual(await reader.list(), [{ name: 'gw-moved', host: '127.0.0.1', port: 9101 }])
  assert.equal(await raw.zcard(key), 1)
  await g.withdraw()
})

test('hostile members are skipped, not thrown', async () => {
  const g = registry()
  const reader = registry()
  await g.announce({ name: 'gw-good', host: '127.0.0.1', port: 9200 })
  const far = Date.now() + 60_000
  await raw.zadd(key, far, 'not json', far, '{"name":"x"}', far, '{"name":"a b","host":"h","port":1}', far, '{"name":"p","host":"h","port":70000}',
    far, '{"name":"q","host":"h","port":"80"}', far, 'null', far, '[1,2]', far, '{"name":"r","host":"","port":80}', far, '{"name":"s","host":"h\\nx","port":80}')
  assert.deepEqual(await reader.list(), [{ name: 'gw-good', host: '127.0.0.1', port: 9200 }])
  await g.withdraw()
  await raw.del(key)
})

test('announce refuses an invalid entry', async () => {
  const g = registry()
  await assert.rejects(g.announce({ name: 'bad name', host: '127.0.0.1', port: 9300 }), /invalid gateway entry/)
  await assert.rejects(g.announce({ name: 'gw', host: '127.0.0.1', port: 0 }), /invalid gateway entry/)
  assert.equal(parseGatewayEntry('{"name":"gw","host":"::1","port":9992}')?.host, '::1')
})
