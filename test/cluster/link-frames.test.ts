/**
 * The cluster link wire format: frames split at every byte offset decode the same, a header
 * announcing too much is refused before anything is buffered, unknown types are refused, and
 * DATA / ACK payloads round-trip (the DATA payload as a view, not a copy).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  FrameType, LinkFrameDecoder, decodeAck, decodeData, encodeAck, encodeData, encodeFrame, dataSourceIs,
  type FrameTypeValue,
} from '../../framework/cluster/link-frames.js'

interface Got { type: FrameTypeValue, body: string }

function collect (max = 1 << 20): { decoder: LinkFrameDecoder, got: Got[] } {
  const got: Got[] = []
  const decoder = new LinkFrameDecoder(max, (type, body) => got.push({ type, body: body.toString('hex') }))
  return { decoder, got }
}

const sample = Buffer.concat([
  encodeFrame(FrameType.PING, Buffer.from('01020304050607ff', 'hex')),
  encodeFrame(FrameType.DATA, encodeData({ id: 2 ** 40 + 7, source: 'srv-a', targets: ['srv-b', 'srv-ü'], kind: 3, payload: Buffer.from('{"hello":"wörld"}') })),
  encodeFrame(FrameType.PONG),
  encodeFrame(FrameType.ACK, encodeAck([{ id: 1, delivered: 1, missed: [] }, { id: 2, delivered: 0, missed: ['gone'] }])),
  encodeFrame(FrameType.DATA, encodeData({ id: 0, source: 'srv-a', targets: 'all', kind: 0, payload: Buffer.alloc(300, 7) })),
])

test('frames split in two at every byte offset decode the same as in one chunk', () => {
  const whole = collect()
  assert.equal(whole.decoder.push(sample), undefined)
  assert.equal(whole.got.length, 5)
  assert.deepEqual(whole.got.map((g) => g.type), [FrameType.PING, FrameType.DATA, FrameType.PONG, FrameType.ACK, FrameType.DATA])
  for (let cut = 0; cut <= sample.length; cut++) {
    const { decoder, got } = collect()
    assert.equal(decoder.push(sample.subarray(0, cut)), undefined)
    assert.equal(decoder.push(sample.subarray(cut)), undefined)
    assert.deepEqual(got, whole.got, `split at ${cut}`)
    assert.equal(decoder.buffered, 0)
  }
})

test('frames fed one byte at a time decode the same', () => {
  const whole = collect()
  whole.decoder.push(sample)
  const { decoder, got } = collect()
  for (let i = 0; i < sample.length; i++) assert.equal(decoder.push(sample.subarray(i, i + 1)), undefined)
  assert.deepEqual(got, whole.got)
})

test('a header announcing more than maxFrameBytes is refused before its payload is buffered', () => {
  const { decoder, got } = collect(1024)
  const ok = encodeFrame(FrameType.PING, Buffer.alloc(8))
  const big = Buffer.alloc(5)
  big.writeUInt32BE(1025)
  big[4] = FrameType.DATA
  // the header alone (split: 3 bytes, then 2) is enough to refuse, nothing of the payload is held
  assert.equal(decoder.push(Buffer.concat([ok, big.subarray(0, 3)])), undefined)
  const err = decoder.push(Buffer.concat([big.subarray(3), Buffer.alloc(100)]))
  assert.equal(err?.reason, 'too-large')
  assert.equal(got.length, 1, 'the frame before the oversized one was delivered')
  assert.ok(decoder.buffered <= 5, `buffered ${decoder.buffered}`)

  const exact = collect(1024)
  assert.equal(exact.decoder.push(encodeFrame(FrameType.DATA, encodeData({ id: 1, source: 'a', targets: ['b'], kind: 0, payload: Buffer.alloc(1024 - 16) }))), undefined)
  assert.equal(exact.got.length, 1, 'a frame of exactly maxFrameBytes is accepted')
})

test('an unknown frame type is refused at its header', () => {
  for (const t of [0, 9, 255]) {
    const { decoder, got } = collect()
    const err = decoder.push(Buffer.from([0, 0, 0, 1, t, 0]))
    assert.equal(err?.reason, 'bad-type', `type ${t}`)
    assert.equal(got.length, 0)
  }
})

test('stop() delivers nothing more, not even the rest of the current chunk', () => {
  const frames = Buffer.concat([encodeFrame(FrameType.PING, Buffer.alloc(8)), encodeFrame(FrameType.PING, Buffer.alloc(8))])
  const got: number[] = []
  const decoder: LinkFrameDecoder = new LinkFrameDecoder(100, (type) => { got.push(type); decoder.stop() })
  decoder.push(frames)
  decoder.push(frames)
  assert.equal(got.length, 1)
})

test('DATA round-trips; its payload is a view of the received bytes (relayed without a copy)', () => {
  const payload = Buffer.from(JSON.stringify({ path: '/chat/msg', data: 'x'.repeat(50) }))
  const body = encodeData({ id: Number.MAX_SAFE_INTEGER, source: 'node-1', targets: ['node-2', 'node-3'], kind: 200, payload })
  const msg = decodeData(body)
  assert.ok(msg)
  assert.equal(msg.id, Number.MAX_SAFE_INTEGER)
  assert.equal(msg.source, 'node-1')
  assert.deepEqual(msg.targets, ['node-2', 'node-3'])
  assert.equal(msg.kind, 200)
  assert.deepEqual(msg.payload, payload)
  assert.equal(msg.payload.buffer, body.buffer, 'payload shares the frame buffer')
  assert.ok(dataSourceIs(body, Buffer.from('node-1')))
  assert.ok(!dataSourceIs(body, Buffer.from('node-2')))
  assert.ok(!dataSourceIs(body, Buffer.from('node-')))

  const all = decodeData(encodeData({ id: 5, source: 's', targets: 'all', kind: 1, payload: Buffer.alloc(0) }))
  assert.equal(all?.targets, 'all')
  assert.equal(all?.payload.length, 0)
})

test('malformed DATA and ACK payloads are rejected, bad ids refused when encoding', () => {
  const good = encodeData({ id: 9, source: 'abc', targets: ['x'], kind: 0, payload: Buffer.from('p') })
  for (let len = 0; len < 18; len++) {
    // truncated inside the header (source, target count or a target name): malformed
    assert.equal(decodeData(good.subarray(0, len)), undefined, `truncated to ${len}`)
  }
  const badFlags = Buffer.from(good)
  badFlags[0] = 0x80
  assert.equal(decodeData(badFlags), undefined)
  const hugeId = Buffer.from(good)
  hugeId.writeUInt32BE(0xffffffff, 2)
  assert.equal(decodeData(hugeId), undefined)
  assert.throws(() => encodeData({ id: -1, source: 'a', targets: [], kind: 0, payload: Buffer.alloc(0) }), RangeError)
  assert.throws(() => encodeData({ id: 1.5, source: 'a', targets: [], kind: 0, payload: Buffer.alloc(0) }), RangeError)
  assert.throws(() => encodeData({ id: 1, source: '', targets: [], kind: 0, payload: Buffer.alloc(0) }), RangeError)
  assert.throws(() => encodeData({ id: 1, source: 'a'.repeat(256), targets: [], kind: 0, payload: Buffer.alloc(0) }), RangeError)

  const acks = [{ id: 2 ** 50, delivered: 3, missed: [] }, { id: 4, delivered: 0, missed: ['n1', 'nœud-2'] }]
  assert.deepEqual(decodeAck(encodeAck(acks)), acks)
  assert.deepEqual(decodeAck(Buffer.alloc(0)), [])
  assert.equal(decodeAck(encodeAck(acks).subarray(0, 20)), undefined)
})
