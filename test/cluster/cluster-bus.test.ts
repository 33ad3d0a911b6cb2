/**
 * The cluster bus's routing and uid cache against an in-memory cluster (fake registry, fake
 * messengers): lookups cached and shared, notices that drop entries, a fresh lookup after a 0
 * answer, exclusion lists, counts summed, and the request text on the wire.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseOp, requestText } from '../../framework/cluster/bus-wire.js'
import { attach } from '../connection/memory-connection.js'
import { FakeCluster, turns, type FakeServer } from './fake-cluster.js'

function conn (s: FakeServer): ReturnType<typeof attach> {
  return attach(s.table, s.bus)
}

/** srv-a, srv-b and srv-c whose lookups read a replica (held back with `c.lagReplica()`). */
function replicaCluster (): { c: FakeCluster, a: FakeServer, b: FakeServer, cc: FakeServer } {
  const c = new FakeCluster()
  c.replicaReads = true
  return { c, a: c.server('srv-a'), b: c.server('srv-b'), cc: c.server('srv-c') }
}

test('a uid on another server: one request to that server; a fresh cache entry costs no lookup', async () => {
  const c = new FakeCluster()
  const a = c.server('srv-a')
  const b = c.server('srv-b')
  c.server('srv-c')
  const bob = conn(b)
  await b.bus.bindUid(bob, 'bob')
  await turns()
  c.requests.length = 0

  assert.equal(await a.bus.sendToUid('bob', { n: 1 }), 1)
  assert.equal(await a.bus.sendToUid('bob', { n: 2 }), 1)
  assert.deepEqual(bob.pushed, [{ n: 1 }, { n: 2 }])
  assert.equal(c.uidReads, 1, 'the second send used the cached entry')
  assert.deepEqual(c.requests.map((r) => r.to), [['srv-b'], ['srv-b']], 'never fanned out to srv-c')
})

test('sends that find no cache entry share one registry read', async () => {
  const c = new FakeCluster()
  const a = c.server('srv-a')
  const b = c.server('srv-b')
  const bob = conn(b)
  await b.bus.bindUid(bob, 'bob')
  const counts = await Promise.all([1, 2, 3, 4, 5].map((n) => a.bus.sendToUid('bob', n)))
  assert.deepEqual(counts, [1, 1, 1, 1, 1])
  assert.equal(c.uidReads, 1)
  assert.deepEqual(bob.pushed, [1, 2, 3, 4, 5])
})

test('"on no other server" is cached too, and the notice of a server that starts holding the uid drops it', async () => {
  const c = new FakeCluster()
  const a = c.server('srv-a')
  const b = c.server('srv-b')
  assert.equal(await a.bus.sendToUid('ann', 'x'), 0)
  assert.equal(await a.bus.sendToUid('ann', 'x'), 0)
  assert.equal(c.uidReads, 1, 'an empty answer is reused')

  // without the notice the entry stays: the send reaches nobody
  c.loseNotices = true
  const ann = conn(b)
  await b.bus.bindUid(ann, 'ann')
  await turns()
  assert.equal(await a.bus.sendToUid('ann', 'lost'), 0)
  assert.equal(c.uidReads, 1)

  // unbound and bound again: the uid is new on srv-b again, so srv-b announces it
  c.loseNotices = false
  await b.bus.unbindUid(ann)
  await b.bus.bindUid(ann, 'ann')
  await turns()
  assert.equal(await a.bus.sendToUid('ann', 'found'), 1, 'the notice dropped the entry: read again')
  assert.equal(c.uidReads, 2)
  assert.deepEqual(ann.pushed, ['found'])
})

