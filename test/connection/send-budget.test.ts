/**
 * The process's output budget (`server.maxTotalSendBufferBytes`): past it the connection holding
 * the most unsent bytes is closed first with `SD_ERR_SLOW_READER` while the others keep being
 * served; the process total goes back down as connections close; a push to a group is encoded
 * once and the same Buffer is handed to every WebSocket.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { Controller, type Application, type Connection } from '../../framework/index.js'
import { portOf, startApp, TcpClient, waitUntil, WsClient } from '../helpers.js'

const BUDGET = 1024 * 1024
const CHUNK = 16 * 1024
/** Pushes a flood may take: far more than the kernel buffers of all ends and the budget. */
const MAX_PUSHES = 8000
const payload = 'x'.repeat(CHUNK)

class RoomController extends Controller {
  async join (data: { uid: string, room: string }): Promise<string> {
    await this.bindUid(data.uid)
    await this.joinGroup(data.room)
    return this.connectionId ?? ''
  }

  echo (data: unknown): unknown {
    return data
  }
}

describe('output budget', () => {
  let app: Application
  before(async () => {
    app = await startApp(
      // the per-connection limit is out of reach: only the process budget closes anyone here
      { server: { maxSendBufferBytes: 256 * 1024 * 1024, maxTotalSendBufferBytes: BUDGET } },
      { controllers: [RoomController] },
    )
  })
  after(async () => { await app?.stop() })

  function server (id: string): Connection {
    const conn = app.connections.get(id)
    assert.ok(conn, `connection ${id} is registered`)
    return conn
  }

  /** Pushes to `uid`, a turn apart, until its connection holds `bytes` unsent. */
  async function fill (uid: string, conn: Connection, bytes: number): Promise<void> {
    for (let i = 0; conn.bufferedBytes < bytes; i++) {
      assert.ok(i < MAX_PUSHES, `${uid} holds ${conn.bufferedBytes} unsent bytes after ${i} pushes`)
      await app.bus.sendToUid(uid, { payload })
      await nextTurn()
    }
  }

  async function noConnections (): Promise<void> {
    await waitUntil(() => app.connections.size === 0, 5000, 'every connection to be gone')
  }

  test('over the budget the slowest reader is closed first with SD_ERR_SLOW_READER; the others are served', async () => {
    const slowest = await TcpClient.connect(portOf(app, 'tcp'))
    const slow = await WsClient.connect(portOf(app, 'http'))
    const reader = await TcpClient.connect(portOf(app, 'tcp'))
    const bystander = await TcpClient.connect(portOf(app, 'tcp'))
    try {
      const slowestConn = server((await slowest.request('/room/join', { uid: 'slowest', room: 'r' })).data as string)
      const slowConn = server((await slow.request('/room/join', { uid: 'slow', room: 'r' })).data as string)
      const readerConn = server((await reader.request('/room/join', { uid: 'reader', room: 'r' })).data as string)
      slowest.socket.pause()
      slow.ws.pause()
      // the TCP client falls behind first: it holds a quarter of the budget before the room flood
      await fill('slowest', slowestConn, BUDGET / 4)

      let pushes = 0
      while (slowestConn.status === 'open') {
        assert.ok(pushes++ < MAX_PUSHES, 'the budget never closed anyone')
        await app.bus.sendToGroup('r', { i: pushes, payload })
        await nextTurn()
      }
      assert.equal(slowestConn.closeError?.code, 'SD_ERR_SLOW_READER')
      assert.equal(slowConn.status, 'open', 'only the slowest reader was closed')
      assert.equal(readerConn.status, 'open')
      await waitUntil(() => app.connections.get(slowestConn.id) === undefined, 5000, 'the slowest reader to be dropped')

      // the room keeps being served; the WebSocket reader that does not read goes next
      while (slowConn.status === 'open') {
        assert.ok(pushes++ < MAX_PUSHES, 'the WebSocket slow reader was never closed')
        await app.bus.sendToGroup('r', { i: pushes, payload })
        await nextTurn()
      }
      assert.equal(slowConn.closeError?.code, 'SD_ERR_SLOW_READER')
      assert.equal(readerConn.status, 'open', 'a client that reads is never chosen')
      const sent = pushes
      await waitUntil(() => reader.received.filter((m) => m.id === undefined).length === sent, 5000, `the reader to get all ${sent} pushes`)
      assert.equal((await reader.request('/room/echo', 'still here')).data, 'still here')
      assert.equal((await bystander.request('/room/echo', 'served')).data, 'served')
    } finally {
      slowest.close()
      slow.close()
      reader.close()
      bystander.close()
    }
    await noConnections()
  })

  test('the process total goes back down when slow connections close', async () => {
    await noConnections()
    const clients = [await TcpClient.connect(portOf(app, 'tcp')), await TcpClient.connect(portOf(app, 'tcp'))]
    const ws = await WsClient.connect(portOf(app, 'http'))
    try {
      const conns: Connection[] = []
      for (const [i, c] of [...clients, ws].entries()) {
        conns.push(server((await c.request('/room/join', { uid: `held-${i}`, room: 'held' })).data as string))
      }
      clients.forEach((c) => c.socket.pause())
      ws.ws.pause()
      for (const [i, conn] of conns.entries()) await fill(`held-${i}`, conn, BUDGET / 8)
      const held = conns.reduce((sum, c) => sum + c.bufferedBytes, 0)
      assert.ok(app.sendBudget.total >= held, `the total (${app.sendBudget.total}) counts the ${held} bytes held`)
      assert.ok(conns.every((c) => c.status === 'open'), 'under the budget nobody is closed')
    } finally {
      clients.forEach((c) => c.close())
      ws.close()
    }
    await noConnections()
    assert.equal(app.sendBudget.total, 0)
  })

  test('a push to a group is encoded once: every WebSocket gets the same Buffer', async () => {
    const clients = await Promise.all([1, 2, 3, 4].map(() => WsClient.connect(portOf(app, 'http'))))
    const handed: unknown[] = []
    try {
      for (const [i, c] of clients.entries()) {
        const conn = server((await c.request('/room/join', { uid: `g-${i}`, room: 'g' })).data as string) as Connection & { socket: { send: (data: unknown) => void } }
        const socket = conn.socket
        const send = socket.send.bind(socket)
        socket.send = (data: unknown) => {
          handed.push(data)
          send(data)
        }
      }
      assert.equal(await app.bus.sendToGroup('g', { hello: 'room' }), clients.length)
      assert.equal(handed.length, clients.length)
      assert.ok(Buffer.isBuffer(handed[0]), 'the push is handed over as bytes, not as a string ws would copy per client')
      for (const h of handed) assert.equal(h, handed[0], 'one Buffer shared by every recipient')
      for (const c of clients) {
        await waitUntil(() => c.received.some((m) => m.id === undefined), 3000, 'the push')
        assert.deepEqual(c.received.find((m) => m.id === undefined)?.data, { hello: 'room' })
      }
    } finally {
      clients.forEach((c) => c.close())
    }
  })

  test('a large push to a group over TCP is written by reference to every client, in order with the rest of the turn', async () => {
    const clients = await Promise.all([1, 2, 3].map(() => TcpClient.connect(portOf(app, 'tcp'))))
    const written: unknown[][] = []
    try {
      for (const [i, c] of clients.entries()) {
        const conn = server((await c.request('/room/join', { uid: `t-${i}`, room: 't' })).data as string) as Connection & { socket: { write: (data: unknown) => boolean } }
        const socket = conn.socket
        const write = socket.write.bind(socket)
        const mine: unknown[] = []
        written.push(mine)
        socket.write = (data: unknown) => {
          mine.push(data)
          return write(data as Buffer)
        }
      }
      // one turn: a small push, the large group push, a small push
      void app.bus.sendToUid('t-0', 'before')
      void app.bus.sendToGroup('t', { payload })
      void app.bus.sendToUid('t-0', 'after')
      for (const c of clients) await waitUntil(() => c.received.filter((m) => m.id === undefined).length >= (c === clients[0] ? 3 : 1), 3000, 'the pushes')
      assert.deepEqual(clients[0].received.filter((m) => m.id === undefined).map((m) => m.data), ['before', { payload }, 'after'])
      for (const c of clients.slice(1)) assert.deepEqual(c.received.filter((m) => m.id === undefined).map((m) => m.data), [{ payload }])
      const big = written[0].find((w) => Buffer.isBuffer(w) && w.length > CHUNK && w.length < CHUNK + 64)
      assert.ok(big, 'the push is written as its own Buffer, not copied into a frame')
      for (const w of written.slice(1)) assert.ok(w.includes(big), 'the same Buffer is written to every client')
    } finally {
      clients.forEach((c) => c.close())
    }
  })

  test('a broadcast to clients that read, above the budget but under twice it, closes nobody: readers get a moment to drain', async () => {
    await noConnections()
    const clients = await Promise.all(Array.from({ length: 12 }, async () => TcpClient.connect(portOf(app, 'tcp'))))
    try {
      for (const [i, c] of clients.entries()) await c.request('/room/join', { uid: `burst-${i}`, room: 'burst' })
      const closedBefore = app.sendBudget.closedCount
      // 12 × 128 KiB = 1.5 × the budget, queued in one turn before any client could read
      const big = 'y'.repeat(128 * 1024)
      assert.equal(await app.bus.sendToGroup('burst', big), clients.length)
      for (const c of clients) await waitUntil(() => c.received.some((m) => m.id === undefined && m.data === big), 5000, 'the broadcast')
      assert.equal(app.sendBudget.closedCount, closedBefore, 'no reader was closed')
      assert.ok(clients.every((c) => !c.closed), 'every client is still connected')
    } finally {
      clients.forEach((c) => c.close())
    }
    await noConnections()
  })
})
