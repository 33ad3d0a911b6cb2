/**
 * The demo's `/chat/stats`: room statistics computed by `app/tasks/StatsTask.ts` in a worker
 * thread, from the history in memory (passed to the task) or in MySQL (read by the task on the
 * worker's own connection).
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { Migrations, type Application } from '../../framework/index.js'
import type { RoomStats } from '../../app/tasks/StatsTask.js'
import { http, portOf, root, startApp, TcpClient, WsClient } from '../helpers.js'
import { createTestDatabase, type TestDatabase } from '../stores.js'
import { coldRequest } from './cold-request.js'

/** Two users chat in `room`; returns their uids. */
async function chat (app: Application, room: string): Promise<{ ann: string, ben: string, close: () => void }> {
  const tcp = await TcpClient.connect(portOf(app, 'tcp'))
  const ws = await WsClient.connect(portOf(app, 'http'))
  const ann = (await tcp.request('/chat/login', { name: 'ann', room })).data as { uid: string }
  const ben = (await ws.request('/chat/login', { name: 'ben', room })).data as { uid: string }
  for (const text of ['Hello world', 'the world is big', "Don't panic, world"]) await tcp.request('/chat/say', { text })
  for (const text of ['hello ANN', 'e-mail me']) await ws.request('/chat/say', { text })
  return { ann: ann.uid, ben: ben.uid, close: () => { tcp.close(); ws.close() } }
}

function check (stats: RoomStats, room: string, uids: { ann: string, ben: string }): void {
  assert.equal(stats.room, room)
  assert.equal(stats.messages, 5)
  // hello world | the world is big | don't panic world | hello ann | e-mail me
  assert.equal(stats.words, 13)
  assert.equal(stats.distinctWords, 10)
  assert.deepEqual(stats.topWords.slice(0, 2), [{ word: 'world', count: 3 }, { word: 'hello', count: 2 }])
  assert.ok(!stats.topWords.some((w) => w.word === 'the' || w.word === 'is'), 'common words are left out')
  assert.ok(stats.topWords.some((w) => w.word === "don't") && stats.topWords.some((w) => w.word === 'e-mail'))
  assert.deepEqual(stats.users, [
    { uid: uids.ann, name: 'ann', messages: 3, words: 9 },
    { uid: uids.ben, name: 'ben', messages: 2, words: 4 },
  ])
  assert.ok(stats.first !== undefined && stats.last !== undefined && stats.first <= stats.last)
}

describe('/chat/stats with the history in memory', () => {
  let app: Application
  before(async () => { app = await startApp() })
  after(() => app?.stop())

  test('statistics of a room, on TCP and HTTP; an empty room', async () => {
    const users = await chat(app, 'stats-mem')
    try {
      const tcp = await TcpClient.connect(portOf(app, 'tcp'))
      try {
        check((await coldRequest(tcp, '/chat/stats', { room: 'stats-mem' })).data as RoomStats, 'stats-mem', users)
        assert.deepEqual((await tcp.request('/chat/stats', { room: 'nobody-here' })).data, {
          room: 'nobody-here', messages: 0, words: 0, distinctWords: 0, topWords: [], users: [],
        })
        assert.equal((await tcp.request('/chat/stats', { room: '' })).error?.code, 'CHAT_ERR_BAD_NAME')
      } finally {
        tcp.close()
      }
      const res = await http(portOf(app, 'http'), '/chat/stats?room=stats-mem')
      assert.equal(res.status, 200)
      check(res.body as RoomStats, 'stats-mem', users)
    } finally {
      users.close()
    }
  })
})

describe('/chat/stats with the history in MySQL (read by the task)', () => {
  let app: Application
  let db: TestDatabase
  before(async () => {
    db = await createTestDatabase('stats')
    app = await startApp({ mysql: { url: db.url } })
    await new Migrations(app.data.mysql.primary, app.config.mysql, root).latest()
  })
  after(async () => {
    await app?.stop()
    await db?.drop()
  })

  test('statistics of the stored history', async () => {
    const users = await chat(app, 'stats-db')
    try {
      const tcp = await TcpClient.connect(portOf(app, 'tcp'))
      try {
        check((await coldRequest(tcp, '/chat/stats', { room: 'stats-db' })).data as RoomStats, 'stats-db', users)
        // rows written straight to MySQL are counted too: the task reads the table itself
        await db.knex('chat_messages').insert({ room: 'stats-db', uid: users.ben, name: 'ben', text: 'world world' })
        const stats = (await tcp.request('/chat/stats', { room: 'stats-db' })).data as RoomStats
        assert.equal(stats.messages, 6)
        assert.deepEqual(stats.topWords[0], { word: 'world', count: 5 })
      } finally {
        tcp.close()
      }
    } finally {
      users.close()
    }
  })
})
