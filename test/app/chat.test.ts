import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startApp, portOf, LineClient, TcpClient, WsClient, http, waitUntil } from '../helpers.js'

test('telnet chat: nickname, welcome, broadcast, private line, join and leave; TCP and WS users in the same chat', async (t) => {
  const app = await startApp()
  t.after(() => app.stop())
  const text = portOf(app, 'text')
  const conns = (): number => app.connections.size

  const alice = await LineClient.connect(text)
  t.after(() => alice.close())
  assert.match(await alice.next(), /^SD chat\. Your nickname\?/, 'asked for a nickname on connect')
  alice.send('alice')
  const aliceUid = /^welcome alice, your uid is (\d+)$/.exec(await alice.next())?.[1]
  assert.ok(aliceUid)

  const bob = await LineClient.connect(text)
  t.after(() => bob.close())
  await bob.next() // the nickname prompt
  bob.send('bob\r')
  const bobUid = /^welcome bob, your uid is (\d+)$/.exec(await bob.next())?.[1]
  assert.ok(bobUid)
  assert.equal(await alice.next(), `bob(${bobUid}) joined lobby`)

  bob.send('hello everyone')
  assert.equal(await alice.next(), `bob(${bobUid}) says: hello everyone`)
  alice.send(`${bobUid}:psst`)
  assert.equal(await bob.next(), `alice(${aliceUid}) says to you: psst`)
  alice.send('999999:anyone?')
  assert.equal(await alice.next(), 'uid 999999 is not online')

  const ws = await WsClient.connect(portOf(app, 'http'))
  t.after(() => ws.close())
  const login = await ws.request('/chat/login', { name: 'carol', room: 'lobby' })
  const carol = login.data as { uid: string, name: string, room: string }
  assert.deepEqual({ name: carol.name, room: carol.room }, { name: 'carol', room: 'lobby' })
  assert.equal(await alice.next(), `carol(${carol.uid}) joined lobby`)
  assert.equal(await bob.next(), `carol(${carol.uid}) joined lobby`)

  assert.deepEqual((await ws.request('/chat/say', { text: 'hi from the browser' })).data, { delivered: 2, stored: true })
  assert.equal(await alice.next(), `carol(${carol.uid}) says: hi from the browser`)
  assert.equal(await bob.next(), `carol(${carol.uid}) says: hi from the browser`)

  alice.send('hi carol')
  // pushes with data (a recoverable push also carries its stream position; a sync message has no data)
  const pushed = (m: { id?: unknown, data?: unknown }): boolean => m.id === undefined && m.data !== undefined
  assert.deepEqual((await ws.next(pushed)).data, { type: 'say', from: { uid: aliceUid, name: 'alice' }, text: 'hi carol', room: 'lobby' })
  alice.send(`${carol.uid}:just you`)
  assert.deepEqual((await ws.next(pushed)).data, { type: 'say', from: { uid: aliceUid, name: 'alice' }, text: 'just you', private: true })
  assert.equal(await bob.next(), `alice(${aliceUid}) says: hi carol`)

  const tcp = await TcpClient.connect(portOf(app, 'tcp'))
  t.after(() => tcp.close())
  assert.equal((await tcp.request('/chat/say', { text: 'x' })).error?.code, 'CHAT_ERR_NOT_LOGGED_IN')
  assert.equal((await tcp.request('/chat/login', { name: '' })).error?.code, 'CHAT_ERR_BAD_NAME')
  const dave = (await tcp.request('/chat/login', { name: 'dave', room: 'games' })).data as { uid: string }
  assert.deepEqual((await tcp.request('/chat/say', { to: bobUid, text: 'dm' })).data, { delivered: 1, stored: false })
  assert.equal(await bob.next((l) => l.includes('dm')), `dave(${dave.uid}) says to you: dm`)
  assert.deepEqual((await tcp.request('/chat/say', { text: 'anyone in games?' })).data, { delivered: 0, stored: true })
  const games = (await tcp.request('/chat/history', { room: 'games' })).data as Array<{ text: string, name: string, uid: string }>
  assert.deepEqual(games.map((m) => [m.name, m.uid, m.text]), [['dave', dave.uid, 'anyone in games?']])
  const lobby = (await ws.request('/chat/history', { limit: 2 })).data as Array<{ text: string }>
  assert.deepEqual(lobby.map((m) => m.text), ['hi from the browser', 'hi carol'])
  assert.equal((await tcp.request('/chat/history', { limit: 201 })).error?.code, 'SD_ERR_VALIDATION')
  const rooms = (await tcp.request('/chat/rooms')).data as Array<{ room: string, count: number }>
  assert.deepEqual(rooms.sort((a, b) => a.room.localeCompare(b.room)), [{ room: 'games', count: 1 }, { room: 'lobby', count: 3 }])
  const online = (await tcp.request('/chat/online', { room: 'lobby' })).data as { count: number, uids: string[] }
  assert.equal(online.count, 4)
  assert.deepEqual(online.uids.sort(), [aliceUid, bobUid, carol.uid].sort())

  const before = conns()
  bob.close()
  await waitUntil(() => conns() === before - 1, 3000, 'bob to disconnect')
  assert.equal(await alice.next((l) => l.includes('left')), `bob(${bobUid}) left`)
  assert.deepEqual((await ws.next((m) => (m.data as { type?: string })?.type === 'leave')).data, { type: 'leave', uid: bobUid, name: 'bob', room: 'lobby' })
})

test('the chat page and /status are eta views; the page script is a static file on the SDK served at /sd/client.js', async (t) => {
  const app = await startApp()
  t.after(() => app.stop())
  const port = portOf(app, 'http')
  const res = await http(port, '/?room=<b>x</b>')
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /^text\/html/)
  assert.match(res.text, /^<!doctype html>/)
  assert.match(res.text, /<title>SD chat · sd-chat<\/title>/)
  assert.match(res.text, /<script type="module" src="\/chat.js"><\/script>/)
  assert.match(res.text, /value="&lt;b&gt;x&lt;\/b&gt;"/, 'query text is HTML-escaped')
  assert.doesNotMatch(res.text, /<b>x<\/b>/)

  const js = await http(port, '/chat.js')
  assert.equal(js.status, 200)
  assert.match(js.headers.get('content-type') ?? '', /javascript/)
  assert.match(js.text, /import \{ connect \} from '\/sd\/client.js'/, 'the page is on the client SDK')
  assert.match(js.text, /\/chat\/history/)
  assert.match(js.text, /\/chat\/resume/)
  assert.equal((await http(port, '/chat-socket.js')).status, 404, 'the page\'s own socket client is gone')
  const sdk = await http(port, '/sd/client.js')
  assert.equal(sdk.status, 200)
  assert.match(sdk.text, /export\s*\{[^}]*\bconnect\b/, 'the SDK bundle exports connect')

  const tcp = await TcpClient.connect(portOf(app, 'tcp'))
  t.after(() => tcp.close())
  await tcp.request('/chat/login', { name: 'sam', room: 'r<1>' })
  const status = await http(port, '/status')
  assert.equal(status.status, 200)
  assert.match(status.text, /<th>connections<\/th><td>tcp: 1 <\/td>/)
  assert.match(status.text, /<tr><td>r&lt;1&gt;<\/td><td>1<\/td><\/tr>/)
  assert.match(status.text, /<th>users online<\/th><td>1<\/td>/)
})
