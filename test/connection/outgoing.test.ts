/**
 * A push prepared once for many connections (`Outgoing`), including one whose data arrived as
 * JSON text from another server of a cluster: JSON clients get the text wrapped as it is (the
 * same bytes a local push gives), clients of other codecs get the parsed value.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decode } from '@msgpack/msgpack'
import { Outgoing } from '../../framework/connection/connection.js'
import { createCodec } from '../../framework/transport/packs.js'

const json = createCodec({ pack: 'json' })
const msgpack = createCodec({ pack: 'msgpack' })
const text = createCodec({ pack: 'text', render: (data) => `line ${JSON.stringify(data)}` })

const samples: unknown[] = [null, 0, 'héllo ✓', [1, { a: [true, null] }], { nested: { deep: 'x' }, n: -1.25 }]

test('data given as JSON text encodes to the same bytes as the value, for every codec', () => {
  for (const value of samples) {
    const fromValue = new Outgoing(value)
    const fromJson = Outgoing.fromJson(JSON.stringify(value))
    assert.equal(String(fromJson.bytesFor(json)), String(fromValue.bytesFor(json)), `json: ${JSON.stringify(value)}`)
    assert.deepEqual(decode(fromJson.bytesFor(msgpack) as Buffer), { data: value }, `msgpack: ${JSON.stringify(value)}`)
    assert.equal(fromJson.bytesFor(text), fromValue.bytesFor(text), `text: ${JSON.stringify(value)}`)
    assert.deepEqual(fromJson.data, value)
  }
})

test('a JSON client gets the text without a parse: one encoding per codec, reused', () => {
  // `1.0` and the spaces would not survive a parse and re-encode
  const out = Outgoing.fromJson('{"t": 1.0}')
  const first = out.bytesFor(json)
  // one Buffer (ws would copy a string per client), the same for every connection
  assert.ok(Buffer.isBuffer(first))
  assert.equal(first.toString(), '{"data":{"t": 1.0}}')
  assert.equal(out.bytesFor(json), first)
  assert.equal(out.bytesFor(msgpack), out.bytesFor(msgpack), 'the msgpack bytes are encoded once')
})
