/**
 * Chat resume tokens: `/chat/login` answers a signed token, `/chat/resume {token}` on another
 * connection gives the same uid, name and room back; forged, expired or foreign tokens are
 * refused with CHAT_ERR_BAD_TOKEN. The secret: configured, shared through Redis, or per process.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startApp, portOf, TcpClient, WsClient, http, waitUntil } from '../helpers.js'
import { startProxy } from '../proxy.js'
import { deleteRedisKeys, redisUrl, testKeyPrefix } from '../stores.js'
import { Redis } from 'ioredis'
import { ChatTokens } from '../../app/services/chat-token.js'

interface Login { uid: string, name: string, room: string, token: string }

test('login answers a token; resume on a new connection binds the same uid, name and room; bad tokens are refused', async (t) => {
  const app = await startApp({ chat: { tokenSecret: 'test-secret' } })
  t.after(() => app.stop())
  const proxy = await startProxy(portOf(app, 'tcp'))
  t.after(() => proxy.close())

  const pat = await TcpClient.connect(proxy.port)
  t.after(() => pat.close())
  const first = (await pat.request('/chat/login', { name: 'pat', room: 'games' })).data as Login
  assert.equal(first.name, 'pat')
  assert.equal(first.room, 'games')
  assert.match(first.token, /^[\w-]+\.[\w-]{43}$/, 'base64url payload.signature (32-byte HMAC)')
  const payload = JSON.parse(Buffer.from(first.token.split('.')[0], 'base64url').toString()) as Record<string, unknown>
  assert.deepEqual({ uid: payload.uid, name: payload.name, room: payload.room }, { uid: first.uid, name: 'pat', room: 'games' })

  const ws = await WsClient.connect(portOf(app, 'http'))
  t.after(() => ws.close())
  await ws.request('/chat/login', { name: 'wes', room: 'games' })

  // the link drops: a new connection resumes as the same user, in the same room
  assert.equal(proxy.drop(), 1)
  await pat.waitClosed()
  const again = await TcpClient.connect(proxy.port)
  t.after(() => again.close())
  const resumed = (await again.request('/chat/resume', { token: first.token })).data as Login
  assert.deepEqual({ uid: resumed.uid, name: resumed.name, room: resumed.room }, { uid: first.uid, name: 'pat', room: 'games' })
  assert.match(resumed.token, /^[\w-]+\.[\w-]+$/)
  const online = (await ws.request('/chat/online', { room: 'games' })).data as { users: Array<{ uid: string, name: string }> }
  assert.deepEqual(online.users.sort((a, b) => a.name.localeCompare(b.name)).map((u) => [u.uid, u.name]),
    [[first.uid, 'pat'], [online.users.find((u) => u.name === 'wes')?.uid, 'wes']])
  // bound again: private messages to the uid reach the new connection, room messages too
  await ws.request('/chat/say', { to: first.uid, text: 'still there?' })
  assert.equal(((await again.next((m) => m.id === undefined && (m.data as { text?: string })?.text === 'still there?')).data as { private: boolean }).private, true)
  assert.deepEqual((await again.request('/chat/say', { text: 'back' })).data, { delivered: 1, stored: true })
  // a resumed token works again (the fresh one too)
  const other = await TcpClient.connect(portOf(app, 'tcp'))
  t.after(() => other.close())
  assert.equal(((await other.request('/chat/resume', { token: resumed.token })).data as Login).uid, first.uid)

  const [body, sig] = first.token.split('.')
  const forged = Buffer.from(JSON.stringify({ ...payload, uid: '1' })).toString('base64url')
  for (const token of [`${forged}.${sig}`, `${body}.${sig.slice(0, -2)}AA`, `${body}.`, body, `${body}.${sig}.x`, 'x.y']) {
    assert.equal((await other.request('/chat/resume', { token })).error?.code, 'CHAT_ERR_BAD_TOKEN', token)
  }
  for (const data of [{}, { token: 5 }, { token: 'x'.repeat(1025) }, undefined]) {
    assert.equal((await other.request('/chat/resume', data)).error?.code, 'SD_ERR_VALIDATION', JSON.stringify(data))
  }
  const signedElsewhere = await new ChatTokens('another-secret').sign({ uid: first.uid, name: 'pat', room: 'games' })
  assert.equal((await other.request('/chat/resume', { token: signedElsewhere })).error?.code, 'CHAT_ERR_BAD_TOKEN')
  // resume speaks for a user: not on HTTP
  const res = await http(portOf(app, 'http'), '/chat/resume', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: first.token }) })
  assert.notEqual(res.status, 200)
})

test('tokens expire after the TTL, and carry only what was signed', async () => {
  const tokens = new ChatTokens('s', 1000)
  const token = await tokens.sign({ uid: '7', name: 'a', room: 'lobby' }, 5000)
  assert.deepEqual(await tokens.verify(token, 5999), { uid: '7', name: 'a', room: 'lobby' })
  assert.equal(await tokens.verify(token, 6000), undefined, 'expired')
  assert.equal(await new ChatTokens('t', 1000).verify(token, 5001), undefined, 'another secret')
  assert.equal(await tokens.verify(undefined), undefined)
})

test('without a configured secret: one kept in Redis outlives a restart; without Redis a restart refuses old tokens', async (t) => {
  // chat state is per process (app/services/chat.ts), so each case restarts the app in this one
  const keyPrefix = testKeyPrefix('chat-resume')
  t.after(() => deleteRedisKeys(keyPrefix))
  const withRedis = { redis: { url: redisUrl, keyPrefix } }
  const a = await startApp(withRedis)
  const ca = await TcpClient.connect(portOf(a, 'tcp'))
  const login = (await ca.request('/chat/login', { name: 'ann' })).data as Login
  ca.close()
  await a.stop()
  const redis = new Redis(redisUrl)
  t.after(() => redis.quit())
  assert.match(await redis.get(`${keyPrefix}chat:token-secret`) ?? '', /^[\w-]{43}$/, 'a random secret in Redis')
  const b = await startApp(withRedis)
  t.after(() => b.stop())
  const cb = await TcpClient.connect(portOf(b, 'tcp'))
  t.after(() => cb.close())
  const resumed = (await cb.request('/chat/resume', { token: login.token })).data as Login
  assert.deepEqual({ uid: resumed.uid, name: resumed.name, room: resumed.room }, { uid: login.uid, name: 'ann', room: 'lobby' })

  const c = await startApp()
  const cc = await TcpClient.connect(portOf(c, 'tcp'))
  const own = (await cc.request('/chat/login', { name: 'bo' })).data as Login
  assert.equal(((await cc.request('/chat/resume', { token: own.token })).data as Login).uid, own.uid, 'the process that signed it accepts it')
  cc.close()
  await c.stop()
  const d = await startApp()
  t.after(() => d.stop())
  const cd = await TcpClient.connect(portOf(d, 'tcp'))
  t.after(() => cd.close())
  assert.equal((await cd.request('/chat/resume', { token: own.token })).error?.code, 'CHAT_ERR_BAD_TOKEN', 'a restarted process does not')
})

test('a connection that closes while its user has resumed elsewhere announces no leave and keeps the name', async (t) => {
  const app = await startApp({ chat: { tokenSecret: 'test-secret' } })
  t.after(() => app.stop())
  const tcp = portOf(app, 'tcp')
  const watcher = await TcpClient.connect(tcp)
  t.after(() => watcher.close())
  await watcher.request('/chat/login', { name: 'watcher' })
  const old = await TcpClient.connect(tcp)
  const pat = (await old.request('/chat/login', { name: 'pat' })).data as Login
  const resumed = await TcpClient.connect(tcp)
  t.after(() => resumed.close())
  assert.equal(((await resumed.request('/chat/resume', { token: pat.token })).data as Login).uid, pat.uid)
  const before = app.connections.size
  old.close()
  await waitUntil(() => app.connections.size === before - 1, 3000, 'the old connection to close')
  // a user who really leaves, after: their leave is the first one the watcher sees
  const dee = await TcpClient.connect(tcp)
  const deeUid = ((await dee.request('/chat/login', { name: 'dee' })).data as Login).uid
  dee.close()
  const leave = await watcher.next((m) => (m.data as { type?: string })?.type === 'leave')
  assert.equal((leave.data as { uid: string }).uid, deeUid, 'no leave for pat, who is still online')
  const online = (await watcher.request('/chat/online')).data as { users: Array<{ uid: string, name: string }> }
  assert.deepEqual(online.users.find((u) => u.uid === pat.uid), { uid: pat.uid, name: 'pat' })
})
