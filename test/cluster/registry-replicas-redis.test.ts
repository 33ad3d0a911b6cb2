/**
 * Registry reads on a real replica: a private primary and a `redis-server --replicaof` of it
 * (its replication link through a proxy of this file, which can hold the stream back: a
 * lagging replica), on ports below 32768, the replica read over a unix socket. Two cluster
 * nodes in this process (Redis pub/sub carrier, every send looking its uid up) send across:
 * `INFO commandstats` on each server shows the lookups on the replica and none on the primary;
 * a uid bound (or moved to another node) a moment ago is found although the replica lags, by
 * `sendToUid` and `sendToUids`; a replica lagging past
 * `registryReplicaMaxLagMs` is skipped; the replica killed during a stream of sends loses none
 * (reads on the replica before the kill, on the primary after).
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { ClusterBus } from '../../framework/cluster/cluster-bus.js'
import { ClusterNode } from '../../framework/cluster/cluster-node.js'
import { clusterDefaults } from '../../framework/cluster/options.js'
import { ConnectionTable } from '../../framework/connection/table.js'
import { attach, type MemoryConnection } from '../connection/memory-connection.js'
import { findBinary, PrivateServers, type ServerProcess } from '../data/private-servers.js'
import { waitUntil } from '../helpers.js'

const haveRedis = Boolean(findBinary('redis-server'))
const cluster = `rr${process.pid}`
/** Read commands of the registry's lookups (scripts also call some: none runs while counting). */
const LOOKUPS = ['smembers', 'exists', 'scard', 'zscore', 'hgetall', 'zrangebyscore']

/** A free loopback port below 32768 (the ephemeral range starts there). */
async function privatePort (): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000)
    const free = await new Promise<boolean>((resolve) => {
      const s = createServer()
      s.once('error', () => resolve(false))
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)))
    })
    if (free) return port
  }
}

/** Forwards the replica's link to the primary; `hold()` keeps what the primary sends back until `release()`. */
class LinkProxy {
  readonly #server: Server
  readonly #pairs = new Set<Socket>()
  #held = false
  readonly #pending: Array<[Socket, Buffer]> = []

