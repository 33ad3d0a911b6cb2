/**
 * The dashboard plugin's routes on a fastify instance of the test's own: the page and assets
 * (strict headers, no data, uPlot from node_modules), the data route behind the admin
 * decision (loopback without a token; Bearer with one, loopback included), `since` read
 * strictly (a bad query is a 400 with SD_ERR_VALIDATION), and the sampler running only
 * between ready and close.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import Fastify, { type FastifyInstance } from 'fastify'
import { DASHBOARD_CSP, dashboardPlugin } from '../../framework/admin/dashboard.js'
import { DASHBOARD_HTML, DASHBOARD_JS } from '../../framework/admin/dashboard-page.js'
import type { AdminSources } from '../../framework/admin/sources.js'
import { Sampler, type SamplerTimers } from '../../framework/metrics/series.js'
import { emptyLatency, type ProcessSnapshot } from '../../framework/metrics/snapshot.js'

const TOKEN = 'dashboard-test-token-0123456789'
const noTimers: SamplerTimers = { setInterval: () => 1, clearInterval: () => {} }

/** Sources whose snapshot advances one second and 50 messages per call. */
function sources (): AdminSources {
  let n = 0
  return {
    node: 'dash-node-7',
    metrics: async () => '',
    publish: async () => 0,
    snapshot: async (): Promise<ProcessSnapshot> => {
      n++
      return { at: 1_700_000_000_000 + n * 1000, processes: 1, connections: { tcp: n }, messagesIn: 50 * n, messagesOut: 0, bytesIn: 0, bytesOut: 0, latency: emptyLatency(), links: [] }
    },
  }
}

async function setup (token: string): Promise<{ app: FastifyInstance, sampler: Sampler }> {
  const app = Fastify()
  const s = sources()
  const sampler = dashboardPlugin(app, s, { admin: { token }, sampler: new Sampler(s, { timers: noTimers }) })
  await app.ready()
  return { app, sampler }
}

function assertStrict (headers: Record<string, unknown>, cache: string): void {
  assert.equal(headers['content-security-policy'], DASHBOARD_CSP)
  assert.match(DASHBOARD_CSP, /default-src 'self'/)
  assert.doesNotMatch(DASHBOARD_CSP, /unsafe|\*|http/)
  assert.equal(headers['x-content-type-options'], 'nosniff')
  assert.equal(headers['cache-control'], cache)
}

