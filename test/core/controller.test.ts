import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Controller, type Application } from '../../framework/index.js'
import { startApp, portOf, TcpClient, WsClient, http, waitUntil } from '../helpers.js'

type D = Record<string, never> & { uid?: string, kick?: boolean, group?: string, data?: unknown, uids?: string[], exclude?: boolean }

class ApiController extends Controller {
  static transports = { tcpOnly: ['tcp' as const] }
  async login (d: D): Promise<string | undefined> { await this.bindUid(d.uid!, { kick: d.kick }); return this.connectionId }
  async unbind (): Promise<void> { await this.unbindUid() }
  async join (d: D): Promise<void> { await this.joinGroup(d.group!) }
  async leave (d: D): Promise<void> { await this.leaveGroup(d.group!) }
  toUid (d: D): Promise<number> { return this.sendToUid(d.uid!, d.data) }
  toUids (d: D): Promise<number> { return this.sendToUids(d.uids!, d.data) }
  toAll (d: D): Promise<number> { return this.sendToAll(d.data, { exclude: d.exclude ? this.connectionId : undefined }) }
  toGroup (d: D): Promise<number> { return this.sendToGroup(d.group!, d.data, { exclude: d.exclude ? [this.connectionId!] : undefined }) }
  kick (d: D): Promise<number> { return this.kickUid(d.uid!, 'test') }
  async state (d: D): Promise<unknown> {
    return {
      online: await this.isUidOnline(d.uid ?? 'none'),
      count: await this.onlineCount(),
      members: (await this.groupMembers(d.group ?? 'g')).sort(),
      groupCount: await this.groupCount(d.group ?? 'g'),
      groups: (await this.groups()).sort(),
    }
  }
  whoami (): unknown { return { uid: this.uid ?? null, transport: this.transport, session: this.session } }
  remember (d: D): void { this.session.note = d.data }
  push (d: D): boolean { return this.send(d.data) }
  bye (): void { this.close() }
  tcpOnly (): string { return 'tcp' }
}

async function setup (t: { after: (fn: () => unknown) => void }, boot?: (app: Application) => void): Promise<{ app: Application, tcp: (n?: number) => Promise<TcpClient[]>, ws: () => Promise<WsClient> }> {
  const app = await startApp({}, { controllers: [ApiController], boot })
  t.after(() => app.stop())
  return {
    app,
    tcp: async (n = 1) => {
      const before = app.connections.size
      const clients = await Promise.all(Array.from({ length: n }, async () => {
        const c = await TcpClient.connect(portOf(app, 'tcp'))
        t.after(() => c.close())
        return c
      }))
      await waitUntil(() => app.connections.size >= before + n, 3000, 'server to accept')
      return clients
    },
    ws: async () => {
      const c = await WsClient.connect(portOf(app, 'http'))
      t.after(() => c.close())
      return c
    },
  }
}

test('uids: several connections per uid, sendToUid(s), isUidOnline, onlineCount, unbind', async (t) => {
  const { tcp, ws } = await setup(t)
  const [a1, a2, b] = await tcp(3)
  const w = await ws()
  await a1.request('/api/login', { uid: 'a' })
  await a2.request('/api/login', { uid: 'a' })
  await w.request('/api/login', { uid: 'w' })
  assert.deepEqual((await b.request('/api/toUid', { uid: 'a', data: 'hi a' })).data, 2)
  assert.deepEqual(await a1.next((m) => m.id === undefined), { data: 'hi a' })
  assert.deepEqual(await a2.next((m) => m.id === undefined), { data: 'hi a' })
  assert.equal((await b.request('/api/toUids', { uids: ['a', 'w', 'nobody'], data: 'x' })).data, 3)
  assert.deepEqual(await w.next((m) => m.id === undefined), { data: 'x' })
  assert.equal((await b.request('/api/toUid', { uid: 'nobody', data: 1 })).data, 0)
  let s = (await b.request('/api/state', { uid: 'a' })).data as { online: boolean, count: number }
  assert.equal(s.online, true)
  assert.equal(s.count, 2)
  await a1.request('/api/unbind')
  a2.close()
  await waitUntil(async () => ((await b.request('/api/state', { uid: 'a' })).data as { online: boolean }).online === false, 3000, 'uid a offline')
  s = (await b.request('/api/state', { uid: 'w' })).data as { online: boolean, count: number }
  assert.deepEqual([s.online, s.count], [true, 1])
})

test('binding with {kick: true} closes the old connection of that uid with SD_ERR_KICKED', async (t) => {
  const { tcp } = await setup(t)
  const [old, fresh] = await tcp(2)
  await old.request('/api/login', { uid: 'u' })
  await fresh.request('/api/login', { uid: 'u', kick: true })
  const pushed = await old.next((m) => m.error !== undefined)
  assert.equal(pushed.error?.code, 'SD_ERR_KICKED')
  await old.waitClosed()
  assert.equal(fresh.closed, false)
  assert.deepEqual((await fresh.request('/api/whoami')).data, { uid: 'u', transport: 'tcp', session: {} })
})

