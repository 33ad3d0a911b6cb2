/**
 * The chat page in a real browser (Debian's chromium through playwright-core), on the client
 * SDK: login, forms shown and hidden, a TCP user's message on the page, then a server restart
 * on the same port: the page reconnects and resumes with its token by itself (the secret is
 * kept in Redis, so the same uid), and the text typed meanwhile is sent. A restart without a
 * shared secret: the page logs in afresh with the same name and shows the new uid. Through a
 * proxy that cuts the page off: what it missed is shown under "while you were away", in order,
 * with a gap noted when the history was trimmed; with Redis, across a server restart too.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { openPage, skipWithoutChromium } from '../browser.js'
import { startApp, portOf, TcpClient, http, waitUntil } from '../helpers.js'
import { freePort } from '../free-port.js'
import { startProxy } from '../proxy.js'
import { deleteRedisKeys, redisUrl, testKeyPrefix } from '../stores.js'

const skip = skipWithoutChromium
const WAIT = { timeout: 10_000 }

/** Computed display of an element ('none' when it is hidden). */
function display (page: Page, selector: string): Promise<string> {
  return page.$eval(selector, (el) => el.ownerDocument.defaultView?.getComputedStyle(el).display ?? "")
}

test('the chat page logs in, shows messages, and after a server restart reconnects, resumes as the same uid and sends what was typed meanwhile', { skip, timeout: 60_000 }, async (t) => {
  const port = await freePort()
  const keyPrefix = testKeyPrefix('chat-page')
  const config = { server: { http: { port } }, redis: { url: redisUrl, keyPrefix } }
  let app = await startApp(config)
  t.after(async () => { await app.stop(); await deleteRedisKeys(keyPrefix) })
  const { page, errors } = await openPage(t, 'sd-chat-page-')
  const line = (text: string | RegExp): ReturnType<Page['locator']> => page.locator('#log li', { hasText: text })

  const icon = await http(port, '/favicon.ico')
  assert.equal(icon.status, 200)
  assert.match(icon.headers.get('content-type') ?? '', /icon/)

  await page.goto(`http://127.0.0.1:${port}/`)
  await page.locator('#status[data-state="open"]').waitFor(WAIT)
  assert.equal(await page.textContent('#status'), 'connected')
  assert.equal(await display(page, '#say'), 'none', 'the message form is hidden before login')
  assert.equal(await display(page, '#login'), 'flex')
  // readable nav links: not the default blue (0,0,238) on the navy header
  assert.notEqual(await page.$eval('header a', (a) => a.ownerDocument.defaultView?.getComputedStyle(a).color), 'rgb(0, 0, 238)')

  await page.fill('#name', 'pat')
  await page.click('#login button')
  await page.locator('#status', { hasText: /^connected as pat \(uid \d+\) in lobby/ }).waitFor(WAIT)
  const firstUid = /uid (\d+)/.exec(await page.textContent('#status') ?? '')?.[1]
  assert.equal(await display(page, '#login'), 'none', 'the login form hides after login')
  assert.equal(await display(page, '#say'), 'flex', 'the message form shows after login')
  assert.ok(await page.isVisible('#text'))

  // a TCP user's room message appears on the page, and the page's reaches the TCP user
  const tom = await TcpClient.connect(portOf(app, 'tcp'))
  t.after(() => tom.close())
  const tomUid = ((await tom.request('/chat/login', { name: 'tom', room: 'lobby' })).data as { uid: string }).uid
  await line(`tom(${tomUid}) joined lobby`).waitFor(WAIT)
  await tom.request('/chat/say', { text: 'hello page' })
  await line(`tom(${tomUid}) says: hello page`).waitFor(WAIT)
  await page.fill('#text', 'hello tom')
  await page.press('#text', 'Enter')
  const heard = await tom.next((m) => (m.data as { type?: string } | undefined)?.type === 'say', 10_000)
  assert.equal((heard.data as { text: string }).text, 'hello tom')

  // the server goes away: the page says so and keeps what is typed meanwhile
  tom.close()
  await app.stop()
  await page.locator('#status[data-state="reconnecting"]', { hasText: /^disconnected, reconnecting in \d+ s…$/ }).waitFor(WAIT)
  await page.locator('#retry', { hasText: 'retry now' }).waitFor(WAIT)
  await line(/^connection lost; reconnecting…$/).waitFor(WAIT)
  assert.equal(await line('SD_ERR_').count(), 0, 'a restart is news, not an error')
  await page.fill('#text', 'typed while down')
  await page.press('#text', 'Enter')
  await line('typed while down').waitFor(WAIT)
  assert.equal(await page.$eval('#log li:last-child', (li) => li.className), 'queued')
  assert.match(await page.textContent('#log li:last-child') ?? '', /waiting for the connection/)
  assert.equal(await page.inputValue('#text'), '')
  assert.ok(await page.evaluate(() => (globalThis as unknown as { sessionStorage: { getItem (k: string): string | null } }).sessionStorage.getItem('sd-chat-token')), 'the resume token is kept in sessionStorage')
  await page.screenshot({ path: join(tmpdir(), 'sd-chat-page-down.png') })

  // the same port again: the page reconnects by itself, resumes (the token's secret is in Redis) and sends the queued text
  app = await startApp(config)
  await line(`reconnected as pat, uid ${firstUid} in lobby`).waitFor(WAIT)
  const sam = await TcpClient.connect(portOf(app, 'tcp'))
  t.after(() => sam.close())
  const samUid = ((await sam.request('/chat/login', { name: 'sam', room: 'lobby' })).data as { uid: string }).uid
  const online = (await sam.request('/chat/online', { room: 'lobby' })).data as { users: Array<{ uid: string, name: string }> }
  assert.deepEqual(online.users.find((u) => u.name === 'pat'), { uid: firstUid, name: 'pat' }, 'the page is in the lobby of the new server, same uid')
  await page.locator('#status', { hasText: new RegExp(`^connected as pat \\(uid ${firstUid}\\) in lobby`) }).waitFor(WAIT)
  assert.equal(await page.isVisible('#retry'), false, 'no "retry now" while connected')
  await waitUntil(async () => {
    const history = (await sam.request('/chat/history', { room: 'lobby' })).data as Array<{ name: string, text: string }>
    return history.some((m) => m.name === 'pat' && m.text === 'typed while down')
  }, 10_000, 'the text typed while disconnected to reach the new server')
  await page.locator('#log li:not(.queued):not(.sending)', { hasText: /^me: typed while down \(sent after reconnecting\)$/ }).waitFor(WAIT)
  await sam.request('/chat/say', { text: 'welcome back' })
  await line(`sam(${samUid}) says: welcome back`).waitFor(WAIT)
  assert.equal(await display(page, '#say'), 'flex')

  // a restart that forgets the secret (Redis emptied): the token is refused, the page logs in
  // afresh with the same name (the uid counter went too: the new uid follows the clock, "was …" when it differs)
  sam.close()
  await app.stop()
  await page.locator('#status[data-state="reconnecting"]').waitFor(WAIT)
  await deleteRedisKeys(keyPrefix)
  app = await startApp(config)
  const relogin = await line(new RegExp(`^reconnected: logged in again as pat, uid \\d+(?: \\(was ${firstUid}\\))? in lobby$`)).textContent(WAIT)
  const newUid = /uid (\d+)/.exec(relogin ?? '')?.[1]
  await page.locator('#status', { hasText: new RegExp(`^connected as pat \\(uid ${newUid}\\) in lobby`) }).waitFor(WAIT)

  // one file, overwritten by each run, to look at by eye
  const shot = join(tmpdir(), 'sd-chat-page.png')
  await page.screenshot({ path: shot })
  t.diagnostic(`screenshot: ${shot}`)
  assert.deepEqual(errors, [], 'no script errors on the page')
})

