/**
 * The HistoryStore contract, run against both stores: MemoryHistory and RedisHistory (real
 * Redis, a key prefix of this file's own, deleted at the end).
 */
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Redis } from 'ioredis'
import type { HistoryLimits, HistoryStore } from '../../framework/connection/history.js'
import { MemoryHistory } from '../../framework/connection/memory-history.js'
import { RedisHistory } from '../../framework/data/redis-history.js'
import { deleteRedisKeys, redisUrl, testKeyPrefix } from '../stores.js'
import { waitUntil } from '../helpers.js'

const prefix = testKeyPrefix('history')
const clients: Redis[] = []
const stores: HistoryStore[] = []
let streamNo = 0

function redisClient (): Redis {
  const r = new Redis(redisUrl, { keyPrefix: prefix })
  clients.push(r)
  return r
}

function makeRedis (limits: HistoryLimits): RedisHistory {
  const redis = redisClient()
  const store = new RedisHistory({ ...limits, redis, connect: redisClient, cluster: 'c1' })
  stores.push(store)
  return store
}

function makeMemory (limits: HistoryLimits): MemoryHistory {
  const store = new MemoryHistory({ ...limits, maxStreams: 1000 })
  stores.push(store)
  return store
}

after(async () => {
  await Promise.all(stores.map((s) => s.close()))
  await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())))
  await deleteRedisKeys(prefix)
})

/** A stream name no other test uses (the Redis stores share keys). */
function fresh (): string {
  return `group:t${++streamNo}`
}

for (const [name, make] of [['memory', makeMemory], ['redis', makeRedis]] as const) {
  describe(`HistoryStore contract: ${name}`, () => {
    it('appends in order, positions and recovers after an offset', async () => {
      const store = make({ maxCount: 10, maxAgeMs: 60_000 })
      const s = fresh()
      const p0 = await store.position(s)
      assert.equal(p0.offset, 0)
      assert.ok(p0.epoch.length > 0)
      const a1 = await store.append(s, { n: 1 })
      const a2 = await store.append(s, { n: 2 }, 'own.7')
      const a3 = await store.append(s, 'three')
      assert.deepEqual([a1, a2, a3], [{ epoch: p0.epoch, offset: 1 }, { epoch: p0.epoch, offset: 2 }, { epoch: p0.epoch, offset: 3 }])
      assert.deepEqual(await store.position(s), { epoch: p0.epoch, offset: 3 })
      const r = await store.recover(s, { epoch: p0.epoch, offset: 1 }, 100)
      assert.deepEqual(r, { epoch: p0.epoch, offset: 3, gap: false, entries: [{ offset: 2, data: { n: 2 }, ack: 'own.7' }, { offset: 3, data: 'three' }] })
      assert.deepEqual(await store.recover(s, { epoch: p0.epoch, offset: 3 }, 100), { epoch: p0.epoch, offset: 3, gap: false, entries: [] })
    })

    it('answers a gap when the count trim dropped what the client missed', async () => {
      const store = make({ maxCount: 3, maxAgeMs: 60_000 })
      const s = fresh()
      for (let i = 1; i <= 6; i++) await store.append(s, i)
      const { epoch } = await store.position(s)
      const r = await store.recover(s, { epoch, offset: 1 }, 100)
      assert.equal(r.gap, true)
      assert.deepEqual(r.entries.map((e) => e.offset), [4, 5, 6])
      const ok = await store.recover(s, { epoch, offset: 3 }, 100)
      assert.equal(ok.gap, false)
      assert.deepEqual(ok.entries.map((e) => e.data), [4, 5, 6])
    })

    it('answers a gap when the entries are older than maxAgeMs', async () => {
      const store = make({ maxCount: 10, maxAgeMs: 40 })
      const s = fresh()
      const { epoch } = await store.append(s, 'old')
      const r = await waitUntil(async () => {
        const got = await store.recover(s, { epoch, offset: 0 }, 100)
        return got.entries.length === 0 ? got : undefined
      }, 3000, 'the entry to age out')
      assert.equal(r.gap, true)
    })

    it('answers a gap and the new epoch\'s entries for another epoch', async () => {
      const store = make({ maxCount: 10, maxAgeMs: 60_000 })
      const s = fresh()
      await store.append(s, 'a')
      await store.append(s, 'b')
      const r = await store.recover(s, { epoch: 'gone', offset: 5 }, 100)
      assert.equal(r.gap, true)
      assert.notEqual(r.epoch, 'gone')
      assert.deepEqual(r.entries.map((e) => e.data), ['a', 'b'])
      const first = await store.recover(s, { epoch: '', offset: 0 }, 100)
      assert.equal(first.gap, false)
      assert.equal(first.entries.length, 2)
    })

    it('answers a gap when the client is beyond the top', async () => {
      const store = make({ maxCount: 10, maxAgeMs: 60_000 })
      const s = fresh()
      const { epoch } = await store.append(s, 'a')
      const r = await store.recover(s, { epoch, offset: 9 }, 100)
      assert.deepEqual(r, { epoch, offset: 1, gap: true, entries: [] })
    })

    it('returns at most limit entries, the oldest first', async () => {
      const store = make({ maxCount: 10, maxAgeMs: 60_000 })
      const s = fresh()
      for (let i = 1; i <= 5; i++) await store.append(s, i)
      const { epoch } = await store.position(s)
      const r = await store.recover(s, { epoch, offset: 0 }, 2)
      assert.equal(r.gap, false)
      assert.deepEqual(r.entries.map((e) => e.offset), [1, 2])
      assert.equal(r.offset, 5)
    })

    it('stops at maxBytes of data as JSON text, but always returns a first entry', async () => {
      const store = make({ maxCount: 10, maxAgeMs: 60_000 })
      const s = fresh()
      const p = await store.append(s, 'x'.repeat(10)) // 12 characters as JSON
      await store.append(s, 'y'.repeat(10))
      await store.append(s, 'z'.repeat(10))
      const since = { epoch: p.epoch, offset: 0 }
      assert.deepEqual((await store.recover(s, since, 10, 25)).entries.map((e) => e.offset), [1, 2])
      const one = await store.recover(s, since, 10, 1)
      assert.deepEqual(one.entries.map((e) => e.offset), [1])
      assert.equal(one.gap, false)
      assert.equal((await store.recover(s, since, 10)).entries.length, 3)
    })

    it('delivers an ack to its owner', async () => {
      const store = make({ maxCount: 10, maxAgeMs: 60_000 })
      const heard: string[][] = []
      store.onAck((ackId, conn, uid) => heard.push([ackId, conn, uid]))
      if (store instanceof RedisHistory) await store.ready()
      store.sendAck(store.owner, `${store.owner}.1`, 'c9', 'u9')
      await waitUntil(() => heard.length > 0, 3000, 'the ack')
      assert.deepEqual(heard, [[`${store.owner}.1`, 'c9', 'u9']])
      assert.match(store.owner, /^[0-9a-z]{12}$/)
    })
  })
}

