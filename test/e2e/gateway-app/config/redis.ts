import { defineConfig } from '../../../../framework/index.js'

/** Redis from REDIS_URL (set by the tests that need it); keys under GW_E2E_PREFIX. */
export default defineConfig('redis', {
  url: '',
  keyPrefix: process.env.GW_E2E_PREFIX ?? 'sd-test-gateway:',
})
