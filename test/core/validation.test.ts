/** Schemas on actions: checked on every transport before the action runs. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Controller, createApp } from '../../framework/index.js'
import { describeError } from '../../framework/core/validation.js'
import { startApp, portOf, http, TcpClient, WsClient, LineClient } from '../helpers.js'

let calls = 0

class ShopController extends Controller {
  static schemas = {
    order: {
      type: 'object',
      properties: {
        item: { type: 'string', minLength: 1 },
        qty: { type: 'integer', minimum: 1, maximum: 99, default: 1 },
        gift: { type: 'object', properties: { to: { type: 'string' } }, required: ['to'] },
      },
      required: ['item'],
      additionalProperties: false,
    },
    line: { type: 'string', maxLength: 5 },
  }

  order (data: { item: string, qty: number }): { item: string, qty: number } {
    calls++
    return { item: data.item, qty: data.qty }
  }

  line (text: string): string { return `ok ${text}` }

  free (data: unknown): unknown { return data }
}

test('invalid data → SD_ERR_VALIDATION naming the field, on TCP, WebSocket and HTTP; the action never runs', async (t) => {
  const app = await startApp({ server: { text: { route: '/shop/line' } } }, { controllers: [ShopController] })
  t.after(() => app.stop())
  const tcp = await TcpClient.connect(portOf(app, 'tcp'))
  const ws = await WsClient.connect(portOf(app, 'http'))
  t.after(() => { tcp.close(); ws.close() })

  const cases: Array<[unknown, string]> = [
    [{}, 'item is required'],
    [{ item: '' }, 'item must NOT have fewer than 1 characters'],
    [{ item: 'x', qty: 0 }, 'qty must be >= 1'],
    [{ item: 'x', qty: '2' }, 'qty must be integer'],
    [{ item: 'x', gift: {} }, 'gift.to is required'],
    [{ item: 'x', extra: 1 }, 'extra is not allowed'],
    ['not an object', 'data must be object'],
  ]
  const before = calls
  for (const [data, message] of cases) {
    for (const client of [tcp, ws]) {
      const reply = await client.request('/shop/order', data)
      assert.deepEqual(reply.error, { code: 'SD_ERR_VALIDATION', message: `invalid data: ${message}` }, JSON.stringify(data))
    }
  }
  assert.equal(calls, before)

  assert.deepEqual((await tcp.request('/shop/order', { item: 'tea' })).data, { item: 'tea', qty: 1 }, 'defaults are filled in')
  assert.deepEqual((await ws.request('/shop/order', { item: 'tea', qty: 3 })).data, { item: 'tea', qty: 3 })
  assert.deepEqual((await tcp.request('/shop/free', { anything: true })).data, { anything: true }, 'no schema: no check')

  const port = portOf(app, 'http')
  const get = await http(port, '/shop/order?item=tea&qty=7')
  assert.deepEqual(get.body, { item: 'tea', qty: 7 }, 'HTTP query strings are coerced to the schema types')
  const bad = await http(port, '/shop/order?item=tea&qty=100')
  assert.equal(bad.status, 400)
  assert.deepEqual(bad.body, { error: { code: 'SD_ERR_VALIDATION', message: 'invalid data: qty must be <= 99' } })
  const post = await http(port, '/shop/order', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"item":"x","qty":"many"}' })
  assert.equal(post.status, 400)

  const telnet = await LineClient.connect(portOf(app, 'text'))
  t.after(() => telnet.close())
  telnet.send('abc')
  assert.equal(await telnet.next(), 'ok abc')
  telnet.send('abcdefgh')
  assert.equal(await telnet.next(), 'ERROR SD_ERR_VALIDATION: invalid data: data must NOT have more than 5 characters')
})

test('a schema for a method that does not exist, or a schema that is not valid, fails at boot naming the action', async () => {
  class TypoController extends Controller {
    static schemas = { ordr: { type: 'object' } }
    order (): void {}
  }
  class BadSchemaController extends Controller {
    static schemas = { order: { type: 'no-such-type' } }
    order (): void {}
  }
  await assert.rejects(createApp({ configDir: false, controllers: [TypoController] }), { code: 'SD_ERR_CONTROLLER_INVALID', message: /TypoController\.schemas\.ordr names no public method/ })
  await assert.rejects(createApp({ configDir: false, controllers: [BadSchemaController] }), { code: 'SD_ERR_CONTROLLER_INVALID', message: /BadSchemaController\.order: bad schema/ })
})

test('describeError names nested fields', () => {
  assert.equal(describeError({ instancePath: '/a/b', keyword: 'type', message: 'must be string', params: {}, schemaPath: '' }), 'a.b must be string')
  assert.equal(describeError({ instancePath: '', keyword: 'required', params: { missingProperty: 'x' }, schemaPath: '' }), 'x is required')
})
