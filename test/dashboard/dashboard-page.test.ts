/**
 * The dashboard in a real browser (Debian's chromium through playwright-core): two in-process
 * servers of one cluster (Redis carrier, the machine's Redis), the first one's admin listener
 * (token, any free port) serving the page, real TCP clients opening connections and sending
 * requests while the page is open: its messages per second and latency plots have data. The page takes its token from the
 * fragment (and drops it from the address bar), plots this server's connections and one line
 * per cluster node, and a tab without the token says what is missing. A screenshot is saved
 * (its path is printed).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import type { Application } from '../../framework/index.js'
import { openPage, skipWithoutChromium } from '../browser.js'
import { portOf, startApp, TcpClient, waitUntil } from '../helpers.js'
import { deleteRedisKeys, redisUrl, testKeyPrefix } from '../stores.js'

const TOKEN = 'browser-dashboard-token-42x'
const WAIT = { timeout: 15_000 }

/** What one chart plots now: uPlot's own data (x, then one array per series) and its labels. */
async function chart (page: Page, id: string): Promise<{ labels: string[], data: Array<Array<number | null>> } | undefined> {
  return page.evaluate((chartId) => {
    const c = (globalThis as unknown as { sdDashboard?: { charts: Record<string, { u: { data: Array<Array<number | null>>, series: Array<{ label?: string }> } }> } }).sdDashboard?.charts[chartId]
    return c === undefined ? undefined : { labels: c.u.series.slice(1).map((s) => String(s.label)), data: c.u.data }
  }, id)
}

test('the dashboard page plots live connections of this server and of every cluster node; without the token it says so', { skip: skipWithoutChromium, timeout: 60_000 }, async (t) => {
  const keyPrefix = testKeyPrefix('dash-page')
  const cluster = { enabled: true, carrier: 'redis', name: `dash-page-${process.pid}`, heartbeatMs: 200, ttlMs: 1000, pollMs: 100 }
  const apps: Application[] = []
  const clients: TcpClient[] = []
  let driving = true
  let traffic: Promise<void> | undefined
  t.after(async () => {
    driving = false
    await traffic
    for (const c of clients) c.close()
    for (const app of apps) await app.stop()
    await deleteRedisKeys(keyPrefix)
  })
  for (const name of ['dash-a', 'dash-b']) {
    const admin = name === 'dash-a' ? { enabled: true, port: 0, token: TOKEN } : {}
    apps.push(await startApp({ app: { nodeName: name }, redis: { url: redisUrl, keyPrefix }, cluster, admin }))
  }
  const [a, b] = apps
  const address = a.ops.address()
  assert.ok(address !== undefined, 'dash-a runs the admin listener')
  const base = `http://127.0.0.1:${address.port}`

  const { page, errors } = await openPage(t, 'sd-dashboard-page-')
  await page.goto(`${base}/dashboard#token=${TOKEN}`)
  await page.locator('#node', { hasText: 'dash-a' }).waitFor(WAIT)
  assert.equal(new URL(page.url()).hash, '', 'the token leaves the address bar')

  // real clients while the page is open: 4 on a, 2 on b, each sending requests
  for (let i = 0; i < 4; i++) clients.push(await TcpClient.connect(portOf(a, 'tcp')))
  for (let i = 0; i < 2; i++) clients.push(await TcpClient.connect(portOf(b, 'tcp')))
  traffic = (async () => {
    for (let n = 0; driving; n++) await Promise.all(clients.map((c) => c.request('/bench/echo', { n }).catch(() => undefined)))
  })()

  const connections = await waitUntil(async () => {
    const c = await chart(page, 'chart-connections')
    return c !== undefined && c.data[0].length >= 3 && c.data[1].at(-1) === 4 ? c : undefined
  }, 15_000, 'the connections plot to show the 4 clients')
  assert.equal(connections.labels[0], 'all')
  assert.equal(connections.data[connections.labels.indexOf('tcp') + 1].at(-1), 4, 'a line per transport: the 4 TCP clients')
  assert.ok(connections.data[1].every((v) => typeof v === 'number'), 'connections are plotted at every point')
  assert.equal(await page.getAttribute('#chart-connections', 'data-points'), String(connections.data[0].length))
  // the requests the clients keep sending: messages in and out per second, and their latency
  const messages = await waitUntil(async () => {
    const c = await chart(page, 'chart-messages')
    return c !== undefined && (c.data[1].at(-1) ?? 0) > 0 && (c.data[2].at(-1) ?? 0) > 0 ? c : undefined
  }, 15_000, 'the messages plot to show the requests')
  assert.deepEqual(messages.labels, ['in', 'out'])
  const latency = await waitUntil(async () => {
    const c = await chart(page, 'chart-latency')
    return c !== undefined && typeof c.data[1].at(-1) === 'number' && typeof c.data[2].at(-1) === 'number' ? c : undefined
  }, 15_000, 'the latency plot to show p50 and p99')
  assert.deepEqual(latency.labels, ['p50', 'p99'])
  assert.ok((latency.data[1].at(-1) as number) <= (latency.data[2].at(-1) as number), 'p50 ≤ p99')

  // the cluster view: one line per node, with each node's own connections from its heartbeat
  const perNode = await waitUntil(async () => {
    const c = await chart(page, 'chart-node-connections')
    if (c === undefined) return undefined
    const last = (label: string): number | null | undefined => c.data[c.labels.indexOf(label) + 1]?.at(-1)
    return last('dash-a') === 4 && last('dash-b') === 2 ? c : undefined
  }, 15_000, 'one line per node with its connections')
  assert.deepEqual(perNode.labels, ['dash-a', 'dash-b'])
  assert.equal(await page.isVisible('#chart-links'), true)
  assert.equal(await page.getAttribute('#status', 'data-state'), 'live')
  // the legend shows the latest figures without a pointer on the chart
  await waitUntil(async () => /all\s*4/.test(await page.locator('#chart-connections .u-legend').innerText()), 5_000, 'the legend to show all 4')

  const shot = join(tmpdir(), 'sd-dashboard.png')
  await page.screenshot({ path: shot, fullPage: true })
  t.diagnostic(`screenshot: ${shot}`)

  // a tab without the token: the data is refused and the page says what to do
  const bare = await page.context().newPage()
  await bare.goto(`${base}/dashboard`)
  await bare.locator('#status[data-state="error"]', { hasText: 'admin token needed: open /dashboard#token=…' }).waitFor(WAIT)
  await bare.close()
  assert.deepEqual(errors, [])
})
