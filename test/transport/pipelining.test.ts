/**
 * Pipelining and split frames on the real server: many requests in one write, one request a
 * byte at a time, and a flood from one client that must not starve another.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { Application } from '../../framework/index.js'
import { http, LineClient, portOf, startApp, TcpClient, waitUntil, WsClient } from '../helpers.js'

/** Wire bytes of one request frame, written from the protocol. */
function requestFrame (id: number | string, path: string, data: unknown): Buffer {
  const body = Buffer.from(JSON.stringify({ id, path, data }))
  const head = Buffer.alloc(4)
  head.writeUInt32BE(body.length, 0)
  return Buffer.concat([head, body])
}

/** Resolves once `bytes` has been handed to the OS (so separate writes leave separately). */
function writeAndFlush (c: TcpClient, bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    c.socket.write(bytes, (err) => { if (err) reject(err); else setImmediate(resolve) })
  })
}

describe('pipelining and split frames (TCP)', () => {
  let app: Application
  // the demo's rate limit (1,000 messages/s, burst 5,000) is off: these are pipelining tests,
  // and test/transport/fairness.test.ts covers the limit
  before(async () => { app = await startApp({ server: { text: { route: '/bench/echo' }, rateLimit: { messagesPerSecond: 0 } } }) })
  after(async () => { await app?.stop() })

  test('1,000 requests in one write → 1,000 replies with matching ids, in order', async () => {
    const c = await TcpClient.connect(portOf(app, 'tcp'))
    try {
      const frames: Buffer[] = []
      for (let i = 1; i <= 1000; i++) frames.push(requestFrame(i, '/bench/echo', { n: i, s: `v${i}` }))
      c.raw(Buffer.concat(frames))
      await waitUntil(() => c.received.length >= 1000, 5000, '1,000 replies')
      assert.equal(c.received.length, 1000)
      c.received.forEach((m, i) => assert.deepEqual(m, { id: i + 1, data: { n: i + 1, s: `v${i + 1}` } }))
    } finally {
      c.close()
    }
  })

  test('one request written one byte at a time → exactly one reply', async () => {
    const c = await TcpClient.connect(portOf(app, 'tcp'))
    try {
      const frame = requestFrame('slow', '/bench/echo', { text: 'byte by byte ✓' })
      for (let i = 0; i < frame.length; i++) await writeAndFlush(c, frame.subarray(i, i + 1))
      assert.deepEqual(await c.next(), { id: 'slow', data: { text: 'byte by byte ✓' } })
      // The decoder is back at a frame boundary: the next request on the same connection works.
      assert.deepEqual((await c.request('/bench/echo', 'next')).data, 'next')
      assert.equal(c.received.length, 0, `no extra message: ${JSON.stringify(c.received)}`)
    } finally {
      c.close()
    }
  })

  test('frames split inside the header and across frame boundaries', async () => {
    const c = await TcpClient.connect(portOf(app, 'tcp'))
    try {
      const stream = Buffer.concat([requestFrame(1, '/bench/echo', 'a'), requestFrame(2, '/bench/echo', ''), requestFrame(3, '/bench/echo', 'c')])
      // Cut 2 bytes into the first header, then mid-payload, then 1 byte into the second header.
      const first = requestFrame(1, '/bench/echo', 'a').length
      const cuts = [2, 10, first + 1, first + 7, stream.length - 3]
      let prev = 0
      for (const cut of [...cuts, stream.length]) {
        await writeAndFlush(c, stream.subarray(prev, cut))
        prev = cut
      }
      assert.deepEqual(await c.next(), { id: 1, data: 'a' })
      assert.deepEqual(await c.next(), { id: 2, data: '' })
      assert.deepEqual(await c.next(), { id: 3, data: 'c' })
    } finally {
      c.close()
    }
  })

  test('a flood of 20,000 pipelined requests: another client is still answered, and all 20,000 replies arrive in order', async () => {
    const flood = await TcpClient.connect(portOf(app, 'tcp'))
    const other = await TcpClient.connect(portOf(app, 'tcp'))
    const ws = await WsClient.connect(portOf(app, 'http'))
    const line = await LineClient.connect(portOf(app, 'text'))
    try {
      const N = 20_000
      const frames: Buffer[] = []
      for (let i = 1; i <= N; i++) frames.push(requestFrame(i, '/bench/echo', i))
      flood.raw(Buffer.concat(frames))
      // While the flood is being answered, other clients on every port are answered too.
      await waitUntil(() => flood.received.length > 0, 5000, 'the flood to start being answered')
      const progress: Record<string, number> = {}
      const mark = <T>(name: string, p: Promise<T>): Promise<T> => p.then((v) => { progress[name] = flood.received.length; return v })
      const [tcpReply, wsReply, lineReply, httpReply] = await Promise.all([
        mark('tcp', other.request('/bench/echo', 'me too')),
        mark('ws', ws.request('/bench/echo', 'me too')),
        mark('text', (line.send('me too'), line.next())),
        mark('http', http(portOf(app, 'http'), '/bench/echo?x=me%20too')),
      ])
      // Socket clients are answered before the flood's last reply: they were not queued behind it.
      for (const name of ['tcp', 'ws', 'text']) {
        assert.ok(progress[name] < N, `${name} answered while the flood was in progress (${JSON.stringify(progress)})`)
      }
      assert.equal(tcpReply.data, 'me too')
      assert.equal(wsReply.data, 'me too')
      assert.equal(lineReply, 'me too')
      assert.deepEqual(httpReply.body, { x: 'me too' })
      await waitUntil(() => flood.received.length >= N, 8000, `all ${N} replies`)
      assert.equal(flood.received.length, N)
      for (let i = 0; i < N; i++) {
        const m = flood.received[i]
        if (m.id !== i + 1 || m.data !== i + 1) assert.fail(`reply ${i} out of order: ${JSON.stringify(m)}`)
      }
      assert.equal(flood.closed, false)
    } finally {
      flood.close()
      other.close()
      ws.close()
      line.close()
    }
  })
})

describe('pipelining (WebSocket)', () => {
  let app: Application
  before(async () => { app = await startApp() })
  after(async () => { await app?.stop() })

  test('1,000 messages sent without waiting → 1,000 replies with matching ids, in order', async () => {
    const c = await WsClient.connect(portOf(app, 'http'))
    try {
      for (let i = 1; i <= 1000; i++) c.ws.send(JSON.stringify({ id: i, path: '/bench/echo', data: i }))
      await waitUntil(() => c.received.length >= 1000, 5000, '1,000 replies')
      c.received.forEach((m, i) => assert.deepEqual(m, { id: i + 1, data: i + 1 }))
    } finally {
      c.close()
    }
  })
})
