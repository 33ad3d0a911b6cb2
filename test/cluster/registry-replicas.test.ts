/**
 * Where registry reads go with replicas, against an in-memory fake of the connections (the
 * real primary and replica are in registry-replicas-redis.test.ts): lookups on the first
 * usable replica, empty uid and group answers confirmed on the primary, counts not, a replica
 * that is down, failed a read, shows no stamp or lags past `maxLagMs` skipped; the lag found
 * from the stamps; the entries of `cluster.registryReplicas` and `SD_REGISTRY_REPLICAS`.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { RedisClient } from '../../framework/data/redis.js'
import { RegistryView } from '../../framework/cluster/registry-reads.js'
import { ReplicaReads, replicaAddress } from '../../framework/cluster/registry-replicas.js'
import { loadConfig } from '../../framework/index.js'

/** Just the commands the view and the lag checks use, over plain maps; counts every command. */
class FakeRedis {
  /** No client prefix: the view adds 'sd:' itself, so keys are stored as `sd:{c}:…`. */
  readonly options = { keyPrefix: '' }
  status = 'ready'
  /** Every command fails. */
  failing = false
  data = new Map<string, unknown>()
  readonly calls = new Map<string, number>()

  #run<T> (name: string, fn: () => T): Promise<T> {
    this.calls.set(name, (this.calls.get(name) ?? 0) + 1)
    return this.failing ? Promise.reject(new Error(`${name}: connection lost`)) : Promise.resolve(fn())
  }

  /** Reads (not stamps) this connection answered. */
  reads (): number {
    let n = 0
    for (const [name, c] of this.calls) if (name !== 'set' && name !== 'get') n += c
    return n
  }

  /** Takes a copy of `primary`'s data (what replication would do). */
  replicate (primary: FakeRedis): void {
    this.data = structuredClone(primary.data)
  }

  set (key: string, value: string): Promise<'OK'> { return this.#run('set', () => { this.data.set(key, value); return 'OK' as const }) }
  get (key: string): Promise<string | null> { return this.#run('get', () => (this.data.get(key) as string | undefined) ?? null) }
  smembers (key: string): Promise<string[]> { return this.#run('smembers', () => [...(this.data.get(key) as Set<string> | undefined) ?? []]) }
  exists (key: string): Promise<number> { return this.#run('exists', () => (this.data.has(key) ? 1 : 0)) }
  scard (key: string): Promise<number> { return this.#run('scard', () => ((this.data.get(key) as Set<string> | undefined)?.size ?? 0)) }
  zscore (key: string, member: string): Promise<string | null> { return this.#run('zscore', () => { const v = (this.data.get(key) as Map<string, number> | undefined)?.get(member); return v === undefined ? null : String(v) }) }
  hgetall (key: string): Promise<Record<string, string>> { return this.#run('hgetall', () => Object.fromEntries((this.data.get(key) as Map<string, string> | undefined) ?? [])) }
  zrangebyscore (key: string): Promise<string[]> { return this.#run('zrangebyscore', () => [...(this.data.get(key) as Map<string, number> | undefined) ?? []].filter(([, s]) => s > 0).map(([m]) => m)) }
  pipeline (): { smembers: (key: string) => void, exec: () => Promise<Array<[Error | null, unknown]>> } {
    const keys: string[] = []
    return {
      smembers: (key) => { keys.push(key) },
      exec: () => this.#run('pipeline', () => keys.map((k): [null, unknown] => [null, [...(this.data.get(k) as Set<string> | undefined) ?? []]])),
    }
  }

  disconnect (): void { this.status = 'end' }
  on (): this { return this }

  // registry entries, as the scripts write them (keys as stored: sd:{c}:…)
  bind (uid: string, node: string): void {
    const k = `sd:{c}:uid:${uid}`
    if (!this.data.has(k)) this.data.set(k, new Set())
    ;(this.data.get(k) as Set<string>).add(node)
    if (!this.data.has('sd:{c}:online')) this.data.set('sd:{c}:online', new Set())
    ;(this.data.get('sd:{c}:online') as Set<string>).add(uid)
  }

  join (group: string, node: string, count: number): void {
    this.data.set(`sd:{c}:group:${group}`, new Map([[node, String(count)]]))
    this.data.set('sd:{c}:groups', new Map([[group, count]]))
  }
}

/** A primary, `replicaCount` replicas, the replica choice and a view reading through it. */
function setUp (replicaCount = 1, maxLagMs = 1000): { primary: FakeRedis, replicas: FakeRedis[], reads: ReplicaReads, view: RegistryView } {
  const primary = new FakeRedis()
  const replicas = Array.from({ length: replicaCount }, () => new FakeRedis())
  const client = (r: FakeRedis): RedisClient => r as unknown as RedisClient
  const reads = new ReplicaReads({ primary: client(primary), replicas: replicas.map((r, i) => ({ name: `replica-${i}`, client: client(r) })), stampKey: 'sd:{c}:stamp:n1', maxLagMs })
  const view = new RegistryView({ redis: client(primary), cluster: 'c', keyPrefix: 'sd:', replicas: reads })
  return { primary, replicas, reads, view }
}

/** One lag check after the replicas took a copy of the primary. */
async function replicated (primary: FakeRedis, replicas: FakeRedis[], reads: ReplicaReads): Promise<void> {
  await reads.check() // a stamp on the primary
  for (const r of replicas) r.replicate(primary)
  await reads.check() // the replicas show it
}

test('lookups go to a current replica; the primary answers none of them', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 })
  const { primary, replicas: [replica], reads, view } = setUp()
  primary.bind('ann', 'n2')
  primary.join('room', 'n2', 3)
  assert.equal(reads.pick(), undefined, 'before any check, the primary reads')
  await replicated(primary, [replica], reads)
  assert.equal(reads.pick(), replica as unknown)

  assert.deepEqual(await view.uidNodes('ann'), ['n2'])
  assert.deepEqual(await view.uidsNodes(['ann', 'ann']), new Map([['ann', ['n2']]]))
  assert.equal(await view.isUidOnline('ann'), true)
  assert.deepEqual(await view.groupNodes('room'), new Map([['n2', 3]]))
  assert.equal(await view.groupCount('room'), 3)
  assert.equal(await view.onlineCount(), 1)
  assert.deepEqual(await view.groups(), ['room'])
  assert.equal(replica.reads(), 7)
  assert.equal(primary.reads(), 0)
  assert.deepEqual(reads.counts, { replica: 7, fallback: 0, confirmed: 0 })
  assert.deepEqual(reads.status(), [{ name: 'replica-0', status: 'ready', lagMs: 0, used: true, lastError: undefined }])
})

test('an empty uid or group answer of a replica is confirmed on the primary; counts are not', async () => {
  const { primary, replicas: [replica], reads, view } = setUp()
  primary.bind('ann', 'n2')
  await replicated(primary, [replica], reads)
  // written on the primary, not replicated yet (still within maxLagMs: the replica stays in use)
  primary.bind('bob', 'n3')
  primary.join('room', 'n3', 1)

  assert.deepEqual(await view.uidNodes('bob'), ['n3'])
  assert.equal(await view.isUidOnline('bob'), true)
  assert.deepEqual(await view.groupNodes('room'), new Map([['n3', 1]]))
  assert.deepEqual(await view.uidsNodes(['ann', 'bob']), new Map([['ann', ['n2']], ['bob', ['n3']]]))
  assert.equal(primary.calls.get('smembers'), 1)
  assert.equal(primary.calls.get('exists'), 1)
  assert.equal(primary.calls.get('hgetall'), 1)
  assert.equal(primary.calls.get('pipeline'), 1, 'only the uid the replica missed is read again')
  // an answer that is not empty is the replica's; so are counts
  assert.deepEqual(await view.uidNodes('ann'), ['n2'])
  assert.equal(await view.onlineCount(), 1, 'the replica\'s count, lagging')
  assert.equal(await view.groupCount('room'), 0, 'the replica\'s count, lagging')
  assert.equal(primary.calls.get('smembers'), 1)
  assert.equal(primary.calls.get('scard'), undefined)
  assert.equal(primary.calls.get('zscore'), undefined)
  assert.equal(reads.counts.confirmed, 4)
  // a fresh read (a send that missed) goes to the primary directly
  assert.deepEqual(await view.uidNodes('bob', true), ['n3'])
  assert.equal(primary.calls.get('smembers'), 2)
  assert.equal(replica.calls.get('smembers'), 2)
  assert.deepEqual(await view.uidsNodes(['ann', 'bob'], true), new Map([['ann', ['n2']], ['bob', ['n3']]]))
  assert.equal(primary.calls.get('pipeline'), 2, 'a fresh sendToUids lookup reads the primary only')
  assert.equal(replica.calls.get('pipeline'), 1)
})

test('a replica that is down, failed a read or shows no stamp is skipped; the next in the list is used', async () => {
  const { primary, replicas: [first, second], reads, view } = setUp(2)
  primary.bind('ann', 'n2')
  await replicated(primary, [first, second], reads)
  assert.equal(reads.pick(), first as unknown, 'the first in the list')

  first.status = 'reconnecting'
  assert.equal(reads.pick(), second as unknown)
  first.status = 'ready'

  // a read that fails goes to the next (here: the primary), and the replica waits for a check
  first.failing = true
  second.status = 'end'
  assert.deepEqual(await view.uidNodes('ann'), ['n2'])
  assert.equal(primary.calls.get('smembers'), 1)
  assert.equal(reads.counts.fallback, 1)
  assert.equal(reads.pick(), undefined)
  first.failing = false
  assert.equal(reads.pick(), undefined, 'still skipped: no check since')
  await reads.check()
  assert.equal(reads.pick(), first as unknown, 'a check found it current again')

  // a server that is not a replica of this primary shows no stamp of this process
  first.data = new Map([['sd:{c}:stamp:n1', 'someone-else:99']])
  await reads.check()
  assert.equal(reads.status()[0].lagMs, undefined)
  assert.equal(reads.pick(), undefined)
})

test('lag: a replica showing an older stamp lags since the next one was written; past maxLagMs it is skipped', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 })
  const { primary, replicas: [replica], reads } = setUp(1, 1000)
  await replicated(primary, [replica], reads)
  assert.equal(reads.status()[0].lagMs, 0)
  // replication stops: stamps keep coming on the primary, the replica keeps the old one
  t.mock.timers.tick(300)
  await reads.check()
  assert.equal(reads.status()[0].lagMs, 300, 'lacks the stamp of the last check, sent 300 ms ago')
  t.mock.timers.tick(600)
  await reads.check()
  assert.equal(reads.status()[0].lagMs, 900)
  assert.equal(reads.pick(), replica as unknown, 'within maxLagMs: still used')
  t.mock.timers.tick(500)
  await reads.check()
  assert.equal(reads.status()[0].lagMs, 1400)
  assert.equal(reads.pick(), undefined, 'past maxLagMs: skipped')
  replica.replicate(primary)
  t.mock.timers.tick(100)
  await reads.check()
  assert.equal(reads.status()[0].lagMs, 0, 'caught up')
  assert.equal(reads.pick(), replica as unknown)
})

test('a replica whose probe does not come back is skipped once the probe is older than maxLagMs', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 })
  const { primary, replicas: [replica], reads } = setUp(1, 1000)
  await replicated(primary, [replica], reads)
  let answer: (v: string | null) => void = () => {}
  replica.get = () => new Promise((resolve) => { answer = resolve })
  const check = reads.check()
  assert.equal(reads.pick(), replica as unknown)
  t.mock.timers.tick(1001)
  assert.equal(reads.pick(), undefined, 'the probe sent 1001 ms ago has no answer')
  answer(null)
  await check
})

