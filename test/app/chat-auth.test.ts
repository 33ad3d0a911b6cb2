/**
 * The demo chat with authentication on (an HS256 secret, as SD_AUTH_JWT_SECRET sets it): the
 * page opened with `?token=` logs in as the token's sub; without a token it says why it cannot
 * and stops; over TCP `/chat/login` is refused until `/sd/auth`, and then the uid is the sub;
 * the read-only actions stay public; telnet users are told to send `/sd/auth <token>`.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { openPage, skipWithoutChromium } from '../browser.js'
import { startApp, portOf, TcpClient, LineClient, http } from '../helpers.js'
import { makeToken } from '../../framework/cli/token.js'
import type { ConfigInput } from '../../framework/index.js'

const SECRET = 'demo-auth-test-secret'
const WAIT = { timeout: 10_000 }
// the auth section as SD_AUTH_JWT_SECRET fills it (typed loosely: written before the section's types landed)
const authConfig = { auth: { jwt: { secret: SECRET } } } as unknown as ConfigInput

test('auth on: /chat/login is refused before /sd/auth (SD_ERR_UNAUTHENTICATED); after it the uid is the token\'s sub and the name the login\'s; history stays public', { timeout: 30_000 }, async (t) => {
  const app = await startApp(authConfig)
  t.after(() => app.stop())
  const c = await TcpClient.connect(portOf(app, 'tcp'))
  t.after(() => c.close())

  const refused = await c.request('/chat/login', { name: 'ann' })
  assert.equal(refused.error?.code, 'SD_ERR_UNAUTHENTICATED')
  const history = await c.request('/chat/history', { room: 'lobby' })
  assert.equal(history.error, undefined, 'read-only actions are public')
  assert.ok(Array.isArray(history.data))
  const overHttp = await http(portOf(app, 'http'), '/chat/rooms')
  assert.equal(overHttp.status, 200)
  assert.equal((await http(portOf(app, 'http'), '/')).status, 200, 'the page itself is public')

  const authed = await c.request('/sd/auth', { token: await makeToken({ sub: 'alice', secret: SECRET }) })
  assert.equal((authed.data as { uid?: string } | undefined)?.uid, 'alice', JSON.stringify(authed))
  const login = await c.request('/chat/login', { name: 'ann' })
  assert.deepEqual({ uid: (login.data as { uid: string }).uid, name: (login.data as { name: string }).name }, { uid: 'alice', name: 'ann' })

  // a resume token of another uid does not move this connection to that uid
  const other = await TcpClient.connect(portOf(app, 'tcp'))
  t.after(() => other.close())
  await other.request('/sd/auth', { token: await makeToken({ sub: 'bob', secret: SECRET }) })
  const resumed = await other.request('/chat/resume', { token: (login.data as { token: string }).token })
  assert.equal(resumed.error?.code, 'CHAT_ERR_BAD_TOKEN')
})

test('auth on: the telnet greeting asks for /sd/auth <token> first', { timeout: 30_000 }, async (t) => {
  const app = await startApp(authConfig)
  t.after(() => app.stop())
  const line = await LineClient.connect(portOf(app, 'text'))
  t.after(() => line.close())
  assert.match(await line.next(), /^SD chat\. Sign in first: \/sd\/auth <token>/)
})

test('the page opened with ?token= logs in as the token\'s sub (the token leaves the address bar); without a token it says a token is required and stops; with a forged one it shows the refusal and stops', { skip: skipWithoutChromium, timeout: 60_000 }, async (t) => {
  const app = await startApp(authConfig)
  t.after(() => app.stop())
  const port = portOf(app, 'http')
  const token = await makeToken({ sub: 'alice', secret: SECRET })

  const { page, errors } = await openPage(t, 'sd-chat-auth-')
  await page.goto(`http://127.0.0.1:${port}/?token=${token}`)
  await page.locator('#status[data-state="open"]').waitFor(WAIT)
  assert.doesNotMatch(page.url(), /token=/, 'the token is removed from the address')
  await page.fill('#name', 'pat')
  await page.click('#login button')
  await page.locator('#status', { hasText: /^connected as pat \(uid alice\) in lobby/ }).waitFor(WAIT)
  assert.deepEqual(errors, [])

  const bare = await openPage(t, 'sd-chat-noauth-')
  await bare.page.goto(`http://127.0.0.1:${port}/`)
  await bare.page.locator('#status[data-state="open"]').waitFor(WAIT)
  await bare.page.fill('#name', 'sam')
  await bare.page.click('#login button')
  await bare.page.locator('#log li.auth', { hasText: 'this server requires a token: open this page with ?token=' }).waitFor(WAIT)
  await bare.page.locator('#status[data-state="closed"]').waitFor(WAIT)
  assert.equal(await bare.page.locator('#status', { hasText: 'connected as' }).count(), 0)
  assert.deepEqual(bare.errors, [])

  // a token signed with another secret: the SDK's /sd/auth is refused, the page says so and stops
  const forged = await openPage(t, 'sd-chat-badauth-')
  await forged.page.goto(`http://127.0.0.1:${port}/?token=${await makeToken({ sub: 'mallory', secret: 'not-the-secret' })}`)
  await forged.page.locator('#log li.auth', { hasText: /^SD_ERR_UNAUTHENTICATED: .*\(open this page with a fresh \?token=\)$/ }).waitFor(WAIT)
  await forged.page.locator('#status[data-state="closed"]').waitFor(WAIT)
  assert.deepEqual(forged.errors, [])
})
