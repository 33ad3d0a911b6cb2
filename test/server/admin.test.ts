import { test } from 'node:test'
import assert from 'node:assert/strict'
import { networkInterfaces } from 'node:os'
import { request } from 'node:http'
import { Controller, loadConfig, SdError } from '../../framework/index.js'
import { adminAllows, isLoopback } from '../../framework/admin/guard.js'
import { Router } from '../../framework/core/router.js'
import { http, portOf, startApp, TcpClient } from '../helpers.js'

const TOKEN = 'admin-token-0123456789abcdef'

/** A non-loopback IPv4 address of this machine, if it has one. */
function outsideAddress (): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address
  }
  return undefined
}

test('isLoopback: 127.0.0.0/8, ::1 and IPv4-mapped 127.* only', () => {
  for (const ip of ['127.0.0.1', '127.1.2.3', '127.255.255.254', '::1', '::ffff:127.0.0.1', '::FFFF:127.9.9.9']) assert.equal(isLoopback(ip), true, ip)
  for (const ip of ['', 'localhost', '10.0.0.1', '192.0.2.2', '128.0.0.1', '::2', '::ffff:10.0.0.1', '0.0.0.0', '::', '127.0.0.1.evil', 'fe80::1']) assert.equal(isLoopback(ip), false, ip)
})

test('adminAllows: loopback only without a token; with one, the right Bearer from anywhere and nothing else', () => {
  const open = { token: '' }
  assert.equal(adminAllows({ ip: '127.0.0.1' }, open), true)
  assert.equal(adminAllows({ ip: '::ffff:127.0.0.1', authorization: 'Bearer whatever' }, open), true)
  const outside = adminAllows({ ip: '192.0.2.7' }, open)
  assert.ok(outside instanceof SdError)
  assert.equal(outside.code, 'SD_ERR_FORBIDDEN')
  assert.equal(outside.status, 403)

  const locked = { token: TOKEN }
  assert.equal(adminAllows({ ip: '192.0.2.7', authorization: `Bearer ${TOKEN}` }, locked), true)
  assert.equal(adminAllows({ ip: '127.0.0.1', authorization: `bearer ${TOKEN}` }, locked), true, 'the scheme is case-insensitive')
  for (const authorization of [undefined, '', TOKEN, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, `Basic ${TOKEN}`, `Bearer ${TOKEN} extra`, [`Bearer ${TOKEN}`, `Bearer ${TOKEN}`], `Bearer ${'x'.repeat(5000)}`]) {
    const verdict = adminAllows({ ip: '127.0.0.1', authorization }, locked)
    assert.ok(verdict instanceof SdError && verdict.code === 'SD_ERR_FORBIDDEN', `refused from loopback with ${JSON.stringify(authorization)?.slice(0, 60)}`)
    assert.ok(!verdict.message.includes(TOKEN), 'the message never shows the token')
  }
})

test('admin.token: SD_ADMIN_TOKEN sets it; a short or spaced token fails at boot naming the key', async () => {
  const config = await loadConfig({ configDir: false, env: { SD_ADMIN_TOKEN: TOKEN } })
  assert.equal(config.admin.token, TOKEN)
  assert.equal((await loadConfig({ configDir: false, env: {} })).admin.token, '', 'default: no token (loopback only)')
  for (const token of ['short', 'sixteen chars ok but spaced', 'x'.repeat(1025)]) {
    await assert.rejects(startApp({ admin: { token } }, { controllers: [] }), (err: SdError) => err.code === 'SD_ERR_CONFIG_INVALID' && err.message.includes('admin.token'), token.slice(0, 20))
  }
})

test('static admin naming no public method (a typo that would leave it open) is refused at registration', () => {
  class TypoController extends Controller {
    static admin = ['stauts']
    status (): string { return 'internals' }
  }
  assert.throws(() => new Router().addController(TypoController), (err: SdError) => err.code === 'SD_ERR_CONTROLLER_INVALID' && err.message.includes('stauts'))
  class BadMarkController extends Controller {
    static admin = 'status' as unknown as string[]
    status (): string { return 'internals' }
  }
  assert.throws(() => new Router().addController(BadMarkController), (err: SdError) => err.code === 'SD_ERR_CONTROLLER_INVALID')
})

