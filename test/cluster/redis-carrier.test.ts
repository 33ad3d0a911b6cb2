/**
 * The Redis pub/sub carrier on the machine's Redis (a cluster name of this file's own):
 * requests and replies between two messengers, a notice reaching the others and not its
 * sender, the channel names, a target nobody listens for reported at once as not reached, and
 * a subscriber connection killed mid-request: it reconnects and the request is answered once.
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { Redis } from 'ioredis'
import { Messenger } from '../../framework/cluster/messenger.js'
import { RedisCarrier } from '../../framework/cluster/redis-carrier.js'
import { redisUrl } from '../stores.js'
import { waitUntil } from '../helpers.js'

const cluster = `t-carrier-${process.pid}`
const clients: Redis[] = []
const messengers: Messenger[] = []

/** A client like the framework's (keyPrefix 'sd:', fail fast, quick reconnects). */
function client (connectionName?: string): Redis {
  const c = new Redis(redisUrl, { keyPrefix: 'sd:', maxRetriesPerRequest: 1, enableAutoPipelining: true, connectionName, retryStrategy: (n) => Math.min(n * 50, 200) })
  c.on('error', () => {})
  clients.push(c)
  return c
}

async function node (name: string, retryMs = 10_000): Promise<{ m: Messenger, carrier: RedisCarrier, ran: string[], notices: string[] }> {
  let n = 0
  const carrier = new RedisCarrier({ name, cluster, redis: client(), connect: () => client(`${cluster}-${name}-${n++ === 0 ? 'pub' : 'sub'}`) })
  const m = new Messenger({ name, carrier, retryMs, requestTimeoutMs: 5000 })
  const ran: string[] = []
  const notices: string[] = []
  m.onRequest = (source, body) => {
    ran.push(`${source}:${body}`)
    return body.length
  }
  m.onNotice = (source, body) => { notices.push(`${source}:${body.toString()}`) }
  messengers.push(m)
  await carrier.start()
  assert.equal(m.ready, 1)
  return { m, carrier, ran, notices }
}

after(async () => {
  for (const m of messengers) await m.close()
  for (const c of clients) c.disconnect()
})

test('requests and replies between two nodes; a notice reaches the others, not its sender; the channels are the cluster\'s', async () => {
  const a = await node('a')
  const b = await node('b')
  const c = await node('c')
  assert.equal(await a.m.requestOne('b', 'héllo ✓'), 7)
  const replies = await a.m.request(['b', 'c'], 'both')
  assert.deepEqual([...replies], [['b', 4], ['c', 4]])
  assert.deepEqual(b.ran, ['a:héllo ✓', 'a:both'])
  assert.deepEqual(c.ran, ['a:both'])
  assert.equal(a.m.notify(Buffer.from('here')), true)
  await waitUntil(() => b.notices.length === 1 && c.notices.length === 1, 3000, 'the notice')
  assert.deepEqual(b.notices, ['a:here'])
  assert.deepEqual(a.notices, [], 'a node does not hear its own notice')
  const raw = client()
  const channels = (await raw.pubsub('CHANNELS', `sd:{${cluster}}:*`) as string[]).sort()
  assert.deepEqual(channels, [`sd:{${cluster}}:all`, `sd:{${cluster}}:n:a`, `sd:{${cluster}}:n:b`, `sd:{${cluster}}:n:c`])
  assert.deepEqual(a.m.links().map((l) => [l.address, l.status, l.preferred]), [['redis', 'ready', true]])
})

test('a target nobody listens for is reported not reached at once (no waiting for a retry)', async () => {
  const a = await node('x')
  const started = Date.now()
  assert.equal(await a.m.requestOne('nobody-here', 'x'), undefined)
  assert.ok(Date.now() - started < 1000)
})

test('a subscriber connection killed mid-request: the route goes down and up, the request is answered once', async () => {
  const a = await node('k-a', 300)
  const b = await node('k-b', 300)
  const raw = client()
  const list = String(await raw.client('LIST'))
  const id = /id=(\d+) [^\n]*name=([^ ]+)/g
  let subId: string | undefined
  for (const m of list.matchAll(id)) if (m[2] === `${cluster}-k-a-sub`) subId = m[1]
  assert.ok(subId, 'a\'s subscriber is connected')
  let downs = 0
  a.carrier.on('down', () => { downs++ })
  // a's subscriber dies right after the request left: the reply may be lost, the re-send is answered from b's memory
  const pending = a.m.requestOne('k-b', 'once')
  await raw.client('KILL', 'ID', subId)
  assert.equal(await pending, 4)
  await waitUntil(() => a.m.ready === 1, 3000, 'a subscribed again')
  assert.ok(downs >= 1, 'the route went down')
  assert.equal(await a.m.requestOne('k-b', 'after'), 5)
  assert.deepEqual(b.ran, ['k-a:once', 'k-a:after'])
})
