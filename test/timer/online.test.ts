/**
 * The demo's OnlineTimer (config/timers.ts): pushes the online count to every chat room; telnet
 * users get the line `online: N`, JSON users `{type: 'online', count}`.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { LineClient, portOf, startApp, WsClient } from '../helpers.js'

test('the online count reaches every room, on telnet and WebSocket', async (t) => {
  // same timer as config/timers.ts, sooner: every 100 ms from the start
  const app = await startApp({ timers: { online: { handler: 'OnlineTimer', method: 'push', every: 100 } } })
  t.after(() => app.stop())
  assert.deepEqual(app.config.timers.online, { handler: 'OnlineTimer', method: 'push', every: 100 })
  const telnet = await LineClient.connect(portOf(app, 'text'))
  const ws = await WsClient.connect(portOf(app, 'http'))
  t.after(() => { telnet.close(); ws.close() })
  telnet.send('tina')
  assert.match(await telnet.next((l) => l.startsWith('welcome')), /^welcome tina/)
  assert.equal((await ws.request('/chat/login', { name: 'wes', room: 'garden' })).error, undefined)
  assert.equal(await telnet.next((l) => l === 'online: 2', 3000), 'online: 2')
  assert.deepEqual((await ws.next((m) => (m.data as { type?: string })?.type === 'online', 3000)).data, { type: 'online', count: 2 })
})

test('config/timers.ts: the demo timer waits 10 s after start, then runs every 10 s', async (t) => {
  const app = await startApp()
  t.after(() => app.stop())
  assert.deepEqual(app.config.timers.online, { handler: 'OnlineTimer', method: 'push', every: '10s', delayMs: 10_000 })
  const next = app.timers.runners.get('online')?.nextTick ?? 0
  assert.ok(next >= Date.now() + 9000, 'no push in the first 10 s (tests and fresh servers stay quiet)')
  assert.equal(next % 10_000, 0, 'ticks on the 10 s marks, the same on every node')
})
