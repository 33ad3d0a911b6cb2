/**
 * A push with meta (a recoverable push, plan: wire protocol): the codecs' envelopes (json,
 * msgpack, text; the sync message), `Outgoing` with meta, and the local bus delivering it to a
 * uid, a group (an excluded member gets the sync message), a connection and uids.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decode } from '@msgpack/msgpack'
import { LocalBus } from '../../framework/connection/bus.js'
import type { PushMeta } from '../../framework/connection/bus-ops.js'
import { Connection, Outgoing } from '../../framework/connection/connection.js'
import { ConnectionTable } from '../../framework/connection/table.js'
import type { SdError } from '../../framework/core/errors.js'
import { createCodec } from '../../framework/transport/packs.js'
import { attach } from './memory-connection.js'

const json = createCodec({ pack: 'json' })
const msgpack = createCodec({ pack: 'msgpack' })
const text = createCodec({ pack: 'text' })

const meta: PushMeta = { s: 'group:lobby', e: 'k3x9', o: 17 }
const acked: PushMeta = { s: 'uid:7', e: 'k3x9', o: 2, a: 'own.5' }
const sync: PushMeta = { s: 'group:lobby', e: 'k3x9', o: 17, y: 1 }

test('json: data first, then stream, epoch, offset (and ack); a sync message has no data', () => {
  assert.equal(json.push({ t: 'hi' }, meta), '{"data":{"t":"hi"},"stream":"group:lobby","epoch":"k3x9","offset":17}')
  assert.equal(json.push('x', acked), '{"data":"x","stream":"uid:7","epoch":"k3x9","offset":2,"ack":"own.5"}')
  assert.equal(json.push(undefined, meta), '{"data":null,"stream":"group:lobby","epoch":"k3x9","offset":17}')
  assert.equal(json.push('ignored', sync), '{"stream":"group:lobby","epoch":"k3x9","offset":17,"sync":true}')
  assert.equal(json.push({ t: 'hi' }), '{"data":{"t":"hi"}}', 'no meta: as before')
})

test('json: data given as JSON text gives the same text as the value, meta or not', () => {
  assert.equal(json.pushJson?.('{"n": 1.0}', acked), '{"data":{"n": 1.0},"stream":"uid:7","epoch":"k3x9","offset":2,"ack":"own.5"}', 'the text as it is')
  const odd: PushMeta = { s: 'group:"q"\u2028', e: 'e\\1', o: 0, a: 'a"b' }
  for (const m of [undefined, meta, acked, sync, odd]) {
    for (const value of [null, 'héllo', [1, { a: true }]]) {
      assert.equal(json.pushJson?.(JSON.stringify(value), m), json.push(value, m), `${JSON.stringify(m)} ${JSON.stringify(value)}`)
    }
  }
})

test('msgpack: the same keys; text: the line of the data, and nothing for a sync message', () => {
  assert.deepEqual(decode(msgpack.push([1], meta) as Buffer), { data: [1], stream: 'group:lobby', epoch: 'k3x9', offset: 17 })
  assert.deepEqual(decode(msgpack.push('x', acked) as Buffer), { data: 'x', stream: 'uid:7', epoch: 'k3x9', offset: 2, ack: 'own.5' })
  assert.deepEqual(decode(msgpack.push('x', sync) as Buffer), { stream: 'group:lobby', epoch: 'k3x9', offset: 17, sync: true })
  assert.deepEqual(decode(msgpack.push('x', { ...sync, y: 2 }) as Buffer), { stream: 'group:lobby', epoch: 'k3x9', offset: 17, skip: true })
  assert.equal(json.push('x', { ...sync, y: 2 }), '{"stream":"group:lobby","epoch":"k3x9","offset":17,"skip":true}')
  assert.equal(text.push({ a: 1 }, acked), '{"a":1}')
  assert.equal(text.push('line', sync), '')
})

test('Outgoing with meta: encoded with it for every codec, from a value or from JSON text', () => {
  for (const out of [new Outgoing({ n: 1 }, undefined, acked), new Outgoing(undefined, '{"n":1}', acked)]) {
    assert.equal(String(out.bytesFor(json)), '{"data":{"n":1},"stream":"uid:7","epoch":"k3x9","offset":2,"ack":"own.5"}')
    assert.deepEqual(decode(out.bytesFor(msgpack) as Buffer), { data: { n: 1 }, stream: 'uid:7', epoch: 'k3x9', offset: 2, ack: 'own.5' })
  }
  assert.deepEqual(decode(new Outgoing(undefined, '{"n":1}', sync).bytesFor(msgpack) as Buffer), { stream: 'group:lobby', epoch: 'k3x9', offset: 17, sync: true })
})

/** A text connection: what it writes, as lines. */
class TextConnection extends Connection {
  readonly lines: string[] = []
  protected write (bytes: string | Buffer): void { this.lines.push(String(bytes)) }
  get bufferedBytes (): number { return 0 }
  pauseReading (): void {}
  resumeReading (): void {}
  protected end (_error: SdError | undefined): void { this.closed() }
  protected destroy (): void { this.closed() }
}

