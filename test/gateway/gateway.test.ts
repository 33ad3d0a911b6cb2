/**
 * The gateway/worker split in one process, on real sockets: a gateway app holds the client
 * ports, worker apps run the controllers and answer over their links.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { once } from 'node:events'
import { Controller, type Application, type ConfigInput } from '../../framework/index.js'
import { Html } from '../../framework/core/html.js'
import { LineClient, portOf, TcpClient, waitUntil, WsClient } from '../helpers.js'
import { linkPort, startGateway, startWorker } from './split-helpers.js'

const events: string[] = []
/** Resolvers of the `slow` actions running now. */
const slowRunning: Array<() => void> = []
const releaseSlow = (): void => { for (const release of slowRunning.splice(0)) release() }

class GwController extends Controller {
  echo (data: unknown): unknown { return data }
  who (): string { return this.nodeStats().node }
  async slow (): Promise<string> {
    await new Promise<void>((resolve) => { slowRunning.push(resolve) })
    return this.nodeStats().node
  }

  setSession (data: { v: unknown }): boolean { this.session.v = data.v; return true }
  getSession (): unknown { return this.session.v ?? null }
  async login (data: { uid: string }): Promise<string | undefined> { await this.bindUid(data.uid); return this.uid }
  async toUid (data: { uid: string, text: string }): Promise<number> { return this.sendToUid(data.uid, data.text) }
  async join (data: { g: string }): Promise<boolean> { await this.joinGroup(data.g); return true }
  async toGroup (data: { g: string, text: string }): Promise<number> { return this.sendToGroup(data.g, data.text) }
  async kick (data: { uid: string }): Promise<number> { return this.kickUid(data.uid) }
  pushMe (data: unknown): string { this.send({ pushed: data }); return 'after-push' }
  bye (): void { this.close() }
  web (): unknown {
    this.reply.code(201).header('x-worker', 'yes')
    this.reply.setCookie('sid', 'abc', { path: '/' })
    return { ok: true }
  }

  page (): Html { return new Html('<p>hi</p>') }
}

function hooks (app: Application): void {
  app.addHook('onConnect', (ctx) => { events.push(`connect:${ctx.connectionId ?? ''}`); ctx.session.greeted = true })
  app.addHook('onClose', (ctx) => { events.push(`close:${ctx.connectionId ?? ''}`) })
}

async function split (t: TestContext, workers = 1, gateway: NonNullable<ConfigInput['gateway']> = {}): Promise<{ gw: Application, ws: Application[] }> {
  const gw = await startGateway(gateway)
  const ws: Application[] = []
  for (let i = 0; i < workers; i++) ws.push(await startWorker(gw, `w${i + 1}-${process.pid}`, [GwController], { boot: hooks }))
  t.after(async () => { for (const w of ws) await w.stop(); await gw.stop() })
  // a worker's start() resolves once linked; the gateway takes it once its hello arrived
  await waitUntil(() => gw.gateway?.status().workers.filter((w) => w.state === 'ready').length === workers, 3000, 'every worker ready at the gateway')
  return { gw, ws }
}

test('TCP, WebSocket, text and HTTP requests are answered through a worker', async (t) => {
  const { gw } = await split(t)
  assert.deepEqual(gw.gateway?.status().workers.map((w) => w.state), ['ready'])
  const tcp = await TcpClient.connect(portOf(gw, 'tcp'))
  t.after(() => tcp.close())
  assert.deepEqual((await tcp.request('/gw/echo', { a: [1, 2] })).data, { a: [1, 2] })
  assert.equal((await tcp.request('/gw/who')).data, `w1-${process.pid}`)
  const ws = await WsClient.connect(portOf(gw, 'http'))
  t.after(() => ws.close())
  assert.equal((await ws.request('/gw/echo', 'over ws')).data, 'over ws')
  const res = await fetch(`http://127.0.0.1:${portOf(gw, 'http')}/gw/web`)
  assert.equal(res.status, 201)
  assert.equal(res.headers.get('x-worker'), 'yes')
  assert.match(res.headers.get('set-cookie') ?? '', /sid=abc/)
  assert.deepEqual(await res.json(), { ok: true })
  const page = await fetch(`http://127.0.0.1:${portOf(gw, 'http')}/gw/page`)
  assert.match(page.headers.get('content-type') ?? '', /text\/html/)
  assert.equal(await page.text(), '<p>hi</p>')
  const missing = await fetch(`http://127.0.0.1:${portOf(gw, 'http')}/gw/none`)
  assert.equal(missing.status, 404, 'the worker\'s router answers unknown paths')
})

