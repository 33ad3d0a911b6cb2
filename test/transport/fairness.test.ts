/**
 * Fairness per connection on real sockets: `server.maxPendingPerConnection` is exact (frames
 * already read wait in the decoder, WebSocket messages already parsed wait in a queue), and the
 * per-connection rate limit refuses, then closes, a connection that floods, while other
 * connections go on being answered.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { Controller, type Application } from '../../framework/index.js'
import { LineClient, portOf, startApp, TcpClient, waitUntil, WsClient, type Envelope } from '../helpers.js'

/** The default `server.maxPendingPerConnection`. */
const CAP = 256
const N = 2000

/** Requests of `/fair/slow` running now, and the most seen at once. */
const running = { now: 0, max: 0 }

class FairController extends Controller {
  /** Stays running a few milliseconds (a slow database call, say), counting how many run at once. */
  async slow (n: number): Promise<number> {
    running.now++
    if (running.now > running.max) running.max = running.now
    await new Promise((resolve) => setTimeout(resolve, 2))
    running.now--
    return n
  }

  echo (data: unknown): unknown {
    return data
  }
}

/** Wire bytes of one request frame, written from the protocol. */
function requestFrame (id: number, path: string, data: unknown): Buffer {
  const body = Buffer.from(JSON.stringify({ id, path, data }))
  const head = Buffer.alloc(4)
  head.writeUInt32BE(body.length, 0)
  return Buffer.concat([head, body])
}

/** Asserts replies 1..n, each `{id: i, data: i}`, in order. */
function assertInOrder (received: Envelope[], n: number): void {
  assert.equal(received.length, n)
  for (let i = 0; i < n; i++) {
    const m = received[i]
    if (m.id !== i + 1 || m.data !== i + 1) assert.fail(`reply ${i} out of order or failed: ${JSON.stringify(m)}`)
  }
}

describe('maxPendingPerConnection is exact', () => {
  let app: Application
  before(async () => {
    app = await startApp({ server: { text: { route: '/fair/slow' } } }, { controllers: [FairController] })
    assert.equal(app.config.server.maxPendingPerConnection, CAP)
  })
  after(async () => { await app?.stop() })

  test(`TCP: ${N} requests in one write to a slow action → at most ${CAP} run at once, all answered in order`, async () => {
    running.max = 0
    const c = await TcpClient.connect(portOf(app, 'tcp'))
    try {
      const frames: Buffer[] = []
      for (let i = 1; i <= N; i++) frames.push(requestFrame(i, '/fair/slow', i))
      c.raw(Buffer.concat(frames)) // ≈100 KB: the first read alone holds well over CAP frames
      await waitUntil(() => c.received.length >= N, 20_000, `${N} replies`)
      assert.equal(running.max, CAP, `most running at once: ${running.max}`)
      assertInOrder(c.received, N)
    } finally {
      c.close()
    }
  })

  test(`WebSocket: ${N} messages sent without waiting → at most ${CAP} run at once, all answered in order`, async () => {
    running.max = 0
    const c = await WsClient.connect(portOf(app, 'http'))
    try {
      for (let i = 1; i <= N; i++) c.ws.send(JSON.stringify({ id: i, path: '/fair/slow', data: i }))
      await waitUntil(() => c.received.length >= N, 20_000, `${N} replies`)
      assert.equal(running.max, CAP, `most running at once: ${running.max}`)
      assertInOrder(c.received, N)
    } finally {
      c.close()
    }
  })

  test(`text port: ${N} lines in one write → at most ${CAP} run at once, all answered in order`, async () => {
    running.max = 0
    const c = await LineClient.connect(portOf(app, 'text'))
    try {
      const lines: string[] = []
      for (let i = 1; i <= N; i++) lines.push(`line ${i}\n`)
      c.socket.write(lines.join(''))
      await waitUntil(() => c.received.length >= N, 20_000, `${N} replies`)
      assert.equal(running.max, CAP, `most running at once: ${running.max}`)
      c.received.forEach((line, i) => { if (line !== `line ${i + 1}`) assert.fail(`line ${i} out of order: ${line}`) })
    } finally {
      c.close()
    }
  })
})

