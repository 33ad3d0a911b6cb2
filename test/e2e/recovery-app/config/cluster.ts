import { defineConfig } from '../../../../framework/index.js'

/** REC_E2E_CLUSTER: a cluster name of each test's own (history keys and the registry are named by it). */
export default defineConfig('cluster', {
  name: process.env.REC_E2E_CLUSTER ?? 'sd-recovery-test',
})