test('the text port is served through a worker', async (t) => {
  const gw = await startGateway({}, { server: { text: { route: '/gw/echo' } } })
  // the worker decodes and renders lines with its own text port options (route, render)
  const w = await startWorker(gw, `wt-${process.pid}`, [GwController], { extra: { server: { text: { route: '/gw/echo' } } } })
  t.after(async () => { await w.stop(); await gw.stop() })
  const line = await LineClient.connect(portOf(gw, 'text'))
  t.after(() => line.close())
  line.send('hello gateway')
  assert.equal(await line.next(), 'hello gateway')
})

test('a session set in one request is read in the next; bus calls, pushes and closes go through the gateway', async (t) => {
  const { gw } = await split(t)
  const a = await TcpClient.connect(portOf(gw, 'tcp'))
  const b = await TcpClient.connect(portOf(gw, 'tcp'))
  t.after(() => { a.close(); b.close() })
  assert.equal((await a.request('/gw/setSession', { v: 'kept' })).data, true)
  assert.equal((await a.request('/gw/getSession')).data, 'kept')
  assert.equal((await b.request('/gw/getSession')).data, null, 'sessions are per connection')
  assert.equal((await a.request('/gw/login', { uid: 'u-a' })).data, 'u-a', 'the bind updates this.uid in the worker')
  assert.equal((await b.request('/gw/toUid', { uid: 'u-a', text: 'to a' })).data, 1)
  assert.deepEqual((await a.next((m) => m.id === undefined)).data, 'to a')
  await a.request('/gw/join', { g: 'room' })
  await b.request('/gw/join', { g: 'room' })
  assert.equal((await a.request('/gw/toGroup', { g: 'room', text: 'all' })).data, 2)
  assert.equal((await b.next((m) => m.id === undefined)).data, 'all')
  assert.equal((await a.next((m) => m.id === undefined)).data, 'all')
  const pushed = a.next((m) => m.id === undefined)
  assert.equal((await a.request('/gw/pushMe', 7)).data, 'after-push')
  assert.deepEqual((await pushed).data, { pushed: 7 }, 'this.send reached the client')
  assert.equal((await b.request('/gw/kick', { uid: 'u-a' })).data, 1)
  await a.waitClosed()
  b.notify('/gw/bye')
  await b.waitClosed()
})

test('onConnect and onClose run in the worker; a session set by onConnect is kept', async (t) => {
  const { gw } = await split(t)
  events.length = 0
  const c = await TcpClient.connect(portOf(gw, 'tcp'))
  await waitUntil(() => events.some((e) => e.startsWith('connect:')), 3000, 'onConnect in the worker')
  await waitUntil(() => [...gw.connections.all()].some((x) => x.session.greeted === true), 3000, 'the session set by onConnect at the gateway')
  const id = events.find((e) => e.startsWith('connect:'))?.slice('connect:'.length) ?? ''
  assert.match(id, new RegExp(`^gw${process.pid}\\.`), 'connection ids name their gateway')
  c.close()
  await waitUntil(() => events.includes(`close:${id}`), 3000, 'onClose in the worker')
})

test('with no worker a request waits, and the worker that arrives answers it', async (t) => {
  const gw = await startGateway()
  t.after(() => gw.stop())
  const c = await TcpClient.connect(portOf(gw, 'tcp'))
  t.after(() => c.close())
  const answer = c.request('/gw/echo', 'waited')
  await waitUntil(() => gw.gateway?.status().waiting === 1, 3000, 'the request to wait')
  const w = await startWorker(gw, `late-${process.pid}`, [GwController])
  t.after(() => w.stop())
  assert.equal((await answer).data, 'waited')
})

test('with no worker for workerWaitMs the request gets SD_ERR_NO_WORKER and the connection stays open', async (t) => {
  const gw = await startGateway({ workerWaitMs: 100 })
  t.after(() => gw.stop())
  const c = await TcpClient.connect(portOf(gw, 'tcp'))
  t.after(() => c.close())
  assert.equal((await c.request('/gw/echo', 1)).error?.code, 'SD_ERR_NO_WORKER')
  const w = await startWorker(gw, `after-${process.pid}`, [GwController])
  t.after(() => w.stop())
  assert.equal((await c.request('/gw/echo', 2)).data, 2, 'the same connection is served once a worker is linked')
})

test('maxWaiting: past it a request gets SD_ERR_NO_WORKER at once', async (t) => {
  const gw = await startGateway({ maxWaiting: 1, workerWaitMs: 60_000 })
  t.after(() => gw.stop())
  const c = await TcpClient.connect(portOf(gw, 'tcp'))
  t.after(() => c.close())
  void c.request('/gw/echo', 1).catch(() => {})
  assert.equal((await c.request('/gw/echo', 2)).error?.code, 'SD_ERR_NO_WORKER')
})

