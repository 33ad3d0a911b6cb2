/**
 * Slow readers: a client that stops reading while the server pushes to it is closed once its
 * unsent output passes `server.maxSendBufferBytes`; a client that reads the same volume is not,
 * and other clients keep working throughout.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { Controller, type Application } from '../../framework/index.js'
import { http, LineClient, portOf, startApp, TcpClient, waitUntil, WsClient } from '../helpers.js'

const MAX_SEND_BUFFER = 64 * 1024
const CHUNK = 16 * 1024
/** Far more than the kernel socket buffers of both ends can hold (tcp_wmem + tcp_rmem). */
const COUNT = 4000
/**
 * How soon after its last refused push a slow reader must be gone from the server. Dropping it
 * is immediate; this is well below the 2 s grace a graceful TCP close gets and the 30 s a
 * WebSocket closing handshake may wait for a peer that does not read.
 */
const DROP_MS = 1000

/** Pushes `count` pushes of `size` bytes to a uid, one per event-loop turn, until one is refused. */
class FloodController extends Controller {
  async login (uid: string): Promise<string | undefined> {
    await this.bindUid(uid)
    return this.connectionId
  }

  async toUid (data: { uid: string, count: number, size: number }): Promise<number> {
    const payload = 'x'.repeat(data.size)
    let delivered = 0
    for (let i = 0; i < data.count; i++) {
      if (await this.sendToUid(data.uid, { i, payload }) === 0) break
      delivered++
      await nextTurn()
    }
    return delivered
  }

  echo (data: unknown): unknown {
    return data
  }
}

describe('slow reader', () => {
  let app: Application
  before(async () => {
    app = await startApp(
      { server: { maxSendBufferBytes: MAX_SEND_BUFFER, text: { route: '/flood/echo' } } },
      { controllers: [FloodController] },
    )
  })
  after(async () => { await app?.stop() })

  /** Every port answers. */
  async function everyPortAnswers (tag: string): Promise<void> {
    const tcp = await TcpClient.connect(portOf(app, 'tcp'))
    const ws = await WsClient.connect(portOf(app, 'http'))
    const line = await LineClient.connect(portOf(app, 'text'))
    try {
      assert.equal((await tcp.request('/flood/echo', tag)).data, tag)
      assert.equal((await ws.request('/flood/echo', tag)).data, tag)
      line.send(tag)
      assert.equal(await line.next(), tag)
      const res = await http(portOf(app, 'http'), `/flood/echo?tag=${tag}`)
      assert.deepEqual(res.body, { tag })
    } finally {
      tcp.close()
      ws.close()
      line.close()
    }
  }

  test('a TCP client that does not read is closed once its unsent output exceeds maxSendBufferBytes', async () => {
    const slow = await TcpClient.connect(portOf(app, 'tcp'))
    const driver = await TcpClient.connect(portOf(app, 'tcp'))
    const bystander = await TcpClient.connect(portOf(app, 'tcp'))
    try {
      const connId = (await slow.request('/flood/login', 'slow-1')).data as string
      assert.equal(typeof connId, 'string')
      assert.ok(app.connections.get(connId), 'the slow connection is registered')
      slow.socket.pause()

      // Pushes flow while another client keeps getting answers.
      const flooding = driver.request('/flood/toUid', { uid: 'slow-1', count: COUNT, size: CHUNK })
      assert.equal((await bystander.request('/flood/echo', 'during')).data, 'during')
      const reply = await flooding
      const delivered = reply.data as number
      assert.equal(typeof delivered, 'number', JSON.stringify(reply))
      assert.ok(delivered < COUNT, `pushes stopped being accepted (${delivered} of ${COUNT})`)
      assert.ok(delivered * CHUNK > MAX_SEND_BUFFER, `not refused before the limit was reached (${delivered} pushes)`)

      // The server dropped the connection at once (no graceful close: the client is not reading,
      // so a graceful close would hold the socket and its buffers), while it still does not read.
      await waitUntil(() => app.connections.get(connId) === undefined, DROP_MS, 'the server to drop the slow connection')
      assert.equal(await isOnline(app, 'slow-1'), false, 'its uid is released')
      await everyPortAnswers('after-slow')
      assert.equal(bystander.closed, false)

      // Once the client reads again it gets what the kernel held, then the close.
      let pushes = 0
      slow.socket.resume()
      await slow.waitClosed(5000)
      for (const m of slow.received) if (m.data !== undefined && typeof m.data === 'object') pushes++
      assert.ok(pushes <= delivered, `received ${pushes} pushes, at most the ${delivered} accepted`)
    } finally {
      slow.close()
      driver.close()
      bystander.close()
    }
  })

  test('a TCP client that reads is not closed by the same volume of pushes', async () => {
    const reader = await TcpClient.connect(portOf(app, 'tcp'))
    const driver = await TcpClient.connect(portOf(app, 'tcp'))
    try {
      await reader.request('/flood/login', 'reader-1')
      const count = 300 // 300 × 16 KiB ≈ 4.7 MiB, 75 times the limit
      const reply = await driver.request('/flood/toUid', { uid: 'reader-1', count, size: CHUNK })
      assert.equal(reply.data, count)
      await waitUntil(() => reader.received.length >= count, 5000, `${count} pushes`)
      reader.received.forEach((m, i) => assert.equal((m.data as { i: number }).i, i))
      assert.equal(reader.closed, false)
      assert.equal((await reader.request('/flood/echo', 'ok')).data, 'ok')
    } finally {
      reader.close()
      driver.close()
    }
  })

  test('a WebSocket client that does not read is closed too', async () => {
    const slow = await WsClient.connect(portOf(app, 'http'))
    const driver = await TcpClient.connect(portOf(app, 'tcp'))
    try {
      const connId = (await slow.request('/flood/login', 'slow-ws')).data as string
      slow.ws.pause()
      const delivered = (await driver.request('/flood/toUid', { uid: 'slow-ws', count: COUNT, size: CHUNK })).data as number
      assert.ok(delivered < COUNT, `pushes stopped being accepted (${delivered} of ${COUNT})`)
      await waitUntil(() => app.connections.get(connId) === undefined, DROP_MS, 'the server to drop the slow WebSocket')
      await everyPortAnswers('after-slow-ws')
    } finally {
      slow.close()
      driver.close()
    }
  })
})

/** Asks the app's bus whether a uid is online. */
function isOnline (app: Application, uid: string): Promise<boolean> {
  return app.bus.isUidOnline(uid)
}