test('a cached server that answers 0 makes the sender look the uid up again and reach its new holders', async () => {
  const c = new FakeCluster()
  const a = c.server('srv-a')
  const b = c.server('srv-b')
  const cc = c.server('srv-c')
  const d = c.server('srv-d')
  c.loseNotices = true
  const onB = conn(b)
  await b.bus.bindUid(onB, 'u1')
  assert.equal(await a.bus.sendToUid('u1', 'one'), 1)
  // u1 moves from srv-b to srv-c, and srv-a hears nothing of it
  await b.bus.unbindUid(onB)
  const onC = conn(cc)
  await cc.bus.bindUid(onC, 'u1')
  assert.equal(await a.bus.sendToUid('u1', 'two'), 1)
  assert.deepEqual(onC.pushed, ['two'])
  assert.equal(c.uidReads, 2)
  assert.equal(await a.bus.sendToUid('u1', 'three'), 1, 'the fresh lookup was cached')
  assert.equal(c.uidReads, 2)

  // several holders cached, one of them lost it: the others' counts are kept, the new one added
  const onB2 = conn(b)
  await b.bus.bindUid(onB2, 'u1')
  a.node.onNodeGone('srv-c') // drops every entry naming srv-c
  assert.equal(await a.bus.sendToUid('u1', 'four'), 2)
  assert.equal(c.uidReads, 3, 'an entry naming a gone node is read again')
  await cc.bus.unbindUid(onC)
  const onD = conn(d)
  await d.bus.bindUid(onD, 'u1')
  assert.equal(await a.bus.sendToUid('u1', 'five'), 2, 'srv-b 1, srv-c 0, then srv-d 1')
  assert.deepEqual(onD.pushed, ['five'])
  assert.deepEqual(onB2.pushed, ['four', 'five'])
})

test('exclusion lists travel with broadcasts, and the counts of every server are summed', async () => {
  const c = new FakeCluster()
  const servers = ['srv-a', 'srv-b', 'srv-c'].map((n) => c.server(n))
  const conns = []
  for (const s of servers) {
    for (let i = 0; i < 2; i++) {
      const x = conn(s)
      await s.bus.joinGroup(x, 'room')
      await s.bus.bindUid(x, `${s.name}-${i}`)
      conns.push(x)
    }
  }
  const lonely = conn(servers[2])
  const [a] = servers
  assert.equal(await a.bus.sendToGroup('room', 'g', { exclude: [conns[0].id, conns[3].id] }), 4)
  assert.deepEqual(conns.map((x) => x.pushed.length), [0, 1, 1, 0, 1, 1])
  assert.equal(await a.bus.sendToAll('all', { exclude: conns[5].id }), 6)
  assert.deepEqual(lonely.pushed, ['all'])
  assert.deepEqual(conns[5].pushed, ['g'])
  assert.equal(await a.bus.sendToUids(['srv-b-0', 'srv-c-1', 'srv-a-1', 'nobody'], 'u'), 3)
  assert.deepEqual(conns.map((x) => x.pushed.at(-1)), ['all', 'u', 'u', 'all', 'all', 'u'])
  const uids = c.requests.find((r) => r.body.startsWith('{"o":"uids"'))
  assert.deepEqual(uids?.to.sort(), ['srv-b', 'srv-c'], 'only the servers holding one of the uids')
})

test('a connection id names its server: sendToConnection and closeConnection go there only', async () => {
  const c = new FakeCluster()
  const a = c.server('srv-a')
  const b = c.server('srv-b')
  c.server('srv-c')
  const x = conn(b)
  assert.equal(await a.bus.sendToConnection(x.id, 'hi'), 1)
  assert.equal(await a.bus.sendToConnection('srv-a.99', 'mine, gone'), 0)
  assert.equal(await a.bus.closeConnection(x.id, 'bye'), true)
  assert.equal(x.closeError?.code, 'SD_ERR_KICKED')
  assert.equal(await a.bus.closeConnection(x.id, 'again'), false)
  assert.deepEqual(c.requests.map((r) => r.to), [['srv-b'], ['srv-b'], ['srv-b']])
})

test('bind with kick closes the uid\'s connections on the other servers; kickUid reaches them all', async () => {
  const c = new FakeCluster()
  const a = c.server('srv-a')
  const b = c.server('srv-b')
  const old = conn(b)
  await b.bus.bindUid(old, 'k')
  const fresh = conn(a)
  await a.bus.bindUid(fresh, 'k', { kick: true })
  assert.equal(old.status, 'closed')
  assert.match(old.closeError?.message ?? '', /uid k signed in elsewhere/)
  assert.equal(fresh.status, 'open')
  await turns()
  assert.deepEqual([...c.uids.get('k') ?? []], ['srv-a'], 'srv-b\'s close left the registry')

  const other = conn(b)
  await b.bus.bindUid(other, 'k')
  assert.equal(await a.bus.kickUid('k', 'out'), 2)
  assert.equal(other.status, 'closed')
  assert.equal(fresh.status, 'closed')
})