describe('MemoryHistory', () => {
  it('drops the least recently written stream past maxStreams', async () => {
    const store = new MemoryHistory({ maxCount: 10, maxAgeMs: 60_000, maxStreams: 2 })
    stores.push(store)
    const a = await store.append('group:a', 1)
    await store.append('group:b', 1)
    await store.append('group:a', 2)
    await store.append('group:c', 1)
    assert.equal(store.size, 2)
    // a was written after b: b went, a kept its epoch and entries
    assert.deepEqual((await store.recover('group:a', { epoch: a.epoch, offset: 0 }, 10)).entries.map((e) => e.data), [1, 2])
    const b = await store.recover('group:b', { epoch: a.epoch, offset: 1 }, 10)
    assert.equal(b.offset, 0)
    assert.equal(b.gap, true)
  })

  it('keeps acks for another owner to itself (one process)', async () => {
    const store = new MemoryHistory({ maxCount: 10, maxAgeMs: 60_000, maxStreams: 2 })
    stores.push(store)
    const heard: string[] = []
    store.onAck((ackId) => heard.push(ackId))
    store.sendAck('someoneelse1', 'someoneelse1.1', 'c1', 'u1')
    store.sendAck(store.owner, `${store.owner}.2`, 'c1', 'u1')
    assert.deepEqual(heard, [`${store.owner}.2`])
  })
})

