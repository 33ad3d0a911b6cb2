/**
 * The primary's process roles (issue 18) with real processes: a fake worker entry
 * (fake-role-process.mjs) answers `ready` like the real one and logs what it was given. Split
 * mode: the gateway is forked and serves before any worker is forked; workers get
 * `SD_GATEWAYS=127.0.0.1:<the gateway's link port>`, the run's secret and `SD_CLUSTER=0`; the
 * server's ports are the gateway's; reload replaces workers and never the gateway; stop waits
 * for the workers before it stops the gateway; a crashed gateway is restarted. Direct mode
 * gets no role environment. Plus the node names of roles.ts.
 */
import { afterEach, beforeEach, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { Primary, type PrimaryMode } from '../../framework/multicore/primary.js'
import { processNodeName, runSecret } from '../../framework/multicore/roles.js'
import { root, waitUntil } from '../helpers.js'

const exec = fileURLToPath(new URL('./fake-role-process.mjs', import.meta.url))

interface Event {
  ev: 'start' | 'ready' | 'stop' | 'exit'
  role: string
  slot: number
  gen: number
  pid: number
  env?: Record<string, string | undefined>
  ports?: Record<string, number>
}

let dir: string
let logFile: string
let primary: Primary | undefined

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sd-primary-roles-'))
  logFile = join(dir, 'events.log')
})
afterEach(async () => {
  await primary?.stop()
  primary = undefined
  await rm(dir, { recursive: true, force: true })
})

async function events (): Promise<Event[]> {
  const text = await readFile(logFile, 'utf8').catch(() => '')
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Event)
}

function makePrimary (mode: PrimaryMode, workers: number, env: Record<string, string> = {}): Primary {
  primary = new Primary({ root, workers, mode, exec, log: pino({ level: 'silent' }), env: { SD_FAKE_LOG: logFile, ...env } })
  return primary
}

test('split: the gateway serves first; workers get its link port and the run secret; ports are the gateway\'s', async () => {
  const p = makePrimary('split', 2, { SD_GATEWAY_SECRET: '', SD_CLUSTER_SECRET: '' })
  const ports = await p.start()
  assert.deepEqual(ports, { tcp: 7000, gateway: 9992 })
  const log = await events()
  const gatewayReady = log.findIndex((e) => e.ev === 'ready' && e.role === 'gateway')
  const workerStarts = log.flatMap((e, i) => e.ev === 'start' && e.role === 'worker' ? [i] : [])
  assert.ok(gatewayReady >= 0, JSON.stringify(log))
  assert.equal(workerStarts.length, 2)
  assert.ok(workerStarts.every((i) => i > gatewayReady), 'workers forked before the gateway served')
  const gatewayEnv = log.find((e) => e.ev === 'start' && e.role === 'gateway')?.env ?? {}
  const secret = gatewayEnv.SD_GATEWAY_SECRET
  assert.match(secret ?? '', /^[0-9a-f]{64}$/, 'a random 32-byte secret')
  assert.equal(gatewayEnv.SD_GATEWAY_ANNOUNCE, '0', 'a gateway whose secret only this run knows is not announced in Redis')
  for (const i of workerStarts) {
    assert.deepEqual(log[i].env, { SD_ROLE: 'worker', SD_GATEWAYS: '127.0.0.1:9992', SD_GATEWAY_SECRET: secret, SD_CLUSTER: '0' })
  }
  assert.deepEqual(log.filter((e) => e.ev === 'start' && e.role === 'worker').map((e) => e.slot).sort(), [1, 2])
  const status = await p.statusReport()
  assert.equal(status.mode, 'split')
  assert.deepEqual(status.workers.map((w) => [w.id, w.role, w.state]), [[0, 'gateway', 'serving'], [1, 'worker', 'serving'], [2, 'worker', 'serving']])
  assert.deepEqual(status.ports, { tcp: 7000, gateway: 9992 })
})

test('split: a set SD_GATEWAY_SECRET (else SD_CLUSTER_SECRET) is the run\'s secret', async () => {
  assert.equal(runSecret({ SD_GATEWAY_SECRET: 'g'.repeat(20), SD_CLUSTER_SECRET: 'c'.repeat(20) }), 'g'.repeat(20))
  assert.equal(runSecret({ SD_CLUSTER_SECRET: 'c'.repeat(20) }), 'c'.repeat(20))
  assert.notEqual(runSecret({}), runSecret({}))
  const p = makePrimary('split', 1, { SD_GATEWAY_SECRET: 's'.repeat(32) })
  await p.start()
  const starts = (await events()).filter((e) => e.ev === 'start')
  assert.deepEqual(starts.map((e) => e.env?.SD_GATEWAY_SECRET), ['s'.repeat(32), 's'.repeat(32)])
  assert.equal(starts.find((e) => e.role === 'gateway')?.env?.SD_GATEWAY_ANNOUNCE, undefined, 'announced: workers elsewhere may share the secret')
})

