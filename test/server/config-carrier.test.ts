/** `cluster.carrier`: `dispatch` by default, `redis` from a file or `SD_CLUSTER_CARRIER`, anything else refused naming the key. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { loadConfig } from '../../framework/index.js'

const configError = (pattern: RegExp) => (err: Error & { code?: string }) => err.code === 'SD_ERR_CONFIG_INVALID' && pattern.test(err.message)

test('cluster.carrier: dispatch by default; redis from config or SD_CLUSTER_CARRIER; another value names the key', async () => {
  assert.equal((await loadConfig({ configDir: false, env: {} })).cluster.carrier, 'dispatch')
  assert.equal((await loadConfig({ configDir: false, env: {}, overrides: { cluster: { carrier: 'redis' } } })).cluster.carrier, 'redis')
  assert.equal((await loadConfig({ configDir: false, env: { SD_CLUSTER_CARRIER: 'redis' } })).cluster.carrier, 'redis')
  await assert.rejects(loadConfig({ configDir: false, env: {}, overrides: { cluster: { carrier: 'kafka' } } as never }), configError(/cluster\.carrier must be one of dispatch, redis, got "kafka"/))
  await assert.rejects(loadConfig({ configDir: false, env: { SD_CLUSTER_CARRIER: 'nats' } }), configError(/SD_CLUSTER_CARRIER must be one of dispatch, redis, got "nats"/))
})

test('a carrier registered with registerCarrier is accepted by config and env, and a cluster node is built on it', async (t) => {
  const { registerCarrier, carrierNames } = await import('../../framework/cluster/carriers.js')
  const { ClusterNode } = await import('../../framework/cluster/cluster-node.js')
  const { FakeNetwork } = await import('../cluster/fake-carrier.js')
  const { clusterDefaults } = await import('../../framework/cluster/options.js')
  const { Redis } = await import('ioredis')
  await assert.rejects(loadConfig({ configDir: false, env: { SD_CLUSTER_CARRIER: 'memory' } }), configError(/SD_CLUSTER_CARRIER must be one of dispatch, redis, got "memory"/))
  const net = new FakeNetwork()
  const built: string[] = []
  registerCarrier('memory', (c) => { built.push(c.name); return net.carrier(c.name) })
  assert.deepEqual(carrierNames(), ['dispatch', 'redis', 'memory'])
  assert.equal((await loadConfig({ configDir: false, env: { SD_CLUSTER_CARRIER: 'memory' } })).cluster.carrier, 'memory')
  assert.equal((await loadConfig({ configDir: false, env: {}, overrides: { cluster: { carrier: 'memory' } } })).cluster.carrier, 'memory')
  // lazyConnect: building a node opens nothing; the carrier is made in the constructor
  const redis = new Redis({ lazyConnect: true })
  t.after(() => redis.disconnect())
  const node = new ClusterNode({ config: { ...clusterDefaults(), carrier: 'memory' }, cluster: 'carrier-registry-test', nodeName: 'n1', redis })
  t.after(() => node.messenger.close())
  assert.deepEqual(built, ['n1'])
  assert.equal(node.carrier, 'memory')
  assert.equal(node.messenger.carrier, 'fake', 'the messenger runs on what the registered factory made')
  assert.throws(() => new ClusterNode({ config: { ...clusterDefaults(), carrier: 'nope' }, cluster: 'carrier-registry-test', nodeName: 'n2', redis }), /cluster\.carrier: unknown carrier "nope" \(known: dispatch, redis, memory\)/)
})
