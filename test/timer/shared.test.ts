/**
 * Timers with Redis: two applications sharing one Redis and key prefix run each tick once
 * between them (fences grow, maxRuns is counted across both, `task` timers run on the task
 * pool); with Redis configured but down, ticks are skipped with one warning, never run.
 */
import { after, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createApp, Timer, type Application, type ConfigInput, type TimerClass } from '../../framework/index.js'
import { root, testOverrides, waitUntil } from '../helpers.js'
import { deleteRedisKeys, rawRedis, redisUrl, testKeyPrefix } from '../stores.js'
import { captureLog } from './capture-log.js'

/** Does nothing (the `task` test needs a class to register). */
class IdleTimer extends Timer {
  run (): void {}
}

describe('timers with Redis (two apps sharing it)', () => {
  const base = testKeyPrefix('timers')
  after(() => deleteRedisKeys(base))

  async function twoApps (prefix: string, timers: ConfigInput['timers'], cls: TimerClass, logger = captureLog().logger, tasks: ConfigInput['tasks'] = {}): Promise<Application[]> {
    const apps: Application[] = []
    for (const node of ['node-a', 'node-b']) {
      const app = await createApp({
        root,
        configDir: false,
        controllers: [],
        timers: [cls],
        logger,
        overrides: testOverrides({ app: { nodeName: node }, redis: { url: redisUrl, keyPrefix: prefix }, server: { tcp: { enabled: false }, text: { enabled: false }, http: { enabled: false } }, timers, tasks }),
      })
      apps.push(app)
    }
    await Promise.all(apps.map((a) => a.start()))
    return apps
  }

  test('each tick runs once across both apps, with growing fences', async (t) => {
    const runs: Array<{ tick: number, fence: number, node: string }> = []
    class CountTimer extends Timer {
      run (): void { runs.push({ tick: this.tick, fence: this.fence, node: this.node }) }
    }
    const apps = await twoApps(`${base}once:`, { count: { handler: 'CountTimer', every: 30 } }, CountTimer)
    t.after(() => Promise.all(apps.map((a) => a.stop())))
    await waitUntil(() => runs.length >= 10, 5000, '10 runs')
    await Promise.all(apps.map((a) => a.stop()))
    const ticks = runs.map((r) => r.tick)
    assert.equal(new Set(ticks).size, ticks.length, `a tick ran twice: ${JSON.stringify(runs)}`)
    const byTick = [...runs].sort((x, y) => x.tick - y.tick)
    for (let i = 1; i < byTick.length; i++) assert.ok(byTick[i].fence > byTick[i - 1].fence, 'fences grow with ticks')
    const r = rawRedis()
    t.after(() => r.quit())
    assert.equal(Number(await r.get(`${base}once:timer:{count}:fence`)), Math.max(...runs.map((x) => x.fence)))
    assert.equal(await r.get(`${base}once:timer:{count}:tick:${ticks[0]}`) !== null, true, 'the claim key holds the tick')
  })

  test('maxRuns is counted across both apps; both end', async (t) => {
    const runs: string[] = []
    class CappedTimer extends Timer {
      run (): void { runs.push(this.node) }
    }
    const apps = await twoApps(`${base}capped:`, { capped: { handler: 'CappedTimer', every: 25, maxRuns: 4 } }, CappedTimer)
    t.after(() => Promise.all(apps.map((a) => a.stop())))
    await waitUntil(() => apps.every((a) => a.timers.runners.get('capped')?.status === 'ended'), 5000, 'both runners to end')
    assert.equal(runs.length, 4)
    const r = rawRedis()
    t.after(() => r.quit())
    assert.equal(await r.get(`${base}capped:timer:{capped}:runs`), '4')
  })

  test('a `task` timer runs the Task method in a worker thread, once per tick, with the tick', async (t) => {
    const prefix = `${base}task:`
    const apps = await twoApps(prefix, { report: { task: 'TickTask', method: 'record', every: 50 } }, IdleTimer, undefined, { dir: 'test/timer/fixtures' })
    t.after(() => Promise.all(apps.map((a) => a.stop())))
    const r = rawRedis()
    t.after(() => r.quit())
    const read = async (): Promise<Array<{ timer: string, tick: number, fence: number, node: string, thread: number }>> =>
      (await r.lrange(`${prefix}task-runs`, 0, -1)).map((s) => JSON.parse(s) as { timer: string, tick: number, fence: number, node: string, thread: number })
    await waitUntil(async () => (await read()).length >= 4, 8000, '4 task runs')
    await Promise.all(apps.map((a) => a.stop()))
    const runs = await read()
    assert.equal(new Set(runs.map((x) => x.tick)).size, runs.length, 'each tick ran once')
    for (const run of runs) {
      assert.equal(run.timer, 'report')
      assert.equal(run.tick % 50, 0)
      assert.ok(run.thread > 0, 'ran in a worker thread')
      assert.ok(['node-a', 'node-b'].includes(run.node))
    }
  })

  test('start fails when a `task` timer names a method the task does not have', async () => {
    const app = await createApp({ root, configDir: false, controllers: [], overrides: testOverrides({ tasks: { dir: 'test/timer/fixtures' }, timers: { x: { task: 'TickTask', method: 'nope', every: '1s' } } }) })
    await assert.rejects(app.start(), /timers\.x\.method is not a method of TickTask/)
    await app.stop()
  })

  test('Redis configured but down: ticks are skipped with one warning, never run', async (t) => {
    let runs = 0
    class DownTimer extends Timer {
      run (): void { runs++ }
    }
    const log = captureLog()
    const app = await createApp({
      root,
      configDir: false,
      controllers: [],
      timers: [DownTimer],
      logger: log.logger,
      overrides: testOverrides({ redis: { url: 'redis://127.0.0.1:1', connectTimeoutMs: 200 }, timers: { down: { handler: 'DownTimer', every: 20 } } }),
    })
    t.after(() => app.stop())
    await app.start()
    await waitUntil(() => log.with('timer ticks are skipped').length > 0, 5000, 'the warning')
    await waitUntil(() => log.with('timer ticks are skipped').length > 0 && log.lines.filter((l) => l.msg === 'redis error').length >= 2, 5000, 'more failed claims')
    assert.equal(runs, 0)
    assert.equal(log.with('timer ticks are skipped').length, 1, 'warned once, not on every tick')
    assert.equal(log.with('timer ticks are skipped')[0].level, 40)
    assert.equal(app.timers.runners.get('down')?.status, 'waiting', 'the timer keeps its schedule')
  })
})
