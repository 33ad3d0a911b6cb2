import { defineConfig } from '../../../../framework/index.js'

/** The gateway tests' app (test/e2e/gateway*.test.ts): one controller, run in split mode. */
export default defineConfig('app', {
  name: 'sd-gateway-test',
  logLevel: 'info',
})
