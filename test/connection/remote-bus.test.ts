/**
 * The bus operations (bus-ops.ts) and the remote-bus base, against an in-memory remote side:
 * local connections are served first, the rest is routed as one op, counts add up, queries
 * fall back to the local table, membership changes are mirrored after the local table has them.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { answerQuery, forEachTarget, runPush, type MembershipChange, type PushOp, type QueryOp } from '../../framework/connection/bus-ops.js'
import { PendingRequests, RemoteBus, sumCounts } from '../../framework/connection/remote-bus.js'
import { ConnectionTable, type Member } from '../../framework/connection/table.js'
import { attach } from './memory-connection.js'

/** A remote side that reaches `remoteCount` connections for every push and answers what `answers` holds. */
class FakeRemoteBus extends RemoteBus {
  readonly routed: Array<{ op: PushOp, data: unknown }> = []
  readonly asked: QueryOp[] = []
  readonly changes: MembershipChange[] = []
  remoteCount = 0
  answers = new Map<string, unknown>()

  protected async route (op: PushOp, data: unknown): Promise<number> {
    this.routed.push({ op, data })
    return this.remoteCount
  }

  protected async ask (q: QueryOp): Promise<unknown> {
    this.asked.push(q)
    return this.answers.get(q.o)
  }

  protected changed (change: MembershipChange): void {
    this.changes.push(change)
  }
}

function setup (): { table: ConnectionTable, bus: FakeRemoteBus } {
  const table = new ConnectionTable('n.')
  return { table, bus: new FakeRemoteBus(table) }
}

test('pushes: local connections first, then one routed op; the counts add up', async () => {
  const { table, bus } = setup()
  const a = attach(table, bus)
  const b = attach(table, bus)
  await bus.bindUid(a, 'u1')
  await bus.joinGroup(b, 'room')
  bus.remoteCount = 2

  assert.equal(await bus.sendToUid('u1', { hi: 1 }), 3)
  assert.deepEqual(a.pushed, [{ hi: 1 }])
  assert.deepEqual(bus.routed.at(-1), { op: { o: 'uid', u: 'u1' }, data: { hi: 1 } })

  assert.equal(await bus.sendToUids(['u1', 7, 'u1', '7'], 'x'), 3)
  assert.deepEqual(bus.routed.at(-1)?.op, { o: 'uids', u: ['u1', '7'] }, 'uids are strings, each once')

  assert.equal(await bus.sendToGroup('room', 'g', { exclude: a.id }), 3)
  assert.deepEqual(bus.routed.at(-1)?.op, { o: 'group', g: 'room', x: [a.id] })
  assert.deepEqual(b.pushed, ['g'])

  assert.equal(await bus.sendToAll('all', { exclude: [b.id, 'other.1'] }), 3, 'a here, 2 there')
  assert.deepEqual(bus.routed.at(-1)?.op, { o: 'all', x: [b.id, 'other.1'] })
  assert.deepEqual(b.pushed, ['g'], 'excluded here too')
})

test('a connection of this process is never routed; another one is, as one conn op', async () => {
  const { table, bus } = setup()
  const a = attach(table, bus)
  bus.remoteCount = 1
  assert.equal(await bus.sendToConnection(a.id, 'mine'), 1)
  assert.equal(bus.routed.length, 0)
  assert.equal(await bus.sendToConnection('other.9', 'theirs'), 1)
  assert.deepEqual(bus.routed, [{ op: { o: 'conn', c: 'other.9' }, data: 'theirs' }])
  assert.equal(await bus.closeConnection(a.id, 'bye'), true)
  assert.equal(a.closeError?.code, 'SD_ERR_KICKED')
  assert.equal(bus.routed.length, 1, 'closed here: not routed')
  bus.remoteCount = 0
  assert.equal(await bus.closeConnection('other.9', 'bye'), false)
  assert.deepEqual(bus.routed.at(-1), { op: { o: 'close', c: 'other.9', r: 'bye' }, data: undefined })
})

