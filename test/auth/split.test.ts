/** Authentication in the gateway split: the worker checks and sets `$auth`, it travels in the session, the gateway's sweep enforces it. */
import { test, type TestContext } from 'node:test'
import { once } from 'node:events'
import { WebSocket } from 'ws'
import assert from 'node:assert/strict'
import { Controller, type Application, type ConfigInput } from '../../framework/index.js'
import { http, portOf, TcpClient, waitUntil } from '../helpers.js'
import { startGateway, startWorker } from '../gateway/split-helpers.js'
import { hs256, secret } from './tokens.js'

class SplitController extends Controller {
  static public = ['open']
  open (): string { return 'public' }
  whoami (): unknown { return { uid: this.uid ?? null, auth: this.session.$auth ?? null } }
}

async function split (t: TestContext, auth: ConfigInput['auth']): Promise<{ gw: Application, w: Application }> {
  const gw = await startGateway({}, { auth })
  const w = await startWorker(gw, `wa-${process.pid}`, [SplitController], { extra: { auth } })
  t.after(async () => { await w.stop(); await gw.stop() })
  await waitUntil(() => gw.gateway?.status().workers.filter((x) => x.state === 'ready').length === 1, 3000, 'the worker ready at the gateway')
  return { gw, w }
}

test('split: /sd/auth runs at the worker, $auth travels in the session, the uid is bound at the gateway; HTTP Bearer at the worker', async (t) => {
  const { gw } = await split(t, { jwt: { secret } })
  const c = await TcpClient.connect(portOf(gw, 'tcp'))
  t.after(() => c.close())
  assert.equal((await c.request('/split/open')).data, 'public')
  assert.equal((await c.request('/split/whoami')).error?.code, 'SD_ERR_UNAUTHENTICATED')
  assert.equal(((await c.request('/sd/auth', { token: await hs256({ sub: 'gwu', ttlS: 60 }) })).data as { uid: string }).uid, 'gwu')
  const who = (await c.request('/split/whoami')).data as { uid: string, auth: { uid: string, exp: number } }
  assert.equal(who.uid, 'gwu')
  assert.equal(who.auth.uid, 'gwu')
  const held = [...gw.connections.all()][0]
  assert.equal(held.uid, 'gwu', 'bound at the gateway')
  assert.equal((held.session.$auth as { uid: string }).uid, 'gwu', 'the session at the gateway holds $auth')
  const port = portOf(gw, 'http')
  // a WebSocket authenticated at its upgrade, at the gateway: the worker sees $auth and the uid
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?token=${await hs256({ sub: 'wsu' })}`)
  t.after(() => ws.terminate())
  await once(ws, 'open')
  ws.send(JSON.stringify({ id: 1, path: '/split/whoami' }))
  const [frame] = await once(ws, 'message') as [Buffer]
  assert.deepEqual((JSON.parse(String(frame)) as { data: { uid: string } }).data.uid, 'wsu')
  assert.equal((await http(port, '/split/whoami')).status, 401)
  const ok = await http(port, '/split/whoami', { headers: { authorization: `Bearer ${await hs256({ sub: 'web' })}` } })
  assert.equal((ok.body as { uid: string }).uid, 'web')
})

test('split: the gateway\'s sweep closes unauthenticated connections and pushes the expiry, then closes after the grace', async (t) => {
  const { gw } = await split(t, { jwt: { secret, clockSkewMs: 0 }, timeoutMs: 1000, expiryGraceMs: 1000 })
  const idle = await TcpClient.connect(portOf(gw, 'tcp'))
  const expiring = await TcpClient.connect(portOf(gw, 'tcp'))
  const refresher = await TcpClient.connect(portOf(gw, 'tcp'))
  t.after(() => { idle.close(); expiring.close(); refresher.close() })
  await expiring.request('/sd/auth', { token: await hs256({ sub: 'exp', ttlS: 2 }) })
  await refresher.request('/sd/auth', { token: await hs256({ sub: 'ref', ttlS: 2 }) })
  assert.equal((await idle.next((m) => m.error !== undefined, 3000)).error?.code, 'SD_ERR_AUTH_TIMEOUT')
  await idle.waitClosed()
  assert.equal(expiring.closed, false)
  assert.equal((await expiring.next((m) => m.error !== undefined && m.id === undefined, 6000)).error?.code, 'SD_ERR_TOKEN_EXPIRED')
  assert.equal((await expiring.request('/split/whoami')).error?.code, 'SD_ERR_TOKEN_EXPIRED', 'the worker refuses too')
  // refreshed through the worker: the gateway's sweep sees the new exp and keeps the connection
  assert.equal((await refresher.next((m) => m.error !== undefined && m.id === undefined, 6000)).error?.code, 'SD_ERR_TOKEN_EXPIRED')
  assert.equal(((await refresher.request('/sd/auth', { token: await hs256({ sub: 'ref', ttlS: 60 }) })).data as { uid: string }).uid, 'ref')
  await expiring.waitClosed(3000)
  assert.equal(((await refresher.request('/split/whoami')).data as { uid: string }).uid, 'ref')
  assert.equal(refresher.closed, false)
})

/** Lets the test decide when `RaceController.slow` finishes (no timed wait). */
let releaseSlow: () => void = () => {}

class RaceController extends Controller {
  static public = ['slow']
  async slow (): Promise<string> {
    await new Promise<void>((resolve) => { releaseSlow = resolve })
    this.session.room = 'lobby'
    return 'ok'
  }

  whoami (): unknown { return { uid: this.uid ?? null, auth: this.session.$auth ?? null } }
}

test('split: a request that began before /sd/auth and writes the session does not undo the authentication when it ends', async (t) => {
  const auth = { jwt: { secret } }
  const gw = await startGateway({}, { auth })
  const w = await startWorker(gw, `wr-${process.pid}`, [RaceController], { extra: { auth } })
  t.after(async () => { await w.stop(); await gw.stop() })
  await waitUntil(() => gw.gateway?.status().workers.filter((x) => x.state === 'ready').length === 1, 3000, 'the worker ready at the gateway')
  const c = await TcpClient.connect(portOf(gw, 'tcp'))
  t.after(() => c.close())
  const started = releaseSlow
  const slow = c.request('/race/slow')
  await waitUntil(() => releaseSlow !== started, 3000, 'the slow action running')
  assert.equal(((await c.request('/sd/auth', { token: await hs256({ sub: 'u1', ttlS: 60 }) })).data as { uid: string }).uid, 'u1')
  releaseSlow()
  assert.equal((await slow).data, 'ok')
  const held = [...gw.connections.all()][0]
  assert.equal(held.session.room, 'lobby', 'the slow action\'s own change is kept')
  assert.equal((held.session.$auth as { uid: string } | undefined)?.uid, 'u1', 'the authentication is kept')
  assert.equal(((await c.request('/race/whoami')).data as { uid: string }).uid, 'u1')
})