  constructor (target: number) {
    this.#server = createServer((down) => {
      const up = connect(target, '127.0.0.1')
      this.#pairs.add(up).add(down)
      down.pipe(up)
      up.on('data', (chunk: Buffer) => { if (this.#held) this.#pending.push([down, chunk]); else down.write(chunk) })
      const close = (): void => { up.destroy(); down.destroy() }
      up.on('close', close).on('error', close)
      down.on('close', close).on('error', close)
    })
  }

  listen (port: number): Promise<void> {
    return new Promise((resolve) => this.#server.listen(port, '127.0.0.1', resolve))
  }

  hold (): void { this.#held = true }
  release (): void {
    this.#held = false
    for (const [socket, chunk] of this.#pending.splice(0)) socket.write(chunk)
  }

  close (): void {
    for (const s of this.#pairs) s.destroy()
    this.#server.close()
  }
}

/** Calls per command so far, from `INFO commandstats`. */
async function commandStats (redis: Redis): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  for (const m of (await redis.info('commandstats')).matchAll(/^cmdstat_([\w|]+):calls=(\d+)/gm)) out.set(m[1], Number(m[2]))
  return out
}

/** Lookup commands between two snapshots. */
function lookups (from: Map<string, number>, to: Map<string, number>): number {
  return LOOKUPS.reduce((n, c) => n + (to.get(c) ?? 0) - (from.get(c) ?? 0), 0)
}

interface Member { node: ClusterNode, bus: ClusterBus, table: ConnectionTable }

describe('registry reads on a real replica', { timeout: 60_000, skip: haveRedis ? false : 'redis-server not installed' }, () => {
  const servers = new PrivateServers()
  const clients: Redis[] = []
  const members: Member[] = []
  let replicaProc: ServerProcess
  let proxy: LinkProxy
  let primaryPort: number
  let socket: string
  let primaryRaw: Redis
  let replicaRaw: Redis
  let a: Member
  let b: Member
  let bob: MemoryConnection

  function client (port: number, keyPrefix?: string): Redis {
    const c = new Redis({ host: '127.0.0.1', port, keyPrefix, maxRetriesPerRequest: 1, enableAutoPipelining: true, retryStrategy: (n) => Math.min(n * 50, 200) })
    c.on('error', () => {})
    clients.push(c)
    return c
  }

  /** A cluster node whose every send reads the registry (uid cache off), reading on the replica. */
  async function member (name: string, maxLagMs: number): Promise<Member> {
    const redis = client(primaryPort, 'sd:')
    const config = {
      ...clusterDefaults(), carrier: 'redis', uidCacheMs: 0, registryReplicas: [`unix:${socket}`], registryReplicaMaxLagMs: maxLagMs,
      // no heartbeat or poll while the test counts commands (their scripts read too)
      heartbeatMs: 600_000, ttlMs: 1_800_000, pollMs: 600_000,
    }
    const node = new ClusterNode({ config, cluster, nodeName: name, redis, connectRedis: () => { const c = redis.duplicate(); clients.push(c); return c } })
    const table = new ConnectionTable(`${name}.`)
    const m = { node, bus: new ClusterBus(table, node, 0), table }
    members.push(m)
    await node.start()
    await waitUntil(() => node.replicas?.pick() !== undefined, 5000, `${name} to read from the replica`)
    return m
  }

  /** Waits until the replica has `key` (stored name) as the primary has it. */
  async function replicated (key: string): Promise<void> {
    await waitUntil(async () => (await replicaRaw.exists(key)) === 1, 5000, `${key} on the replica`)
  }

  before(async () => {
    primaryPort = await privatePort()
    const proxyPort = await privatePort()
    const replicaPort = await privatePort()
    await servers.startRedis(primaryPort)
    proxy = new LinkProxy(primaryPort)
    await proxy.listen(proxyPort)
    socket = join(servers.dir, 'replica.sock')
    replicaProc = await servers.startRedis(replicaPort, ['--replicaof', '127.0.0.1', String(proxyPort), '--unixsocket', socket, '--unixsocketperm', '700'])
    primaryRaw = client(primaryPort)
    replicaRaw = client(replicaPort)
    await waitUntil(async () => /master_link_status:up/.test(await replicaRaw.info('replication')), 10_000, 'the replica to sync')
    a = await member('node-a', 10_000)
    b = await member('node-b', 10_000)
    bob = attach(b.table, b.bus)
    await b.bus.bindUid(bob, 'bob')
    await b.bus.joinGroup(bob, 'room')
    await a.bus.joinGroup(attach(a.table, a.bus), 'room')
    await replicated(`sd:{${cluster}}:uid:bob`)
    await waitUntil(async () => (await replicaRaw.hlen(`sd:{${cluster}}:group:room`)) === 2, 5000, 'the group on the replica')
  })

  after(async () => {
    for (const m of members) await m.node.stop().catch(() => {})
    for (const c of clients) c.disconnect()
    proxy?.close()
    await servers.cleanup()
  })

  test('cross-server sends, groups and online queries read the replica; the primary answers no lookup', async () => {
    const [p0, r0] = await Promise.all([commandStats(primaryRaw), commandStats(replicaRaw)])
    for (let i = 0; i < 20; i++) assert.equal(await a.bus.sendToUid('bob', { i }), 1)
    assert.equal(await a.bus.sendToUids(['bob'], 'many'), 1)
    assert.equal(await a.bus.sendToGroup('room', 'all of you'), 2)
    assert.equal(await a.bus.isUidOnline('bob'), true)
    assert.equal(await a.bus.onlineCount(), 1)
    assert.equal(await a.bus.groupCount('room'), 2)
    assert.deepEqual(await a.bus.groups(), ['room'])
    assert.deepEqual(await a.bus.groupMembers('room'), ['bob'])
    const [p1, r1] = await Promise.all([commandStats(primaryRaw), commandStats(replicaRaw)])
    assert.equal(lookups(p0, p1), 0, 'no lookup on the primary')
    assert.ok(lookups(r0, r1) >= 27, `the replica answered the lookups (${lookups(r0, r1)})`)
    assert.deepEqual(bob.pushed.slice(-22), [...Array.from({ length: 20 }, (_, i) => ({ i })), 'many', 'all of you'])

    // "offline" is confirmed on the primary: one read there
    assert.equal(await a.bus.isUidOnline('nobody'), false)
    assert.equal(await a.bus.sendToUid('nobody', 'x'), 0)
    const p2 = await commandStats(primaryRaw)
    assert.equal((p2.get('exists') ?? 0) - (p1.get('exists') ?? 0), 1)
    assert.equal((p2.get('smembers') ?? 0) - (p1.get('smembers') ?? 0), 1)
  })

  test('a uid bound a moment ago is found although the replica lags; past registryReplicaMaxLagMs the replica is skipped', async () => {
    const c = await member('node-c', 400)
    const dan = attach(b.table, b.bus)
    await b.bus.bindUid(dan, 'dan')
    await replicated(`sd:{${cluster}}:uid:dan`)
    proxy.hold()
    try {
      // dan moves from B to C: the replica still says B, B answers 0, the lookup again is the primary's
      await b.bus.unbindUid(dan)
      const dan2 = attach(c.table, c.bus)
      await c.bus.bindUid(dan2, 'dan')
      assert.equal(await a.bus.sendToUid('dan', 'moved'), 1)
      // sendToUids: the replica places bob and dan on B, which answers 1 of 2: dan is read on the primary
      assert.equal(await a.bus.sendToUids(['bob', 'dan'], 'moved too'), 2)
      assert.deepEqual(dan2.pushed, ['moved', 'moved too'])

      const carl = attach(b.table, b.bus)
      await b.bus.bindUid(carl, 'carl')
      assert.equal(await replicaRaw.exists(`sd:{${cluster}}:uid:carl`), 0, 'the replica lags')
      const r0 = await commandStats(replicaRaw)
      assert.equal(await a.bus.sendToUid('carl', 'hi carl'), 1)
      assert.equal(await a.bus.isUidOnline('carl'), true)
      assert.equal(await a.bus.sendToUids(['bob', 'carl'], 'both'), 2)
      assert.deepEqual(carl.pushed, ['hi carl', 'both'])
      assert.ok(lookups(r0, await commandStats(replicaRaw)) >= 3, 'node-a (max lag 10 s) still reads the replica')

      // node-c allows 400 ms: the stamps show the lag, and its reads go to the primary
      await waitUntil(() => c.node.replicas!.pick() === undefined, 5000, 'node-c to skip the lagging replica')
      assert.ok((c.node.replicas!.status()[0].lagMs ?? Infinity) > 400)
      const [p1, r1] = await Promise.all([commandStats(primaryRaw), commandStats(replicaRaw)])
      assert.equal(await c.bus.sendToUid('carl', 'from c'), 1)
      const [p2, r2] = await Promise.all([commandStats(primaryRaw), commandStats(replicaRaw)])
      assert.equal(lookups(p1, p2), 1)
      assert.equal(lookups(r1, r2), 0)
    } finally {
      proxy.release()
    }
    await waitUntil(() => c.node.replicas!.pick() !== undefined, 5000, 'node-c to read the replica again once it caught up')
  })

  test('the replica killed during a stream of sends: reads fall back to the primary, no message lost', async () => {
    const before = bob.pushed.length
    const total = 3000
    const counts: number[] = []
    const reads = a.node.replicas!.counts
    const onReplicaBefore = reads.replica
    let onReplicaAtKill = 0
    let killed: Promise<void> | undefined
    let primaryAfterKill: Map<string, number> | undefined
    for (let i = 0; i < total; i += 100) {
      if (i === 1000) {
        onReplicaAtKill = reads.replica
        killed = servers.kill(replicaProc) // not awaited yet: sends go on while it dies
      }
      if (i === 2000) {
        await killed // the last sends run once it is dead
        primaryAfterKill = await commandStats(primaryRaw)
      }
      counts.push(...await Promise.all(Array.from({ length: 100 }, (_, j) => a.bus.sendToUid('bob', i + j))))
    }
    assert.ok(onReplicaAtKill > onReplicaBefore, 'the replica answered lookups before the kill')
    assert.ok(lookups(primaryAfterKill!, await commandStats(primaryRaw)) > 0, 'the primary answered lookups after it')
    assert.deepEqual(counts, Array.from({ length: total }, () => 1), 'every send reached bob')
    // (sends of one batch may overtake each other: some lookups went to the primary)
    assert.deepEqual((bob.pushed.slice(before) as number[]).sort((x, y) => x - y), Array.from({ length: total }, (_, i) => i), 'each once')
    assert.equal(a.node.replicas!.pick(), undefined, 'the dead replica is skipped')
    assert.equal(await a.bus.sendToUid('bob', 'after'), 1)
  })
})
