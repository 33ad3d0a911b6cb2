/**
 * The "done when": a browser user (the demo's chat page in Chromium) and a telnet user
 * (the text port, lines ending `\r\n`) stay connected and keep chatting through `sd reload` of
 * `sd start --split --workers 2` with a changed controller. The demo app is copied to a temp
 * folder (chat uids and names in the shared Redis under a key prefix of this test's own), its
 * ChatController edited before the reload: the telnet user sees the new code's answer.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { openPage, skipWithoutChromium } from '../browser.js'
import { LineClient, root } from '../helpers.js'
import { deleteRedisKeys, redisUrl, testKeyPrefix } from '../stores.js'
import { copyApp, reload, startGatewayRun } from './gateway-procs.js'

const skip = skipWithoutChromium
const WAIT = { timeout: 10_000 }

test('a browser user and a telnet user keep chatting through sd reload in split mode, and the new controller answers', { skip, timeout: 90_000 }, async (t) => {
  const keyPrefix = testKeyPrefix('gateway-chat')
  const app = await copyApp(root)
  t.after(async () => { await app.remove(); await deleteRedisKeys(keyPrefix) })
  const redisConfig = join(app.dir, 'config/redis.ts')
  await writeFile(redisConfig, (await readFile(redisConfig, 'utf8')).replace("keyPrefix: 'sd-chat:'", `keyPrefix: '${keyPrefix}'`))
  const server = await startGatewayRun(app.dir, ['--split', '--workers', '2'], { REDIS_URL: redisUrl })
  t.after(async () => { await server.stop() })

  const { page, errors } = await openPage(t, 'sd-gw-chat-')
  const line = (text: string | RegExp): ReturnType<Page['locator']> => page.locator('#log li', { hasText: text })

  // the browser user
  await page.goto(`http://127.0.0.1:${server.ports.http}/`)
  await page.locator('#status[data-state="open"]').waitFor(WAIT)
  await page.fill('#name', 'pat')
  await page.click('#login button')
  await page.locator('#status', { hasText: /^connected as pat \(uid \d+\) in lobby/ }).waitFor(WAIT)
  const patUid = /uid (\d+)/.exec(await page.textContent('#status') ?? '')?.[1]

  // the telnet user
  const tel = await LineClient.connect(server.ports.text)
  t.after(() => tel.close())
  await tel.next((l) => l.startsWith('SD chat. Your nickname?'), 10_000)
  tel.socket.write('tel\r\n')
  const telUid = /^welcome tel, your uid is (\d+)$/.exec(await tel.next((l) => l.startsWith('welcome '), 10_000))?.[1]
  assert.ok(telUid !== undefined && patUid !== undefined)
  await line(`tel(${telUid}) joined lobby`).waitFor(WAIT)

  /** One message each way: telnet → page and page → telnet. */
  const chat = async (tag: string): Promise<void> => {
    tel.socket.write(`hello from telnet ${tag}\r\n`)
    await line(`tel(${telUid}) says: hello from telnet ${tag}`).waitFor(WAIT)
    await page.fill('#text', `hello from the page ${tag}`)
    await page.press('#text', 'Enter')
    await tel.next((l) => l === `pat(${patUid}) says: hello from the page ${tag}`, 10_000)
  }
  await chat('before')
  tel.socket.write('999999999:anyone\r\n')
  assert.equal(await tel.next((l) => l.startsWith('uid 999999999 '), 10_000), 'uid 999999999 is not online')

  // a changed controller, then the reload
  const controller = join(app.dir, 'app/controllers/ChatController.ts')
  const source = await readFile(controller, 'utf8')
  assert.ok(source.includes('is not online`'), 'the controller has the answer this test changes')
  await writeFile(controller, source.replace('is not online`', 'is not online (new code)`'))
  await reload(server)
  assert.equal(tel.closed, false, 'the telnet user is still connected after the reload')

  await chat('after')
  tel.socket.write('999999999:anyone\r\n')
  assert.equal(await tel.next((l) => l.startsWith('uid 999999999 '), 10_000), 'uid 999999999 is not online (new code)')
  assert.equal(tel.closed, false, 'the telnet user is still connected')
  assert.equal(await line(/connection lost|reconnect/).count(), 0, 'the page never lost its connection')
  assert.match(await page.textContent('#status') ?? '', new RegExp(`^connected as pat \\(uid ${patUid}\\) in lobby`), 'the page keeps its uid')
  assert.deepEqual(errors, [], 'no script errors on the page')
})