/** Waits for the slow action to run, and returns the worker running it (by the gateway's in-flight count). */
async function slowOnOne (gw: Application, ws: Application[]): Promise<{ name: string, app: Application }> {
  await waitUntil(() => slowRunning.length === 1, 3000, 'the slow action to start')
  const name = gw.gateway?.status().workers.find((w) => w.inflight === 1)?.name
  const app = ws.find((w) => w.config.app.nodeName === name)
  assert.ok(name !== undefined && app !== undefined, 'one worker runs the request')
  return { name, app }
}

test('a worker whose link goes away mid-request: SD_ERR_WORKER_LOST, and the next request goes to the other worker', async (t) => {
  const { gw, ws } = await split(t, 2)
  const c = await TcpClient.connect(portOf(gw, 'tcp'))
  t.after(() => c.close())
  const slow = c.request('/gw/slow')
  const { app: victim } = await slowOnOne(gw, ws)
  await victim.gatewayWorker?.close() // the link goes away without a drain, as when the process is killed
  assert.equal((await slow).error?.code, 'SD_ERR_WORKER_LOST')
  const other = ws.find((w) => w !== victim)?.config.app.nodeName
  assert.equal((await c.request('/gw/who')).data, other)
  releaseSlow()
})

test('drain: a stopping worker finishes its slow request while new requests go to the other', async (t) => {
  const { gw, ws } = await split(t, 2)
  const c = await TcpClient.connect(portOf(gw, 'tcp'))
  t.after(() => c.close())
  const slow = c.request('/gw/slow')
  const { name: busy, app: stopping } = await slowOnOne(gw, ws)
  const stopped = stopping.stop()
  await waitUntil(() => gw.gateway?.status().workers.find((w) => w.name === busy)?.state === 'draining', 3000, 'the gateway to mark the drain')
  const other = ws.find((w) => w !== stopping)?.config.app.nodeName
  for (let i = 0; i < 3; i++) assert.equal((await c.request('/gw/who')).data, other)
  releaseSlow()
  assert.equal((await slow).data, busy, 'the draining worker answered its request')
  await stopped
})

test('sticky routing keeps a connection on the worker it first got', async (t) => {
  const { gw } = await split(t, 2, { routing: 'sticky' })
  const a = await TcpClient.connect(portOf(gw, 'tcp'))
  const b = await TcpClient.connect(portOf(gw, 'tcp'))
  t.after(() => { a.close(); b.close() })
  const first = (await a.request('/gw/who')).data
  const firstB = (await b.request('/gw/who')).data
  for (let i = 0; i < 5; i++) {
    assert.equal((await a.request('/gw/who')).data, first)
    assert.equal((await b.request('/gw/who')).data, firstB)
  }
})

test('least-busy routing spreads requests over both workers', async (t) => {
  const { gw } = await split(t, 2)
  const c = await TcpClient.connect(portOf(gw, 'tcp'))
  t.after(() => c.close())
  const seen = new Set<unknown>()
  for (let i = 0; i < 6; i++) seen.add((await c.request('/gw/who')).data)
  assert.equal(seen.size, 2)
})

test('a wrong secret and garbage bytes on the link port are refused; the gateway keeps serving', async (t) => {
  const { gw } = await split(t)
  const wrong = await startWorker(gw, `intruder-${process.pid}`, [GwController], { start: false, extra: { gateway: { secret: 'another-secret-0123456789' } } })
  t.after(() => wrong.stop())
  void wrong.start().catch(() => {})
  const garbage = connect(linkPort(gw), '127.0.0.1')
  await once(garbage, 'connect')
  garbage.resume() // read what the gateway sends, so its close is seen
  garbage.write(Buffer.from('GET / HTTP/1.1\r\n\r\n'.repeat(20)))
  await once(garbage, 'close')
  const c = await TcpClient.connect(portOf(gw, 'tcp'))
  t.after(() => c.close())
  assert.equal((await c.request('/gw/echo', 'still')).data, 'still')
  assert.deepEqual(gw.gateway?.status().workers.map((w) => w.name), [`w1-${process.pid}`], 'the intruder never became a worker')
})

test('stats: the gateway lists its workers, the worker its gateway links; a worker has no client port', async (t) => {
  const { gw, ws } = await split(t)
  const s = gw.stats()
  assert.equal(s.gateway?.port, linkPort(gw))
  assert.deepEqual(s.gateway?.workers.map((w) => [w.name, w.state]), [[`w1-${process.pid}`, 'ready']])
  const links = ws[0].stats().gatewayLinks
  assert.equal(links?.length, 1)
  assert.equal(links?.[0].name, `gw${process.pid}`)
  assert.deepEqual(ws[0].ports(), {})
})
