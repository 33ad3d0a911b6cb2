import { defineConfig } from '../../../../framework/index.js'

/** The app `test/e2e/timers.test.ts` starts twice with `sd start`. */
export default defineConfig({ name: 'timer-e2e', logLevel: 'info' })