test('the page and its assets: strict headers, no data in them, uPlot served from node_modules, a script that parses', async (t) => {
  const { app } = await setup(TOKEN)
  t.after(() => app.close())
  // served to anyone the listener accepts: they carry no data
  const page = await app.inject({ url: '/dashboard', remoteAddress: '10.1.2.3' })
  assert.equal(page.statusCode, 200)
  assert.match(String(page.headers['content-type']), /^text\/html/)
  assertStrict(page.headers, 'no-cache')
  assert.equal(page.body, DASHBOARD_HTML)
  assert.doesNotMatch(page.body, /dash-node-7/, 'no data in the page')
  assert.doesNotMatch(page.body, /<script>|<script [^>]*>[^<]|style=|<style/, 'no inline script or style (the CSP would block them)')
  assert.doesNotMatch(page.body, /https?:\/\//, 'no CDN')

  const require = createRequire(import.meta.url)
  for (const [path, file, type] of [
    ['/dashboard/uplot.min.js', 'uplot/dist/uPlot.iife.min.js', /^text\/javascript/],
    ['/dashboard/uplot.min.css', 'uplot/dist/uPlot.min.css', /^text\/css/],
  ] as const) {
    const res = await app.inject({ url: path })
    assert.equal(res.statusCode, 200, path)
    assert.match(String(res.headers['content-type']), type)
    assertStrict(res.headers, 'no-cache')
    assert.equal(res.body, readFileSync(require.resolve(file), 'utf8'))
  }
  const script = await app.inject({ url: '/dashboard/dashboard.js' })
  assert.equal(script.statusCode, 200)
  assert.match(String(script.headers['content-type']), /^text\/javascript/)
  assert.doesNotThrow(() => new Function(script.body), 'the page script is valid JavaScript')
  assert.equal(script.body, DASHBOARD_JS)
  const css = await app.inject({ url: '/dashboard/dashboard.css' })
  assert.match(String(css.headers['content-type']), /^text\/css/)
})

test('with a token the data needs Authorization: Bearer, from loopback too; never cached', async (t) => {
  const { app, sampler } = await setup(TOKEN)
  t.after(() => app.close())
  await sampler.sample()
  await sampler.sample()
  for (const authorization of [undefined, 'Bearer wrong-token-0123456789', `Basic ${TOKEN}`, TOKEN]) {
    const res = await app.inject({ url: '/dashboard/data', headers: authorization === undefined ? {} : { authorization } })
    assert.equal(res.statusCode, 403, String(authorization))
    assert.equal(res.json().error.code, 'SD_ERR_FORBIDDEN')
    assert.doesNotMatch(res.body, /dash-node-7|messagesIn/)
    assertStrict(res.headers, 'no-store')
  }
  const res = await app.inject({ url: '/dashboard/data', remoteAddress: '10.1.2.3', headers: { authorization: `Bearer ${TOKEN}` } })
  assert.equal(res.statusCode, 200)
  assertStrict(res.headers, 'no-store')
  assert.match(String(res.headers['content-type']), /^application\/json/)
  const data = res.json()
  assert.equal(data.node, 'dash-node-7')
  assert.equal(data.intervalMs, 1000)
  assert.equal(typeof data.uptimeMs, 'number')
  // (the sampler took its baseline when the app was ready: n snapshots so far, n - 1 points)
  const n = data.server.length + 1
  assert.ok(n >= 3)
  assert.deepEqual(data.server.at(-1), { t: 1_700_000_000_000 + n * 1000, connections: n, byTransport: { tcp: n }, messagesInPerSec: 50, messagesOutPerSec: 0, p50Ms: null, p99Ms: null })
})

test('without a token the data answers loopback callers only', async (t) => {
  const { app } = await setup('')
  t.after(() => app.close())
  assert.equal((await app.inject({ url: '/dashboard/data' })).statusCode, 200)
  assert.equal((await app.inject({ url: '/dashboard/data', remoteAddress: '::1' })).statusCode, 200)
  const far = await app.inject({ url: '/dashboard/data', remoteAddress: '192.168.7.9' })
  assert.equal(far.statusCode, 403)
  assert.equal(far.json().error.code, 'SD_ERR_FORBIDDEN')
  // a forwarded address is not believed
  const forwarded = await app.inject({ url: '/dashboard/data', remoteAddress: '192.168.7.9', headers: { 'x-forwarded-for': '127.0.0.1' } })
  assert.equal(forwarded.statusCode, 403)
})

test('since: the points after it; anything but one run of digits is a 400 SD_ERR_VALIDATION', async (t) => {
  const { app, sampler } = await setup('')
  t.after(() => app.close())
  for (let i = 0; i < 4; i++) await sampler.sample()
  const all = (await app.inject({ url: '/dashboard/data' })).json()
  const times = all.server.map((p: { t: number }) => p.t)
  assert.ok(times.length >= 4)
  assert.equal(all.last, times.at(-1))
  const after = (await app.inject({ url: `/dashboard/data?since=${times[1]}` })).json()
  assert.deepEqual(after.server.map((p: { t: number }) => p.t), times.slice(2))
  assert.deepEqual((await app.inject({ url: `/dashboard/data?since=${all.last}` })).json().server, [])
  for (const query of ['since=abc', 'since=-5', 'since=1.5', 'since=', 'since=12345678901234567', 'since=1&since=2', 'sinse=1', 'since=1&x=2']) {
    const res = await app.inject({ url: `/dashboard/data?${query}` })
    assert.equal(res.statusCode, 400, query)
    assert.equal(res.json().error.code, 'SD_ERR_VALIDATION', query)
    assertStrict(res.headers, 'no-store')
  }
})

test('the plugin\'s own sampler runs from ready to close only', async () => {
  const app = Fastify()
  const sampler = dashboardPlugin(app, sources(), { admin: { token: '' }, samplerOptions: { timers: noTimers } })
  assert.equal(sampler.running, false)
  await app.ready()
  assert.equal(sampler.running, true)
  await app.close()
  assert.equal(sampler.running, false)
})
