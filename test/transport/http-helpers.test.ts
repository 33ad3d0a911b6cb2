/** HTTP input and output helpers, static files, and notFound on every transport. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Controller } from '../../framework/index.js'
import { startApp, portOf, http, TcpClient } from '../helpers.js'

class WebController extends Controller {
  input (): unknown {
    const r = this.request
    return { query: r.query, body: r.body, agent: r.headers['x-agent'], cookies: r.cookies, data: this.data }
  }

  login (): { ok: boolean } {
    this.reply.code(201).header('x-app', 'sd').setCookie('session', 'abc 123', { httpOnly: true, path: '/' }).setCookie('theme', 'dark')
    return { ok: true }
  }

  logout (): void {
    this.reply.clearCookie('session', { path: '/' })
    this.reply.redirect('/web/bye')
  }

  item (data: { id?: string }): unknown {
    if (data?.id !== '1') this.notFound(`item ${String(data?.id)}`)
    return { id: 1 }
  }
}

test('request input: query, JSON body, form body, headers, cookies', async (t) => {
  const app = await startApp({}, { controllers: [WebController] })
  t.after(() => app.stop())
  const port = portOf(app, 'http')
  const json = await http(port, '/web/input?a=1', { method: 'POST', headers: { 'content-type': 'application/json', 'x-agent': 'test', cookie: 'session=s%201; theme=dark' }, body: '{"b":2}' })
  assert.deepEqual(json.body, { query: { a: '1' }, body: { b: 2 }, agent: 'test', cookies: { session: 's 1', theme: 'dark' }, data: { a: '1', b: 2 } })
  const form = await http(port, '/web/input', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'name=J%C3%BCrgen&tags=a&tags=b' })
  assert.deepEqual((form.body as { body: unknown }).body, { name: 'Jürgen', tags: ['a', 'b'] })
  assert.deepEqual((form.body as { data: unknown }).data, { name: 'Jürgen', tags: ['a', 'b'] })
})

test('response helpers: status, headers, several cookies, clearCookie and redirect', async (t) => {
  const app = await startApp({}, { controllers: [WebController] })
  t.after(() => app.stop())
  const port = portOf(app, 'http')
  const res = await http(port, '/web/login', { method: 'POST' })
  assert.equal(res.status, 201)
  assert.equal(res.headers.get('x-app'), 'sd')
  const cookies = res.headers.getSetCookie()
  assert.equal(cookies.length, 2)
  assert.match(cookies[0], /^session=abc%20123; Path=\/; HttpOnly/)
  assert.match(cookies[1], /^theme=dark/)
  assert.deepEqual(res.body, { ok: true })

  const out = await http(port, '/web/logout', { redirect: 'manual' })
  assert.equal(out.status, 302)
  assert.equal(out.headers.get('location'), '/web/bye')
  assert.match(out.headers.getSetCookie()[0], /^session=; .*Expires=Thu, 01 Jan 1970/)

  const tcp = await TcpClient.connect(portOf(app, 'tcp'))
  t.after(() => tcp.close())
  assert.equal((await tcp.request('/web/login')).error?.code, 'SD_ERR_NOT_SUPPORTED', 'HTTP-only helpers say so on other transports')
})

test('notFound answers 404 SD_ERR_NOT_FOUND on HTTP and an error reply on TCP', async (t) => {
  const app = await startApp({}, { controllers: [WebController] })
  t.after(() => app.stop())
  const res = await http(portOf(app, 'http'), '/web/item?id=7')
  assert.equal(res.status, 404)
  assert.deepEqual(res.body, { error: { code: 'SD_ERR_NOT_FOUND', message: 'not found: item 7' } })
  assert.deepEqual((await http(portOf(app, 'http'), '/web/item?id=1')).body, { id: 1 })
  const tcp = await TcpClient.connect(portOf(app, 'tcp'))
  t.after(() => tcp.close())
  assert.deepEqual((await tcp.request('/web/item', { id: '2' })).error, { code: 'SD_ERR_NOT_FOUND', message: 'not found: item 2' })
})

test('static files are served from server.http.staticDir; other paths still reach the router; nothing outside it is served', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sd-static-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  await mkdir(join(dir, 'css'))
  await writeFile(join(dir, 'css/site.css'), 'body { color: red }')
  await writeFile(join(dir, 'robots.txt'), 'User-agent: *')
  const app = await startApp({ server: { http: { staticDir: dir } } }, { controllers: [WebController] })
  t.after(() => app.stop())
  const port = portOf(app, 'http')
  const css = await http(port, '/css/site.css')
  assert.equal(css.status, 200)
  assert.match(css.headers.get('content-type') ?? '', /^text\/css/)
  assert.equal(css.text, 'body { color: red }')
  assert.equal((await http(port, '/robots.txt')).text, 'User-agent: *')
  assert.deepEqual((await http(port, '/web/item?id=1')).body, { id: 1 })
  for (const path of ['/css/missing.css', '/../package.json', '/css/..%2f..%2fpackage.json', '/%2e%2e/package.json']) {
    const res = await http(port, path)
    assert.equal(res.status, 404, path)
    assert.equal((res.body as { error: { code: string } }).error.code, 'SD_ERR_ROUTE_NOT_FOUND', path)
  }
})
