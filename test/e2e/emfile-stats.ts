/**
 * Child of flood.test.ts (run under `prlimit --nofile`): builds an application, takes every
 * free descriptor, then calls `stats()` and prints one JSON line with the result.
 */
import { openSync } from 'node:fs'
import { createApp } from '../../framework/index.js'
import { root } from '../helpers.js'

const app = await createApp({ root, configDir: false, controllers: [], timers: [], overrides: { app: { logLevel: 'silent' } } })
const held: number[] = []
let exhausted = ''
try {
  for (;;) held.push(openSync('/dev/null', 'r'))
} catch (err) {
  exhausted = (err as NodeJS.ErrnoException).code ?? String(err)
}
let result: Record<string, unknown>
try {
  const stats = app.stats()
  result = { ok: true, exhausted, heapUsedBytes: stats.heapUsedBytes, pid: stats.pid }
} catch (err) {
  result = { ok: false, exhausted, error: (err as NodeJS.ErrnoException).code ?? String(err) }
}
process.stdout.write(JSON.stringify(result) + '\n')
process.exit(0)
