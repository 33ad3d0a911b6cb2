/**
 * The demo is safe to expose: `/bench/*` routes that act on other users exist only with
 * SD_BENCH=1, chat actions that speak for a user need that user's login (HTTP is read-only),
 * names and text lose controls and bidi overrides on every path, and the telnet chat asks for a
 * nickname, sends nothing to a connection without one, shows the room's history on join and
 * ends the session on `quit`.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Application } from '../../framework/index.js'
import { startApp, portOf, LineClient, TcpClient, WsClient, http } from '../helpers.js'

const PROMPT = /^SD chat\. Your nickname\?/

/** Starts the demo app with SD_BENCH set as given (boot reads it), restoring the env after. */
async function demo (bench: boolean): Promise<Application> {
  const before = process.env.SD_BENCH
  if (bench) process.env.SD_BENCH = '1'
  else delete process.env.SD_BENCH
  try {
    return await startApp()
  } finally {
    if (before === undefined) delete process.env.SD_BENCH
    else process.env.SD_BENCH = before
  }
}

test('/bench/* routes that act on other users or show internals exist only with SD_BENCH=1; /bench/echo always', async (t) => {
  const gated = ['/bench/bind', '/bench/push', '/bench/burst', '/bench/join', '/bench/group', '/bench/where']
  const open = await demo(false)
  t.after(() => open.stop())
  const tcp = await TcpClient.connect(portOf(open, 'tcp'))
  t.after(() => tcp.close())
  for (const path of gated) {
    assert.equal((await tcp.request(path, { uid: 'victim', to: 'victim', group: 'lobby', data: 'x' })).error?.code, 'SD_ERR_ROUTE_NOT_FOUND', path)
    assert.equal((await http(portOf(open, 'http'), path)).status, 404, `HTTP ${path}`)
  }
  assert.deepEqual((await tcp.request('/bench/echo', { a: 1 })).data, { a: 1 })

  const bench = await demo(true)
  t.after(() => bench.stop())
  const b = await TcpClient.connect(portOf(bench, 'tcp'))
  t.after(() => b.close())
  assert.equal((await b.request('/bench/bind', { uid: 'u1' })).data, true)
  assert.equal((await b.request('/bench/push', { to: 'u1', data: 'hi' })).data, 1)
  assert.equal(((await b.request('/bench/where')).data as { pid: number }).pid, process.pid)
  assert.deepEqual((await b.request('/bench/echo', 2)).data, 2)
})

test('HTTP offers only the read-only chat actions; say and login need a logged-in connection', async (t) => {
  const app = await startApp()
  t.after(() => app.stop())
  const port = portOf(app, 'http')
  for (const path of ['/chat/say?name=admin&text=forged', '/chat/login?name=x', '/chat/text?data=x']) {
    const res = await http(port, path)
    assert.equal(res.status, 405, path)
    assert.equal((res.body as { error: { code: string } }).error.code, 'SD_ERR_TRANSPORT_NOT_ALLOWED')
  }
  for (const path of ['/chat/history', '/chat/rooms', '/chat/online', '/chat/stats']) assert.equal((await http(port, path)).status, 200, path)
  const hist = await http(port, '/chat/history')
  assert.deepEqual(hist.body, [], 'nothing was posted')
  const tcp = await TcpClient.connect(portOf(app, 'tcp'))
  t.after(() => tcp.close())
  assert.equal((await tcp.request('/chat/say', { text: 'x', name: 'admin' })).error?.code, 'CHAT_ERR_NOT_LOGGED_IN')
})

test('C0/C1 controls and bidi overrides are stripped from names and text, on WebSocket, TCP and telnet', async (t) => {
  const app = await startApp()
  t.after(() => app.stop())
  const telnet = await LineClient.connect(portOf(app, 'text'))
  t.after(() => telnet.close())
  assert.match(await telnet.next(), PROMPT)
  telnet.send('te\u202eln\u0085et\u001b[2J')
  const tUid = /^welcome telnet\[2J, your uid is (\d+)$/.exec(await telnet.next())?.[1]
  assert.ok(tUid, 'name without ESC, U+202E, U+0085')

  const ws = await WsClient.connect(portOf(app, 'http'))
  t.after(() => ws.close())
  const me = (await ws.request('/chat/login', { name: '\u2066ev\u009bil\u2069\u202a', room: 'lobby' })).data as { uid: string, name: string }
  assert.equal(me.name, 'evil')
  assert.equal(await telnet.next(), `evil(${me.uid}) joined lobby`)
  await ws.request('/chat/say', { text: 'a\u001b]0;pwn\u0007b\u0085c\u202ed\u2067e\rf' })
  assert.equal(await telnet.next(), `evil(${me.uid}) says: a ]0;pwn b cde f`)
  telnet.send(`${me.uid}:x\u009by\u202ez`)
  const pm = await ws.next((m) => m.id === undefined && (m.data as { type?: string } | undefined)?.type === 'say')
  assert.equal((pm.data as { text: string }).text, 'x yz')
  const tcp = await TcpClient.connect(portOf(app, 'tcp'))
  t.after(() => tcp.close())
  const stored = (await tcp.request('/chat/history', {})).data as Array<{ text: string }>
  assert.deepEqual(stored.map((m) => m.text), ['a ]0;pwn b cde f'])
})
