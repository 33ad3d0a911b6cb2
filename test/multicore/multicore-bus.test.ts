/**
 * Worker-process buses and the primary's membership mirror, wired in memory (no processes):
 * each IPC message takes one turn, as the batched channel would. Pushes reach only the
 * workers that hold their targets, counts add up, queries cover every worker, and a worker
 * whose primary is gone falls back to its own connections.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ConnectionTable } from '../../framework/connection/table.js'
import type { FromWorker, ToWorker } from '../../framework/multicore/ipc-protocol.js'
import { MembershipMirror } from '../../framework/multicore/membership.js'
import { MulticoreBus } from '../../framework/multicore/multicore-bus.js'
import type { WorkerAppFactory } from '../../framework/multicore/worker-process.js'
import { createApp, type Application } from '../../framework/index.js'
import { attach } from '../connection/memory-connection.js'
import { turns } from '../cluster/fake-cluster.js'

// the factory worker-process-main.mjs passes to runWorker fits it (checked by tsc)
void (createApp satisfies WorkerAppFactory<Application>)

interface FakeWorker { id: number, table: ConnectionTable, bus: MulticoreBus }

/** A primary in memory: relays and answers as `Primary` does, through a `MembershipMirror`. */
class FakePrimary {
  readonly workers = new Map<number, FakeWorker>()
  readonly delivered: Array<{ worker: number, msg: ToWorker }> = []
  readonly mirror = new MembershipMirror((worker, msg) => this.#toWorker(worker, msg))

  worker (id: number): FakeWorker {
    const table = new ConnectionTable(`w${id}.`)
    const bus = new MulticoreBus(table, (msg) => { setImmediate(() => this.#fromWorker(id, msg)); return true })
    const w = { id, table, bus }
    this.workers.set(id, w)
    return w
  }

  #toWorker (worker: number, msg: ToWorker): void {
    if (msg.t === 'deliver') this.delivered.push({ worker, msg })
    setImmediate(() => this.workers.get(worker)?.bus.receive(msg))
  }

  #fromWorker (id: number, msg: FromWorker): void {
    switch (msg.t) {
      case 'send': this.#toWorker(id, { t: 'result', r: msg.r, v: this.mirror.relay(msg.to, msg.d, id) }); return
      case 'query': this.#toWorker(id, { t: 'result', r: msg.r, v: this.mirror.query(msg.q) }); return
      case 'ready': case 'failed': case 'stats': case 'metrics': case 'published': return
      default: this.mirror.apply(id, msg)
    }
  }
}

test('a push reaches only the workers that hold its targets; counts add up', async () => {
  const p = new FakePrimary()
  const [w1, w2, w3] = [p.worker(1), p.worker(2), p.worker(3)]
  const a = attach(w1.table, w1.bus)
  const b = attach(w2.table, w2.bus)
  const c = attach(w3.table, w3.bus)
  await w1.bus.bindUid(a, 'ann')
  await w2.bus.bindUid(b, 'ann')
  await w3.bus.joinGroup(c, 'room')
  await w2.bus.joinGroup(b, 'room')
  await turns()
  assert.equal(p.mirror.size, 3)

  assert.equal(await w1.bus.sendToUid('ann', 'hi'), 2)
  assert.deepEqual(p.delivered.map((d) => d.worker), [2], 'not to worker 3')
  assert.equal(await w1.bus.sendToGroup('room', 'g', { exclude: c.id }), 1)
  assert.equal(await w3.bus.sendToAll('all', { exclude: [a.id] }), 2)
  assert.equal(await w3.bus.sendToUids(['ann', 'ann', 'bob'], 'u'), 2)
  assert.equal(await w3.bus.sendToConnection(a.id, 'c'), 1)
  await turns()
  assert.deepEqual(a.pushed, ['hi', 'u', 'c'])
  assert.deepEqual(b.pushed, ['hi', 'g', 'all', 'u'])
  assert.deepEqual(c.pushed, ['all'])
})

test('queries cover every worker; a bind with kick closes the other workers\' connections of the uid', async () => {
  const p = new FakePrimary()
  const [w1, w2] = [p.worker(1), p.worker(2)]
  const a = attach(w1.table, w1.bus)
  const b = attach(w2.table, w2.bus)
  await w1.bus.bindUid(a, 'ann')
  await w2.bus.bindUid(b, 'bob')
  await w1.bus.joinGroup(a, 'room')
  await w2.bus.joinGroup(b, 'room')
  await turns()
  assert.equal(await w1.bus.isUidOnline('bob'), true)
  assert.equal(await w1.bus.onlineCount(), 2)
  assert.deepEqual((await w1.bus.groupMembers('room')).sort(), ['ann', 'bob'])
  assert.equal(await w1.bus.groupCount('room'), 2)

  const again = attach(w1.table, w1.bus)
  await w1.bus.bindUid(again, 'bob', { kick: true })
  await turns()
  assert.equal(b.status, 'closed')
  assert.equal(b.closeError?.code, 'SD_ERR_KICKED')
  assert.equal(again.status, 'open')
  assert.equal(await w1.bus.groupCount('room'), 1, 'the closed connection left the mirror')
  assert.equal(await w2.bus.kickUid('ann', 'out'), 1)
  await turns()
  assert.equal(a.status, 'closed')

  p.mirror.dropWorker(1)
  assert.equal(await w2.bus.onlineCount(), 0, 'an exited worker\'s connections are forgotten')
})

test('without a primary, requests settle with their fallback: the worker\'s own connections', async () => {
  const table = new ConnectionTable('w1.')
  const sent: FromWorker[] = []
  const bus = new MulticoreBus(table, (msg) => { sent.push(msg); return true })
  const a = attach(table, bus)
  await bus.bindUid(a, 'ann')
  const send = bus.sendToUid('ann', 'x')
  const count = bus.onlineCount()
  const conns = bus.serverConnections()
  await turns(1)
  bus.disconnected()
  assert.equal(await send, 1)
  assert.equal(await count, 1)
  assert.equal(await conns, undefined)

  const dropped = bus.sendToAll('y')
  await turns(1)
  const msg = sent.at(-1)!
  assert.equal(msg.t, 'send')
  bus.dropped(msg)
  assert.equal(await dropped, 1, 'a message that could not be serialised counts the local connections only')

  const closed = new MulticoreBus(new ConnectionTable(), () => false)
  assert.equal(await closed.sendToUid('ann', 'z'), 0)
  assert.equal(await closed.groupCount('g'), 0)
})

test('meta crosses workers on every push; a worker whose only group member was excluded still gets the push, to send it the sync message', async () => {
  const p = new FakePrimary()
  const [w1, w2, w3] = [p.worker(1), p.worker(2), p.worker(3)]
  const a = attach(w1.table, w1.bus)
  const b = attach(w2.table, w2.bus)
  const c = attach(w3.table, w3.bus)
  c.session.$sd = 1 // an SDK client: the one kind that gets skip messages
  await w2.bus.bindUid(b, 'bob')
  await w2.bus.joinGroup(b, 'room')
  await w3.bus.joinGroup(c, 'room')
  await turns()
  const meta = { s: 'uid:bob', e: 'ep', o: 3, a: 'own.1' }
  const room = { s: 'group:room', e: 'ep', o: 9 }

  assert.equal(await w1.bus.sendToUid('bob', 'u', { meta }), 1)
  assert.equal(await w1.bus.sendToUids(['bob'], 'us', { meta }), 1)
  assert.equal(await w1.bus.sendToConnection(c.id, 'c', { meta: room }), 1)
  assert.equal(await w1.bus.sendToGroup('room', 'g', { meta: room, exclude: [c.id] }), 1)
  assert.equal(await w1.bus.sendToUid('bob', 'plain'), 1)
  await turns()
  const bobAt = { stream: 'uid:bob', epoch: 'ep', offset: 3, ack: 'own.1' }
  const roomAt = { stream: 'group:room', epoch: 'ep', offset: 9 }
  assert.deepEqual(b.envelopes, [{ data: 'u', ...bobAt }, { data: 'us', ...bobAt }, { data: 'g', ...roomAt }, { data: 'plain' }])
  assert.deepEqual(c.envelopes, [{ data: 'c', ...roomAt }, { ...roomAt, skip: true }])
  assert.deepEqual(a.envelopes, [])
})
