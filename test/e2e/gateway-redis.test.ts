/**
 * Split mode across run folders and servers, through the shared Redis (real processes of
 * test/e2e/gateway-app; each test has a cluster name and key prefix of its own, so no test sees
 * another's gateways or nodes):
 *  - `sd start --gateway` in one run folder and `sd start --worker` in another, without
 *    SD_GATEWAYS: the worker finds the gateway in Redis and answers its clients.
 *  - two `sd start --split --cluster` servers on the Redis carrier (no dispatch server): a
 *    worker of the first one reaches, with `sendToUid`, a client bound on the second one.
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { TcpClient, waitUntil } from '../helpers.js'
import { deleteRedisKeys, redisUrl, testKeyPrefix } from '../stores.js'
import { gatewayApp, startGatewayRun, workerPidsOf, type SdServer } from './gateway-procs.js'

const prefix = testKeyPrefix('gateway')
const running: SdServer[] = []
const clients: TcpClient[] = []
const clusterNames: string[] = []

after(async () => {
  for (const c of clients) c.close()
  await Promise.allSettled(running.map((s) => s.stop()))
  await deleteRedisKeys(prefix)
  // registry keys are named by the cluster (`sd:{<cluster>}:…`), with or without the key prefix
  for (const name of clusterNames) await deleteRedisKeys(`sd:{${name}}`)
})

/** Env of one test: the shared Redis, its own cluster name, the tests' key prefix. */
function redisEnv (label: string): Record<string, string> {
  const name = `gw-e2e-${label}-${process.pid}-${Date.now()}`
  clusterNames.push(name)
  return { REDIS_URL: redisUrl, GW_E2E_CLUSTER: name, GW_E2E_PREFIX: prefix }
}

async function start (args: string[], env: Record<string, string>): Promise<SdServer> {
  const server = await startGatewayRun(gatewayApp, args, env)
  running.push(server)
  return server
}

async function client (port: number): Promise<TcpClient> {
  const c = await TcpClient.connect(port)
  clients.push(c)
  return c
}

test('a worker started in another run folder joins the gateway through Redis and answers its clients', { timeout: 60_000 }, async () => {
  const env = redisEnv('join')
  const gateway = await start(['--gateway'], env)
  assert.ok(gateway.ports.tcp > 0, `the gateway serves TCP: ${JSON.stringify(gateway.ports)}`)
  const worker = await start(['--worker'], { ...env, SD_GATEWAYS: '' })
  const [pid] = await workerPidsOf(worker)
  assert.ok(pid > 0, 'the worker side names its worker in state.json')

  const c = await client(gateway.ports.tcp)
  const reply = await c.request('/api/where')
  assert.equal(reply.error, undefined, JSON.stringify(reply.error))
  assert.equal((reply.data as { pid: number }).pid, pid, 'the worker of the other run folder answered')
  assert.deepEqual(((await c.request('/api/echo', { x: 1 })).data as { data: unknown }).data, { x: 1 })
})

test('two gateways in a cluster (Redis carrier): sendToUid from a worker of one reaches a client on the other', { timeout: 60_000 }, async () => {
  const env = { ...redisEnv('pair'), SD_CLUSTER_CARRIER: 'redis' }
  const [one, two] = await Promise.all([start(['--split', '--cluster', '--workers', '1'], env), start(['--split', '--cluster', '--workers', '1'], env)])
  const alice = await client(one.ports.tcp)
  const bob = await client(two.ports.tcp)
  assert.equal((await alice.request('/api/bind', { uid: 'alice' })).data, true)
  assert.equal((await bob.request('/api/bind', { uid: 'bob' })).data, true)

  // the uid is announced to the cluster: retry until the first server's worker reaches it
  await waitUntil(async () => (await alice.request('/api/toUid', { uid: 'bob', data: { hello: 'from one' } })).data === 1, 10_000, 'sendToUid to reach bob')
  const push = await bob.next((m) => m.id === undefined && (m.data as { hello?: string } | undefined)?.hello === 'from one')
  assert.deepEqual(push.data, { hello: 'from one' })
  // and back, from a worker of the second server
  assert.equal((await bob.request('/api/toUid', { uid: 'alice', data: { hello: 'from two' } })).data, 1)
  assert.deepEqual((await alice.next((m) => m.id === undefined)).data, { hello: 'from two' })
})