test('queries: the registry answers counts; group members are the union of every server\'s', async () => {
  const c = new FakeCluster()
  const a = c.server('srv-a')
  const b = c.server('srv-b')
  const x = conn(a)
  const y = conn(b)
  const z = conn(b)
  await a.bus.bindUid(x, 'ann')
  await b.bus.bindUid(y, 'bob')
  await a.bus.joinGroup(x, 'room')
  await b.bus.joinGroup(y, 'room')
  await b.bus.joinGroup(z, 'room')
  assert.deepEqual((await a.bus.groupMembers('room')).sort(), ['ann', 'bob'])
  assert.equal(await a.bus.groupCount('room'), 3)
  assert.equal(await a.bus.onlineCount(), 2)
  assert.equal(await a.bus.isUidOnline('bob'), true)
  assert.equal(await a.bus.isUidOnline('cat'), false)
  assert.deepEqual(await a.bus.groups(), ['room'])
  assert.equal(await a.bus.serverConnections(), undefined, 'each server reports its own')
  z.close()
  assert.equal(await a.bus.groupCount('room'), 2, 'a close updates the registry')
})

test('a registry that cannot be read fails the call with SD_ERR_CLUSTER_UNAVAILABLE', async () => {
  const c = new FakeCluster()
  const a = c.server('srv-a')
  c.server('srv-b')
  c.registryDown = true
  await assert.rejects(a.bus.sendToUid('u', 1), { code: 'SD_ERR_CLUSTER_UNAVAILABLE' })
  await assert.rejects(a.bus.sendToGroup('g', 1), { code: 'SD_ERR_CLUSTER_UNAVAILABLE' })
  await assert.rejects(a.bus.onlineCount(), { code: 'SD_ERR_CLUSTER_UNAVAILABLE' })
})

test('request text: a uid push is the uid as a JSON string and the data; other ops one JSON line, then data for a push', async () => {
  assert.equal(requestText({ o: 'uid', u: 'bob' }, { t: 1 }), '"bob"\n{"t":1}')
  assert.equal(requestText({ o: 'group', g: 'room', x: ['a.1'] }, undefined), '{"o":"group","g":"room","x":["a.1"]}\nnull')
  assert.equal(requestText({ o: 'kick', u: 'bob', r: 'out' }), '{"o":"kick","u":"bob","r":"out"}')
  assert.equal(requestText({ o: 'members', g: 'room' }), '{"o":"members","g":"room"}')
  assert.deepEqual(parseOp('"bob"'), { o: 'uid', u: 'bob' })
  assert.deepEqual(parseOp('"b\\"ob"'), { o: 'uid', u: 'b"ob' })
  assert.deepEqual(parseOp('{"o":"all"}'), { o: 'all' })
  assert.throws(() => requestText({ o: 'uid', u: 'x' }, 1n))

  // a server refuses an op it does not know (the messenger answers null)
  const c = new FakeCluster()
  const b = c.server('srv-b')
  assert.throws(() => b.node.messenger.onRequest('srv-a', '{"o":"online","u":"x"}'), /unknown request/)
})

test('replica reads: sendToUids reaches a uid that moved to another server while the replica lags', async () => {
  const { c, a, b, cc } = replicaCluster()
  const onB = conn(b)
  const stays = conn(b)
  await b.bus.bindUid(onB, 'u1')
  await b.bus.bindUid(stays, 'u2')
  c.lagReplica()
  // u1 moves from srv-b to srv-c; the replica still places it on srv-b
  await b.bus.unbindUid(onB)
  const onC = conn(cc)
  await cc.bus.bindUid(onC, 'u1')
  await turns()
  c.requests.length = 0
  assert.equal(await a.bus.sendToUids(['u1', 'u2'], 'hi'), 2)
  assert.deepEqual(onC.pushed, ['hi'])
  assert.deepEqual(stays.pushed, ['hi'])
  assert.deepEqual(c.requests.map((r) => r.to), [['srv-b'], ['srv-c']], 'srv-b answered 1 for 2 uids: the primary found srv-c; never twice to a node')
})

test('replica reads: sendToUids reaches a uid that moved away from the sending server while the replica lags', async () => {
  const { c, a, b } = replicaCluster()
  const onA = conn(a)
  await a.bus.bindUid(onA, 'u1')
  c.lagReplica()
  // u1 moves from srv-a (the sender) to srv-b; the replica still places it on srv-a only
  await a.bus.unbindUid(onA)
  const onB = conn(b)
  await b.bus.bindUid(onB, 'u1')
  await turns()
  assert.equal(await a.bus.sendToUids(['u1'], 'hi'), 1)
  assert.deepEqual(onB.pushed, ['hi'])
  assert.deepEqual(onA.pushed, [])
})

