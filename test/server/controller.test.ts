import { test } from 'node:test'
import assert from 'node:assert/strict'
import { BaseController, Controller, Model, Timer, type Application, type Hooks, type Middleware } from '../../framework/index.js'
import { startApp, portOf, TcpClient, waitUntil } from '../helpers.js'

/** A controller on core's base only: routed, answered, pushes through the bus like any other. */
class BareController extends BaseController {
  where (): unknown { return { transport: this.transport, path: this.path, hasModel: 'model' in this } }
  async online (): Promise<number> { return this.onlineCount() }
}

class NoteModel extends Model {}

// compile-time checks: hooks and middleware that apps add get the full Controller (models,
// tasks, views, db) and the full Application; tsc fails on this file if they do not
// (the public Hooks and Middleware types default to them)
const onConnect: Hooks['onConnect'] = (ctx) => { void ctx.model(NoteModel); void ctx.view }
const onStart: Hooks['onStart'] = (app) => { void app.tasks; void app.address('tcp') }
const onStop: Hooks<Controller, Application>['onStop'] = (app) => { void app.timers }
const timing: Middleware = async (ctx, next) => { void ctx.task; void ctx.db; return next() }

test('a controller extending core\'s BaseController is accepted and routed; hooks and middleware get the full Controller', async (t) => {
  const seen: string[] = []
  const app = await startApp({}, {
    controllers: [BareController],
    boot: (a) => {
      a.addHook('onConnect', (ctx) => { seen.push(`connect:${typeof ctx.model}:${typeof ctx.task}:${typeof ctx.view}`) })
      a.addHook('onConnect', onConnect)
      a.addHook('onStart', onStart)
      a.addHook('onStop', onStop)
      a.use(timing)
      a.use(async (ctx, next) => { seen.push(`mw:${ctx.path}`); return next() })
    },
  })
  t.after(() => app.stop())
  const c = await TcpClient.connect(portOf(app, 'tcp'))
  t.after(() => c.close())
  await waitUntil(() => seen.length > 0, 3000, 'onConnect')
  assert.deepEqual(seen, ['connect:function:function:function'])
  assert.deepEqual((await c.request('/bare/where')).data, { transport: 'tcp', path: '/bare/where', hasModel: false })
  assert.equal((await c.request('/bare/online')).data, 0)
  assert.ok(seen.includes('mw:/bare/where'))
})

test('Timer and BaseController share one declaration of the bus calls (sendToConnection, closeConnection on timers too)', () => {
  for (const name of ['sendToConnection', 'sendToUid', 'sendToUids', 'sendToAll', 'sendToGroup', 'closeConnection', 'kickUid', 'isUidOnline', 'onlineCount', 'groupMembers', 'groupCount', 'groups']) {
    assert.equal(typeof (Timer.prototype as unknown as Record<string, unknown>)[name], 'function', `Timer.${name}`)
    assert.equal(typeof (BaseController.prototype as unknown as Record<string, unknown>)[name], 'function', `BaseController.${name}`)
  }
  assert.ok(Controller.prototype instanceof BaseController)
  assert.equal('model' in BaseController.prototype, false, 'models live on the server Controller, not in core')
})
