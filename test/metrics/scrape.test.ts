/**
 * A scrape of an in-process app after real TCP, WebSocket and HTTP traffic and errors, parsed
 * as Prometheus text: each count moved by exactly what was sent; unknown paths fold into one
 * route label; metrics off counts nothing and the scrape is refused.
 */
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Controller } from '../../framework/index.js'
import { http, portOf, startApp, TcpClient, waitUntil, WsClient } from '../helpers.js'
import { parsePromText, valueOf } from './prom-text.js'

class EchoController extends Controller {
  say (): unknown { return this.data }
  async slow (): Promise<string> {
    await new Promise((resolve) => setTimeout(resolve, 5))
    return 'done'
  }
}

test('a scrape counts connections, messages, bytes, errors and latency by exactly what was sent', async (t) => {
  const app = await startApp({ server: { http: { ws: { enabled: true } } } }, { controllers: [EchoController] })
  t.after(() => app.stop())
  const before = parsePromText(await app.metrics.text())
  assert.equal(valueOf(before, 'sd_messages_in_total', { transport: 'tcp' }), 0)

  const tcp = await TcpClient.connect(portOf(app, 'tcp'))
  const ws = await WsClient.connect(portOf(app, 'http'))
  t.after(() => { tcp.close(); ws.close() })
  for (let i = 0; i < 3; i++) assert.deepEqual((await tcp.request('/echo/say', { i })).data, { i })
  assert.equal((await tcp.request('/echo/slow')).data, 'done')
  assert.equal((await tcp.request('/no/such/path')).error?.code, 'SD_ERR_ROUTE_NOT_FOUND')
  for (let i = 0; i < 2; i++) await ws.request('/echo/say', { i })
  assert.equal((await http(portOf(app, 'http'), '/echo/say?x=1')).status, 200)
  assert.equal((await http(portOf(app, 'http'), '/nowhere')).status, 404)

  const m = await waitUntil(async () => {
    const f = parsePromText(await app.metrics.text())
    return valueOf(f, 'sd_messages_out_total', { transport: 'http' }) === 2 ? f : undefined
  }, 3000, 'the HTTP responses to be counted')
  assert.equal(valueOf(m, 'sd_connections', { transport: 'tcp' }), 1)
  assert.equal(valueOf(m, 'sd_connections', { transport: 'ws' }), 1)
  assert.equal(valueOf(m, 'sd_messages_in_total', { transport: 'tcp' }), 5)
  assert.equal(valueOf(m, 'sd_messages_out_total', { transport: 'tcp' }), 5)
  assert.equal(valueOf(m, 'sd_messages_in_total', { transport: 'ws' }), 2)
  assert.equal(valueOf(m, 'sd_messages_out_total', { transport: 'ws' }), 2)
  assert.equal(valueOf(m, 'sd_messages_in_total', { transport: 'http' }), 2)
  assert.ok(valueOf(m, 'sd_bytes_in_total', { transport: 'tcp' }) > 0)
  assert.ok(valueOf(m, 'sd_bytes_out_total', { transport: 'http' }) > 0)
  assert.equal(valueOf(m, 'sd_errors_total', { code: 'SD_ERR_ROUTE_NOT_FOUND' }), 2)
  assert.equal(valueOf(m, 'sd_action_duration_seconds_count', { route: 'not_found' }), 2)
  const sayRoute = [...(app.metrics.actions?.routes.keys() ?? [])].find((r) => r !== 'not_found' && !r.includes('slow')) as string
  assert.equal(valueOf(m, 'sd_action_duration_seconds_count', { route: sayRoute }), 3 + 2 + 1)
  const slowRoute = [...(app.metrics.actions?.routes.keys() ?? [])].find((r) => r.includes('slow')) as string
  // the slow action waited 5 ms: its one observation is above the 2.5 ms bound
  assert.equal(valueOf(m, 'sd_action_duration_seconds_bucket', { route: slowRoute, le: '0.0025' }), 0)
  assert.equal(valueOf(m, 'sd_action_duration_seconds_bucket', { route: slowRoute, le: '+Inf' }), 1)
  assert.ok(m.has('process_cpu_user_seconds_total'), 'default metrics are there')

  const snap = app.metrics.snapshot()
  assert.equal(snap.messagesIn, 5 + 2 + 2)
  assert.equal(snap.latency.count, 3 + 2 + 1 + 1 + 2)

  tcp.close()
  await waitUntil(async () => valueOf(parsePromText(await app.metrics.text()), 'sd_connections_closed_total', { transport: 'tcp' }) === 1, 3000, 'the close to be counted')
})

test('10,000 distinct unknown paths add one route label', async (t) => {
  const app = await startApp({}, { controllers: [EchoController] })
  t.after(() => app.stop())
  const tcp = await TcpClient.connect(portOf(app, 'tcp'))
  t.after(() => tcp.close())
  const n = 10_000
  const replies = []
  for (let i = 0; i < n; i++) replies.push(tcp.request(`/flood/${i}`))
  await Promise.all(replies)
  const m = parsePromText(await app.metrics.text())
  const routes = new Set(m.get('sd_action_duration_seconds')?.samples.map((s) => s.labels.route))
  assert.deepEqual([...routes], ['not_found'])
  assert.equal(valueOf(m, 'sd_action_duration_seconds_count', { route: 'not_found' }), n)
  assert.equal(m.get('sd_errors_total')?.samples.length, 1)
})

test('metrics off: nothing is counted and a scrape is refused', async (t) => {
  const app = await startApp({ metrics: { enabled: false } }, { controllers: [EchoController] })
  t.after(() => app.stop())
  const tcp = await TcpClient.connect(portOf(app, 'tcp'))
  t.after(() => tcp.close())
  await tcp.request('/echo/say', {})
  await assert.rejects(app.metrics.text(), { code: 'SD_ERR_METRICS_DISABLED' })
  assert.equal(app.metrics.snapshot().messagesIn, 0)
  assert.equal(app.metrics.snapshot().connections.tcp, 1)
})

test('docs/metrics.md lists exactly the sd_ metrics a scrape exposes', async (t) => {
  const app = await startApp({}, { controllers: [EchoController] })
  t.after(() => app.stop())
  const doc = readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8')
  // a dispatch server's metrics have their own section (test/metrics/dispatch-scrape.test.ts)
  const serverDoc = doc.slice(0, doc.indexOf('## Dispatch servers'))
  const documented = new Set([...serverDoc.matchAll(/^\| `(sd_[a-z_]+)` \|/gm)].map((m) => m[1]))
  const scraped = new Set([...parsePromText(await app.metrics.text()).keys()].filter((n) => n.startsWith('sd_')))
  assert.deepEqual([...documented].sort(), [...scraped].sort())
})