test('replica reads: sendToUids reaches a moved uid even when its old server still answers as many connections as uids placed there', async () => {
  const { c, a, b, cc } = replicaCluster()
  const x1 = conn(b)
  const x2 = conn(b)
  const y = conn(b)
  await b.bus.bindUid(x1, 'x')
  await b.bus.bindUid(x2, 'x')
  await b.bus.bindUid(y, 'y')
  c.lagReplica()
  // y moves to srv-c; srv-b still answers 2 (x's two connections) for the 2 uids placed there
  await b.bus.unbindUid(y)
  const yOnC = conn(cc)
  await cc.bus.bindUid(yOnC, 'y')
  await turns()
  assert.equal(await a.bus.sendToUids(['x', 'y'], 'hi'), 3)
  assert.deepEqual(yOnC.pushed, ['hi'], 'srv-c announced y: the primary was asked where y is')
})

test('replica reads: within the max lag of a notice, a replica answer that lacks the announcing server is read again on the primary', async () => {
  const { c, a, b, cc } = replicaCluster()
  const onB = conn(b)
  await b.bus.bindUid(onB, 'u1')
  c.lagReplica()
  // a second device on srv-c: its notice drops srv-a's entry, the replica still shows srv-b only
  const onC = conn(cc)
  await cc.bus.bindUid(onC, 'u1')
  await turns()
  assert.equal(await a.bus.sendToUid('u1', 'one'), 2)
  assert.equal(await a.bus.sendToUid('u1', 'two'), 2, 'the primary\'s answer was cached')
  assert.deepEqual(onB.pushed, ['one', 'two'])
  assert.deepEqual(onC.pushed, ['one', 'two'])
  assert.equal(c.replicaUidReads, 1, 'the replica\'s answer lacked srv-c: read again on the primary')
  assert.equal(c.uidReads, 2)
})

test('meta crosses servers: a uid push with meta goes as an op object (cached uid or not); the excluded member on the other server gets the skip message', async () => {
  const meta = { s: 'uid:bob', e: 'ep', o: 4, a: 'own.2' }
  assert.equal(requestText({ o: 'uid', u: 'bob', m: meta }, 'x'), '{"o":"uid","u":"bob","m":{"s":"uid:bob","e":"ep","o":4,"a":"own.2"}}\n"x"')
  assert.deepEqual(parseOp('{"o":"uid","u":"bob","m":{"s":"uid:bob","e":"ep","o":4}}'), { o: 'uid', u: 'bob', m: { s: 'uid:bob', e: 'ep', o: 4 } })

  const c = new FakeCluster()
  const a = c.server('srv-a')
  const b = c.server('srv-b')
  const bob = conn(b)
  const other = conn(b)
  bob.session.$sd = 1 // an SDK client: the one kind that gets skip messages
  await b.bus.bindUid(bob, 'bob')
  await b.bus.joinGroup(bob, 'room')
  await b.bus.joinGroup(other, 'room')
  await turns()
  const room = { s: 'group:room', e: 'ep', o: 8 }

  assert.equal(await a.bus.sendToUid('bob', 'cold', { meta }), 1)
  assert.equal(await a.bus.sendToUid('bob', 'plain'), 1)
  assert.equal(await a.bus.sendToUid('bob', 'cached', { meta }), 1)
  assert.equal(await a.bus.sendToUids(['bob'], 'many', { meta }), 1)
  assert.equal(await a.bus.sendToConnection(other.id, 'conn', { meta: room }), 1)
  assert.equal(await a.bus.sendToGroup('room', 'g', { meta: room, exclude: [bob.id] }), 1)
  const bobAt = { stream: 'uid:bob', epoch: 'ep', offset: 4, ack: 'own.2' }
  const roomAt = { stream: 'group:room', epoch: 'ep', offset: 8 }
  assert.deepEqual(bob.envelopes, [
    { data: 'cold', ...bobAt }, { data: 'plain' }, { data: 'cached', ...bobAt }, { data: 'many', ...bobAt }, { ...roomAt, skip: true },
  ])
  assert.deepEqual(other.envelopes, [{ data: 'conn', ...roomAt }, { data: 'g', ...roomAt }])
})
