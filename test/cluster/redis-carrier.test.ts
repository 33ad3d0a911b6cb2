/**
 * The Redis pub/sub carrier on the machine's Redis (a cluster name of this file's own):
 * requests and replies between two messengers, a notice reaching the others and not its
 * sender, the channel names, a target nobody listens for reported at once as not reached, and
 * a subscriber connection killed mid-request: it reconnects and the request is answered once;
 * `start()` resolves with the route ready, misses come as one event per frame, and a status
 * after a reconnect shows no stale error.
 */
import { after, test } from 'node:test'
import { once } from 'node:events'
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
function client (connectionName?: string, extra: { lazyConnect?: boolean, enableOfflineQueue?: boolean } = {}): Redis {
  const c = new Redis(redisUrl, { keyPrefix: 'sd:', maxRetriesPerRequest: 1, enableAutoPipelining: true, connectionName, retryStrategy: (n) => Math.min(n * 50, 200), ...extra })
  c.on('error', () => {})
  clients.push(c)
  return c
}

async function node (name: string, retryMs = 10_000): Promise<{ m: Messenger, carrier: RedisCarrier, ran: string[], notices: string[], conns: Redis[] }> {
  const conns: Redis[] = [] // [publisher, subscriber]
  const carrier = new RedisCarrier({ name, cluster, redis: client(), connect: () => { const c = client(`${cluster}-${name}-${conns.length === 0 ? 'pub' : 'sub'}`); conns.push(c); return c } })
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
  return { m, carrier, ran, notices, conns }
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
  const a = await node('x') // retries after 10 s, times out after 5 s: an answer means the miss settled it
  assert.equal(await a.m.requestOne('nobody-here', 'x'), undefined)
  assert.equal(a.m.resent, 0, 'settled without a re-send')
})

test('the targets of one frame nobody listens for are reported in one missed event', async () => {
  const a = await node('mx')
  const events: string[][] = []
  a.carrier.on('missed', (_route, targets) => { events.push([...targets].sort()) })
  const replies = await a.m.request(['nobody-1', 'nobody-2', 'nobody-3'], 'x')
  assert.deepEqual([...replies], [['nobody-1', undefined], ['nobody-2', undefined], ['nobody-3', undefined]])
  assert.deepEqual(events, [['nobody-1', 'nobody-2', 'nobody-3']])
})

test('start() resolves with the route ready, also when the publisher connects after the subscriber', async () => {
  let n = 0
  let pub: Redis | undefined
  const carrier = new RedisCarrier({
    name: 'late-pub',
    cluster,
    redis: client(),
    connect: () => {
      if (n++ > 0) return client()
      pub = client(undefined, { lazyConnect: true })
      const late = pub
      setTimeout(() => { late.connect().catch(() => {}) }, 300)
      return late
    },
  })
  const m = new Messenger({ name: 'late-pub', carrier })
  messengers.push(m)
  await carrier.start()
  assert.equal(pub?.status, 'ready')
  assert.equal(carrier.ready, true)
  assert.equal(m.ready, 1)
})

test('a status after the connections are ready again shows no stale error', async () => {
  let n = 0
  let sub: Redis | undefined
  const carrier = new RedisCarrier({
    name: 'stale-error',
    cluster,
    redis: client(),
    // a subscriber that refuses commands until connected: the first SUBSCRIBE fails, and is
    // made again once it is ready
    connect: () => n++ === 0 ? client() : (sub = client(undefined, { lazyConnect: true, enableOfflineQueue: false })),
  })
  const m = new Messenger({ name: 'stale-error', carrier })
  messengers.push(m)
  await assert.rejects(carrier.start())
  assert.ok(carrier.lastError, 'the failed SUBSCRIBE is reported')
  if (!carrier.ready) await once(carrier, 'up')
  assert.equal(sub?.status, 'ready')
  assert.equal(carrier.lastError, undefined)
  assert.equal(carrier.info()[0]?.lastError, undefined)
  assert.equal(carrier.unavailableReason(), 'Redis pub/sub is not reachable')
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
  assert.equal(a.conns[1]?.options.connectionName, `${cluster}-k-a-sub`)
  let downs = 0
  a.carrier.on('down', () => { downs++ })
  // a's subscriber dies while b runs the request, before b replies: that reply is lost, and
  // a's re-send is answered from b's memory (b runs it once). The socket is closed on a's
  // side at once, inside b's handler (a CLIENT KILL sent from here would race b's reply).
  const handle = b.m.onRequest
  b.m.onRequest = (source, body) => {
    if (body === 'once') a.conns[1]?.stream.destroy()
    return handle(source, body)
  }
  const pending = a.m.requestOne('k-b', 'once')
  assert.equal(await pending, 4)
  assert.ok(a.m.resent >= 1, 'the request was sent again')
  assert.ok(downs >= 1, 'the route went down')
  await waitUntil(() => a.m.ready === 1, 3000, 'a subscribed again')
  assert.equal(await a.m.requestOne('k-b', 'after'), 5)
  assert.deepEqual(b.ran, ['k-a:once', 'k-a:after'])
})
