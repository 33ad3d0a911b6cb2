/**
 * Chat uids never repeat: not after Redis loses its data (the report's case: a new user got
 * the uid of a user still online, and private messages reached both), not after a restart,
 * not between workers or across `sd reload` without Redis; and they stay short (near the
 * clock floor, no jump to 200001).
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { Redis } from 'ioredis'
import { MemoryUsers, RedisUsers, uidClock } from '../../app/services/chat.js'
import { startApp, portOf, TcpClient, WsClient } from '../helpers.js'
import { deleteRedisKeys, rawRedis, redisUrl, testKeyPrefix } from '../stores.js'

const keyPrefix = testKeyPrefix('uids')
const raw = rawRedis()
after(async () => {
  await raw.quit()
  await deleteRedisKeys(keyPrefix)
})

async function take (users: { nextUid: () => Promise<string> }, n: number): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < n; i++) out.push(Number(await users.nextUid()))
  return out
}

test('Redis counter lost (key gone, as after a flush or an empty restart): the next uids are past every uid given before', async (t) => {
  const redis = new Redis(redisUrl, { keyPrefix })
  t.after(() => redis.quit())
  const users = new RedisUsers(redis)
  const first = await take(users, 30) // far more than one per second: the counter runs ahead of the clock
  await raw.del(`${keyPrefix}chat:uid`)
  const again = await take(users, 3)
  await raw.del(`${keyPrefix}chat:uid`)
  const other = await take(new RedisUsers(redis), 3) // another process, after the loss: the clock floor
  const all = [...first, ...again]
  assert.equal(new Set(all).size, all.length, 'no repeat in this process')
  assert.ok(again[0] > Math.max(...first), 'this process never goes back')
  assert.ok(other[0] >= uidClock() - 1, 'another process starts at the clock, not at 1')
  assert.ok(first[0] >= uidClock() - 1 && String(first[0]).length <= 8, 'short: seconds since 2026-12-01')
})

test('without Redis: a restarted process, other workers and a worker replaced by sd reload never repeat a uid, and stay near the clock', async () => {
  const before = await take(new MemoryUsers(), 5)
  const restarted = await take(new MemoryUsers(), 5)
  assert.ok(restarted[0] > Math.max(...before) - 5 && restarted[0] >= uidClock() - 1, 'starts at the clock, not at 1')
  const w1 = await take(new MemoryUsers({ workers: 2, slot: 1, generation: 0 }), 20)
  const w2 = await take(new MemoryUsers({ workers: 2, slot: 2, generation: 0 }), 20)
  const w1reloaded = await take(new MemoryUsers({ workers: 2, slot: 1, generation: 1 }), 20) // runs while w1 drains
  const all = [...w1, ...w2, ...w1reloaded]
  assert.equal(new Set(all).size, all.length, 'no uid shared between workers or generations')
  assert.ok(Math.max(...all) - uidClock() < 1000, 'no jump to generation × 100000')
})

test('the chat skips a uid still online: a user who logs in after Redis lost the counter does not get a private message meant for another', async (t) => {
  const app = await startApp({ redis: { url: redisUrl, keyPrefix } })
  t.after(() => app.stop())
  const a = await TcpClient.connect(portOf(app, 'tcp'))
  const b = await WsClient.connect(portOf(app, 'http'))
  const c = await TcpClient.connect(portOf(app, 'tcp'))
  t.after(() => { a.close(); b.close(); c.close() })
  await raw.del(`${keyPrefix}chat:uid`)
  const ann = (await a.request('/chat/login', { name: 'ann' })).data as { uid: string }
  await raw.del(`${keyPrefix}chat:uid`) // Redis restarted empty while ann is online
  const bob = (await b.request('/chat/login', { name: 'bob' })).data as { uid: string }
  assert.notEqual(bob.uid, ann.uid)
  await c.request('/chat/login', { name: 'cy', room: 'elsewhere' })
  assert.deepEqual((await c.request('/chat/say', { to: ann.uid, text: 'for ann only' })).data, { delivered: 1, stored: false })
  const got = await a.next((m) => m.id === undefined && (m.data as { type?: string } | undefined)?.type === 'say')
  assert.equal((got.data as { text: string }).text, 'for ann only')
  assert.deepEqual((await b.request('/chat/history', { room: 'nowhere' })).data, [])
  assert.equal(b.received.filter((m) => (m.data as { type?: string })?.type === 'say').length, 0, 'bob got no private message of ann')
})
