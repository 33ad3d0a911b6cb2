/**
 * The reconnect wait, seen from the app: the status event's RetryInfo {attempt, waitMs,
 * retryAt}, `client.retryAt`, `retryNow()`, and a browser's `online` event cutting the wait
 * short. The backoff is a minute long, so only retryNow / online can reconnect within the test.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Controller } from '../../framework/index.js'
import { connect, type RetryInfo, type SdClient, type SdClientStatus } from '../../framework/client/index.js'
import { portOf, startApp, waitUntil } from '../helpers.js'
import { startProxy, type TestProxy } from '../proxy.js'

class EchoController extends Controller {
  echo (data: unknown): unknown { return data }
}

const LONG = { firstMs: 60_000, maxMs: 240_000 }

/** An app behind a proxy that can drop and refuse the client's link. */
async function behindProxy (t: { after (fn: () => unknown): void }): Promise<TestProxy> {
  const app = await startApp({}, { controllers: [EchoController] })
  t.after(() => app.stop())
  const proxy = await startProxy(portOf(app, 'tcp'))
  t.after(() => proxy.close())
  return proxy
}

function waits (client: SdClient): Array<{ status: SdClientStatus, retry: RetryInfo }> {
  const seen: Array<{ status: SdClientStatus, retry: RetryInfo }> = []
  client.on('status', (status, retry) => { if (retry !== undefined) seen.push({ status, retry }) })
  return seen
}

test('reconnecting carries {attempt, waitMs, retryAt}; retryAt is the client\'s; retryNow skips the wait; attempts count from 1 again after an open', async (t) => {
  const proxy = await behindProxy(t)
  const client = connect(`tcp://127.0.0.1:${proxy.port}`, { backoff: LONG })
  t.after(() => client.close())
  client.on('error', () => {})
  const seen = waits(client)
  await waitUntil(() => client.status === 'open', 5000, 'open')
  assert.equal(client.retryAt, 0)
  assert.equal(client.retryNow(), false, 'nothing to retry while open')

  proxy.refuse(true)
  const before = Date.now()
  proxy.drop()
  await waitUntil(() => seen.length === 1, 5000, 'the first wait')
  const first = seen[0]
  assert.equal(first.status, 'reconnecting')
  assert.equal(first.retry.attempt, 1)
  assert.ok(first.retry.waitMs >= 30_000 && first.retry.waitMs <= 60_000, `first wait in [firstMs/2, firstMs]: ${first.retry.waitMs}`)
  assert.ok(first.retry.retryAt >= before + first.retry.waitMs && first.retry.retryAt <= Date.now() + first.retry.waitMs)
  assert.equal(client.retryAt, first.retry.retryAt)
  assert.equal(client.status, 'reconnecting')

  // the proxy still refuses: retryNow tries at once, fails, and waits again (longer)
  assert.equal(client.retryNow(), true)
  await waitUntil(() => seen.length === 2, 5000, 'the second wait')
  assert.equal(seen[1].status, 'reconnecting')
  assert.equal(seen[1].retry.attempt, 2)
  assert.ok(seen[1].retry.waitMs >= 60_000, `the wait doubled: ${seen[1].retry.waitMs}`)
  assert.equal(client.retryAt, seen[1].retry.retryAt)
  assert.ok(proxy.refused >= 1)

  proxy.refuse(false)
  assert.equal(client.retryNow(), true)
  assert.equal(client.retryAt, 0, 'not waiting while the attempt runs')
  assert.equal(client.retryNow(), false, 'an attempt is running: nothing to skip')
  await waitUntil(() => client.status === 'open', 5000, 'open again')
  assert.equal(await client.call('/echo/echo', 'back'), 'back')
  assert.equal(client.retryAt, 0)

  proxy.drop()
  await waitUntil(() => seen.length === 3, 5000, 'a wait after the next drop')
  assert.equal(seen[2].retry.attempt, 1, 'counted again from 1 after an open')
  client.close()
  assert.equal(client.retryAt, 0)
  assert.equal(client.retryNow(), false, 'closed')
})

test('before the first open the waits come with status connecting', async (t) => {
  const proxy = await behindProxy(t)
  proxy.refuse(true)
  const client = connect(`tcp://127.0.0.1:${proxy.port}`, { backoff: LONG })
  t.after(() => client.close())
  client.on('error', () => {})
  const seen = waits(client)
  await waitUntil(() => seen.length === 1, 5000, 'the first wait')
  assert.equal(seen[0].status, 'connecting')
  assert.equal(seen[0].retry.attempt, 1)
  proxy.refuse(false)
  client.retryNow()
  await waitUntil(() => client.status === 'open', 5000, 'open')
})

test('where the global has addEventListener (a browser), an online event retries at once; close() removes the listener', async (t) => {
  const proxy = await behindProxy(t)
  // a browser's global: an EventTarget that fires 'online'
  const target = new EventTarget()
  const g = globalThis as unknown as Record<string, unknown>
  assert.equal(g.addEventListener, undefined, 'Node has no global addEventListener')
  let listeners = 0
  g.addEventListener = (type: string, fn: () => void) => { listeners++; target.addEventListener(type, fn) }
  g.removeEventListener = (type: string, fn: () => void) => { listeners--; target.removeEventListener(type, fn) }
  let client: SdClient
  try {
    client = connect(`tcp://127.0.0.1:${proxy.port}`, { backoff: LONG })
  } finally {
    delete g.addEventListener
    delete g.removeEventListener
  }
  t.after(() => client.close())
  client.on('error', () => {})
  const seen = waits(client)
  assert.equal(listeners, 1)
  await waitUntil(() => client.status === 'open', 5000, 'open')
  target.dispatchEvent(new Event('online'))
  assert.equal(client.status, 'open', 'online while open changes nothing')

  proxy.refuse(true)
  proxy.drop()
  await waitUntil(() => seen.length === 1, 5000, 'a wait')
  proxy.refuse(false)
  target.dispatchEvent(new Event('online'))
  await waitUntil(() => client.status === 'open', 5000, 'open after online, without waiting out the minute')
  client.close()
  assert.equal(listeners, 0, 'close() removed the online listener')
})
