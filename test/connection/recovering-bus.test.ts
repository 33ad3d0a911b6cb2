/** The recovering bus decorator over the seam's fake (a recording LocalBus) and the memory store. */
import { afterEach, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ConnectionTable } from '../../framework/connection/table.js'
import { MemoryHistory } from '../../framework/connection/memory-history.js'
import { RecoveringBus, type RecoveringBusOptions } from '../../framework/connection/recovering-bus.js'
import { RecordingBus } from './recording-bus.js'
import { attach } from './memory-connection.js'

const stores: MemoryHistory[] = []
afterEach(async () => { await Promise.all(stores.splice(0).map((s) => s.close())) })

function setup (options: Partial<RecoveringBusOptions> = {}): { table: ConnectionTable, inner: RecordingBus, store: MemoryHistory, bus: RecoveringBus } {
  const table = new ConnectionTable()
  const inner = new RecordingBus(table)
  const store = new MemoryHistory({ maxCount: 100, maxAgeMs: 60_000, maxStreams: 100 })
  stores.push(store)
  const bus = new RecoveringBus(inner, store, { uids: false, groups: [], ackTimeoutMs: 5000, ...options })
  return { table, inner, store, bus }
}

describe('RecoveringBus: recorded pushes', () => {
  it('records sendToGroup for configured groups and prefixes, and pushes with meta', async () => {
    const { table, inner, store, bus } = setup({ groups: ['lobby', 'room:*'] })
    const c = attach(table, bus)
    await bus.joinGroup(c, 'room:1')
    assert.equal(await bus.sendToGroup('room:1', { m: 'hi' }), 1)
    assert.equal(await bus.sendToGroup('room:1', { m: 'again' }), 1)
    await bus.sendToGroup('other', 'plain')
    const [first, second, plain] = inner.pushes
    const { epoch } = await store.position('group:room:1')
    assert.deepEqual(first.options?.meta, { s: 'group:room:1', e: epoch, o: 1 })
    assert.deepEqual(second.options?.meta, { s: 'group:room:1', e: epoch, o: 2 })
    assert.equal(plain.options?.meta, undefined)
    assert.equal((await store.position('group:other')).offset, 0)
    const r = await store.recover('group:room:1', { epoch, offset: 0 }, 10)
    assert.deepEqual(r.entries.map((e) => e.data), [{ m: 'hi' }, { m: 'again' }])
  })

  it('lets a send\'s recover option override the config', async () => {
    const { inner, store, bus } = setup({ groups: ['lobby'] })
    await bus.sendToGroup('side', 1, { recover: true })
    await bus.sendToGroup('lobby', 2, { recover: false })
    await bus.sendToUid('u1', 3, { recover: true })
    assert.equal(inner.pushes[0].options?.meta?.s, 'group:side')
    assert.equal(inner.pushes[1].options?.meta, undefined)
    assert.equal(inner.pushes[2].options?.meta?.s, 'uid:u1')
    assert.equal((await store.position('group:lobby')).offset, 0)
  })

  it('records sendToUid and sendToUids per uid when recovery.uids is on', async () => {
    const { table, inner, store, bus } = setup({ uids: true })
    for (const uid of ['a', 'b']) await bus.bindUid(attach(table, bus), uid)
    await bus.sendToUid('a', 'one')
    assert.equal(await bus.sendToUids(['a', 'b', 'a'], 'two'), 2)
    assert.deepEqual(inner.pushes.map((p) => [p.op, p.target, p.options?.meta?.s, p.options?.meta?.o]),
      [['uid', 'a', 'uid:a', 1], ['uid', 'a', 'uid:a', 2], ['uid', 'b', 'uid:b', 1]])
    assert.equal((await store.position('uid:b')).offset, 1)
  })

  it('does not record a stream whose name /sd/recover would refuse (over 256 characters)', async () => {
    const { table, inner, store, bus } = setup({ uids: true, groups: ['*'] })
    const long = 'g'.repeat(251) // group:<251> is 257 characters
    const longUid = 'u'.repeat(253) // uid:<253> too
    const c = attach(table, bus)
    c.session.$sd = 1
    await bus.joinGroup(c, long)
    await bus.bindUid(c, longUid)
    assert.equal(await bus.sendToGroup(long, 'x'), 1)
    assert.equal(await bus.sendToUid(longUid, 'y'), 1)
    assert.equal(await bus.sendToUid(longUid, 'z', { ack: true, timeoutMs: 60_000 }), 0)
    await bus.sendToGroup('g'.repeat(250), 'kept')
    assert.deepEqual(inner.pushes.filter((p) => p.op !== 'conn').map((p) => p.options?.meta?.s.length), [undefined, undefined, undefined, 256])
    assert.equal(store.size, 1)
  })

  it('never records sendToAll or sendToConnection', async () => {
    const { table, inner, store, bus } = setup({ uids: true, groups: ['*'] })
    const c = attach(table, bus)
    await bus.sendToAll('x', { recover: true })
    await bus.sendToConnection(c.id, 'y', { recover: true })
    assert.ok(inner.pushes.every((p) => p.options?.meta === undefined))
    assert.equal(store.size, 0)
  })

  it('gives an excluded SDK member of the group a skip message instead, and a plain client nothing', async () => {
    const { table, bus } = setup({ groups: ['lobby'] })
    const sender = attach(table, bus)
    sender.session.$sd = 1
    const plain = attach(table, bus)
    const other = attach(table, bus)
    const outsider = attach(table, bus)
    outsider.session.$sd = 1
    for (const c of [sender, plain, other]) await bus.joinGroup(c, 'lobby')
    sender.envelopes.length = 0
    assert.equal(await bus.sendToGroup('lobby', 'hello', { exclude: [sender.id, plain.id, outsider.id] }), 1)
    const sent = other.envelopes.at(-1) as Record<string, unknown>
    assert.equal(sent.data, 'hello')
    assert.deepEqual(sender.envelopes, [{ stream: 'group:lobby', epoch: sent.epoch, offset: sent.offset, skip: true }])
    assert.deepEqual(plain.envelopes, [])
    assert.deepEqual(outsider.envelopes, [])
  })
})

