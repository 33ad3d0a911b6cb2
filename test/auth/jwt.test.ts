/** JWT verification through /sd/auth on a real app (tcp): every case the issue lists, and the route guard. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Controller, type Application, type ConfigInput } from '../../framework/index.js'
import { http, portOf, startApp, TcpClient } from '../helpers.js'
import { algNone, hs256, keyFiles, secret } from './tokens.js'

class NoteController extends Controller {
  static public = ['hello']
  hello (): string { return 'hi' }
  whoami (): unknown { return { uid: this.uid ?? null, auth: this.session.$auth ?? null } }
}

function authApp (auth: ConfigInput['auth']): Promise<Application> {
  return startApp({ auth }, { controllers: [NoteController] })
}

async function authOver (app: Application, token: unknown): Promise<{ data?: unknown, error?: { code: string, message: string } }> {
  const c = await TcpClient.connect(portOf(app, 'tcp'))
  try {
    return await c.request('/sd/auth', { token })
  } finally { c.close() }
}

test('HS256: a valid token authenticates (uid = sub, bound) and opens private routes; without one they answer SD_ERR_UNAUTHENTICATED, public ones work', async (t) => {
  const app = await authApp({ jwt: { secret, clockSkewMs: 0 } })
  t.after(() => app.stop())
  const c = await TcpClient.connect(portOf(app, 'tcp'))
  t.after(() => c.close())
  assert.equal((await c.request('/note/hello')).data, 'hi')
  assert.equal((await c.request('/note/whoami')).error?.code, 'SD_ERR_UNAUTHENTICATED')
  const token = await hs256({ sub: 'alice', ttlS: 60 })
  const reply = await c.request('/sd/auth', { token })
  const data = reply.data as { uid: string, exp: number }
  assert.equal(data.uid, 'alice')
  assert.ok(Math.abs(data.exp - (Date.now() + 60_000)) < 5000, `exp ${data.exp}`)
  const who = (await c.request('/note/whoami')).data as { uid: string, auth: { uid: string } }
  assert.equal(who.uid, 'alice')
  assert.equal(who.auth.uid, 'alice')
  assert.equal(await app.bus.isUidOnline('alice'), true)
})

test('refused tokens: expired, not yet valid, wrong signature, alg none, wrong audience, wrong issuer, missing sub, not a string, too long', async (t) => {
  const app = await authApp({ jwt: { secret, clockSkewMs: 0, audience: 'sd-test', issuer: 'https://issuer.test' } })
  t.after(() => app.stop())
  const ok = { aud: 'sd-test', iss: 'https://issuer.test' }
  assert.equal((await authOver(app, await hs256({ ...ok, ttlS: 60 }))).data !== undefined, true, 'the valid token of this app works')
  const cases: Array<[string, unknown, string]> = [
    ['expired', await hs256({ ...ok, ttlS: -10 }), 'SD_ERR_TOKEN_EXPIRED'],
    ['not yet valid', await hs256({ ...ok, ttlS: 60, nbfS: 30 }), 'SD_ERR_UNAUTHENTICATED'],
    ['wrong signature', await hs256({ ...ok, ttlS: 60 }, 'another-secret-0123456789abcdef!'), 'SD_ERR_UNAUTHENTICATED'],
    ['alg none', algNone(), 'SD_ERR_UNAUTHENTICATED'],
    ['wrong audience', await hs256({ ...ok, aud: 'other', ttlS: 60 }), 'SD_ERR_UNAUTHENTICATED'],
    ['wrong issuer', await hs256({ ...ok, iss: 'https://evil.test', ttlS: 60 }), 'SD_ERR_UNAUTHENTICATED'],
    ['missing sub', await hs256({ ...ok, sub: null, ttlS: 60 }), 'SD_ERR_UNAUTHENTICATED'],
    ['not a string', { a: 1 }, 'SD_ERR_UNAUTHENTICATED'],
    ['too long', 'x'.repeat(9000), 'SD_ERR_UNAUTHENTICATED'],
    ['garbage', 'not.a.jwt', 'SD_ERR_UNAUTHENTICATED'],
  ]
  for (const [what, token, code] of cases) {
    const r = await authOver(app, token)
    assert.equal(r.error?.code, code, `${what}: ${JSON.stringify(r)}`)
  }
})

test('a refused token leaves the connection unauthenticated; a token for another uid does not take over an authenticated one', async (t) => {
  const app = await authApp({ jwt: { secret } })
  t.after(() => app.stop())
  const c = await TcpClient.connect(portOf(app, 'tcp'))
  t.after(() => c.close())
  assert.equal((await c.request('/sd/auth', { token: algNone() })).error?.code, 'SD_ERR_UNAUTHENTICATED')
  assert.equal((await c.request('/note/whoami')).error?.code, 'SD_ERR_UNAUTHENTICATED')
  assert.equal(((await c.request('/sd/auth', { token: await hs256({ sub: 'ann' }) })).data as { uid: string }).uid, 'ann')
  assert.equal((await c.request('/sd/auth', { token: await hs256({ sub: 'bob' }) })).error?.code, 'SD_ERR_UNAUTHENTICATED')
  assert.equal(((await c.request('/note/whoami')).data as { uid: string }).uid, 'ann')
})

test('RS256 with a PEM public key file, ES256 with a JWKS file; a token of the other key is refused', async (t) => {
  const keys = await keyFiles()
  const rsApp = await authApp({ jwt: { publicKey: keys.pem } })
  t.after(() => rsApp.stop())
  assert.equal((await authOver(rsApp, await keys.rs256({ sub: 'rs' }))).data !== undefined, true)
  assert.deepEqual(((await authOver(rsApp, await keys.rs256({ sub: 'rs' }))).data as { uid: string }).uid, 'rs')
  assert.equal((await authOver(rsApp, await keys.es256())).error?.code, 'SD_ERR_UNAUTHENTICATED')
  assert.equal((await authOver(rsApp, await hs256())).error?.code, 'SD_ERR_UNAUTHENTICATED', 'HS256 is not accepted with an RSA key')
  const esApp = await authApp({ jwt: { jwksFile: keys.jwks } })
  t.after(() => esApp.stop())
  assert.equal(((await authOver(esApp, await keys.es256({ sub: 'es' }))).data as { uid: string }).uid, 'es')
  assert.equal((await authOver(esApp, await keys.rs256())).error?.code, 'SD_ERR_UNAUTHENTICATED')
})

test('config: a bad key file or alg none fails at boot naming the key; SD_AUTH_JWT_SECRET turns auth on', async () => {
  await assert.rejects(authApp({ jwt: { publicKey: '/nonexistent/key.pem' } }), /auth\.jwt\.publicKey/)
  await assert.rejects(authApp({ jwt: { secret, algorithms: ['none'] } }), /auth\.jwt\.algorithms/)
  await assert.rejects(authApp({ enabled: true }), /auth\.enabled/)
  const { createApp } = await import('../../framework/index.js')
  const { root, testOverrides } = await import('../helpers.js')
  const app = await createApp({ root, configDir: false, controllers: [NoteController], env: { SD_AUTH_JWT_SECRET: secret }, overrides: testOverrides() })
  assert.ok(app.auth !== undefined)
  const off = await createApp({ root, configDir: false, controllers: [NoteController], env: {}, overrides: testOverrides() })
  assert.equal(off.auth, undefined)
})

test('HTTP: Bearer per request; a private route without one answers 401, a public one 200; admin routes are left to the admin guard', async (t) => {
  class AdminController extends Controller {
    static admin = ['peek']
    peek (): string { return 'internal' }
  }
  const app = await startApp({ auth: { jwt: { secret } } }, { controllers: [NoteController, AdminController] })
  t.after(() => app.stop())
  const port = portOf(app, 'http')
  assert.equal((await http(port, '/note/hello')).status, 200)
  const none = await http(port, '/note/whoami')
  assert.equal(none.status, 401)
  assert.equal((none.body as { error: { code: string } }).error.code, 'SD_ERR_UNAUTHENTICATED')
  const token = await hs256({ sub: 'hana', ttlS: 60 })
  for (let i = 0; i < 2; i++) {
    // the second request takes the verified token from the cache
    const ok = await http(port, '/note/whoami', { headers: { authorization: `Bearer ${token}` } })
    assert.equal(ok.status, 200)
    assert.equal((ok.body as { uid: string }).uid, 'hana')
  }
  const bad = await http(port, '/note/whoami', { headers: { authorization: `Bearer ${algNone()}` } })
  assert.equal(bad.status, 401)
  const expired = await http(port, '/note/whoami', { headers: { authorization: `Bearer ${await hs256({ ttlS: -60 }, secret)}` } })
  assert.equal((expired.body as { error: { code: string } }).error.code, 'SD_ERR_TOKEN_EXPIRED')
  assert.equal((await http(port, '/admin/peek')).status, 200, 'no JWT asked of an admin route')
})
