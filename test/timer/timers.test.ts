/**
 * Timers inside an application (Redis off): they start after the app, get the controller's bus
 * API, fail the start when they name no class or method, and stop before connections close.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Controller, createApp, SdError, Timer, type Application, type ConfigInput } from '../../framework/index.js'
import { portOf, root, startApp, TcpClient, testOverrides, waitUntil } from '../helpers.js'
import { captureLog } from './capture-log.js'

class RoomController extends Controller {
  async join (): Promise<string> {
    await this.joinGroup('room')
    return 'joined'
  }
}

/** Pushes what a timer sees to the group `room`. */
class ReportTimer extends Timer {
  async report (): Promise<void> {
    await this.sendToGroup('room', {
      tick: this.tick,
      fence: this.fence,
      timer: this.timer,
      node: this.node,
      groups: await this.groups(),
      members: await this.groupCount('room'),
      online: await this.onlineCount(),
      app: this.config.app.name,
    })
  }
}

describe('timers in an application (standalone)', () => {
  test('a timer method gets the bus API and runs on its schedule after start', async (t) => {
    const app = await startApp({ app: { name: 'timer-app' }, timers: { report: { handler: 'ReportTimer', method: 'report', every: 40 } } }, { controllers: [RoomController], timers: [ReportTimer] })
    t.after(() => app.stop())
    const client = await TcpClient.connect(portOf(app, 'tcp'))
    t.after(() => client.close())
    assert.equal((await client.request('/room/join')).data, 'joined')
    const first = await client.next((m) => m.id === undefined)
    const second = await client.next((m) => m.id === undefined)
    const a = first.data as Record<string, unknown>
    const b = second.data as Record<string, unknown>
    assert.deepEqual({ ...a, tick: 0, fence: 0 }, { tick: 0, fence: 0, timer: 'report', node: app.config.app.nodeName, groups: ['room'], members: 1, online: 0, app: 'timer-app' })
    assert.equal((a.tick as number) % 40, 0)
    assert.ok((b.tick as number) > (a.tick as number))
    assert.ok((b.fence as number) > (a.fence as number))
  })

  test('timers start only once the app is running, and not before delayMs', async (t) => {
    const seen: Array<{ status: string, tick: number }> = []
    let app: Application | undefined
    class StatusTimer extends Timer {
      run (): void { seen.push({ status: app?.status ?? 'none', tick: this.tick }) }
    }
    app = await createApp({ root, configDir: false, controllers: [], timers: [StatusTimer], overrides: testOverrides({ timers: { s: { handler: 'StatusTimer', every: 20, delayMs: 200 } } }) })
    t.after(() => app?.stop())
    assert.equal(app.timers.status, 'idle')
    const startedAt = Date.now()
    await app.start()
    assert.equal(app.timers.status, 'running')
    await waitUntil(() => seen.length >= 2, 3000, '2 runs')
    assert.equal(seen[0].status, 'running')
    assert.ok(seen[0].tick >= startedAt + 200, `first tick ${seen[0].tick - startedAt} ms after start`)
  })

  test('stop waits for the running tick, stops every timer, and keeps connections open until then', async () => {
    let started = 0
    let finished = 0
    let connectedAtEnd = -1
    let app: Application | undefined
    class SlowTimer extends Timer {
      async run (): Promise<void> {
        started++
        await new Promise((resolve) => setTimeout(resolve, 100))
        connectedAtEnd = app?.connections.size ?? -1
        finished++
      }
    }
    app = await startApp({ timers: { slow: { handler: 'SlowTimer', every: 20 } } }, { controllers: [], timers: [SlowTimer] })
    const client = await TcpClient.connect(portOf(app, 'tcp'))
    await waitUntil(() => started === 1 && app?.connections.size === 1, 3000, 'a run to start')
    await app.stop()
    client.close()
    assert.equal(finished, 1)
    assert.equal(started, 1)
    assert.equal(connectedAtEnd, 1, 'the connection was still open when the tick finished')
    assert.equal(app.timers.status, 'stopped')
    assert.equal(app.timers.runners.get('slow')?.status, 'stopped')
  })

  test('sd start --workers N without Redis: only worker 1 runs the timers', async (t) => {
    let runs = 0
    class CountTimer extends Timer {
      run (): void { runs++ }
    }
    const log = captureLog()
    const start = async (slot: string): Promise<Application> => {
      process.env.SD_WORKER_SLOT = slot
      try {
        const app = await createApp({ root, configDir: false, controllers: [], timers: [CountTimer], logger: log.logger, overrides: testOverrides({ timers: { count: { handler: 'CountTimer', every: 20 } } }) })
        await app.start()
        return app
      } finally {
        delete process.env.SD_WORKER_SLOT
      }
    }
    const second = await start('2')
    t.after(() => second.stop())
    assert.equal(second.timers.runners.size, 0)
    assert.equal(log.with('timers run in worker 1 only')[0].worker, '2')
    const first = await start('1')
    t.after(() => first.stop())
    assert.deepEqual([...first.timers.runners.keys()], ['count'])
    await waitUntil(() => runs >= 2, 3000, 'worker 1 to run the timer')
  })

  const startErrors: Array<[string, ConfigInput['timers'], RegExp]> = [
    ['unknown handler', { x: { handler: 'Nope', every: '1s' } }, /timers\.x\.handler names no Timer class in app\/timers \(found: ReportTimer\)/],
    ['unknown method', { x: { handler: 'ReportTimer', method: 'nope', every: '1s' } }, /timers\.x\.method is not a method of ReportTimer/],
    ['method of the Timer API', { x: { handler: 'ReportTimer', method: 'sendToAll', every: '1s' } }, /timers\.x\.method is not a method of ReportTimer/],
    ['default method missing', { x: { handler: 'ReportTimer', every: '1s' } }, /timers\.x\.method is not a method of ReportTimer/],
    ['unknown task', { x: { task: 'ReportTask', every: '1s' } }, /timers\.x\.task names no Task class in app\/tasks/],
  ]
  for (const [what, timers, expected] of startErrors) {
    test(`start fails before any port opens: ${what}`, async () => {
      const app = await createApp({ root, configDir: false, controllers: [], timers: [ReportTimer], overrides: testOverrides({ timers }) })
      await assert.rejects(app.start(), (err: unknown) => err instanceof SdError && err.code === 'SD_ERR_CONFIG_INVALID' && expected.test(err.message))
      assert.equal(app.address('tcp'), undefined)
      await app.stop()
    })
  }

  test('the timers emit and log each change of their status: running at start, stopped at stop', async () => {
    const log = captureLog()
    const app = await createApp({ root, configDir: false, controllers: [], timers: [ReportTimer], logger: log.logger, overrides: testOverrides({ timers: { r: { handler: 'ReportTimer', method: 'report', every: '1h' } } }) })
    const seen: string[] = []
    app.timers.on('status', (status) => seen.push(status))
    await app.start()
    assert.deepEqual(seen, ['running'])
    await app.stop()
    assert.deepEqual(seen, ['running', 'stopped'])
    assert.deepEqual(log.with('timers status').map((l) => l.status), ['running', 'stopped'])
  })

  test('loads Timer classes from app.timersDir; a module without one is an error', async (t) => {
    const app = await createApp({ root, configDir: false, controllers: [] })
    assert.ok(app.timers.classes.has('OnlineTimer'), 'the demo timer is loaded from app/timers')
    await app.stop()
    const dir = await mkdtemp(join(tmpdir(), 'sd-timers-'))
    t.after(() => rm(dir, { recursive: true, force: true }))
    await writeFile(join(dir, 'NotATimer.ts'), 'export const answer = 42\n')
    await assert.rejects(app.timers.load(dir), /app\.timersDir: NotATimer\.ts exports no class extending Timer/)
  })
})