describe('RecoveringBus: acknowledgements', () => {
  it('resolves once every reached connection acknowledged', async () => {
    const { table, inner, store, bus } = setup()
    const a = attach(table, bus)
    const b = attach(table, bus)
    await bus.bindUid(a, 'u')
    await bus.bindUid(b, 'u')
    const sent = bus.sendToUid('u', 'ping', { ack: true, timeoutMs: 60_000 })
    await new Promise((resolve) => setImmediate(resolve))
    const meta = inner.pushes[0].options?.meta
    assert.match(meta?.a ?? '', new RegExp(`^${store.owner}\\.\\d+$`))
    bus.acked(meta!.a!, a.id, 'u')
    bus.acked(meta!.a!, a.id, 'u') // a duplicate counts once
    bus.acked(meta!.a!, 'intruder', 'v') // bound to another uid: not counted
    assert.equal(bus.waiting, 1)
    store.sendAck(store.owner, meta!.a!, b.id, 'u') // through the store, as from another process
    assert.equal(await sent, 2)
    assert.equal(bus.waiting, 0)
    const r = await store.recover('uid:u', { epoch: meta!.e, offset: 0 }, 10)
    assert.equal(r.entries[0].ack, meta!.a)
  })

  it('waits the whole timeout when nobody was reached, counting late acks', async () => {
    const { inner, bus } = setup()
    const sent = bus.sendToUid('nobody', 'ping', { ack: true, timeoutMs: 200 })
    await new Promise((resolve) => setImmediate(resolve))
    bus.acked(inner.pushes[0].options!.meta!.a!, 'recovered-later', 'nobody')
    assert.equal(bus.waiting, 1)
    assert.equal(await sent, 1)
  })

  it('bounds the waiting sends: the oldest settles with what it has', async () => {
    const { bus } = setup({ maxWaiters: 2 })
    const first = bus.sendToUid('x', 1, { ack: true, timeoutMs: 60_000 })
    const second = bus.sendToUid('x', 2, { ack: true, timeoutMs: 60_000 })
    await new Promise((resolve) => setImmediate(resolve))
    const third = bus.sendToUid('x', 3, { ack: true, timeoutMs: 60_000 })
    assert.equal(await first, 0)
    assert.equal(bus.waiting, 2)
    bus.settleAll()
    assert.deepEqual(await Promise.all([second, third]), [0, 0])
  })
})

describe('RecoveringBus: sync messages', () => {
  it('tells an SDK connection the position after bindUid and joinGroup, others nothing', async () => {
    const { table, inner, store, bus } = setup({ groups: ['lobby'] })
    await bus.sendToGroup('lobby', 'before')
    const sdk = attach(table, bus)
    sdk.session.$sd = 1
    const plain = attach(table, bus)
    await bus.bindUid(sdk, 7)
    await bus.joinGroup(sdk, 'lobby')
    await bus.bindUid(plain, 8)
    await bus.joinGroup(plain, 'lobby')
    const lobby = await store.position('group:lobby')
    const uid = await store.position('uid:7')
    const syncs = inner.pushes.filter((p) => p.op === 'conn')
    assert.deepEqual(syncs.map((p) => [p.target, p.data, p.options?.meta]), [
      [sdk.id, undefined, { s: 'uid:7', e: uid.epoch, o: 0, y: 1 }],
      [sdk.id, undefined, { s: 'group:lobby', e: lobby.epoch, o: 1, y: 1 }],
    ])
  })

  it('reads the position before the join: a push delivered once joined is above the sync, whatever order they arrive in', async () => {
    const table = new ConnectionTable()
    let bus: RecoveringBus | undefined
    // a push from another process lands just as the join takes effect
    class RacingBus extends RecordingBus {
      override async joinGroup (conn: Parameters<RecordingBus['joinGroup']>[0], group: string): Promise<void> {
        await super.joinGroup(conn, group)
        await bus!.sendToGroup(group, 'racing')
      }
    }
    const inner = new RacingBus(table)
    const store = new MemoryHistory({ maxCount: 100, maxAgeMs: 60_000, maxStreams: 100 })
    stores.push(store)
    bus = new RecoveringBus(inner, store, { uids: false, groups: ['lobby'], ackTimeoutMs: 5000 })
    const sdk = attach(table, bus)
    sdk.session.$sd = 1
    await bus.joinGroup(sdk, 'lobby')
    const pushed = sdk.envelopes.find((e) => e.data === 'racing')
    const sync = inner.pushes.find((p) => p.op === 'conn')?.options?.meta
    assert.equal(pushed?.offset, 1)
    // were the sync at 1, a client that got it before the push (two processes) would drop the push as a duplicate
    assert.deepEqual(sync, { s: 'group:lobby', e: pushed?.epoch, o: 0, y: 1 })
  })
})