test('split: reload replaces each worker (new one first) and never the gateway', async () => {
  const p = makePrimary('split', 2)
  await p.start()
  const before = await p.statusReport()
  await p.reload()
  const after = await p.statusReport()
  assert.equal(after.workers[0].role, 'gateway')
  assert.equal(after.workers[0].pid, before.workers[0].pid, 'the gateway was replaced')
  for (const i of [1, 2]) assert.notEqual(after.workers[i].pid, before.workers[i].pid, `worker ${i} was not replaced`)
  const log = await events()
  assert.equal(log.filter((e) => e.ev === 'start' && e.role === 'gateway').length, 1)
  assert.equal(log.some((e) => e.role === 'gateway' && e.ev === 'stop'), false)
  // slot 1: its replacement (generation 1) was ready before the old one was asked to stop
  const newReady = log.findIndex((e) => e.ev === 'ready' && e.slot === 1 && e.gen === 1)
  const oldStop = log.findIndex((e) => e.ev === 'stop' && e.slot === 1 && e.gen === 0)
  assert.ok(newReady >= 0 && oldStop > newReady, JSON.stringify(log))
  assert.deepEqual(after.ports, { tcp: 7000, gateway: 9992 })
})

test('split: stop lets every worker exit before the gateway is asked to stop', async () => {
  const p = makePrimary('split', 2)
  await p.start()
  await p.stop()
  const log = await events()
  const gatewayStop = log.findIndex((e) => e.ev === 'stop' && e.role === 'gateway')
  const workerExits = log.flatMap((e, i) => e.ev === 'exit' && e.role === 'worker' ? [i] : [])
  assert.equal(workerExits.length, 2, JSON.stringify(log))
  assert.ok(gatewayStop > Math.max(...workerExits), JSON.stringify(log))
})

test('split: a crashed gateway is restarted on the same link port, so the workers\' address stays right', async () => {
  const p = makePrimary('split', 1)
  await p.start()
  const gatewayPid = (await p.statusReport()).workers[0].pid
  process.kill(gatewayPid, 'SIGKILL')
  await waitUntil(async () => { const g = (await p.statusReport()).workers[0]; return g.state === 'serving' && g.pid !== gatewayPid }, 10_000, 'the gateway to be restarted')
  const status = await p.statusReport()
  assert.equal(status.workers[0].restarts, 1)
  const gateways = (await events()).filter((e) => e.ev === 'start' && e.role === 'gateway')
  assert.deepEqual(gateways.map((e) => e.env?.SD_GATEWAY_PORT), [undefined, '9992'])
  assert.deepEqual(status.ports, { tcp: 7000, gateway: 9992 })
  await p.reload()
  const newWorker = (await events()).find((e) => e.ev === 'start' && e.role === 'worker' && e.gen === 1)
  assert.equal(newWorker?.env?.SD_GATEWAYS, '127.0.0.1:9992')
})

test('gateway mode: the gateway alone; reload refuses (no application code to replace)', async () => {
  const p = makePrimary('gateway', 3)
  await p.start()
  const status = await p.statusReport()
  assert.deepEqual(status.workers.map((w) => w.role), ['gateway'])
  await assert.rejects(p.reload(), /nothing to reload/)
})

test('worker mode: workers only, no ports, SD_GATEWAYS left to the environment', async () => {
  const p = makePrimary('worker', 2, { SD_GATEWAYS: '10.0.0.5:9992' })
  const ports = await p.start()
  assert.deepEqual(ports, {})
  const starts = (await events()).filter((e) => e.ev === 'start')
  assert.deepEqual(starts.map((e) => [e.role, e.env?.SD_GATEWAYS]), [['worker', '10.0.0.5:9992'], ['worker', '10.0.0.5:9992']])
})

test('direct mode: servers with no role environment, as before', async () => {
  const p = makePrimary('direct', 2)
  const ports = await p.start()
  assert.deepEqual(ports, { tcp: 7100 })
  const starts = (await events()).filter((e) => e.ev === 'start')
  assert.deepEqual(starts.map((e) => [e.role, e.env?.SD_ROLE, e.env?.SD_GATEWAYS]), [['server', undefined, undefined], ['server', undefined, undefined]])
})

test('node names: business workers <host>-<primary pid>-w<slot>[~gen]; cluster nodes as before', () => {
  const base = { hostname: 'h', ppid: 42, id: 7 }
  assert.equal(processNodeName({ ...base, env: { SD_ROLE: 'worker', SD_WORKER_SLOT: '2' } }), 'h-42-w2')
  assert.equal(processNodeName({ ...base, env: { SD_ROLE: 'worker', SD_WORKER_SLOT: '2', SD_WORKER_GENERATION: '3' } }), 'h-42-w2~3')
  assert.equal(processNodeName({ ...base, env: { SD_ROLE: 'worker', SD_WORKER_SLOT: '1', SD_NODE_NAME: 'east' } }), 'east-w1')
  // a worker is named even without SD_CLUSTER (its link name), a direct server is not
  assert.equal(processNodeName({ ...base, env: { SD_WORKER_SLOT: '1' } }), undefined)
  assert.equal(processNodeName({ ...base, env: { SD_CLUSTER: '1', SD_WORKERS: '3', SD_WORKER_SLOT: '2', SD_WORKER_GENERATION: '1' } }), 'h-42-2~1')
  assert.equal(processNodeName({ ...base, env: { SD_CLUSTER: '1', SD_WORKERS: '1' } }), 'h-42')
  // the one gateway of a split run with --cluster keeps the usual name
  assert.equal(processNodeName({ ...base, env: { SD_ROLE: 'gateway', SD_CLUSTER: '1', SD_WORKERS: '4', SD_WORKER_SLOT: '0' } }), 'h-42')
})
