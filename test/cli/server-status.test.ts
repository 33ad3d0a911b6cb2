/**
 * `sd status` text of a server (formatServerStatus, pure) with fixed input: direct mode as
 * before; split mode with each process's role, the gateway's link port, linked workers
 * (state, in-flight, rtt) and waiting requests, the workers' gateway links; a process down.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { formatServerStatus } from '../../framework/cli/server-status.js'
import type { ServerStatus, WorkerStatus } from '../../framework/multicore/primary.js'
import type { WorkerStats } from '../../framework/multicore/ipc-protocol.js'

const MB = 1024 * 1024

function stats (node: string, extra: object = {}, connections: WorkerStats['connections'] = {}): WorkerStats {
  return { node, pid: 1, status: 'running', uptimeMs: 1000, connections, rssBytes: 50 * MB, heapUsedBytes: 10 * MB, ...extra } as WorkerStats
}

function proc (id: number, role: WorkerStatus['role'], pid: number, s?: WorkerStats): WorkerStatus {
  return { id, role, pid, state: 'serving', uptimeMs: 65_000, restarts: 0, stats: s }
}

test('direct mode: the lines of today', () => {
  const s: ServerStatus = {
    pid: 100, status: 'running', mode: 'direct', uptimeMs: 3_700_000, ports: { tcp: 9000, http: 8080 },
    connections: { tcp: 3 }, workers: [proc(1, 'server', 101, stats('n1', {}, { tcp: 3 })), { id: 2, role: 'server', pid: 0, state: 'down', uptimeMs: 0, restarts: 2 }],
  }
  assert.deepEqual(formatServerStatus(s), [
    'pid 100, running, up 1h1m, ports: tcp 9000, http 8080',
    'connections: tcp 3',
    '  worker 1: pid 101, up 1m5s, restarts 0, rss 50.0 MB, connections tcp 3',
    '  worker 2: down (restarting), restarts 2',
  ])
})

test('split mode: gateway with link port, linked workers and waiting requests; workers with their links', () => {
  const gateway = stats('gw', { gateway: { port: 9992, waiting: 4, workers: [{ name: 'h-100-w1', state: 'ready', inflight: 7, rttMs: 0.42 }, { name: 'h-100-w2~1', state: 'draining', inflight: 1 }] } }, { tcp: 10, ws: 2 })
  const w1 = stats('h-100-w1', { gatewayLinks: [{ name: 'gw', address: '127.0.0.1:9992', state: 'linked', inflight: 7 }] })
  const s: ServerStatus = {
    pid: 100, status: 'reloading', mode: 'split', uptimeMs: 5000, ports: { tcp: 9000, gateway: 9992 },
    connections: { tcp: 10, ws: 2 }, workers: [proc(0, 'gateway', 110, gateway), proc(1, 'worker', 111, w1), proc(2, 'worker', 112)],
  }
  assert.deepEqual(formatServerStatus(s), [
    'pid 100, reloading, split (gateway + workers), up 5s, ports: tcp 9000, gateway 9992',
    'connections: tcp 10, ws 2',
    '  gateway: pid 110, up 1m5s, restarts 0, rss 50.0 MB, connections tcp 10, ws 2, link port 9992, waiting 4',
    '    linked h-100-w1: ready, in flight 7, rtt 0.4 ms',
    '    linked h-100-w2~1: draining, in flight 1',
    '  worker 1: pid 111, up 1m5s, restarts 0, rss 50.0 MB, node h-100-w1',
    '    gateway gw at 127.0.0.1:9992: linked, in flight 7',
    // a worker whose stats did not come in time: its line alone
    '  worker 2: pid 112, up 1m5s, restarts 0, rss ?',
  ])
})

test('a gateway with no worker linked says so; worker mode has no connections line', () => {
  const lonely = formatServerStatus({
    pid: 1, status: 'running', mode: 'gateway', uptimeMs: 0, ports: { gateway: 9992 }, connections: {},
    workers: [proc(0, 'gateway', 2, stats('gw', { gateway: { port: 9992, waiting: 0, workers: [] } }))],
  })
  assert.equal(lonely[0], 'pid 1, running, gateway only, up 0s, ports: gateway 9992')
  assert.equal(lonely.at(-1), '    linked: no worker')
  const workers = formatServerStatus({
    pid: 1, status: 'running', mode: 'worker', uptimeMs: 0, ports: {}, connections: {},
    workers: [proc(1, 'worker', 2, stats('w', { gatewayLinks: [] }))],
  })
  assert.deepEqual(workers, ['pid 1, running, workers only, up 0s, ports: none', '  worker 1: pid 2, up 1m5s, restarts 0, rss 50.0 MB, node w', '    gateway links: none'])
})
