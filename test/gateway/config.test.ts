/** The `gateway` config section: defaults, env variables, and invalid values named at boot. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { loadConfig } from '../../framework/index.js'

test('defaults: direct role, link port 9992 on loopback', async () => {
  const c = await loadConfig({ configDir: false, env: {} })
  assert.deepEqual(c.gateway, {
    role: 'direct', host: '127.0.0.1', port: 9992, addresses: [], secret: '',
    workerWaitMs: 10000, maxWaiting: 10000, routing: 'least-busy', discoveryIntervalMs: 1000,
    announce: true, advertiseHost: '',
  })
})

test('SD_ROLE, SD_GATEWAY_PORT, SD_GATEWAY_HOST, SD_GATEWAYS and SD_GATEWAY_SECRET set the section', async () => {
  const c = await loadConfig({ configDir: false, env: { SD_ROLE: 'worker', SD_GATEWAY_PORT: '9000', SD_GATEWAY_HOST: '0.0.0.0', SD_GATEWAYS: '10.0.0.1:9992, 10.0.0.2:9993', SD_GATEWAY_SECRET: 's'.repeat(20) } })
  assert.equal(c.gateway.role, 'worker')
  assert.equal(c.gateway.port, 9000)
  assert.equal(c.gateway.host, '0.0.0.0')
  assert.deepEqual(c.gateway.addresses, ['10.0.0.1:9992', '10.0.0.2:9993'])
  assert.equal(c.gateway.secret, 's'.repeat(20))
  assert.equal((await loadConfig({ configDir: false, env: { SD_ROLE: 'gateway' } })).gateway.role, 'gateway')
})

test('invalid values fail at boot naming the key', async () => {
  await assert.rejects(loadConfig({ configDir: false, env: { SD_ROLE: 'boss' } }), /SD_ROLE must be one of/)
  await assert.rejects(loadConfig({ configDir: false, env: { SD_GATEWAY_PORT: '70000' } }), /SD_GATEWAY_PORT must be a port number/)
  await assert.rejects(loadConfig({ configDir: false, env: {}, overrides: { gateway: { routing: 'random' as 'sticky' } } }), /gateway\.routing must be one of least-busy, sticky/)
  await assert.rejects(loadConfig({ configDir: false, env: {}, overrides: { gateway: { workerWaitMs: -1 } } }), /gateway\.workerWaitMs must be a non-negative integer/)
  await assert.rejects(loadConfig({ configDir: false, env: {}, overrides: { gateway: { port: 70000 } } }), /gateway\.port must be a port number/)
})
