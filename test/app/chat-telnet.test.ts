/**
 * The telnet chat as netkit telnet, PuTTY and nc users meet it: a nickname prompt on connect,
 * no room traffic before a nickname, the room's recent history on join, `quit` ends the
 * session (it is not said to the room), and BINARY / Ctrl-C / UTF-8 from a real telnet client.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startApp, portOf, LineClient, WsClient, withoutTelnetOpening } from '../helpers.js'

const PROMPT = /^SD chat\. Your nickname\?/

test('no room traffic before a nickname; history on join; quit closes the session and is not broadcast', async (t) => {
  const app = await startApp()
  t.after(() => app.stop())
  const ws = await WsClient.connect(portOf(app, 'http'))
  t.after(() => ws.close())
  const wes = (await ws.request('/chat/login', { name: 'wes', room: 'lobby' })).data as { uid: string }
  for (const text of ['one', 'two']) await ws.request('/chat/say', { text })

  const lurker = await LineClient.connect(portOf(app, 'text'))
  t.after(() => lurker.close())
  assert.match(await lurker.next(), PROMPT)
  // room traffic while the lurker has no nickname: a join, a message, a leave
  const other = await WsClient.connect(portOf(app, 'http'))
  await other.request('/chat/login', { name: 'otto', room: 'lobby' })
  assert.deepEqual((await ws.request('/chat/say', { text: 'three' })).data, { delivered: 1, stored: true }, 'only otto, not the lurker')
  other.close()
  await ws.next((m) => (m.data as { type?: string })?.type === 'leave')

  lurker.send('lena')
  const welcome = await lurker.next()
  assert.match(welcome, /^welcome lena, your uid is \d+$/, 'nothing reached the lurker before its nickname')
  const history = [await lurker.next(), await lurker.next(), await lurker.next()]
  assert.deepEqual(history.map((l) => l.replace(/^\[\d\d:\d\d\] /, '')), ['one', 'two', 'three'].map((x) => `wes(${wes.uid}): ${x}`))
  const lena = /uid is (\d+)/.exec(welcome)![1]
  assert.deepEqual((await ws.next((m) => (m.data as { name?: string })?.name === 'lena')).data, { type: 'join', uid: lena, name: 'lena', room: 'lobby' })

  lurker.send('  quit ')
  assert.equal(await lurker.next(), 'bye')
  await lurker.waitClosed()
  const left = await ws.next((m) => m.id === undefined && ['leave', 'say'].includes((m.data as { type?: string } | undefined)?.type ?? ''))
  assert.deepEqual(left.data, { type: 'leave', uid: lena, name: 'lena', room: 'lobby' }, 'quit was not said to the room')

  const early = await LineClient.connect(portOf(app, 'text'))
  t.after(() => early.close())
  assert.match(await early.next(), PROMPT)
  early.send('quit')
  assert.equal(await early.next(), 'bye')
  await early.waitClosed()
})

test('a real telnet client: BINARY agreed, UTF-8 nickname and text, Ctrl-C drops the typed line, CR LF output', async (t) => {
  const app = await startApp()
  t.after(() => app.stop())
  const ws = await WsClient.connect(portOf(app, 'http'))
  t.after(() => ws.close())
  await ws.request('/chat/login', { name: 'wes', room: 'lobby' })
  const telnet = await LineClient.connect(portOf(app, 'text'))
  t.after(() => telnet.close())
  const chunks: Buffer[] = [] // every byte (negotiation answers are checked byte for byte in test/transport/telnet.test.ts)
  telnet.socket.on('data', (b: Buffer) => chunks.push(b))
  // what netkit telnet 0.17 sends on connect: DO SGA, WILL TERMINAL-TYPE, WILL NAWS
  telnet.socket.write(Buffer.from([0xff, 0xfd, 0x03, 0xff, 0xfb, 0x18, 0xff, 0xfb, 0x1f]))
  assert.match(await telnet.next(), PROMPT)
  assert.deepEqual(telnet.opening, Buffer.from([0xff, 0xfd, 0x00]), 'the port opened with IAC DO BINARY')
  // its answer, IAC WILL BINARY; from then on UTF-8 goes out as it is and Enter is LF ("zoë⏎")
  telnet.socket.write(Buffer.from([0xff, 0xfb, 0x00]))
  telnet.socket.write('zoë\n')
  assert.match(await telnet.next((l) => l.includes('welcome')), /welcome zoë, your uid is \d+$/)
  // "never sent", Ctrl-C (IAC IP IAC DO TIMING-MARK), then "grüße 🎉⏎", as telnet sends them
  telnet.socket.write(Buffer.concat([Buffer.from('never sent'), Buffer.from([0xff, 0xf4, 0xff, 0xfd, 0x06]), Buffer.from('grüße 🎉\n')]))
  const said = await ws.next((m) => (m.data as { type?: string })?.type === 'say')
  assert.equal((said.data as { text: string }).text, 'grüße 🎉', 'the interrupted text was dropped')
  const raw = withoutTelnetOpening(Buffer.concat(chunks)).toString('utf8')
  assert.ok(raw.includes('welcome zoë, your uid is'), 'UTF-8 name')
  assert.ok(raw.split('\r\n').every((l) => !l.includes('\n')), 'every line ends with CR LF')
})
