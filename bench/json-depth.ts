/**
 * Cost of the JSON nesting check (framework/transport/packs.ts `jsonTooDeep`) next to the
 * JSON.parse it guards, on a typical small message and a ~1 KiB one.
 * Run: node --import tsx bench/json-depth.ts
 */
import { jsonTooDeep } from '../framework/transport/packs.js'

const small = JSON.stringify({ id: 7, path: '/chat/send', data: { room: 'lobby', text: 'hello there' } })
const medium = JSON.stringify({ id: 8, path: '/chat/send', data: { room: 'lobby', items: Array.from({ length: 20 }, (_, i) => ({ n: i, text: `message number ${i}`, tags: ['a', 'b'] })) } })

function time (fn: () => unknown, n: number): number {
  for (let i = 0; i < n / 10; i++) fn()
  const t = process.hrtime.bigint()
  for (let i = 0; i < n; i++) fn()
  return Number(process.hrtime.bigint() - t) / n
}

for (const [name, text] of [['small', small], ['medium', medium]] as const) {
  const n = name === 'small' ? 2_000_000 : 200_000
  const parse = time(() => JSON.parse(text), n)
  const scan = time(() => jsonTooDeep(text), n)
  console.log(`${name} (${text.length} chars): JSON.parse ${parse.toFixed(0)} ns, depth check ${scan.toFixed(0)} ns (${(100 * scan / parse).toFixed(1)}% of the parse)`)
}