describe('RedisHistory across processes', () => {
  it('shares streams and routes an ack to the store that owns it', async () => {
    const one = makeRedis({ maxCount: 10, maxAgeMs: 60_000 })
    const two = makeRedis({ maxCount: 10, maxAgeMs: 60_000 })
    assert.notEqual(one.owner, two.owner)
    const s = fresh()
    const p = await one.append(s, 'from one', `${one.owner}.1`)
    const r = await two.recover(s, { epoch: p.epoch, offset: 0 }, 10)
    assert.deepEqual(r.entries, [{ offset: 1, data: 'from one', ack: `${one.owner}.1` }])
    const heardOne: string[] = []
    const heardTwo: string[] = []
    one.onAck((id, conn, uid) => heardOne.push(`${id} ${conn} ${uid}`))
    two.onAck((id) => heardTwo.push(id))
    await Promise.all([one.ready(), two.ready()])
    two.sendAck(one.owner, `${one.owner}.1`, 'conn-x', 'uid-x')
    await waitUntil(() => heardOne.length > 0, 3000, 'the ack at one')
    assert.deepEqual(heardOne, [`${one.owner}.1 conn-x uid-x`])
    assert.deepEqual(heardTwo, [])
  })

  it('writes the appends of one turn as one entry per stream, in order, and reads them back one by one', async () => {
    const store = makeRedis({ maxCount: 4, maxAgeMs: 60_000 })
    const a = fresh()
    const b = fresh()
    // one turn: interleaved streams, an ack in the middle
    const ps = await Promise.all([
      store.append(a, 'a1'), store.append(b, 'b1'), store.append(a, 'a2', `${store.owner}.9`),
      store.append(a, 'a3'), store.append(b, 'b2'), store.append(a, 'a4'), store.append(a, 'a5'),
    ])
    assert.deepEqual(ps.map((p) => p.offset), [1, 1, 2, 3, 2, 4, 5])
    assert.equal(new Set(ps.map((p) => p.epoch)).size, 1)
    const raw = new Redis(redisUrl)
    clients.push(raw)
    assert.equal(await raw.xlen(`${prefix}{c1}:h:${a}`), 1, 'one stream entry for the five appends of a')
    // a recover from inside the entry; maxCount 4 keeps offsets 2..5 only
    const r = await store.recover(a, { epoch: ps[0].epoch, offset: 2 }, 10)
    assert.deepEqual(r.entries, [{ offset: 3, data: 'a3' }, { offset: 4, data: 'a4' }, { offset: 5, data: 'a5' }])
    assert.equal(r.gap, false)
    const all = await store.recover(a, { epoch: ps[0].epoch, offset: 0 }, 10)
    assert.deepEqual(all.entries, [{ offset: 2, data: 'a2', ack: `${store.owner}.9` }, { offset: 3, data: 'a3' }, { offset: 4, data: 'a4' }, { offset: 5, data: 'a5' }])
    assert.equal(all.gap, true)
    const limited = await store.recover(a, { epoch: ps[0].epoch, offset: 2 }, 2)
    assert.deepEqual(limited.entries.map((e) => e.offset), [3, 4])
    // the next turn is a new entry after it
    assert.deepEqual(await store.append(a, 'a6'), { epoch: ps[0].epoch, offset: 6 })
    const after = await store.recover(a, { epoch: ps[0].epoch, offset: 4 }, 10)
    assert.deepEqual(after.entries.map((e) => e.data), ['a5', 'a6'])
    assert.deepEqual((await store.recover(b, { epoch: ps[1].epoch, offset: 0 }, 10)).entries.map((e) => e.data), ['b1', 'b2'])
  })

  it('keeps keys under sd-like {cluster} tags and expires them', async () => {
    const store = makeRedis({ maxCount: 10, maxAgeMs: 60_000 })
    const s = fresh()
    await store.append(s, 1)
    const raw = new Redis(redisUrl)
    clients.push(raw)
    const ttl = await raw.pttl(`${prefix}{c1}:h:${s}`)
    const metaTtl = await raw.pttl(`${prefix}{c1}:hm:${s}`)
    assert.ok(ttl > 0 && ttl <= 60_000, `entries ttl ${ttl}`)
    assert.ok(metaTtl > 60_000, `meta ttl ${metaTtl}`)
  })

  it('starts a new epoch cleanly when the meta key is gone but the entries are not (evicted)', async () => {
    const store = makeRedis({ maxCount: 10, maxAgeMs: 60_000 })
    const s = fresh()
    const old = await store.append(s, 'a')
    await store.append(s, 'b')
    const raw = new Redis(redisUrl)
    clients.push(raw)
    // Redis under maxmemory (allkeys-*) may evict the meta hash and keep the stream
    await raw.del(`${prefix}{c1}:hm:${s}`)
    const p = await store.position(s)
    assert.notEqual(p.epoch, old.epoch)
    assert.deepEqual(await store.append(s, 'c'), { epoch: p.epoch, offset: 1 })
    const r = await store.recover(s, { epoch: p.epoch, offset: 0 }, 10)
    assert.deepEqual(r.entries.map((e) => e.data), ['c'])
  })
})
