/** turnNow(): one Date.now() per event-loop turn. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises'
import { turnNow } from '../../framework/core/clock.js'

test('turnNow gives one value for the whole turn, and a fresh one in a later turn', async () => {
  await nextTurn()
  const first = turnNow()
  assert.ok(Math.abs(first - Date.now()) <= 5, 'read at the first call of the turn')
  const spin = Date.now() + 3
  while (Date.now() < spin) { /* the same turn, 3 ms later */ }
  assert.equal(turnNow(), first, 'the same turn reads the same value')
  await Promise.resolve()
  assert.equal(turnNow(), first, 'microtasks belong to the turn')
  await sleep(20)
  const later = turnNow()
  assert.ok(later > first, `a later turn reads the clock again (${later - first} ms later)`)
})