test('a text connection gets the data of a push with meta, and nothing at all for a sync message', async () => {
  const table = new ConnectionTable()
  const bus = new LocalBus(table)
  const conn = new TextConnection(table.nextId(), 'text', '127.0.0.1', text, { maxSendBufferBytes: 1 << 20 }, (c) => table.remove(c))
  table.add(conn)
  assert.equal(conn.push('a', meta), true)
  assert.equal(conn.push(undefined, sync), false)
  assert.equal(conn.pushOutgoing(new Outgoing(undefined, undefined, sync)), false)
  assert.equal(conn.pushOutgoing(new Outgoing('b', undefined, meta)), true)
  assert.equal(await bus.sendToConnection(conn.id, undefined, { meta: sync }), 0)
  assert.deepEqual(conn.lines, ['a', 'b'])
})

test('LocalBus: meta reaches uid (one and several connections), uids, connection and group; excluded SDK members get a skip message', async () => {
  const table = new ConnectionTable()
  const bus = new LocalBus(table)
  const [a, b, c, d] = [attach(table, bus), attach(table, bus), attach(table, bus), attach(table, bus)]
  await bus.bindUid(a, 'ann')
  await bus.bindUid(b, 'bob')
  await bus.bindUid(c, 'bob')
  for (const conn of [a, b, c]) await bus.joinGroup(conn, 'lobby')
  a.session.$sd = 1 // an SDK client (`/sd/hello`): only those get sync messages

  assert.equal(await bus.sendToUid('ann', 'one', { meta: acked }), 1)
  assert.equal(await bus.sendToUid('bob', 'two', { meta: acked }), 2)
  assert.equal(await bus.sendToUids(['ann'], 'three', { meta }), 1)
  assert.equal(await bus.sendToConnection(d.id, 'four', { meta }), 1)
  // d is excluded but not in the group: nothing; a is excluded and in it: the position only
  assert.equal(await bus.sendToGroup('lobby', 'five', { meta, exclude: [a.id, d.id] }), 2)
  assert.equal(await bus.sendToConnection(d.id, undefined, { meta: sync }), 1)
  assert.equal(await bus.sendToGroup('lobby', 'six', { exclude: [a.id] }), 2, 'no meta: no sync')
  // b is not an SDK client: excluded, it gets nothing
  assert.equal(await bus.sendToGroup('lobby', 'seven', { meta, exclude: [b.id] }), 2)

  const at = { stream: 'uid:7', epoch: 'k3x9', offset: 2, ack: 'own.5' }
  const lobby = { stream: 'group:lobby', epoch: 'k3x9', offset: 17 }
  assert.deepEqual(a.envelopes, [{ data: 'one', ...at }, { data: 'three', ...lobby }, { ...lobby, skip: true }, { data: 'seven', ...lobby }])
  assert.deepEqual(b.envelopes, [{ data: 'two', ...at }, { data: 'five', ...lobby }, { data: 'six' }])
  assert.deepEqual(c.envelopes, [...b.envelopes, { data: 'seven', ...lobby }])
  assert.deepEqual(d.envelopes, [{ data: 'four', ...lobby }, { ...lobby, sync: true }])
})