test('kickUid closes the local connections and routes a kick with the reason', async () => {
  const { table, bus } = setup()
  const a = attach(table, bus)
  await bus.bindUid(a, 5)
  bus.remoteCount = 2
  assert.equal(await bus.kickUid(5, 'out'), 3)
  assert.equal(a.status, 'closed')
  assert.deepEqual(bus.routed, [{ op: { o: 'kick', u: '5', r: 'out' }, data: undefined }])
})

test('queries: a uid online here asks nobody; the remote answer wins; without one the local table answers', async () => {
  const { table, bus } = setup()
  const a = attach(table, bus)
  await bus.bindUid(a, 'u1')
  await bus.joinGroup(a, 'room')
  assert.equal(await bus.isUidOnline('u1'), true)
  assert.equal(bus.asked.length, 0)
  assert.equal(await bus.isUidOnline('u2'), false)
  assert.deepEqual(bus.asked, [{ o: 'online', u: 'u2' }])

  // no remote answers: the local table's
  assert.equal(await bus.onlineCount(), 1)
  assert.deepEqual(await bus.groupMembers('room'), ['u1'])
  assert.equal(await bus.groupCount('room'), 1)
  assert.deepEqual(await bus.groups(), ['room'])
  assert.equal(await bus.serverConnections(), undefined)

  bus.answers.set('online', true).set('count', 9).set('members', ['u1', 'u8']).set('groupCount', 4).set('groups', ['room', 'hall']).set('connections', { tcp: 3 })
  assert.equal(await bus.isUidOnline('u2'), true)
  assert.equal(await bus.onlineCount(), 9)
  assert.deepEqual(await bus.groupMembers('room'), ['u1', 'u8'])
  assert.equal(await bus.groupCount('room'), 4)
  assert.deepEqual(await bus.groups(), ['room', 'hall'])
  assert.deepEqual(await bus.serverConnections(), { tcp: 3 })
})

test('membership changes are mirrored after the local table applied them, with what a bind replaced', async () => {
  const { table, bus } = setup()
  const a = attach(table, bus)
  const b = attach(table, bus)
  await bus.bindUid(a, 'u1')
  await bus.bindUid(b, 'u1', { kick: true })
  await bus.bindUid(b, 'u2')
  await bus.joinGroup(b, 'room')
  await bus.leaveGroup(b, 'room')
  await bus.joinGroup(b, 'hall')
  await bus.unbindUid(a) // closed by the kick: nothing to unbind
  b.close()
  assert.equal(a.status, 'closed', 'the bind with kick closed the other connection of the uid')
  assert.deepEqual(bus.changes.map((c) => c.t === 'close' ? { ...c, was: { uid: c.was?.uid, groups: [...c.was?.groups ?? []] } } : c), [
    { t: 'open', c: a.id },
    { t: 'open', c: b.id },
    { t: 'bind', c: a.id, u: 'u1', kick: false, previous: undefined, first: true },
    { t: 'close', c: a.id, was: { uid: 'u1', groups: [] } },
    { t: 'bind', c: b.id, u: 'u1', kick: true, previous: undefined, first: false },
    { t: 'bind', c: b.id, u: 'u2', kick: false, previous: 'u1', first: true },
    { t: 'join', c: b.id, g: 'room' },
    { t: 'leave', c: b.id, g: 'room' },
    { t: 'join', c: b.id, g: 'hall' },
    { t: 'unbind', c: a.id, u: undefined },
    { t: 'close', c: b.id, was: { uid: 'u2', groups: ['hall'] } },
  ])
})

