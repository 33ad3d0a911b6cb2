/** The client SDK against a real application: tcp and ws, json and msgpack, pushes, reconnects, the queue. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Controller } from '../../framework/index.js'
import { connect, SdClientError, type SdClient, type SdClientStatus } from '../../framework/client/index.js'
import { portOf, startApp, waitUntil } from '../helpers.js'

class EchoController extends Controller {
  echo (data: unknown): unknown { return data }
  /** Pushes `data` to this connection, then answers. */
  push (data: unknown): string { this.send(data); return 'pushed' }
  /** Closes this connection (the client must reconnect). */
  drop (): string { setImmediate(() => this.close()); return 'bye' }
}

function statuses (client: SdClient): SdClientStatus[] {
  const seen: SdClientStatus[] = []
  client.on('status', (s) => seen.push(s))
  return seen
}

async function opened (client: SdClient): Promise<void> {
  await waitUntil(() => client.status === 'open', 5000, 'open')
}

for (const [pack, via] of [['json', 'tcp'], ['msgpack', 'tcp'], ['json', 'ws'], ['msgpack', 'ws']] as const) {
  test(`calls and pushes over ${via} with ${pack}`, async (t) => {
    const server = via === 'tcp' ? { tcp: { pack } } : { http: { ws: { pack } } }
    const app = await startApp({ server }, { controllers: [EchoController] })
    t.after(() => app.stop())
    const url = via === 'tcp' ? `tcp://127.0.0.1:${portOf(app, 'tcp')}` : `ws://127.0.0.1:${portOf(app, 'http')}/ws`
    const client = connect(url, { pack })
    t.after(() => client.close())
    const seen = statuses(client)
    assert.deepEqual(await client.call('/echo/echo', { a: [1, 'x'] }), { a: [1, 'x'] })
    const pushes: unknown[] = []
    client.on('push', (data, meta) => { pushes.push(data); assert.equal(meta.recovered, false) })
    assert.equal(await client.call('/echo/push', { hi: 1 }), 'pushed')
    await waitUntil(() => pushes.length === 1)
    assert.deepEqual(pushes, [{ hi: 1 }])
    await assert.rejects(client.call('/nope/nope'), (err: SdClientError) => err instanceof SdClientError && err.code === 'SD_ERR_ROUTE_NOT_FOUND')
    client.close()
    assert.deepEqual(seen, ['open', 'closed'])
    await assert.rejects(client.call('/echo/echo', 1), { code: 'SD_ERR_CLIENT_CLOSED' })
  })
}

test('reconnects after the server closes the socket; a call queued meanwhile is flushed', async (t) => {
  const app = await startApp({}, { controllers: [EchoController] })
  t.after(() => app.stop())
  const client = connect(`tcp://127.0.0.1:${portOf(app, 'tcp')}`, { backoff: { firstMs: 20, maxMs: 50 } })
  t.after(() => client.close())
  const seen = statuses(client)
  await opened(client)
  assert.equal(await client.call('/echo/drop'), 'bye')
  await waitUntil(() => client.status !== 'open', 5000, 'dropped')
  const queued = client.call('/echo/echo', 'later')
  assert.equal(await queued, 'later')
  assert.deepEqual(seen.slice(0, 3), ['open', 'reconnecting', 'open'])
})

test('a queued call times out with SD_ERR_CLIENT_TIMEOUT; over maxQueue SD_ERR_CLIENT_QUEUE_FULL', async (t) => {
  // nothing listens on this port: the client never opens
  const app = await startApp({}, { controllers: [EchoController] })
  const port = portOf(app, 'tcp')
  await app.stop()
  const client = connect(`tcp://127.0.0.1:${port}`, { maxQueue: 1, timeoutMs: 50, backoff: { firstMs: 10, maxMs: 20 } })
  t.after(() => client.close())
  client.on('error', () => {})
  const first = client.call('/echo/echo', 1)
  await assert.rejects(client.call('/echo/echo', 2), { code: 'SD_ERR_CLIENT_QUEUE_FULL' })
  await assert.rejects(first, { code: 'SD_ERR_CLIENT_TIMEOUT' })
  const pending = client.call('/echo/echo', 3, { timeoutMs: 60000 })
  client.close()
  await assert.rejects(pending, { code: 'SD_ERR_CLIENT_CLOSED' })
})

test('/sd/client.js is an ESM bundle without node: imports, and it loads', async (t) => {
  const app = await startApp({}, { controllers: [EchoController] })
  t.after(() => app.stop())
  const res = await fetch(`http://127.0.0.1:${portOf(app, 'http')}/sd/client.js`)
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /^text\/javascript/)
  const text = await res.text()
  assert.doesNotMatch(text, /node:/)
  const mod = await import(`data:text/javascript;base64,${Buffer.from(text).toString('base64')}`) as { connect: unknown, SdClientError: unknown }
  assert.equal(typeof mod.connect, 'function')
  assert.equal(typeof mod.SdClientError, 'function')
})

test('a quiet client stays open through the server idle check by its heartbeat (/sd/ping); without it, it is closed', async (t) => {
  const app = await startApp({ server: { heartbeatIdleMs: 300 } }, { controllers: [EchoController] })
  t.after(() => app.stop())
  const url = `tcp://127.0.0.1:${portOf(app, 'tcp')}`
  const quiet = connect(url, { heartbeatMs: 0, backoff: { firstMs: 10, maxMs: 20 } })
  const beating = connect(url, { heartbeatMs: 80 })
  t.after(() => { quiet.close(); beating.close() })
  quiet.on('error', () => {})
  const quietSeen = statuses(quiet)
  const beatingSeen = statuses(beating)
  await Promise.all([opened(quiet), opened(beating)])
  // two idle closes of the quiet client: at least two idle periods went by
  await waitUntil(() => quietSeen.filter((s) => s === 'reconnecting').length >= 2, 5000, 'the quiet client closed twice by the idle check')
  assert.deepEqual(beatingSeen, ['open'], 'the beating client was never closed')
  assert.equal(await beating.call('/echo/echo', 'still here'), 'still here')
})