test('the page shows what it missed while its link was down under "while you were away", in order, and notes a gap', { skip, timeout: 60_000 }, async (t) => {
  const app = await startApp({ chat: { tokenSecret: 'page-test' }, recovery: { store: 'memory', maxCount: 3 } })
  t.after(() => app.stop())
  // the page is served through the proxy, so its WebSocket goes through it too
  const proxy = await startProxy(portOf(app, 'http'))
  t.after(() => proxy.close())
  const { page, errors } = await openPage(t, 'sd-chat-missed-')
  const line = (text: string | RegExp): ReturnType<Page['locator']> => page.locator('#log li', { hasText: text })
  const tom = await TcpClient.connect(portOf(app, 'tcp'))
  t.after(() => tom.close())
  const tomUid = ((await tom.request('/chat/login', { name: 'tom' })).data as { uid: string }).uid

  await page.goto(`http://127.0.0.1:${proxy.port}/`)
  await page.fill('#name', 'pat')
  await page.click('#login button')
  await page.locator('#status', { hasText: /^connected as pat/ }).waitFor(WAIT)
  const patUid = /uid (\d+)/.exec(await page.textContent('#status') ?? '')?.[1]
  await tom.request('/chat/say', { text: 'live' })
  await line(`tom(${tomUid}) says: live`).waitFor(WAIT)

  proxy.refuse(true)
  proxy.drop()
  await page.locator('#status[data-state="reconnecting"]').waitFor(WAIT)
  await tom.request('/chat/say', { text: 'away one' })
  await tom.request('/chat/say', { text: 'away two' })
  await tom.request('/chat/say', { to: patUid, text: 'away private' })
  // "retry now" skips the wait: once the next attempt is over 1.5 s away, let the link through and click
  const retryAt = await waitUntil(async () => {
    const at = Number(await page.getAttribute('#status', 'data-retry-at'))
    return at - Date.now() > 1500 ? at : 0
  }, 15_000, 'a wait of over 1.5 s')
  assert.match(await page.textContent('#status') ?? '', /^disconnected, reconnecting in \d+ s…$/)
  proxy.refuse(false)
  await page.click('#retry')
  await line(`reconnected as pat, uid ${patUid} in lobby`).waitFor(WAIT)
  assert.ok(Date.now() < retryAt, 'reconnected on "retry now", before the wait was over')
  assert.equal(await page.isVisible('#retry'), false)
  await line('away private').waitFor(WAIT)
  await line('away two').waitFor(WAIT)
  const texts = await page.$$eval('#log li', (lis) => lis.map((li) => [li.textContent, li.className]))
  const away = texts.findIndex(([text]) => text === 'while you were away:')
  assert.ok(away > 0, 'a "while you were away:" line')
  const missed = texts.slice(away + 1).filter(([, cls]) => cls?.includes('missed')).map(([text]) => text)
  assert.deepEqual(missed.filter((m) => !m?.includes('to you')), [`tom(${tomUid}) says: away one`, `tom(${tomUid}) says: away two`])
  assert.ok(missed.includes(`tom(${tomUid}) says to you: away private`))
  assert.equal(await line('live').count(), 1, 'nothing shown twice')

  // more than the history keeps (3): the page says some are missing, and shows the last 3
  proxy.refuse(true)
  proxy.drop()
  await page.locator('#status[data-state="reconnecting"]').waitFor(WAIT)
  for (const n of [1, 2, 3, 4, 5]) await tom.request('/chat/say', { text: `burst ${n}` })
  // the browser going offline and back online ends the wait too (the SDK hears 'online')
  const onlineBefore = await waitUntil(async () => {
    const at = Number(await page.getAttribute('#status', 'data-retry-at'))
    return at - Date.now() > 1500 ? at : 0
  }, 15_000, 'a wait of over 1.5 s')
  proxy.refuse(false)
  await page.context().setOffline(true)
  await page.context().setOffline(false)
  await line(/messages in lobby sent while you were away are no longer kept/).waitFor(WAIT)
  await line('burst 5').waitFor(WAIT)
  assert.ok(Date.now() < onlineBefore, 'reconnected on the online event, before the wait was over')
  assert.deepEqual(await page.$$eval('#log li.missed', (lis) => lis.map((li) => li.textContent).filter((x) => x?.includes('burst'))),
    [`tom(${tomUid}) says: burst 3`, `tom(${tomUid}) says: burst 4`, `tom(${tomUid}) says: burst 5`])
  await page.screenshot({ path: join(tmpdir(), 'sd-chat-page-missed.png') })
  assert.deepEqual(errors, [], 'no script errors on the page')
})