test('forEachTarget: one definition of who a push reaches, for any table', () => {
  const table = new ConnectionTable<Member & { w: number }>()
  const m = (id: string, w: number, uid?: string, groups: string[] = []): void => {
    const x = { id, w, uid: undefined, groups: undefined }
    table.add(x)
    if (uid !== undefined) table.bindUid(x, uid)
    for (const g of groups) table.join(x, g)
  }
  m('a', 1, 'u1', ['room'])
  m('b', 2, 'u1')
  m('c', 2, 'u2', ['room'])
  m('d', 3)
  const ids = (op: PushOp): string[] => {
    const out: string[] = []
    forEachTarget(table, op, (x) => out.push(x.id))
    return out.sort()
  }
  assert.deepEqual(ids({ o: 'uid', u: 'u1' }), ['a', 'b'])
  assert.deepEqual(ids({ o: 'uids', u: ['u1', 'u2', 'u1'] }), ['a', 'b', 'c'], 'a uid listed twice reaches its connections once')
  assert.deepEqual(ids({ o: 'group', g: 'room', x: ['c'] }), ['a'])
  assert.deepEqual(ids({ o: 'all', x: ['a', 'zz'] }), ['b', 'c', 'd'])
  assert.deepEqual(ids({ o: 'all' }), ['a', 'b', 'c', 'd'])
  assert.deepEqual(ids({ o: 'conn', c: 'd' }), ['d'])
  assert.deepEqual(ids({ o: 'conn', c: 'nope' }), [])
  assert.deepEqual(ids({ o: 'kick', u: 'u1', r: 'x', except: 'b' }), ['a'])
  assert.deepEqual(ids({ o: 'close', c: 'c', r: 'x' }), ['c'])
  assert.equal(answerQuery(table, { o: 'online', u: 'u2' }), true)
  assert.equal(answerQuery(table, { o: 'count' }), 2)
  assert.deepEqual(answerQuery(table, { o: 'members', g: 'room' }), ['u1', 'u2'])
  assert.equal(answerQuery(table, { o: 'groupCount', g: 'room' }), 2)
  assert.deepEqual(answerQuery(table, { o: 'groups' }), ['room'])
})

test('runPush: data given as JSON text reaches clients as the value; kick and close close', () => {
  const table = new ConnectionTable('n.')
  const a = attach(table)
  const b = attach(table)
  table.bindUid(a, 'u1')
  table.bindUid(b, 'u1')
  assert.equal(runPush(table, { o: 'uid', u: 'u1' }, undefined, '{"t":1}'), 2)
  assert.equal(runPush(table, { o: 'all', x: [b.id] }, [1, 2]), 1)
  assert.deepEqual(a.pushed, [{ t: 1 }, [1, 2]])
  assert.deepEqual(b.pushed, [{ t: 1 }])
  assert.equal(runPush(table, { o: 'kick', u: 'u1', r: 'gone', except: a.id }, undefined), 1)
  assert.equal(b.closeError?.message, 'connection closed: gone')
  assert.equal(runPush(table, { o: 'close', c: a.id, r: 'bye' }, undefined), 1)
  assert.equal(a.status, 'closed')
  assert.equal(table.size, 0)
})

test('PendingRequests settle once: with the answer, or the fallback when unsent, dropped, late or cut off', async () => {
  const p = new PendingRequests()
  const sent: number[] = []
  const send = (r: number): boolean => { sent.push(r); return true }
  const answered = p.start(send, 0)
  const dropped = p.start(send, 'fallback')
  const cut = p.start(send, undefined as string | undefined)
  assert.equal(await p.start(() => false, 'unsent'), 'unsent')
  assert.equal(p.size, 3)
  p.settle(sent[0], 42)
  p.settle(sent[0], 43)
  p.fail(sent[1])
  p.failAll()
  assert.deepEqual(await Promise.all([answered, dropped, cut]), [42, 'fallback', undefined])
  assert.equal(p.size, 0)

  // an answer later than the timeout is ignored; one in time clears its timer
  const late = p.start(send, 'timed out', 5)
  const quick = p.start(send, 'timed out', 60_000)
  p.settle(sent[4], 'quick')
  assert.equal(await late, 'timed out')
  p.settle(sent[3], 'too late')
  assert.equal(await quick, 'quick')
  assert.equal(p.size, 0)
  assert.equal(sumCounts([1, null, 'x', 2, undefined]), 3)
})