test('demo /status: 200 from loopback with no token set; with admin.token, 403 SD_ERR_FORBIDDEN without or with a wrong Bearer, 200 with the right one', async (t) => {
  const open = await startApp()
  t.after(() => open.stop())
  const page = await http(portOf(open, 'http'), '/status')
  assert.equal(page.status, 200)
  assert.match(page.text, /pid \d+/)

  const locked = await startApp({ admin: { token: TOKEN } })
  t.after(() => locked.stop())
  const port = portOf(locked, 'http')
  const tries: Array<Record<string, string>> = [{}, { authorization: 'Bearer wrong-token-0123456789' }, { authorization: TOKEN }]
  for (const headers of tries) {
    const res = await http(port, '/status', { headers })
    assert.equal(res.status, 403, JSON.stringify(headers))
    assert.equal((res.body as { error: { code: string } }).error.code, 'SD_ERR_FORBIDDEN')
    assert.doesNotMatch(res.text, /pid/)
  }
  const ok = await http(port, '/status', { headers: { authorization: `Bearer ${TOKEN}` } })
  assert.equal(ok.status, 200)
  assert.match(ok.text, /pid \d+/)
  assert.equal((await http(port, '/')).status, 200, 'other pages stay open')
})

test('demo /status from a non-loopback address: 403 without a token set, 200 with the admin token', async (t) => {
  const address = outsideAddress()
  if (address === undefined) {
    t.skip('this machine has no non-loopback IPv4 address (the unit test above covers the address check)')
    return
  }
  const get = async (port: number, headers: Record<string, string> = {}): Promise<{ status: number, text: string }> => {
    const res = await fetch(`http://${address}:${port}/status`, { headers })
    return { status: res.status, text: await res.text() }
  }
  const open = await startApp({ server: { http: { host: '0.0.0.0' } } })
  t.after(() => open.stop())
  const refused = await get(portOf(open, 'http'))
  assert.equal(refused.status, 403)
  assert.equal((JSON.parse(refused.text) as { error: { code: string } }).error.code, 'SD_ERR_FORBIDDEN')
  assert.equal((await http(portOf(open, 'http'), '/status')).status, 200, 'the same server answers loopback')

  const locked = await startApp({ server: { http: { host: '0.0.0.0' } }, admin: { token: TOKEN } })
  t.after(() => locked.stop())
  assert.equal((await get(portOf(locked, 'http'))).status, 403)
  const ok = await get(portOf(locked, 'http'), { authorization: `Bearer ${TOKEN}` })
  assert.equal(ok.status, 200)
  assert.match(ok.text, /pid \d+/)
})

class PeekController extends Controller {
  static admin = ['internals']
  internals (): unknown { return { pid: process.pid } }
  hello (): string { return 'hi' }
}

test('an admin action on a socket: from loopback without a token it runs; with a token set it is refused (sockets carry no Bearer header)', async (t) => {
  const open = await startApp({}, { controllers: [PeekController] })
  t.after(() => open.stop())
  const a = await TcpClient.connect(portOf(open, 'tcp'))
  t.after(() => a.close())
  assert.deepEqual((await a.request('/peek/internals')).data, { pid: process.pid })

  const locked = await startApp({ admin: { token: TOKEN } }, { controllers: [PeekController] })
  t.after(() => locked.stop())
  const b = await TcpClient.connect(portOf(locked, 'tcp'))
  t.after(() => b.close())
  const refused = await b.request('/peek/internals')
  assert.equal(refused.error?.code, 'SD_ERR_FORBIDDEN')
  assert.equal((await b.request('/peek/hello')).data, 'hi', 'the connection stays open and other actions run')
})

test('an admin action over HTTP without a token: a request naming another host (a DNS rebinding page in a local browser) is refused', async (t) => {
  const app = await startApp()
  t.after(() => app.stop())
  const status = (host: string): Promise<number> => new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: portOf(app, 'http'), path: '/status', headers: { host } }, (res) => { res.resume(); resolve(res.statusCode ?? 0) })
    req.on('error', reject)
    req.end()
  })
  assert.equal(await status('evil.example:8081'), 403)
  assert.equal(await status(`127.0.0.1:${portOf(app, 'http')}`), 200)
  assert.equal(await status('localhost'), 200)
})
