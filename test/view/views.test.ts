/** Views: eta templates with layouts and partials, escaping, render errors, dev re-read vs cache. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Controller, type Html } from '../../framework/index.js'
import { startApp, portOf, http, TcpClient } from '../helpers.js'

class PageController extends Controller {
  show (): Html {
    return this.view('page', { title: 'Hi <there>', items: ['a&b', '<i>c</i>'], raw: '<em>ok</em>' })
  }

  broken (): Html { return this.view('broken', {}) }
  missing (): Html { return this.view('nope/never', {}) }
  escape (): Html { return this.view('../outside', {}) }
}

async function viewsDir (t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sd-views-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  await mkdir(join(dir, 'partials'))
  await writeFile(join(dir, 'layout.eta'), '<html><title><%= it.title %></title><%~ include("/partials/nav", it) %><main><%~ it.body %></main></html>')
  await writeFile(join(dir, 'partials/nav.eta'), '<nav><%= it.title %></nav>')
  await writeFile(join(dir, 'page.eta'), '<% layout("/layout") %><ul><% for (const i of it.items) { %><li><%= i %></li><% } %></ul><%~ it.raw %>')
  await writeFile(join(dir, 'broken.eta'), '<%= it.missing.deep %>')
  return dir
}

test('a view renders inside its layout with partials; values are HTML-escaped unless written raw', async (t) => {
  const dir = await viewsDir(t)
  const app = await startApp({ views: { dir } }, { controllers: [PageController] })
  t.after(() => app.stop())
  const res = await http(portOf(app, 'http'), '/page/show')
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /^text\/html; charset=utf-8/)
  assert.equal(res.text, '<html><title>Hi &lt;there&gt;</title><nav>Hi &lt;there&gt;</nav><main><ul><li>a&amp;b</li><li>&lt;i&gt;c&lt;/i&gt;</li></ul><em>ok</em></main></html>')

  const tcp = await TcpClient.connect(portOf(app, 'tcp'))
  t.after(() => tcp.close())
  const reply = await tcp.request('/page/show')
  assert.equal(typeof reply.data, 'string', 'other transports get the HTML as a string')
  assert.equal(reply.data, res.text)
})

test('a template that throws, a missing one, or one outside the views folder → 500 SD_ERR_VIEW_RENDER naming only the view', async (t) => {
  const dir = await viewsDir(t)
  const app = await startApp({ views: { dir } }, { controllers: [PageController] })
  t.after(() => app.stop())
  const port = portOf(app, 'http')
  for (const [action, view] of [['broken', 'broken'], ['missing', 'nope/never'], ['escape', '../outside']]) {
    const res = await http(port, `/page/${action}`)
    assert.equal(res.status, 500, action)
    assert.deepEqual(res.body, { error: { code: 'SD_ERR_VIEW_RENDER', message: `view could not be rendered: ${view}` } })
    assert.doesNotMatch(res.text, /at |\.eta|deep|TypeError/, 'no stack or template detail reaches the client')
  }
  assert.equal((await http(port, '/page/show')).status, 200, 'the server keeps serving')
})

test('templates are re-read on every render when views.cache is off, and kept when it is on', async (t) => {
  for (const cache of [false, true]) {
    const dir = await viewsDir(t)
    const app = await startApp({ views: { dir, cache } }, { controllers: [PageController] })
    t.after(() => app.stop())
    const port = portOf(app, 'http')
    assert.match((await http(port, '/page/show')).text, /<ul>/)
    await writeFile(join(dir, 'page.eta'), '<% layout("/layout") %>edited')
    const after = (await http(port, '/page/show')).text
    if (cache) assert.match(after, /<ul>/, 'cache on: the compiled template is kept')
    else assert.match(after, /<main>edited<\/main>/, 'cache off: the edit shows at once')
  }
})
