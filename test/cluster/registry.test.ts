/**
 * The cluster registry on a private `redis-server` started by this file (free loopback port;
 * the machine's shared Redis is never touched): registration, uid → node lookups, group
 * counts, discovery through `watch()`, a node whose heartbeats stop purged within 5 s (with
 * the default TTL), a live node never purged, and Redis restarted empty → every node
 * re-registers its record and entries by itself.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { Redis } from 'ioredis'
import { RedisRegistry, type NodeRecord } from '../../framework/cluster/registry.js'
import { RegistryView } from '../../framework/cluster/registry-reads.js'
import { findBinary, freePort, PrivateServers, type ServerProcess } from '../data/private-servers.js'
import { waitUntil } from '../helpers.js'

const haveRedis = Boolean(findBinary('redis-server'))
const cluster = `t${process.pid}`

describe('cluster registry (private redis-server)', { skip: haveRedis ? false : 'redis-server not installed' }, () => {
  let servers: PrivateServers
  let redisPort: number
  let redisProc: ServerProcess
  const clients: Redis[] = []
  const registries: RedisRegistry[] = []
  let raw: Redis
  /** Reads only, like `sd status --cluster` would: registers nothing. */
  let reader: RegistryView

  /** A client like the framework's (keyPrefix 'sd:', fail fast, quick reconnects), or a bare one. */
  function client (keyPrefix?: string): Redis {
    const c = new Redis({ host: '127.0.0.1', port: redisPort, keyPrefix, maxRetriesPerRequest: 1, enableAutoPipelining: true, retryStrategy: (n) => Math.min(n * 50, 200) })
    c.on('error', () => {})
    clients.push(c)
    return c
  }

  function registry (name: string, role: 'server' | 'dispatch' = 'server', extra: Partial<ConstructorParameters<typeof RedisRegistry>[0]> = {}): RedisRegistry {
    const r = new RedisRegistry({ redis: client('sd:'), cluster, node: { name, role, host: '127.0.0.1', port: role === 'dispatch' ? 9991 : undefined }, ...extra })
    registries.push(r)
    return r
  }

  before(async () => {
    servers = new PrivateServers()
    redisPort = await freePort()
    redisProc = await servers.startRedis(redisPort)
    raw = client()
    reader = new RegistryView({ redis: client('sd:'), cluster })
  })

  after(async () => {
    d1?.view.unwatch()
    for (const r of registries) await r.stop({ keep: true })
    for (const c of clients) c.disconnect()
    await servers.cleanup()
  })

  let s1: RedisRegistry
  let s2: RedisRegistry
  let d1: RedisRegistry

  test('nodes register under sd:{cluster}:, whatever the client prefix; dispatchers are listed', async () => {
    s1 = registry('srv-1')
    // a bare client (no keyPrefix): the registry adds 'sd:' itself, so both meet on the same keys
    s2 = new RedisRegistry({ redis: client(), cluster, node: { name: 'srv-2', role: 'server' } })
    registries.push(s2)
    d1 = registry('disp-1', 'dispatch')
    assert.equal(await s1.start(), true)
    assert.equal(await s2.start(), true)
    assert.equal(await d1.start(), true)
    assert.equal(s1.keyPrefix, `sd:{${cluster}}:`)
    assert.equal(s2.keyPrefix, `sd:{${cluster}}:`)
    const snap = await reader.snapshot()
    assert.deepEqual(snap.live.map((r) => r.name).sort(), ['disp-1', 'srv-1', 'srv-2'])
    assert.deepEqual(snap.dead, [])
    const dispatchers = await reader.dispatchers()
    assert.equal(dispatchers.length, 1)
    assert.equal(dispatchers[0].name, 'disp-1')
    assert.equal(dispatchers[0].port, 9991)
    assert.equal(dispatchers[0].pid, process.pid)
    // every key is under the one prefix (one hash tag: one Redis Cluster slot)
    const keys = await raw.keys('*')
    assert.ok(keys.length > 0)
    assert.deepEqual(keys.filter((k) => !k.startsWith(`sd:{${cluster}}:`)), [])
    const ttl = await raw.pttl(`sd:{${cluster}}:node:srv-1`)
    assert.ok(ttl > 0 && ttl <= 3000, `record TTL ${ttl}`)
  })

  test('uid → nodes, online count', async () => {
    assert.deepEqual(await Promise.all([s1.setUid('alice', true), s2.setUid('alice', true), s1.setUid('bob', true)]), [true, true, true])
    assert.deepEqual((await reader.uidNodes('alice')).sort(), ['srv-1', 'srv-2'])
    assert.deepEqual(await reader.uidNodes('bob'), ['srv-1'])
    assert.deepEqual(await reader.uidNodes('carol'), [])
    const many = await reader.uidsNodes(['alice', 'bob', 'carol', 'bob'])
    assert.deepEqual([...many.keys()].sort(), ['alice', 'bob'])
    assert.equal(await reader.isUidOnline('bob'), true)
    assert.equal(await reader.isUidOnline('carol'), false)
    assert.equal(await reader.onlineCount(), 2)
    await s1.setUid('alice', false)
    assert.deepEqual(await reader.uidNodes('alice'), ['srv-2'])
    assert.equal(await reader.onlineCount(), 2)
    await s2.setUid('alice', false)
    assert.equal(await reader.isUidOnline('alice'), false)
    assert.equal(await reader.onlineCount(), 1)
    await s1.setUid('alice', true)
  })

  test('group → nodes with counts; groups()', async () => {
    await Promise.all([s1.setGroupCount('room', 3), s2.setGroupCount('room', 2), s2.setGroupCount('lobby', 1)])
    assert.equal(await reader.groupCount('room'), 5)
    assert.deepEqual(Object.fromEntries(await reader.groupNodes('room')), { 'srv-1': 3, 'srv-2': 2 })
    assert.deepEqual((await reader.groups()).sort(), ['lobby', 'room'])
    await s1.setGroupCount('room', 1)
    assert.equal(await reader.groupCount('room'), 3)
    await s2.setGroupCount('lobby', 0)
    assert.deepEqual(await reader.groups(), ['room'])
    assert.equal(await reader.groupCount('lobby'), 0)
    assert.equal(await reader.groupCount('nowhere'), 0)
  })

  test('changes of one turn are coalesced: the last state of each uid/group wins', async () => {
    void s1.setUid('flip', true)
    void s1.setUid('flip', false)
    void s1.setGroupCount('tmp', 4)
    const done = s1.setGroupCount('tmp', 0)
    assert.equal(await done, true)
    assert.equal(await reader.isUidOnline('flip'), false)
    assert.ok(!(await reader.groups()).includes('tmp'))
  })

  test('watch(): a new node is seen within 2 s; one whose heartbeats stop is reported down and purged within 5 s', async () => {
    const seen: NodeRecord[] = []
    const down: string[] = []
    const purged: string[] = []
    // the dispatcher's own view watches (and purges), as a running dispatcher would
    d1.view.on('up', (r) => seen.push(r))
    d1.view.on('down', (n) => down.push(n))
    d1.view.on('purged', (n) => purged.push(n))
    await d1.view.watch()
    assert.deepEqual([...d1.view.live.keys()].sort(), ['disp-1', 'srv-1', 'srv-2'])

    const dead = registry('srv-dead')
    const t0 = Date.now()
    await dead.start()
    await waitUntil(() => seen.some((r) => r.name === 'srv-dead'), 2000, 'srv-dead to be discovered')
    assert.ok(Date.now() - t0 < 2000)
    await Promise.all([dead.setUid('alice', true), dead.setUid('dave', true), dead.setGroupCount('room', 10)])
    assert.equal(await reader.groupCount('room'), 13)
    assert.equal(await reader.onlineCount(), 3)

    // heartbeats stop, nothing is removed: what Redis sees of a SIGKILLed node (default TTL 3 s)
    await dead.stop({ keep: true })
    const killed = Date.now()
    await waitUntil(() => purged.includes('srv-dead'), 5000, 'srv-dead to be purged')
    const tookMs = Date.now() - killed
    assert.ok(tookMs < 5000, `purged after ${tookMs} ms`)
    assert.ok(down.includes('srv-dead'))
    assert.deepEqual((await reader.uidNodes('alice')).sort(), ['srv-1'])
    assert.equal(await reader.isUidOnline('dave'), false)
    assert.equal(await reader.onlineCount(), 2)
    assert.equal(await reader.groupCount('room'), 3)
    assert.deepEqual(Object.fromEntries(await reader.groupNodes('room')), { 'srv-1': 1, 'srv-2': 2 })
    assert.deepEqual((await reader.snapshot()).dead, [])
    assert.equal(await raw.exists(`sd:{${cluster}}:nuids:srv-dead`, `sd:{${cluster}}:ngroups:srv-dead`), 0)
  })

  test('a live node is never purged', async () => {
    assert.equal(await reader.purge('srv-1'), false)
    assert.deepEqual(await reader.uidNodes('bob'), ['srv-1'])
  })

  test('Redis restarted empty: every node re-registers its record and entries by itself', async () => {
    const reregistered = new Set<string>()
    for (const r of [s1, s2, d1]) r.on('reregistered', () => reregistered.add(r.name))
    const runId = async (): Promise<string> => /run_id:(\w+)/.exec(await raw.info('server'))?.[1] ?? ''
    const before = await runId()
    await servers.kill(redisProc)
    // a change made while Redis is down is kept and written once it is back
    assert.equal(await s1.setUid('erin', true), false)
    redisProc = await servers.startRedis(redisPort)
    await waitUntil(() => reregistered.size === 3, 5000, 'all three nodes to re-register')
    assert.notEqual(await runId(), before, 'a new Redis process (it started empty: no persistence)')
    assert.equal(s1.status, 'registered')
    assert.deepEqual((await reader.snapshot()).live.map((r) => r.name).sort(), ['disp-1', 'srv-1', 'srv-2'])
    assert.deepEqual((await reader.uidNodes('alice')).sort(), ['srv-1'])
    assert.deepEqual(await reader.uidNodes('erin'), ['srv-1'])
    assert.equal(await reader.onlineCount(), 3) // alice, bob, erin
    assert.equal(await reader.groupCount('room'), 3)
    assert.deepEqual(Object.fromEntries(await reader.groupNodes('room')), { 'srv-1': 1, 'srv-2': 2 })
  })

  test('stop() removes the node and its entries', async () => {
    await s1.stop()
    const snap = await reader.snapshot()
    assert.ok(!snap.live.some((r) => r.name === 'srv-1'))
    assert.deepEqual(snap.dead, [])
    assert.deepEqual(await reader.uidNodes('bob'), [])
    assert.equal(await reader.groupCount('room'), 2)
    assert.equal(s1.status, 'closed')
  })
})
