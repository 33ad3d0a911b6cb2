import { defineConfig } from '../../../../framework/index.js'

/** Redis from REDIS_URL (set by the tests); keys under REC_E2E_PREFIX. */
export default defineConfig('redis', {
  url: '',
  keyPrefix: process.env.REC_E2E_PREFIX ?? 'sd-test-recovery:',
})
