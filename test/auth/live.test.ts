/** Authentication on live connections: every transport, the timeout, expiry (push, refusal, refresh, grace), the hook, the SDK's token. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { WebSocket } from 'ws'
import { Controller, type Application, type ConfigInput } from '../../framework/index.js'
import { connect, type SdClient } from '../../framework/client/index.js'
import { LineClient, portOf, startApp, TcpClient, waitUntil, WsClient } from '../helpers.js'
import { algNone, hs256, secret } from './tokens.js'

class NoteController extends Controller {
  whoami (): unknown { return this.uid ?? null }
  /** The text port's route: every line. */
  line (data: unknown): string { return `${this.uid ?? '-'}:${String(data)}` }
}

function authApp (auth: ConfigInput['auth'], extra: ConfigInput = {}): Promise<Application> {
  return startApp({ ...extra, auth, server: { text: { route: '/note/line' } } }, { controllers: [NoteController] })
}

/** A WebSocket with request/reply by id (JSON frames). */
class Ws {
  readonly received: Array<{ id?: number, data?: unknown, error?: { code: string } }> = []
  #id = 0
  constructor (readonly ws: WebSocket) {
    ws.on('message', (d) => this.received.push(JSON.parse(String(d)) as Ws['received'][number]))
  }

  async request (path: string, data?: unknown): Promise<Ws['received'][number]> {
    const id = ++this.#id
    this.ws.send(JSON.stringify({ id, path, data }))
    return waitUntil(() => this.received.find((m) => m.id === id), 3000, `reply ${id}`)
  }

  close (): void { this.ws.terminate() }
}

