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
