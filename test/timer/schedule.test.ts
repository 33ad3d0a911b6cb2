/**
 * Schedule math, pure: every tick is computed from the spec and an explicit clock value, so
 * every node computes the same ticks.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { cronSchedule, dueTick, everySchedule, firstTick } from '../../framework/timer/schedule.js'

const at = (iso: string): number => Date.parse(iso)

describe('every', () => {
  test('ticks are aligned to the epoch, strictly after the given time', () => {
    const s = everySchedule(1000)
    assert.equal(s.next(0), 1000)
    assert.equal(s.next(1500), 2000)
    assert.equal(s.next(1999), 2000)
    assert.equal(s.next(2000), 3000)
    const fiveMin = everySchedule(5 * 60_000)
    assert.equal(fiveMin.next(at('2026-03-01T10:07:12.345Z')), at('2026-03-01T10:10:00.000Z'))
  })

  test('firstTick includes a tick exactly at the given time', () => {
    const s = everySchedule(1000)
    assert.equal(firstTick(s, 2000), 2000)
    assert.equal(firstTick(s, 2001), 3000)
  })

  test('startAt anchors the ticks and is the first one; endAt is exclusive', () => {
    const s = everySchedule(1000, { startAt: 10_250, endAt: 12_250 })
    assert.equal(s.next(0), 10_250)
    assert.equal(firstTick(s, 10_250), 10_250)
    assert.equal(s.next(10_250), 11_250)
    assert.equal(s.next(10_300), 11_250)
    assert.equal(s.next(11_250), null, 'a tick at endAt is not taken')
    assert.equal(everySchedule(1000, { endAt: 5000 }).next(4000), null)
    assert.equal(everySchedule(1000, { endAt: 5001 }).next(4000), 5000)
  })
})

describe('cron', () => {
  test('next run of a 5-field pattern, strictly after the given time', () => {
    const s = cronSchedule('*/5 * * * *', {}, 'UTC')
    assert.equal(s.next(at('2026-01-01T00:03:10Z')), at('2026-01-01T00:05:00Z'))
    assert.equal(s.next(at('2026-01-01T00:05:00Z')), at('2026-01-01T00:10:00Z'))
    assert.equal(firstTick(s, at('2026-01-01T00:05:00Z')), at('2026-01-01T00:05:00Z'))
  })

  test('6 fields: seconds first', () => {
    const s = cronSchedule('*/2 * * * * *', {}, 'UTC')
    assert.equal(s.next(at('2026-01-01T00:00:00.500Z')), at('2026-01-01T00:00:02Z'))
  })

  test('the time zone decides the instant', () => {
    const utc = cronSchedule('0 9 * * *', {}, 'UTC').next(at('2026-06-01T00:00:00Z'))
    const paris = cronSchedule('0 9 * * *', {}, 'Europe/Paris').next(at('2026-06-01T00:00:00Z'))
    assert.equal(utc, at('2026-06-01T09:00:00Z'))
    assert.equal(paris, at('2026-06-01T07:00:00Z'))
  })

  test('startAt and endAt bound the runs', () => {
    const s = cronSchedule('0 * * * *', { startAt: at('2026-01-01T05:00:00Z'), endAt: at('2026-01-01T07:00:00Z') }, 'UTC')
    assert.equal(s.next(at('2026-01-01T00:00:00Z')), at('2026-01-01T05:00:00Z'), 'startAt is inclusive')
    assert.equal(s.next(at('2026-01-01T05:00:00Z')), at('2026-01-01T06:00:00Z'))
    assert.equal(s.next(at('2026-01-01T06:00:00Z')), null, 'endAt is exclusive')
  })
})

describe('dueTick (what a wake-up runs)', () => {
  const s = everySchedule(100)

  test('woken before the tick: nothing to run yet', () => {
    assert.deepEqual(dueTick(s, 1000, 999), { run: null, skipped: 0, next: 1000 })
  })

  test('woken on time: runs the tick, next is one interval later', () => {
    assert.deepEqual(dueTick(s, 1000, 1003), { run: 1000, skipped: 0, next: 1100 })
  })

  test('woken late: runs only the latest due tick and counts the skipped ones', () => {
    assert.deepEqual(dueTick(s, 1000, 1350), { run: 1300, skipped: 3, next: 1400 })
  })

  test('a huge clock jump resumes after now instead of walking every tick', () => {
    const r = dueTick(s, 1000, 1000 + 100 * 5000 + 50)
    assert.equal(r.run, null)
    assert.equal(r.next, 1000 + 100 * 5001)
    assert.ok(r.skipped > 1000)
  })

  test('past the end: no next tick', () => {
    const bounded = everySchedule(100, { endAt: 1200 })
    assert.deepEqual(dueTick(bounded, 1100, 1500), { run: 1100, skipped: 0, next: null })
  })
})