/** A WebSocket upgrade with `headers`/`query`: resolves to the open client, or the refused upgrade's status. */
async function wsUpgrade (port: number, query = '', headers: Record<string, string> = {}): Promise<Ws | number> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws${query}`, { headers })
  const status = new Promise<number>((resolve) => ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)))
  ws.on('error', () => {})
  const r = await Promise.race([once(ws, 'open').then(() => 'open' as const), status])
  return r === 'open' ? new Ws(ws) : r
}

test('tcp: /sd/auth {token}; text: a line /sd/auth <token>; the uid binds on both', async (t) => {
  const app = await authApp({ jwt: { secret } })
  t.after(() => app.stop())
  const c = await TcpClient.connect(portOf(app, 'tcp'))
  t.after(() => c.close())
  assert.equal((await c.request('/note/whoami')).error?.code, 'SD_ERR_UNAUTHENTICATED')
  await c.request('/sd/auth', { token: await hs256({ sub: 'tina' }) })
  assert.equal((await c.request('/note/whoami')).data, 'tina')
  const line = await LineClient.connect(portOf(app, 'text'))
  t.after(() => line.close())
  line.send('hello')
  assert.match(await line.next(), /SD_ERR_UNAUTHENTICATED/)
  line.send(`/sd/auth ${await hs256({ sub: 'tex' })}`)
  assert.match(await line.next(), /"uid":"tex"/)
  line.send('hello')
  assert.equal(await line.next(), 'tex:hello')
  line.send('/sd/auth bad')
  assert.match(await line.next(), /ERROR SD_ERR_UNAUTHENTICATED/)
})

test('ws: the upgrade authenticates by Authorization: Bearer or ?token=; a bad token is refused 401 with no socket; /sd/auth works too', async (t) => {
  const app = await authApp({ jwt: { secret } })
  t.after(() => app.stop())
  const port = portOf(app, 'http')
  const byHeader = await wsUpgrade(port, '', { authorization: `Bearer ${await hs256({ sub: 'hed' })}` })
  assert.ok(byHeader instanceof Ws)
  t.after(() => byHeader.close())
  assert.equal((await byHeader.request('/note/whoami')).data, 'hed')
  const byQuery = await wsUpgrade(port, `?token=${await hs256({ sub: 'que' })}`)
  assert.ok(byQuery instanceof Ws)
  t.after(() => byQuery.close())
  assert.equal((await byQuery.request('/note/whoami')).data, 'que')
  assert.equal(await app.bus.isUidOnline('que'), true)
  assert.equal(await wsUpgrade(port, `?token=${algNone()}`), 401)
  assert.equal(await wsUpgrade(port, '', { authorization: `Bearer ${await hs256({ ttlS: -60 })}` }), 401)
  const open = await WsClient.connect(port)
  t.after(() => open.close())
  assert.equal((await open.request('/note/whoami')).error?.code, 'SD_ERR_UNAUTHENTICATED')
  assert.equal(((await open.request('/sd/auth', { token: await hs256({ sub: 'msg' }) })).data as { uid: string }).uid, 'msg')
  assert.equal((await open.request('/note/whoami')).data, 'msg')
  assert.equal(app.stats().connections.ws, 3, 'the refused upgrades made no connection')
})

test('a connection not authenticated within timeoutMs is closed with SD_ERR_AUTH_TIMEOUT; an authenticated one stays', async (t) => {
  const app = await authApp({ jwt: { secret }, timeoutMs: 800 })
  t.after(() => app.stop())
  const idle = await TcpClient.connect(portOf(app, 'tcp'))
  const authed = await TcpClient.connect(portOf(app, 'tcp'))
  t.after(() => { idle.close(); authed.close() })
  await authed.request('/sd/auth', { token: await hs256() })
  const pushed = await idle.next((m) => m.error !== undefined, 3000)
  assert.equal(pushed.error?.code, 'SD_ERR_AUTH_TIMEOUT')
  await idle.waitClosed()
  const ws = await WsClient.connect(portOf(app, 'http'))
  await ws.waitClosed()
  assert.equal(ws.closeCode, 1008)
  assert.equal(authed.closed, false)
  assert.equal((await authed.request('/note/whoami')).data, 'alice')
})

test('expiry on a live connection: SD_ERR_TOKEN_EXPIRED pushed, calls refused, /sd/auth refreshes without reconnecting; otherwise closed after the grace', async (t) => {
  const app = await authApp({ jwt: { secret, clockSkewMs: 0 }, expiryGraceMs: 1000 })
  t.after(() => app.stop())
  const refresher = await TcpClient.connect(portOf(app, 'tcp'))
  const lazy = await TcpClient.connect(portOf(app, 'tcp'))
  t.after(() => { refresher.close(); lazy.close() })
  await refresher.request('/sd/auth', { token: await hs256({ sub: 'ref', ttlS: 2 }) })
  await lazy.request('/sd/auth', { token: await hs256({ sub: 'laz', ttlS: 2 }) })
  const pushed = await refresher.next((m) => m.error !== undefined && m.id === undefined, 6000)
  assert.equal(pushed.error?.code, 'SD_ERR_TOKEN_EXPIRED')
  assert.equal((await refresher.request('/note/whoami')).error?.code, 'SD_ERR_TOKEN_EXPIRED')
  const fresh = await refresher.request('/sd/auth', { token: await hs256({ sub: 'ref', ttlS: 60 }) })
  assert.equal((fresh.data as { uid: string }).uid, 'ref')
  assert.equal((await refresher.request('/note/whoami')).data, 'ref')
  assert.equal((await lazy.next((m) => m.error !== undefined && m.id === undefined, 6000)).error?.code, 'SD_ERR_TOKEN_EXPIRED')
  await lazy.waitClosed(3000)
  assert.equal(refresher.closed, false)
  assert.equal(refresher.received.filter((m) => m.error?.code === 'SD_ERR_TOKEN_EXPIRED').length, 0, 'told once')
})

test('the authenticate hook replaces JWT: its uid and expiry count, what it throws refuses', async (t) => {
  const seen: Array<{ token: string, transport: string }> = []
  const app = await authApp({
    authenticate: async (token, info) => {
      seen.push({ token, transport: info.transport })
      if (token === 'let-me-in') return { uid: 'hooked', expiresAtMs: Date.now() + 60_000 }
      throw new Error('nope')
    },
  })
  t.after(() => app.stop())
  const c = await TcpClient.connect(portOf(app, 'tcp'))
  t.after(() => c.close())
  assert.equal((await c.request('/sd/auth', { token: await hs256() })).error?.code, 'SD_ERR_UNAUTHENTICATED', 'a JWT means nothing to the hook')
  const ok = (await c.request('/sd/auth', { token: 'let-me-in' })).data as { uid: string, exp: number }
  assert.equal(ok.uid, 'hooked')
  assert.ok(ok.exp > Date.now())
  assert.equal((await c.request('/note/whoami')).data, 'hooked')
  assert.deepEqual(seen.map((s) => s.transport), ['tcp', 'tcp'])
})

async function opened (client: SdClient): Promise<void> {
  await waitUntil(() => client.status === 'open', 5000, 'open')
}

test('SDK: token (string) authenticates on every connect; a token function is asked again on expiry and refreshes without reconnecting', async (t) => {
  const app = await authApp({ jwt: { secret, clockSkewMs: 0 }, expiryGraceMs: 2000 })
  t.after(() => app.stop())
  const fixed = connect(`tcp://127.0.0.1:${portOf(app, 'tcp')}`, { token: await hs256({ sub: 'sdk' }), backoff: { firstMs: 20, maxMs: 50 } })
  t.after(() => fixed.close())
  assert.equal(await fixed.call('/note/whoami'), 'sdk')
  assert.equal(fixed.auth?.uid, 'sdk')
  // closed by the server: the reconnect authenticates again before the queued call runs
  assert.equal(await app.bus.kickUid('sdk'), 1)
  await waitUntil(() => fixed.status !== 'open', 3000, 'dropped')
  assert.equal(await fixed.call('/note/whoami'), 'sdk')
  let asked = 0
  const refreshing = connect(`ws://127.0.0.1:${portOf(app, 'http')}/ws`, { token: async () => { asked++; return hs256({ sub: 'fn', ttlS: asked === 1 ? 2 : 60 }) } })
  t.after(() => refreshing.close())
  const errors: string[] = []
  refreshing.on('error', (e) => errors.push((e as { code?: string }).code ?? e.message))
  await opened(refreshing)
  const statuses: string[] = []
  refreshing.on('status', (s) => statuses.push(s))
  assert.equal(await refreshing.call('/note/whoami'), 'fn')
  await waitUntil(() => asked === 2 && refreshing.auth !== undefined && refreshing.auth.exp !== null && refreshing.auth.exp > Date.now() + 30_000, 8000, 'a refresh')
  assert.equal(await refreshing.call('/note/whoami'), 'fn')
  assert.deepEqual(errors, ['SD_ERR_TOKEN_EXPIRED'])
  assert.deepEqual(statuses, [], 'no reconnect')
})
