/**
 * `config/timers.ts` is checked while the config loads: every mistake is SD_ERR_CONFIG_INVALID
 * naming `timers.<name>.<key>`; good specs compile into plans with the right schedule and limits.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { loadConfig, SdError } from '../../framework/index.js'
import { compileTimer, parseDuration, parseTime } from '../../framework/timer/spec.js'

async function configError (timers: unknown): Promise<string> {
  try {
    await loadConfig({ configDir: false, env: {}, overrides: { timers } as never })
  } catch (err) {
    assert.ok(err instanceof SdError, `not an SdError: ${String(err)}`)
    assert.equal(err.code, 'SD_ERR_CONFIG_INVALID')
    return err.message
  }
  assert.fail('config was accepted')
}

describe('durations and times', () => {
  test('every accepts ms, s, m, h and numbers', () => {
    assert.equal(parseDuration('500ms'), 500)
    assert.equal(parseDuration('30s'), 30_000)
    assert.equal(parseDuration('1.5s'), 1500)
    assert.equal(parseDuration('5m'), 300_000)
    assert.equal(parseDuration('1h'), 3_600_000)
    assert.equal(parseDuration(250), 250)
    assert.equal(parseDuration('5 days'), undefined)
    assert.equal(parseDuration('s'), undefined)
  })

  test('times: ISO strings, epoch ms, Dates', () => {
    assert.equal(parseTime('2026-01-01T00:00:00Z'), 1_767_225_600_000)
    assert.equal(parseTime(1_767_225_600_000), 1_767_225_600_000)
    assert.equal(parseTime(new Date(5)), 5)
    assert.equal(parseTime('tomorrow'), undefined)
  })
})

describe('validation at config load', () => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['no schedule', { t: { handler: 'T' } }, /timers\.t must have exactly one of `every` and `cron`/],
    ['both schedules', { t: { handler: 'T', every: '1s', cron: '* * * * *' } }, /timers\.t must have exactly one of `every` and `cron`/],
    ['no target', { t: { every: '1s' } }, /timers\.t must have exactly one of `handler`/],
    ['both targets', { t: { handler: 'T', task: 'R', every: '1s' } }, /timers\.t must have exactly one of `handler`/],
    ['bad every', { t: { handler: 'T', every: '5 days' } }, /timers\.t\.every must be/],
    ['too short every', { t: { handler: 'T', every: 1 } }, /timers\.t\.every must be/],
    ['fractional ms', { t: { handler: 'T', every: 10.5 } }, /timers\.t\.every must be/],
    ['bad cron', { t: { handler: 'T', cron: '61 * * * *' } }, /timers\.t\.cron is not valid/],
    ['cron with too few fields', { t: { handler: 'T', cron: '* *' } }, /timers\.t\.cron is not valid/],
    ['bad time zone', { t: { handler: 'T', cron: '* * * * *', timezone: 'Mars/Olympus' } }, /timers\.t\.timezone is not valid/],
    ['time zone on every', { t: { handler: 'T', every: '1s', timezone: 'UTC' } }, /timers\.t\.timezone applies to `cron` only/],
    ['delayMs on cron', { t: { handler: 'T', cron: '* * * * *', delayMs: 5 } }, /timers\.t\.delayMs applies to `every` only/],
    ['bad startAt', { t: { handler: 'T', every: '1s', startAt: 'soon' } }, /timers\.t\.startAt must be an ISO 8601 time/],
    ['endAt before startAt', { t: { handler: 'T', every: '1s', startAt: '2026-01-02T00:00:00Z', endAt: '2026-01-01T00:00:00Z' } }, /timers\.t\.endAt must be after startAt/],
    ['maxRuns 0', { t: { handler: 'T', every: '1s', maxRuns: 0 } }, /timers\.t\.maxRuns must be an integer >= 1/],
    ['negative delayMs', { t: { handler: 'T', every: '1s', delayMs: -1 } }, /timers\.t\.delayMs must be an integer >= 0/],
    ['unknown key', { t: { handler: 'T', every: '1s', evry: '1s' } }, /timers\.t\.evry is not a known option/],
    ['bad handler name', { t: { handler: 'app/timers/T', every: '1s' } }, /timers\.t\.handler must be a class name/],
    ['bad method', { t: { handler: 'T', method: 'a-b', every: '1s' } }, /timers\.t\.method must be a method name/],
    ['bad timer name', { 'a{b}': { handler: 'T', every: '1s' } }, /timers\.a\{b\} has a bad name/],
    ['not an object', { t: 'every 5s' }, /timers\.t must be an object/],
    ['section not an object', ['x'], /timers must be an object/],
  ]
  for (const [what, timers, expected] of cases) {
    test(what, async () => {
      assert.match(await configError(timers), expected)
    })
  }

  test('good specs load, later layers replace a timer by name', async () => {
    const config = await loadConfig({
      configDir: false,
      env: {},
      overrides: { timers: { a: { handler: 'T', every: '30s' }, b: { task: 'ReportTask', method: 'daily', cron: '0 3 * * *', timezone: 'UTC', maxRuns: 2 } } },
    })
    assert.deepEqual(Object.keys(config.timers), ['a', 'b'])
    assert.equal(config.app.timersDir, 'app/timers')
  })
})

describe('compiled plans', () => {
  test('defaults: method run, unlimited runs, no delay', () => {
    const plan = compileTimer('t', { handler: 'T', every: '1s' })
    assert.deepEqual(plan.target, { kind: 'handler', name: 'T', method: 'run' })
    assert.equal(plan.maxRuns, 0)
    assert.equal(plan.delayMs, 0)
    assert.equal(plan.schedule.next(1500), 2000)
  })

  test('every with startAt, endAt, maxRuns, delayMs', () => {
    const plan = compileTimer('t', { handler: 'T', method: 'go', every: '1s', startAt: 10_500, endAt: '1970-01-01T00:00:13.000Z', maxRuns: 3, delayMs: 250 })
    assert.deepEqual(plan.target, { kind: 'handler', name: 'T', method: 'go' })
    assert.equal(plan.maxRuns, 3)
    assert.equal(plan.delayMs, 250)
    assert.equal(plan.schedule.next(0), 10_500)
    assert.equal(plan.schedule.next(11_500), 12_500)
    assert.equal(plan.schedule.next(12_500), null)
  })

  test('a task target', () => {
    assert.deepEqual(compileTimer('t', { task: 'ReportTask', method: 'daily', cron: '0 3 * * *' }).target, { kind: 'task', name: 'ReportTask', method: 'daily' })
  })
})
