/** The gateway ↔ worker message encoding: v8 (Buffers and Dates survive) or JSON, told apart by the first byte. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodeMessage, encodeMessage, type HeadCache, type ToWorker } from '../../framework/gateway/protocol.js'

test('v8 bodies keep Buffers and Dates; JSON bodies are JSON; both decode to the message', () => {
  const when = new Date(1_700_000_000_000)
  const msg: ToWorker = { t: 'msg', r: 7, conn: { c: 'gw.1', tr: 'tcp', a: '127.0.0.1' }, i: 3, p: '/a/b', d: { bin: Buffer.from([1, 2, 3]), when } }
  const v8 = encodeMessage(msg)
  assert.equal(v8[0], 0xff, 'a v8 body starts with its version tag')
  const back = decodeMessage<ToWorker & { t: 'msg' }>(v8)
  assert.ok(back)
  const d = back.d as { bin: Uint8Array, when: Date }
  assert.deepEqual([...d.bin], [1, 2, 3])
  assert.ok(d.when instanceof Date && d.when.getTime() === when.getTime())
  const json = encodeMessage({ t: 'msg', r: 8, conn: { c: 'gw.1', tr: 'ws', a: '::1' }, p: '/x', d: { n: 1 }, j: 1 }, true)
  assert.equal(json.toString('utf8')[0], '{')
  assert.deepEqual(decodeMessage(json), { t: 'msg', r: 8, conn: { c: 'gw.1', tr: 'ws', a: '::1' }, p: '/x', d: { n: 1 }, j: 1 })
})

test('garbage, an empty body and a value without a type decode to undefined', () => {
  assert.equal(decodeMessage(Buffer.from('not a message')), undefined)
  assert.equal(decodeMessage(Buffer.alloc(0)), undefined)
  assert.equal(decodeMessage(Buffer.from('{"no":"type"}')), undefined)
  assert.equal(decodeMessage(Buffer.from('{broken')), undefined)
  assert.equal(decodeMessage(Buffer.from([0xff, 0x0f, 0x99, 0x01])), undefined)
})

test('raw requests and results: binary (0x01 / 0x02), every field round-trips, the payload bytes as they were', async () => {
  const { encodeRawRequest, encodeRawResult, rawConnHead } = await import('../../framework/gateway/protocol.js')
  const payload = Buffer.from([0x7b, 0x00, 0xff, 0x22])
  const head = rawConnHead('gw-é.12', 'ws', '::1', 'msgpack')
  const req = encodeRawRequest(2 ** 40 + 3, head, 'ü-1', '{"k":[1,"ä"]}', true, payload)
  assert.equal(req[0], 0x01)
  const back = decodeMessage<ToWorker>(req)
  assert.ok(back && back.t === 'raw')
  assert.deepEqual({ ...back, b: [...back.b] }, { t: 'raw', r: 2 ** 40 + 3, conn: { c: 'gw-é.12', tr: 'ws', a: '::1', pk: 'msgpack', u: 'ü-1', s: { k: [1, 'ä'] } }, x: true, b: [...payload] })
  const bare = decodeMessage<ToWorker>(encodeRawRequest(1, head, undefined, undefined, false, Buffer.alloc(0)))
  assert.deepEqual(bare && bare.t === 'raw' ? { ...bare, b: bare.b.length } : bare, { t: 'raw', r: 1, conn: { c: 'gw-é.12', tr: 'ws', a: '::1', pk: 'msgpack' }, x: false, b: 0 })
  const res = encodeRawResult(9, '{"v":"é"}', '{"id":1,"data":"ü"}')
  assert.equal(res[0], 0x02)
  const out = decodeMessage(res)
  assert.ok(out && out.t === 'out')
  assert.deepEqual([out.r, out.s, out.b?.toString('utf8')], [9, '{"v":"é"}', '{"id":1,"data":"ü"}'])
  assert.deepEqual(decodeMessage(encodeRawResult(10, undefined, undefined)), { t: 'out', r: 10 }, 'no reply, no session')
  assert.equal(decodeMessage(req.subarray(0, 12)), undefined, 'a truncated raw request is refused')
  assert.equal(decodeMessage(Buffer.from([0x02, 0x00, 0x00])), undefined, 'a truncated raw result is refused')
})

test('a link\'s head cache: each head decodes to its own strings, a cached head is reused, a truncated head is refused', async () => {
  const { encodeRawRequest, rawConnHead } = await import('../../framework/gateway/protocol.js')
  const cache: HeadCache = new Map()
  const decode = (c: string, uid?: string): ToWorker | undefined => decodeMessage<ToWorker>(encodeRawRequest(1, rawConnHead(c, 'tcp', '127.0.0.1', 'json'), uid, undefined, false, Buffer.from('{}')), cache)
  const first = decode('gw.1', 'u1')
  assert.ok(first && first.t === 'raw')
  assert.deepEqual(first.conn, { c: 'gw.1', tr: 'tcp', a: '127.0.0.1', pk: 'json', u: 'u1' })
  // heads of the same length that differ in one byte each get their own id
  for (const c of ['gw.2', 'gw.3', 'gw.1', 'gx.1']) {
    const m = decode(c)
    assert.ok(m && m.t === 'raw')
    assert.deepEqual(m.conn, { c, tr: 'tcp', a: '127.0.0.1', pk: 'json' }, `head ${c}`)
  }
  assert.equal(cache.size, 4, 'one entry per distinct head')
  const again = decode('gw.1')
  assert.ok(again && again.t === 'raw')
  assert.equal(again.conn.u, undefined, 'the uid is per request, not cached with the head')
  // a head whose lengths run past the body
  const bad = encodeRawRequest(1, rawConnHead('gw.9', 'tcp', '127.0.0.1', 'json'), undefined, undefined, false, Buffer.alloc(0))
  bad.writeUInt16BE(500, 8)
  assert.equal(decodeMessage(bad, cache), undefined)
})
