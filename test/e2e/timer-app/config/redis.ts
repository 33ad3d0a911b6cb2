import { defineConfig } from '../../../../framework/index.js'

/** `REDIS_URL` comes from the environment; the key prefix is the test run's own. */
export default defineConfig({ keyPrefix: process.env.TIMER_E2E_PREFIX ?? 'sd-test-timer-e2e:' })
