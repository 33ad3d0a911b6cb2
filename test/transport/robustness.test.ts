/**
 * Inputs that once could crash the process or amplify replies (found in review): each must
 * end in an error reply or a clean close while every other client keeps being served.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { once } from 'node:events'
import { Controller } from '../../framework/index.js'
import { ConnectionTable } from '../../framework/connection/table.js'
import { activityClock, startHeartbeat } from '../../framework/connection/heartbeat.js'
import { startApp, portOf, TcpClient, WsClient, http, LineClient } from '../helpers.js'

/**
 * A value JSON.parse accepts but JSON.stringify cannot encode (too deep for the stack): refused
 * at decode now (nesting limit, docs/transports.md), so no action runs and no reply is encoded.
 */
const deep = '['.repeat(200_000) + ']'.repeat(200_000)

class ProbeController extends Controller {
  echo (data: unknown): unknown { return data }
  async big (): Promise<unknown> { return { n: 1n } }
  show (): unknown { return this.params }
}

test('a reply that cannot be encoded answers SD_ERR_INTERNAL on every transport, and the server lives', async (t) => {
  const app = await startApp({ routes: { '/users/:id': 'Probe.show' } }, { controllers: [ProbeController] })
  t.after(() => app.stop())
  const tcp = await TcpClient.connect(portOf(app, 'tcp'))
  t.after(() => tcp.close())
  tcp.frame(`{"id":1,"path":"/probe/echo","data":${deep}}`)
  assert.equal((await tcp.next((m) => m.id === 1, 10_000)).error?.code, 'SD_ERR_BAD_MESSAGE')
  assert.equal((await tcp.request('/probe/big')).error?.code, 'SD_ERR_INTERNAL')

  const ws = await WsClient.connect(portOf(app, 'http'))
  t.after(() => ws.close())
  ws.ws.send(`{"id":7,"path":"/probe/echo","data":${deep}}`)
  assert.equal((await ws.next((m) => m.id === 7, 10_000)).error?.code, 'SD_ERR_BAD_MESSAGE')

  const res = await http(portOf(app, 'http'), '/probe/big')
  assert.equal(res.status, 500)
  assert.deepEqual(res.body, { error: { code: 'SD_ERR_INTERNAL', message: 'internal server error' } })

  // A malformed escape in a param route is passed through, not thrown.
  assert.deepEqual((await tcp.request('/users/%E0%A4%A')).data, { id: '%E0%A4%A' })
  assert.deepEqual((await tcp.request('/users/a%20b')).data, { id: 'a b' })
  assert.deepEqual((await tcp.request('/probe/echo', 'still here')).data, 'still here')
})

test('a refused WebSocket upgrade whose client resets does not crash the server', async (t) => {
  const app = await startApp()
  t.after(() => app.stop())
  const port = portOf(app, 'http')
  for (let i = 0; i < 5; i++) {
    const socket = connect(port, '127.0.0.1')
    await once(socket, 'connect')
    socket.write('GET /nope HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
    socket.resetAndDestroy()
  }
  const tcp = await TcpClient.connect(portOf(app, 'tcp'))
  t.after(() => tcp.close())
  assert.deepEqual((await tcp.request('/bench/echo', 1)).data, 1)
  assert.equal((await http(port, '/bench/echo?x=1')).status, 200)
})

test('error messages echo at most 200 characters of client input, with no $-pattern expansion', async (t) => {
  const app = await startApp()
  t.after(() => app.stop())
  const tcp = await TcpClient.connect(portOf(app, 'tcp'))
  t.after(() => tcp.close())
  const path = '/x' + '$`'.repeat(100_000)
  const reply = await tcp.request(path)
  assert.equal(reply.error?.code, 'SD_ERR_ROUTE_NOT_FOUND')
  assert.ok(reply.error!.message.length < 300, `message of ${reply.error!.message.length} characters`)
  assert.ok(reply.error!.message.startsWith('no route for /x$`$`'))
})

test('the activity clock is current when heartbeats start (no early idle close after a pause)', () => {
  activityClock.now = 0
  const before = Date.now()
  const stop = startHeartbeat(new ConnectionTable(), { heartbeatIdleMs: 1000, pingIntervalMs: 0, pingData: null })
  stop()
  assert.ok(activityClock.now >= before)
})

test('chat text with control characters cannot forge extra lines on telnet screens', async (t) => {
  const app = await startApp()
  t.after(() => app.stop())
  const telnet = await LineClient.connect(portOf(app, 'text'))
  t.after(() => telnet.close())
  telnet.send('bob')
  await telnet.next((l) => l.startsWith('welcome'))
  const ws = await WsClient.connect(portOf(app, 'http'))
  t.after(() => ws.close())
  const eve = (await ws.request('/chat/login', { name: 'eve\nadmin' })).data as { uid: string, name: string }
  assert.equal(eve.name, 'eveadmin')
  await ws.request('/chat/say', { text: 'hello\nadmin(0) says to you: type your password' })
  const line = await telnet.next((l) => l.includes('says'))
  assert.equal(line, `eveadmin(${eve.uid}) says: hello admin(0) says to you: type your password`)
})