test('with Redis the page survives a server restart without a reload and shows, in order, what was sent before and after the restart while it was away', { skip, timeout: 60_000 }, async (t) => {
  const port = await freePort()
  const keyPrefix = testKeyPrefix('chat-page-restart')
  const config = { server: { http: { port } }, redis: { url: redisUrl, keyPrefix }, chat: { tokenSecret: 'page-restart' }, recovery: { store: 'redis' as const } }
  let app = await startApp(config)
  t.after(async () => { await app.stop(); await deleteRedisKeys(keyPrefix) })
  const proxy = await startProxy(port)
  t.after(() => proxy.close())
  const { page, errors } = await openPage(t, 'sd-chat-restart-')
  const line = (text: string | RegExp): ReturnType<Page['locator']> => page.locator('#log li', { hasText: text })
  await page.goto(`http://127.0.0.1:${proxy.port}/`)
  await page.fill('#name', 'pat')
  await page.click('#login button')
  await page.locator('#status', { hasText: /^connected as pat/ }).waitFor(WAIT)
  const patUid = /uid (\d+)/.exec(await page.textContent('#status') ?? '')?.[1]
  let tom = await TcpClient.connect(portOf(app, 'tcp'))
  const tomUid = ((await tom.request('/chat/login', { name: 'tom' })).data as { uid: string }).uid
  await tom.request('/chat/say', { text: 'live before' })
  await line(`tom(${tomUid}) says: live before`).waitFor(WAIT)

  // the page is cut off; one message before the restart, the server restarts, two after it
  proxy.refuse(true)
  proxy.drop()
  await page.locator('#status[data-state="reconnecting"]').waitFor(WAIT)
  await tom.request('/chat/say', { text: 'away before the restart' })
  tom.close()
  await app.stop()
  app = await startApp(config)
  tom = await TcpClient.connect(portOf(app, 'tcp'))
  t.after(() => tom.close())
  const tom2Uid = ((await tom.request('/chat/login', { name: 'tom' })).data as { uid: string }).uid
  await tom.request('/chat/say', { text: 'away after the restart' })
  await tom.request('/chat/say', { to: patUid, text: 'away private after the restart' })
  // a wait is scheduled (the button shows only then): let the link through and skip the wait
  await waitUntil(async () => Number(await page.getAttribute('#status', 'data-retry-at')) - Date.now() > 1000, 15_000, 'a scheduled wait')
  proxy.refuse(false)
  await page.click('#retry')
  await line(`reconnected as pat, uid ${patUid} in lobby`).waitFor(WAIT)
  await line('away private after the restart').waitFor(WAIT)
  await line('away after the restart').waitFor(WAIT)
  const texts = await page.$$eval('#log li', (lis) => lis.map((li) => [li.textContent, li.className]))
  const away = texts.findIndex(([text]) => text === 'while you were away:')
  assert.ok(away > 0, 'a "while you were away:" line')
  const missed = texts.slice(away + 1).filter(([, cls]) => cls?.includes('missed')).map(([text]) => text)
  assert.deepEqual(missed.filter((m) => m?.includes('says:')), [`tom(${tomUid}) says: away before the restart`, `tom(${tom2Uid}) says: away after the restart`])
  assert.ok(missed.includes(`tom(${tom2Uid}) says to you: away private after the restart`))
  assert.equal(await line(/no longer kept/).count(), 0, 'Redis kept the history: no gap')
  assert.equal(await line('live before').count(), 1, 'nothing shown twice')
  await page.screenshot({ path: join(tmpdir(), 'sd-chat-page-restart.png') })
  assert.deepEqual(errors, [], 'no script errors on the page')
})
