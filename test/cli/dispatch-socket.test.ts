/**
 * `sd start --dispatch` with `SD_DISPATCH_PATH` on a socket a live process listens on: one clear
 * line naming the socket, SD_DISPATCH_PATH and cluster.dispatchPath, exit 1, no stack; the live
 * process keeps its socket.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { lstatSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { once } from 'node:events'
import { root } from '../helpers.js'
import { runSd } from './run-sd.js'

const dir = mkdtempSync('/tmp/sd-ds-')
const path = join(dir, 'dispatch.sock')
let holder: Server

before(async () => {
  holder = createServer((s) => s.destroy()).listen(path)
  await once(holder, 'listening')
})
after(() => {
  holder?.close()
  rmSync(dir, { recursive: true, force: true })
})

test('a dispatch socket held by a live process: SD_ERR_PORT_IN_USE naming the path and SD_DISPATCH_PATH, exit 1, no stack', async () => {
  const run = await runSd(['start', '--dispatch'], root, {
    SD_RUN_DIR: dir, SD_DISPATCH_PORT: '0', SD_DISPATCH_PATH: path,
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', SD_CLUSTER_SECRET: 'a-test-secret-of-32-bytes-000000',
  })
  const output = run.stdout + run.stderr
  assert.equal(run.code, 1, output)
  const flat = run.stderr.replace(/\s*›\s*/g, ' ')
  assert.ok(flat.includes(`SD_ERR_PORT_IN_USE: cannot listen: dispatch socket ${path} is held by a live process`), output)
  assert.match(flat, /set SD_DISPATCH_PATH or cluster\.dispatchPath in config\/cluster\.ts/, output)
  assert.doesNotMatch(output, /^\s+at .+\(.*:\d+:\d+\)$/m, output)
  assert.ok(lstatSync(path).isSocket(), 'the live socket was left alone')
  assert.ok(holder.listening)
})
