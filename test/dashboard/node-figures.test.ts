/**
 * The figures a cluster node publishes with its heartbeat: the meter's arithmetic on
 * constructed snapshots, then two in-process servers of one cluster (Redis carrier, the
 * machine's Redis) with real TCP clients: each one's heartbeat meta carries its `fig`, and
 * `nodeFigures` of either node's overview lists both with their connections and rates.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { figuresMeter, nodeFigures, withFigures } from '../../framework/metrics/node-figures.js'
import { emptyLatency, type ProcessSnapshot } from '../../framework/metrics/snapshot.js'
import type { Application } from '../../framework/index.js'
import { portOf, startApp, TcpClient, waitUntil } from '../helpers.js'
import { deleteRedisKeys, redisUrl, testKeyPrefix } from '../stores.js'

function snap (at: number, messagesIn: number, messagesOut: number, fast = 0): ProcessSnapshot {
  const latency = emptyLatency()
  latency.buckets[3] = fast // (0.5, 1] ms
  latency.count = fast
  return { at, processes: 1, connections: { tcp: 2 }, messagesIn, messagesOut, bytesIn: 0, bytesOut: 0, latency, links: [] }
}

test('the heartbeat figures: nothing on the first beat, then rates and quantiles since the previous beat (no action: no quantile)', () => {
  const snaps = [snap(1000, 10, 5), snap(1500, 60, 5, 4), snap(2500, 60, 5, 4)]
  let i = 0
  const meter = figuresMeter(() => snaps[i++])
  assert.deepEqual(meter(), {})
  assert.deepEqual(meter(), { in: 100, out: 0, p50: 0.75, p99: 0.995 })
  assert.deepEqual(meter(), { in: 0, out: 0 })
  // added to the meta the node already publishes, under one short key
  const meta = withFigures(() => ({ tcp: 2, uids: 1 }), () => snap(3000, 0, 0))
  assert.deepEqual(meta(), { tcp: 2, uids: 1, fig: {} })
})

test('every node of a cluster publishes its figures with its heartbeat; any node reads them all back (real Redis)', { timeout: 30_000 }, async (t) => {
  const keyPrefix = testKeyPrefix('dash-figures')
  const cluster = { enabled: true, carrier: 'redis', name: `dash-fig-${process.pid}`, heartbeatMs: 200, ttlMs: 1000, pollMs: 100 }
  const apps: Application[] = []
  const clients: TcpClient[] = []
  t.after(async () => {
    for (const c of clients) c.close()
    for (const app of apps) await app.stop()
    await deleteRedisKeys(keyPrefix)
  })
  for (const name of ['fig-a', 'fig-b']) {
    apps.push(await startApp({ app: { nodeName: name }, redis: { url: redisUrl, keyPrefix }, cluster }, { controllers: [] }))
  }
  const [a, b] = apps
  for (let i = 0; i < 3; i++) clients.push(await TcpClient.connect(portOf(a, 'tcp')))
  clients.push(await TcpClient.connect(portOf(b, 'tcp')))

  const figures = await waitUntil(async () => {
    const all = nodeFigures(await (b.cluster?.overview() ?? Promise.reject(new Error('not clustered'))))
    const byName = new Map(all.map((f) => [f.node, f]))
    const fa = byName.get('fig-a')
    const fb = byName.get('fig-b')
    // the second heartbeat after the connections opened carries both the count and a rate
    return fa?.connections === 3 && fb?.connections === 1 && fa.messagesInPerSec !== undefined && fb.messagesInPerSec !== undefined ? all : undefined
  }, 10_000, 'both nodes\' figures in the registry')
  for (const f of figures) {
    assert.equal(f.role, 'server')
    assert.equal(typeof f.messagesOutPerSec, 'number')
    assert.ok((f.messagesInPerSec as number) >= 0)
    // the redis carrier's one route
    assert.deepEqual(f.links.map((l) => l.peer), ['redis'])
  }

  // requests on a (an unknown path: answered with an error, still an action with a latency)
  let driving = true
  const traffic = (async () => {
    for (let n = 0; driving; n++) await Promise.all(clients.slice(0, 3).map((c) => c.request('/no/such', { n }).catch(() => undefined)))
  })()
  try {
    const busy = await waitUntil(async () => {
      const fa = nodeFigures(await (b.cluster?.overview() ?? Promise.reject(new Error('not clustered')))).find((f) => f.node === 'fig-a')
      return fa !== undefined && (fa.messagesInPerSec ?? 0) > 0 && (fa.messagesOutPerSec ?? 0) > 0 && typeof fa.p50Ms === 'number' ? fa : undefined
    }, 10_000, 'fig-a\'s rates and p50 in the registry')
    assert.ok((busy.p50Ms as number) <= (busy.p99Ms as number))
  } finally {
    driving = false
    await traffic
  }
})
