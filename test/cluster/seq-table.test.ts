/** The messenger's table of pending requests: a ring of slots keyed by increasing seq numbers. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { SeqTable } from '../../framework/cluster/seq-table.js'

interface Entry { seq: number, name: string }
const entry = (seq: number): Entry => ({ seq, name: `e${seq}` })

test('add, get, delete; a seq that is not in the table (or not an integer) gets nothing', () => {
  const t = new SeqTable<Entry>()
  const a = entry(5)
  const b = entry(9)
  t.add(a)
  t.add(b)
  assert.equal(t.size, 2)
  assert.equal(t.get(5), a)
  assert.equal(t.get(9), b)
  for (const missing of [0, 6, 5 + 1024, -5, 5.5, Number.NaN]) assert.equal(t.get(missing), undefined, String(missing))
  assert.equal(t.delete(a), true)
  assert.equal(t.delete(a), false, 'twice')
  assert.equal(t.get(5), undefined)
  assert.equal(t.delete(entry(9)), false, 'another object with the same seq is not the entry')
  assert.equal(t.size, 1)
})

test('live seqs further apart than the ring grow it; every entry stays reachable', () => {
  const t = new SeqTable<Entry>()
  const stuck = entry(3)
  t.add(stuck)
  // 1024 and more above the stuck entry would share its slot in a ring of 1024
  const later = Array.from({ length: 5000 }, (_, i) => entry(4 + i * 3))
  for (const e of later) t.add(e)
  assert.equal(t.size, 5001)
  assert.equal(t.get(3), stuck)
  for (const e of later) assert.equal(t.get(e.seq), e)
  assert.deepEqual(t.values().map((e) => e.seq), [3, ...later.map((e) => e.seq)], 'values() in seq order')
})

test('oldest() is the lowest live seq, past entries deleted out of order', () => {
  const t = new SeqTable<Entry>()
  assert.equal(t.oldest(), undefined)
  const es = [10, 11, 15, 20].map(entry)
  for (const e of es) t.add(e)
  t.delete(es[1])
  assert.equal(t.oldest(), es[0])
  t.delete(es[0])
  assert.equal(t.oldest(), es[2])
  t.delete(es[3])
  assert.equal(t.oldest(), es[2])
  t.delete(es[2])
  assert.equal(t.oldest(), undefined)
  const next = entry(40)
  t.add(next)
  assert.equal(t.oldest(), next, 'an empty table starts again from the next entry')
})

test('compact() shrinks the ring once the live span allows, and keeps every live entry', () => {
  const t = new SeqTable<Entry>()
  const all = Array.from({ length: 20_000 }, (_, i) => entry(i))
  for (const e of all) t.add(e)
  assert.ok(t.capacity >= 20_000)
  t.compact()
  assert.ok(t.capacity >= 20_000, 'not while the span is wide')
  for (const e of all.slice(0, 19_990)) t.delete(e)
  t.compact()
  assert.equal(t.capacity, 1024)
  assert.equal(t.size, 10)
  for (const e of all.slice(19_990)) assert.equal(t.get(e.seq), e)
  // a shrunk ring grows again when it must
  const more = Array.from({ length: 3000 }, (_, i) => entry(20_000 + i))
  for (const e of more) t.add(e)
  for (const e of [...all.slice(19_990), ...more]) assert.equal(t.get(e.seq), e)
  t.clear()
  assert.equal(t.size, 0)
  assert.deepEqual(t.values(), [])
})

test('seqs must be safe integers that increase; oldest() finds the lowest across a resize and a compaction', () => {
  const t = new SeqTable<Entry>()
  t.add(entry(7))
  for (const bad of [7, 6, -1, 8.5, Number.NaN, 2 ** 53]) assert.throws(() => t.add(entry(bad)), RangeError, String(bad))
  // 1031 needs 7's slot in a ring of 1024: the ring grows; then a gap of deleted entries, and a compaction
  const es = [8, 9, 10, 1031, 1032].map(entry)
  for (const e of es) t.add(e)
  assert.ok(t.capacity >= 2048)
  for (const e of [t.get(7)!, es[0], es[1]]) t.delete(e)
  assert.equal(t.oldest(), es[2])
  t.delete(es[2])
  t.compact()
  assert.equal(t.capacity, 1024)
  assert.equal(t.oldest(), es[3])
  assert.deepEqual(t.values(), [es[3], es[4]])
})
