import { defineConfig } from '../../../../framework/index.js'

/** The cluster tests' app: one controller that calls every Bus API on request. */
export default defineConfig({
  name: 'sd-cluster-test',
  logLevel: 'info',
})
