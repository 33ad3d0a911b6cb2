/**
 * One node of test/e2e/timers.test.ts: starts test/e2e/timer-app in this process (its config
 * reads REDIS_URL and TIMER_E2E_PREFIX) and stops it gracefully on SIGTERM.
 */
import { createApp } from '../../framework/index.js'

const app = await createApp({ root: new URL('./timer-app/', import.meta.url).pathname })
process.on('SIGTERM', () => {
  app.stop().then(() => process.exit(0), () => process.exit(1))
})
await app.start()
