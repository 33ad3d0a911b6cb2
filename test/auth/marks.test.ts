/** The `static public` / `static admin` marks as routes carry them, and the auth guard's paths from `auth.public`. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Controller } from '../../framework/index.js'
import { Router } from '../../framework/core/router.js'
import { portOf, startApp, TcpClient } from '../helpers.js'
import { secret } from './tokens.js'

class MarkedController extends Controller {
  static public = ['open']
  static admin = ['status']
  open (): string { return 'o' }
  status (): string { return 's' }
  closed (): string { return 'c' }
}

class AllPublicController extends Controller {
  static public = true
  a (): string { return 'a' }
}

test('routes carry isPublic / isAdmin from the marks (a list or true), custom rules too; a mark naming no action is refused', () => {
  const router = new Router()
  router.addController(MarkedController)
  router.addController(AllPublicController)
  router.addRules({ 'GET /o': 'Marked.open', '/c': 'Marked.closed' })
  const flags = (path: string, verb?: string): [boolean, boolean] => {
    const r = router.match(path, verb)?.route
    assert.ok(r, path)
    return [r.isPublic, r.isAdmin]
  }
  assert.deepEqual(flags('/marked/open'), [true, false])
  assert.deepEqual(flags('/marked/status'), [false, true])
  assert.deepEqual(flags('/marked/closed'), [false, false])
  assert.deepEqual(flags('/allPublic/a'), [true, false])
  assert.deepEqual(flags('/o', 'GET'), [true, false])
  assert.deepEqual(flags('/c'), [false, false])
  class Typo extends Controller {
    static public = ['lgoin']
    login (): void {}
  }
  assert.throws(() => new Router().addController(Typo), /Typo\.public names lgoin/)
})

test('auth.public paths (exact and prefix*) are public; other routes private', async (t) => {
  const app = await startApp({ auth: { jwt: { secret }, public: ['/marked/closed', '/allPublic/*'] } }, { controllers: [MarkedController] })
  t.after(() => app.stop())
  const c = await TcpClient.connect(portOf(app, 'tcp'))
  t.after(() => c.close())
  assert.equal((await c.request('/marked/closed')).data, 'c')
  assert.equal((await c.request('/marked/open')).data, 'o')
  const app2 = await startApp({ auth: { jwt: { secret }, public: ['/marked/*'] } }, { controllers: [AllPublicController, MarkedController] })
  t.after(() => app2.stop())
  const c2 = await TcpClient.connect(portOf(app2, 'tcp'))
  t.after(() => c2.close())
  assert.equal((await c2.request('/marked/closed')).data, 'c')
  const app3 = await startApp({ auth: { jwt: { secret } } }, { controllers: [MarkedController] })
  t.after(() => app3.stop())
  const c3 = await TcpClient.connect(portOf(app3, 'tcp'))
  t.after(() => c3.close())
  assert.equal((await c3.request('/marked/closed')).error?.code, 'SD_ERR_UNAUTHENTICATED')
  assert.equal((await c3.request('/sd/ping')).error, undefined)
})
