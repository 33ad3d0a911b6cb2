import { defineConfig } from '../../../../framework/index.js'

/** GW_E2E_CLUSTER: a cluster name of each test's own, so tests never see each other's gateways or nodes. */
export default defineConfig('cluster', {
  name: process.env.GW_E2E_CLUSTER ?? 'sd-gateway-test',
})