describe('rate limit per connection', () => {
  const BURST = 20
  const MAX_REJECTED = 30
  let app: Application
  before(async () => {
    // one token a second: within this test the bucket gets at most a token or two back
    app = await startApp({ server: { rateLimit: { messagesPerSecond: 1, burst: BURST, maxRejected: MAX_REJECTED } } }, { controllers: [FairController] })
  })
  after(async () => { await app?.stop() })

  test('TCP: over the bucket → SD_ERR_RATE_LIMITED replies; sustained → closed with the code; another connection is unaffected', async () => {
    const other = await TcpClient.connect(portOf(app, 'tcp'))
    const flood = await TcpClient.connect(portOf(app, 'tcp'))
    try {
      assert.equal((await other.request('/fair/echo', 'before')).data, 'before')
      const frames: Buffer[] = []
      for (let i = 1; i <= 100; i++) frames.push(requestFrame(i, '/fair/echo', i))
      flood.raw(Buffer.concat(frames))
      await flood.waitClosed(5000)
      const replies = flood.received.filter((m) => m.id !== undefined)
      const limited = replies.filter((m) => m.error?.code === 'SD_ERR_RATE_LIMITED')
      // the bucket's first BURST tokens answer the first BURST requests
      for (let i = 0; i < BURST; i++) assert.deepEqual(replies[i], { id: i + 1, data: i + 1 })
      assert.equal(limited.length, MAX_REJECTED, `refused before closing: ${limited.length}`)
      assert.ok(replies.length < 100, 'messages after the close were not handled')
      const last = flood.received[flood.received.length - 1]
      assert.equal(last.id, undefined)
      assert.equal(last.error?.code, 'SD_ERR_RATE_LIMITED', `closing push: ${JSON.stringify(last)}`)
      // the other connection has its own bucket
      assert.equal((await other.request('/fair/echo', 'after')).data, 'after')
      assert.equal(other.closed, false)
    } finally {
      other.close()
      flood.close()
    }
  })

  test('WebSocket: refused with SD_ERR_RATE_LIMITED, then closed (1008, reason the code)', async () => {
    const other = await WsClient.connect(portOf(app, 'http'))
    const flood = await WsClient.connect(portOf(app, 'http'))
    let reason = ''
    flood.ws.on('close', (_code, why) => { reason = String(why) })
    try {
      for (let i = 1; i <= 100; i++) flood.ws.send(JSON.stringify({ id: i, path: '/fair/echo', data: i }))
      await flood.waitClosed(5000)
      const limited = flood.received.filter((m) => m.id !== undefined && m.error?.code === 'SD_ERR_RATE_LIMITED')
      assert.equal(limited.length, MAX_REJECTED)
      assert.equal(flood.closeCode, 1008)
      assert.equal(reason, 'SD_ERR_RATE_LIMITED')
      assert.equal((await other.request('/fair/echo', 'still here')).data, 'still here')
    } finally {
      other.close()
      flood.close()
    }
  })

  test('TCP: a flood of undecodable payloads costs tokens too: refused, then closed', async () => {
    const flood = await TcpClient.connect(portOf(app, 'tcp'))
    try {
      const junk = Buffer.from('not json at all')
      const header = Buffer.alloc(4)
      header.writeUInt32BE(junk.length)
      flood.raw(Buffer.concat(Array.from({ length: 100 }, () => Buffer.concat([header, junk]))))
      await flood.waitClosed(5000)
      const codes = flood.received.map((m) => m.error?.code)
      assert.equal(codes.filter((c) => c === 'SD_ERR_BAD_MESSAGE').length, BURST, 'the first BURST are answered as bad messages')
      assert.equal(codes.filter((c) => c === 'SD_ERR_RATE_LIMITED').length, MAX_REJECTED + 1, 'then refused, and the closing push')
    } finally {
      flood.close()
    }
  })
})
