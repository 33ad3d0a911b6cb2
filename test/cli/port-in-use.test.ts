/**
 * A busy port: `sd start` (and `sd start --dispatch`) prints one line naming the transport,
 * host:port, the env var and the config key that move it, and no Node stack; the API rejects
 * with `SD_ERR_PORT_IN_USE`.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type AddressInfo, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { once } from 'node:events'
import { createApp, SdError } from '../../framework/index.js'
import { root } from '../helpers.js'
import { runSd } from './run-sd.js'

let busy: Server
let port: number
let runDir: string

before(async () => {
  busy = createServer().listen(0, '127.0.0.1')
  await once(busy, 'listening')
  port = (busy.address() as AddressInfo).port
  runDir = await mkdtemp(join(tmpdir(), 'sd-port-in-use-'))
})
after(async () => {
  busy?.close()
  await rm(runDir, { recursive: true, force: true })
})

/** No line of a Node stack trace, no raw `bind EADDRINUSE`. */
function assertNoStack (output: string): void {
  assert.doesNotMatch(output, /^\s+at .+\(.*:\d+:\d+\)$/m, output)
  assert.doesNotMatch(output, /bind EADDRINUSE/, output)
}

test('the API: start() rejects with SD_ERR_PORT_IN_USE naming the port, its env var and config key', async () => {
  const app = await createApp({ root, configDir: false, overrides: { app: { logLevel: 'silent' }, server: { tcp: { host: '127.0.0.1', port: 0 }, text: { host: '127.0.0.1', port }, http: { host: '127.0.0.1', port: 0 } } } })
  const err = await app.start().then(() => undefined, (e: unknown) => e)
  assert.ok(err instanceof SdError, String(err))
  assert.equal(err.code, 'SD_ERR_PORT_IN_USE')
  assert.match(err.message, new RegExp(`text port 127\\.0\\.0\\.1:${port} is already in use`))
  assert.match(err.message, /SD_TEXT_PORT/)
  assert.match(err.message, /server\.text\.port/)
  assert.equal(app.status, 'closed')
})

test('sd start on a busy TCP port: one clear line, exit 1, no stack', async () => {
  const run = await runSd(['start'], root, { SD_RUN_DIR: runDir, SD_TCP_PORT: String(port), SD_TEXT_PORT: '0', SD_HTTP_PORT: '0', REDIS_URL: undefined, MYSQL_URL: undefined })
  const output = run.stdout + run.stderr
  assert.equal(run.code, 1, output)
  const flat = run.stderr.replace(/\s*›\s*/g, ' ')
  assert.match(flat, new RegExp(`SD_ERR_PORT_IN_USE: cannot listen: tcp port 0\\.0\\.0\\.0:${port} is already in use`), output)
  assert.match(flat, /set SD_TCP_PORT or server\.tcp\.port in config\/server\.ts/, output)
  assertNoStack(output)
})

test('sd start --dispatch on a busy link port: one clear line naming SD_DISPATCH_PORT and cluster.dispatchPort', async () => {
  const run = await runSd(['start', '--dispatch'], root, {
    SD_RUN_DIR: runDir, SD_DISPATCH_PORT: String(port), REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', SD_CLUSTER_SECRET: 'a-test-secret-of-32-bytes-000000',
  })
  const output = run.stdout + run.stderr
  assert.equal(run.code, 1, output)
  const flat = run.stderr.replace(/\s*›\s*/g, ' ')
  assert.match(flat, new RegExp(`SD_ERR_PORT_IN_USE: cannot listen: dispatch port 127\\.0\\.0\\.1:${port} is already in use`), output)
  assert.match(flat, /set SD_DISPATCH_PORT or cluster\.dispatchPort in config\/cluster\.ts/, output)
  assertNoStack(output)
})
