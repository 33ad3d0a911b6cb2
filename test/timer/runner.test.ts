/**
 * One timer's loop in one process (standalone claims), on the real clock with short intervals:
 * a throwing run keeps its schedule, a slow run never overlaps itself, maxRuns and endAt end
 * the timer, missed ticks are skipped after a clock jump, and stop waits for the running tick.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { LocalClaims } from '../../framework/timer/claims.js'
import { TimerRunner } from '../../framework/timer/runner.js'
import { compileTimer, type TimerSpec } from '../../framework/timer/spec.js'
import { waitUntil } from '../helpers.js'
import { captureLog } from './capture-log.js'

function runner (spec: Omit<TimerSpec, 'handler'>, run: (tick: number, fence: number) => unknown, now?: () => number): { runner: TimerRunner, log: ReturnType<typeof captureLog> } {
  const log = captureLog()
  const r = new TimerRunner({ plan: compileTimer('t', { handler: 'T', ...spec }), claims: new LocalClaims(), run, log: log.logger, now })
  return { runner: r, log }
}

describe('TimerRunner', () => {
  test('ticks are aligned to the interval and carry growing fences', async (t) => {
    const seen: Array<[number, number]> = []
    const { runner: r } = runner({ every: 40 }, (tick, fence) => { seen.push([tick, fence]) })
    t.after(() => r.stop())
    r.start(Date.now())
    await waitUntil(() => seen.length >= 3, 3000, '3 ticks')
    for (const [tick] of seen) assert.equal(tick % 40, 0, `tick ${tick} is aligned`)
    assert.deepEqual(seen.map(([, f]) => f).slice(0, 3), [1, 2, 3])
    assert.ok(seen[1][0] > seen[0][0])
  })

  test('a throwing run is logged and the timer keeps firing', async (t) => {
    let calls = 0
    const { runner: r, log } = runner({ every: 30 }, () => { calls++; throw new Error('boom') })
    t.after(() => r.stop())
    r.start(Date.now())
    await waitUntil(() => calls >= 4, 3000, '4 runs')
    assert.equal(r.status, 'waiting')
    const errors = log.with('timer threw')
    assert.ok(errors.length >= 3, `logged ${errors.length} errors`)
    assert.equal((errors[0].err as { message: string }).message, 'boom')
    assert.equal(errors[0].level, 50)
  })

  test('an async run longer than the interval never overlaps itself: ticks are skipped and logged', async (t) => {
    let active = 0
    let maxActive = 0
    let runs = 0
    const { runner: r, log } = runner({ every: 30 }, async () => {
      active++
      maxActive = Math.max(maxActive, active)
      await new Promise((resolve) => setTimeout(resolve, 100))
      active--
      runs++
    })
    t.after(() => r.stop())
    r.start(Date.now())
    await waitUntil(() => runs >= 3, 3000, '3 slow runs')
    assert.equal(maxActive, 1)
    assert.ok(log.with('timer still running its previous tick: tick skipped').length >= 2)
  })

  test('maxRuns: the timer ends after that many runs', async (t) => {
    let runs = 0
    const { runner: r, log } = runner({ every: 20, maxRuns: 3 }, () => { runs++ })
    t.after(() => r.stop())
    r.start(Date.now())
    await waitUntil(() => r.status === 'ended', 3000, 'the timer to end')
    assert.equal(runs, 3)
    assert.equal(r.nextTick, null)
    assert.equal(log.with('timer ended')[0].why, 'maxRuns (3) reached')
  })

  test('each status change is emitted once and logged (waiting, then ended or stopped)', async () => {
    const { runner: ends, log } = runner({ every: 20, maxRuns: 2 }, () => {})
    const seen: string[] = []
    ends.on('status', (status) => seen.push(status))
    ends.start(Date.now())
    await waitUntil(() => ends.status === 'ended', 3000, 'the timer to end')
    await ends.stop()
    assert.deepEqual(seen, ['waiting', 'ended'])
    assert.deepEqual(log.with('timer status').map((l) => l.status), ['waiting'])
    assert.equal(log.with('timer ended').length, 1)
    const { runner: stops } = runner({ every: 20 }, () => {})
    const stopped: string[] = []
    stops.on('status', (status) => stopped.push(status))
    stops.start(Date.now())
    await stops.stop()
    await stops.stop()
    assert.deepEqual(stopped, ['waiting', 'stopped'])
  })

  test('endAt: no tick at or after it, then the timer ends', async (t) => {
    const ticks: number[] = []
    const endAt = Date.now() + 300
    const { runner: r } = runner({ every: 20, endAt }, (tick) => { ticks.push(tick) })
    t.after(() => r.stop())
    r.start(Date.now())
    await waitUntil(() => r.status === 'ended', 3000, 'the timer to end')
    assert.ok(ticks.length >= 2, `ran ${ticks.length} ticks`)
    assert.ok(ticks.every((tick) => tick < endAt))
  })

  test('startAt in the future: nothing runs before it', async (t) => {
    const ticks: number[] = []
    const startAt = Date.now() + 120
    const { runner: r } = runner({ every: 25, startAt }, (tick) => { ticks.push(tick) })
    t.after(() => r.stop())
    r.start(Date.now())
    await waitUntil(() => ticks.length >= 2, 3000, '2 ticks')
    assert.ok(ticks[0] >= startAt, 'no tick before startAt')
    assert.equal((ticks[0] - startAt) % 25, 0, 'ticks are anchored at startAt')
    assert.equal((ticks[1] - startAt) % 25, 0)
  })

  test('after a wall-clock jump the missed ticks are skipped, not replayed', async (t) => {
    let offset = 0
    const ticks: number[] = []
    const { runner: r, log } = runner({ every: 30 }, (tick) => { ticks.push(tick) }, () => Date.now() + offset)
    t.after(() => r.stop())
    r.start(Date.now())
    await waitUntil(() => ticks.length >= 2, 3000, '2 ticks')
    offset = 3000
    const before = ticks.length
    await waitUntil(() => log.with('timer fell behind').length > 0, 3000, 'the skip warning')
    await waitUntil(() => ticks.length >= before + 2, 3000, '2 more ticks')
    assert.ok((log.with('timer fell behind')[0].skipped as number) >= 90)
    const jumped = ticks.slice(before)
    assert.ok(jumped[0] - ticks[before - 1] >= 2900, 'the next run is a tick after the jump')
    assert.equal((jumped[1] - jumped[0]) % 30, 0, 'and the schedule goes on from there')
  })

  test('stop resolves only after the running tick has finished, and nothing runs after it', async () => {
    let started = 0
    let finished = 0
    const { runner: r } = runner({ every: 20 }, async () => {
      started++
      await new Promise((resolve) => setTimeout(resolve, 80))
      finished++
    })
    r.start(Date.now())
    await waitUntil(() => started === 1, 3000, 'a run to start')
    await r.stop()
    assert.equal(finished, 1, 'the running tick finished before stop resolved')
    assert.equal(r.status, 'stopped')
    assert.equal(started, 1)
  })
})
