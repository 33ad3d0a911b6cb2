import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startApp, portOf, TcpClient, WsClient, http, LineClient } from '../helpers.js'

test('/bench/echo answers on TCP, WS and HTTP; the text port welcomes', async (t) => {
  const app = await startApp()
  t.after(() => app.stop())
  const tcp = await TcpClient.connect(portOf(app, 'tcp'))
  t.after(() => tcp.close())
  assert.deepEqual(await tcp.request('/bench/echo', { a: [1, 'x'] }), { id: 1, data: { a: [1, 'x'] } })
  const ws = await WsClient.connect(portOf(app, 'http'))
  t.after(() => ws.close())
  assert.deepEqual(await ws.request('/bench/echo', 'hi'), { id: 1, data: 'hi' })
  const res = await http(portOf(app, 'http'), '/bench/echo', { method: 'POST', body: '{"b":2}', headers: { 'content-type': 'application/json' } })
  assert.equal(res.status, 200)
  assert.deepEqual(res.body, { b: 2 })
  const line = await LineClient.connect(portOf(app, 'text'))
  t.after(() => line.close())
  line.send('alice')
  assert.match(await line.next((l) => l.startsWith('welcome')), /^welcome alice, your uid is \d+$/)
})
