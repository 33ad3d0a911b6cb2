/**
 * An admin publish in flight on a worker process that exits before answering (killed, or a
 * reloaded worker that stops): the primary answers `SD_ERR_NO_WORKER` saying so as soon as
 * the worker is gone, not after the publish timeout with a message blaming a slow worker.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { freePort } from '../data/private-servers.js'
import { clusterApp } from '../e2e/cluster-procs.js'
import { workerPidsOf } from '../e2e/gateway-procs.js'
import { startSd, type SdServer } from '../e2e/sd-process.js'
import { waitUntil } from '../helpers.js'

let server: SdServer
let adminPort: number
let frozen: number | undefined

before(async () => {
  adminPort = await freePort()
  server = await startSd(['--workers', '1', '--root', clusterApp], { SD_ADMIN_PORT: String(adminPort) })
})
after(async () => {
  if (frozen !== undefined) try { process.kill(frozen, 'SIGKILL') } catch {}
  await server?.stop()
})

test('a worker that exits with a publish in flight: 503 SD_ERR_NO_WORKER naming the exit, then publishes work again', { timeout: 60_000 }, async () => {
  const [pid] = await workerPidsOf(server)
  // a frozen worker reads nothing: the publish stays in flight on it
  process.kill(pid, 'SIGSTOP')
  frozen = pid
  const publishing = fetch(`http://127.0.0.1:${adminPort}/sd/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ to: { all: true }, data: 1 }) })
    .then(async (res) => ({ status: res.status, body: await res.json() as { error?: { code: string, message: string } } }))
  // a scrape asked after the publish answers once its 2 s wait for the frozen worker is over:
  // by then the primary has long sent the publish to it
  // (no registry to show from the frozen one: 503 SD_ERR_NO_WORKER, after the wait all the same)
  await waitUntil(async () => [200, 503].includes((await fetch(`http://127.0.0.1:${adminPort}/metrics`)).status), 15_000, 'a scrape')
  process.kill(pid, 'SIGKILL')
  frozen = undefined
  const answer = await publishing
  assert.equal(answer.status, 503)
  assert.equal(answer.body.error?.code, 'SD_ERR_NO_WORKER')
  assert.match(answer.body.error?.message ?? '', /worker 1 exited before answering the publish/)
  // the primary restarts the worker; publishes reach the server again
  await waitUntil(async () => (await fetch(`http://127.0.0.1:${adminPort}/sd/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ to: { all: true }, data: 2 }) })).status === 200, 30_000, 'a publish after the restart')
})