test('start() does not wait longer than maxLagMs for a first stamp the primary does not take', async () => {
  const { primary, reads } = setUp(1, 50)
  primary.set = () => new Promise(() => {}) // down: the command waits in the offline queue
  const started = Date.now()
  await reads.start()
  reads.stop()
  assert.ok(Date.now() - started < 1000, 'start() resolved')
  assert.equal(reads.pick(), undefined, 'no stamp yet: reads go to the primary')
})

test('cluster.registryReplicas entries: redis URLs, host:port and unix sockets; SD_REGISTRY_REPLICAS is comma-separated', async () => {
  assert.deepEqual(replicaAddress('unix:/run/redis/replica.sock'), { path: '/run/redis/replica.sock', host: undefined, port: undefined, tls: undefined })
  assert.deepEqual(replicaAddress('unix:///run/r.sock').path, '/run/r.sock')
  assert.deepEqual(replicaAddress('/run/r.sock').path, '/run/r.sock')
  assert.deepEqual(replicaAddress('redis://:s%40cret@10.0.0.6:6380/2'), { path: undefined, host: '10.0.0.6', port: 6380, tls: undefined, password: 's@cret', db: 2 })
  assert.deepEqual(replicaAddress('rediss://r.example'), { path: undefined, host: 'r.example', port: 6379, tls: {} })
  assert.deepEqual(replicaAddress('10.0.0.7:6379'), { path: undefined, host: '10.0.0.7', port: 6379, tls: undefined })
  assert.throws(() => replicaAddress('unix:relative.sock'), (err: Error & { code?: string }) => err.code === 'SD_ERR_CONFIG_INVALID' && /registryReplicas entry "unix:relative.sock"/.test(err.message))

  assert.deepEqual((await loadConfig({ configDir: false, env: {} })).cluster.registryReplicas, [])
  assert.equal((await loadConfig({ configDir: false, env: {} })).cluster.registryReplicaMaxLagMs, 1000)
  const fromEnv = await loadConfig({ configDir: false, env: { SD_REGISTRY_REPLICAS: 'unix:/run/r.sock, redis://10.0.0.6:6379,' } })
  assert.deepEqual(fromEnv.cluster.registryReplicas, ['unix:/run/r.sock', 'redis://10.0.0.6:6379'])
})