test('groups across TCP and WS: sendToGroup with exclude, members, counts, leave, groups()', async (t) => {
  const { tcp, ws } = await setup(t)
  const [a, b, anon] = await tcp(3)
  const w = await ws()
  for (const [c, uid] of [[a, 'a'], [b, 'b']] as const) {
    await c.request('/api/login', { uid })
    await c.request('/api/join', { group: 'g' })
  }
  await w.request('/api/login', { uid: 'w' })
  await w.request('/api/join', { group: 'g' })
  await anon.request('/api/join', { group: 'g' })
  await anon.request('/api/join', { group: 'other' })
  assert.equal((await a.request('/api/toGroup', { group: 'g', data: 'hello', exclude: true })).data, 3)
  for (const c of [b, anon]) assert.deepEqual(await c.next((m) => m.id === undefined), { data: 'hello' })
  assert.deepEqual(await w.next((m) => m.id === undefined), { data: 'hello' })
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(a.received.length, 0, 'the sender was excluded')
  assert.deepEqual((await a.request('/api/state', { group: 'g' })).data, { online: false, count: 3, members: ['a', 'b', 'w'], groupCount: 4, groups: ['g', 'other'] })
  await anon.request('/api/leave', { group: 'other' })
  await b.request('/api/leave', { group: 'g' })
  assert.deepEqual((await a.request('/api/state', { group: 'g' })).data, { online: false, count: 3, members: ['a', 'w'], groupCount: 3, groups: ['g'] })
  w.close()
  await waitUntil(async () => ((await a.request('/api/state', { group: 'g' })).data as { groupCount: number }).groupCount === 2, 3000, 'closed ws leaves its groups')
})

test('sendToAll with exclude, kickUid, close, session, send', async (t) => {
  const { tcp } = await setup(t)
  const [a, b, c] = await tcp(3)
  assert.equal((await a.request('/api/toAll', { data: 'all', exclude: true })).data, 2)
  for (const x of [b, c]) assert.deepEqual(await x.next((m) => m.id === undefined), { data: 'all' })
  await a.request('/api/remember', { data: { n: 1 } })
  assert.deepEqual((await a.request('/api/whoami')).data, { uid: null, transport: 'tcp', session: { note: { n: 1 } } })
  assert.deepEqual((await b.request('/api/whoami')).data, { uid: null, transport: 'tcp', session: {} })
  assert.equal((await a.request('/api/push', { data: 'self' })).data, true)
  assert.deepEqual(await a.next((m) => m.id === undefined), { data: 'self' })
  await b.request('/api/login', { uid: 'b' })
  assert.equal((await a.request('/api/kick', { uid: 'b' })).data, 1)
  assert.equal((await b.next((m) => m.error !== undefined)).error?.code, 'SD_ERR_KICKED')
  await b.waitClosed()
  c.notify('/api/bye')
  await c.waitClosed()
})

test('transport restriction and connection-only APIs over HTTP', async (t) => {
  const { app, ws } = await setup(t)
  const w = await ws()
  assert.equal((await w.request('/api/tcpOnly')).error?.code, 'SD_ERR_TRANSPORT_NOT_ALLOWED')
  const port = portOf(app, 'http')
  const r = await http(port, '/api/tcpOnly')
  assert.equal(r.status, 405)
  const push = await http(port, '/api/push?data=1')
  assert.equal(push.status, 400)
  assert.deepEqual(push.body, { error: { code: 'SD_ERR_NOT_SUPPORTED', message: 'send is not supported on this transport' } })
  const q = await http(port, '/api/state?uid=x&group=g')
  assert.equal(q.status, 200)
  assert.deepEqual(q.body, { online: false, count: 0, members: [], groupCount: 0, groups: [] })
})

test('hooks: onStart, onConnect, onClose (session still readable), onStop; middleware before and after', async (t) => {
  const events: string[] = []
  const { app, tcp } = await setup(t, (a) => {
    a.addHook('onStart', () => { events.push('start') })
    a.addHook('onConnect', (ctx) => { ctx.session.seen = true; events.push(`connect:${ctx.transport}`) })
    a.addHook('onClose', (ctx) => { events.push(`close:${String(ctx.session.note)}`) })
    a.addHook('onStop', () => { events.push('stop') })
    a.use(async (ctx, next) => {
      if (ctx.path === '/api/bye') throw Object.assign(new Error('x'), { })
      const result = await next()
      return ctx.path === '/api/whoami' ? { wrapped: result } : result
    })
  })
  assert.deepEqual(events, ['start'])
  const [c] = await tcp(1)
  await c.request('/api/remember', { data: 'kept' })
  assert.deepEqual((await c.request('/api/whoami')).data, { wrapped: { uid: null, transport: 'tcp', session: { seen: true, note: 'kept' } } })
  assert.equal((await c.request('/api/bye')).error?.code, 'SD_ERR_INTERNAL', 'middleware can stop the flow')
  c.close()
  await waitUntil(() => events.includes('close:kept'), 3000, 'onClose')
  await app.stop()
  assert.deepEqual(events, ['start', 'connect:tcp', 'close:kept', 'stop'])
})
