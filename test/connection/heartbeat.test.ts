/**
 * Heartbeats: idle connections (no complete message for `heartbeatIdleMs`) are told
 * SD_ERR_IDLE_TIMEOUT and closed while active ones stay; the server ping reaches every port.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { Controller, type Application } from '../../framework/index.js'
import { LineClient, portOf, startApp, TcpClient, waitUntil, WsClient } from '../helpers.js'

const IDLE_MS = 300

/** Keeps a client busy (a request every `everyMs`) until `stop()`; rejects if a request fails. */
function keepBusy (request: () => Promise<unknown>, everyMs = 50): { stop: () => Promise<number> } {
  let running = true
  let count = 0
  const loop = (async () => {
    while (running) {
      await request()
      count++
      await new Promise((resolve) => setTimeout(resolve, everyMs))
    }
  })()
  return { stop: async () => { running = false; await loop; return count } }
}

describe('idle timeout', () => {
  let app: Application
  before(async () => { app = await startApp({ server: { heartbeatIdleMs: IDLE_MS } }) })
  after(async () => { await app?.stop() })

  test('half a frame then silence → SD_ERR_IDLE_TIMEOUT push, then close; active clients stay open', async () => {
    const activeTcp = await TcpClient.connect(portOf(app, 'tcp'))
    const activeWs = await WsClient.connect(portOf(app, 'http'))
    const busyTcp = keepBusy(() => activeTcp.request('/bench/echo', 'alive'))
    const busyWs = keepBusy(() => activeWs.request('/bench/echo', 'alive'))
    try {
      const t0 = Date.now()
      const half = await TcpClient.connect(portOf(app, 'tcp'))
      const silentWs = await WsClient.connect(portOf(app, 'http'))
      // A header announcing 20 bytes and 3 of them: never a complete message.
      const head = Buffer.alloc(4)
      head.writeUInt32BE(20, 0)
      half.raw(Buffer.concat([head, Buffer.from('{"i')]))

      await half.waitClosed(IDLE_MS * 10)
      const closedAfter = Date.now() - t0
      // The error push arrived before the close ('data' is delivered before 'close').
      assert.deepEqual(half.received.map((m) => m.error?.code), ['SD_ERR_IDLE_TIMEOUT'])
      assert.equal('id' in half.received[0], false)
      assert.ok(closedAfter >= IDLE_MS - 5, `not closed before the idle time (closed after ${closedAfter} ms)`)

      await silentWs.waitClosed(IDLE_MS * 10)
      assert.deepEqual(silentWs.received.map((m) => m.error?.code), ['SD_ERR_IDLE_TIMEOUT'])

      // Stay busy for several idle periods: active clients are never closed.
      await waitUntil(() => Date.now() - t0 > IDLE_MS * 4, IDLE_MS * 10, 'several idle periods')
      const [nTcp, nWs] = await Promise.all([busyTcp.stop(), busyWs.stop()])
      assert.ok(nTcp > 5 && nWs > 5, `clients were active (${nTcp}, ${nWs} requests)`)
      assert.equal(activeTcp.closed, false, 'active TCP client not closed')
      assert.equal(activeWs.closed, false, 'active WebSocket client not closed')
      assert.equal(activeTcp.received.length + activeWs.received.length, 0, 'no error push to active clients')
      assert.deepEqual((await activeTcp.request('/bench/echo', 'still')).data, 'still')
      assert.deepEqual((await activeWs.request('/bench/echo', 'still')).data, 'still')
    } finally {
      await Promise.allSettled([busyTcp.stop(), busyWs.stop()])
      activeTcp.close()
      activeWs.close()
    }
  })

  test('a client trickling bytes of a frame it never completes is closed too (only complete messages count)', async () => {
    const c = await TcpClient.connect(portOf(app, 'tcp'))
    const t0 = Date.now()
    const head = Buffer.alloc(4)
    head.writeUInt32BE(100_000, 0)
    c.raw(head)
    // One more byte of the payload every 30 ms, for as long as the server keeps the connection.
    const trickle = setInterval(() => { if (!c.closed) c.raw('x') }, 30)
    try {
      await c.waitClosed(IDLE_MS * 5)
      assert.deepEqual(c.received.map((m) => m.error?.code), ['SD_ERR_IDLE_TIMEOUT'])
      assert.ok(Date.now() - t0 >= IDLE_MS - 5)
    } finally {
      clearInterval(trickle)
      c.close()
    }
  })

  test('a text-port client that sends nothing is closed with an ERROR SD_ERR_IDLE_TIMEOUT line', async () => {
    const c = await LineClient.connect(portOf(app, 'text'))
    try {
      c.socket.write('no newline yet')
      await c.waitClosed(IDLE_MS * 10)
      assert.equal(c.received.length, 2, 'the chat\'s nickname prompt, then the error')
      assert.match(c.received[1], /^ERROR SD_ERR_IDLE_TIMEOUT\b/)
    } finally {
      c.close()
    }
  })
})

describe('server ping', () => {
  let app: Application
  before(async () => { app = await startApp({ server: { pingIntervalMs: 100, pingData: 'ping' } }) })
  after(async () => { await app?.stop() })

  test('every pingIntervalMs, TCP, WebSocket and text clients receive the ping push', async () => {
    const tcp = await TcpClient.connect(portOf(app, 'tcp'))
    const ws = await WsClient.connect(portOf(app, 'http'))
    const line = await LineClient.connect(portOf(app, 'text'))
    try {
      assert.match(await line.next(), /^SD chat\. Your nickname\?/)
      for (let i = 0; i < 2; i++) {
        // Repeats: two pings each, not just one.
        assert.deepEqual(await tcp.next(), { data: 'ping' })
        assert.deepEqual(await ws.next(), { data: 'ping' })
        assert.equal(await line.next(), 'ping')
      }
      // Pings do not disturb requests.
      assert.deepEqual((await tcp.request('/bench/echo', 1)).data, 1)
    } finally {
      tcp.close()
      ws.close()
      line.close()
    }
  })
})

describe('idle timeout and running requests', () => {
  let release: () => void = () => {}
  class SlowController extends Controller {
    wait (): Promise<string> {
      return new Promise((resolve) => { release = () => resolve('done') })
    }
  }
  let app: Application
  before(async () => { app = await startApp({ server: { heartbeatIdleMs: 100 } }, { controllers: [SlowController] }) })
  after(async () => { await app?.stop() })

  test('a connection waiting for its own running request is not closed as idle', async () => {
    const c = await TcpClient.connect(portOf(app, 'tcp'))
    const reply = c.request('/slow/wait')
    const idleTwin = await TcpClient.connect(portOf(app, 'tcp'))
    await idleTwin.waitClosed(2000)
    assert.equal(c.closed, false, 'the waiting client is still open after an idle client was closed')
    release()
    assert.deepEqual(await reply, { id: 1, data: 'done' })
    await c.waitClosed(2000)
    assert.equal(c.received.at(-1)?.error?.code, 'SD_ERR_IDLE_TIMEOUT', 'once answered and silent, it idles out')
  })
})
