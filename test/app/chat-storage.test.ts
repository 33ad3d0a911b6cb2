/**
 * The chat with MySQL and Redis configured: history through MessageModel on every transport,
 * uids and names in Redis, and hostile text stored verbatim (values reach SQL as bindings).
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { Migrations, type Application } from '../../framework/index.js'
import { startApp, portOf, TcpClient, WsClient, LineClient, http, waitUntil, root } from '../helpers.js'
import { createTestDatabase, deleteRedisKeys, rawRedis, redisUrl, testKeyPrefix, type TestDatabase } from '../stores.js'

const hostile = [
  "'; DROP TABLE chat_messages; --",
  'Robert"); DELETE FROM chat_messages WHERE ("1"="1',
  '\\\' OR 1=1 #',
  'héllo 世界 🎉 ünïcødé',
  '%_%',
]

interface Message { id: number, room: string, uid: string, name: string, text: string, at: string }

describe('chat with MySQL history and Redis users', () => {
  let db: TestDatabase
  let app: Application
  const keyPrefix = testKeyPrefix('chat')
  const redis = rawRedis()

  before(async () => {
    db = await createTestDatabase('chat')
    app = await startApp({ mysql: { url: db.url }, redis: { url: redisUrl, keyPrefix } })
    const run = await new Migrations(app.data.mysql.primary, app.config.mysql, root).latest()
    assert.deepEqual(run.files, ['20261121141137_create_chat_messages.ts'])
  })
  after(async () => {
    await app?.stop()
    await redis.quit()
    await deleteRedisKeys(keyPrefix)
    await db?.drop()
  })

  test('hostile and unicode text is delivered, stored verbatim, and read back on TCP, WebSocket and HTTP', async (t) => {
    const ws = await WsClient.connect(portOf(app, 'http'))
    const tcp = await TcpClient.connect(portOf(app, 'tcp'))
    t.after(() => { ws.close(); tcp.close() })

    const ann = (await ws.request('/chat/login', { name: 'ann', room: 'lobby' })).data as { uid: string }
    const ben = (await tcp.request('/chat/login', { name: 'ben', room: 'lobby' })).data as { uid: string }
    for (const [i, text] of hostile.entries()) {
      const client = i % 2 === 0 ? ws : tcp
      assert.deepEqual((await client.request('/chat/say', { text })).data, { delivered: 1, stored: true })
    }
    const telnet = await LineClient.connect(portOf(app, 'text'))
    t.after(() => telnet.close())
    telnet.send('tess')
    assert.match(await telnet.next(), /^SD chat\. Your nickname\?/)
    assert.match(await telnet.next(), /^welcome tess, your uid is \d+$/)
    // the room's recent history follows the welcome, as web users read it from /chat/history
    for (const [i, text] of hostile.entries()) {
      const who = i % 2 === 0 ? `ann(${ann.uid})` : `ben(${ben.uid})`
      const line = await telnet.next()
      assert.match(line, /^\[\d\d:\d\d\] /)
      assert.equal(line.slice(8), `${who}: ${text}`)
    }
    telnet.send('telnet says 🎉')
    await waitUntil(async () => (await db.knex('chat_messages').count({ n: '*' }).first())?.n === hostile.length + 1, 3000, 'the telnet line to be stored')

    const expected = [...hostile.map((text, i) => ({ text, uid: i % 2 === 0 ? ann.uid : ben.uid })), { text: 'telnet says 🎉', uid: undefined }]
    const check = (list: Message[], how: string): void => {
      assert.equal(list.length, expected.length, how)
      list.forEach((m, i) => {
        assert.equal(m.text, expected[i].text, `${how}: message ${i}`)
        assert.equal(m.room, 'lobby')
        if (expected[i].uid) assert.equal(m.uid, expected[i].uid)
        assert.ok(!Number.isNaN(Date.parse(m.at)), `${how}: at is a time`)
      })
      assert.ok(list.every((m, i) => i === 0 || m.id > list[i - 1].id), `${how}: oldest first`)
    }
    check((await tcp.request('/chat/history', { room: 'lobby', limit: 50 })).data as Message[], 'tcp')
    check((await ws.request('/chat/history', { room: 'lobby' })).data as Message[], 'ws')
    const res = await http(portOf(app, 'http'), '/chat/history?room=lobby&limit=50')
    assert.equal(res.status, 200)
    check(JSON.parse(res.text) as Message[], 'http')

    const lastTwo = (await tcp.request('/chat/history', { room: 'lobby', limit: 2 })).data as Message[]
    assert.deepEqual(lastTwo.map((m) => m.text), [hostile.at(-1), 'telnet says 🎉'])
    assert.equal((await tcp.request('/chat/history', { limit: 0 })).error?.code, 'SD_ERR_VALIDATION')
    assert.deepEqual((await tcp.request('/chat/history', { limit: 'lots' })).error, { code: 'SD_ERR_VALIDATION', message: 'invalid data: limit must be integer' })
    assert.deepEqual((await tcp.request('/chat/history', { room: 'empty-room' })).data, [])

    // the rows themselves, read without the framework
    const rows = await db.knex('chat_messages').orderBy('id').pluck('text') as string[]
    assert.deepEqual(rows, expected.map((e) => e.text))
  })

  test('uids come from a Redis counter and names live in a Redis hash until the user leaves', async (t) => {
    const before = Number(await redis.get(`${keyPrefix}chat:uid`) ?? 0)
    const a = await TcpClient.connect(portOf(app, 'tcp'))
    const b = await WsClient.connect(portOf(app, 'http'))
    t.after(() => { a.close(); b.close() })
    const cara = (await a.request('/chat/login', { name: 'cara', room: 'r1' })).data as { uid: string }
    const dan = (await b.request('/chat/login', { name: 'dan', room: 'r1' })).data as { uid: string }
    const [low, high] = [cara.uid, dan.uid].map(Number).sort((x, y) => x - y)
    assert.ok(low > before, 'past every uid given before')
    assert.equal(high, low + 1, 'one counter: consecutive')
    assert.equal(await redis.get(`${keyPrefix}chat:uid`), String(high))
    assert.equal(await redis.hget(`${keyPrefix}chat:names`, cara.uid), 'cara')

    const online = (await a.request('/chat/online', { room: 'r1' })).data as { users: Array<{ uid: string, name: string }> }
    assert.deepEqual(online.users.sort((x, y) => Number(x.uid) - Number(y.uid)), [{ uid: cara.uid, name: 'cara' }, { uid: dan.uid, name: 'dan' }])

    b.close()
    await waitUntil(async () => (await redis.hget(`${keyPrefix}chat:names`, dan.uid)) === null, 3000, 'dan to be forgotten')
    assert.equal(await redis.hget(`${keyPrefix}chat:names`, cara.uid), 'cara')
  })

  test('with MySQL down the message is still delivered, the reply says stored: false, and history answers SD_ERR_DB_UNAVAILABLE', async (t) => {
    const down = await startApp({ mysql: { url: 'mysql://root@127.0.0.1:1/none', acquireTimeoutMs: 300 } })
    t.after(() => down.stop())
    const x = await TcpClient.connect(portOf(down, 'tcp'))
    const y = await TcpClient.connect(portOf(down, 'tcp'))
    t.after(() => { x.close(); y.close() })
    await x.request('/chat/login', { name: 'x', room: 'r' })
    await y.request('/chat/login', { name: 'y', room: 'r' })
    assert.deepEqual((await x.request('/chat/say', { text: 'still here' })).data, { delivered: 1, stored: false })
    assert.equal(((await y.next((m) => m.id === undefined && (m.data as { type?: string })?.type === 'say')).data as { text: string }).text, 'still here')
    assert.equal((await x.request('/chat/history', {})).error?.code, 'SD_ERR_DB_UNAVAILABLE')
  })
})
