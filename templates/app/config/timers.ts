import { defineConfig, type TimersConfig } from 'sd-framework'

/**
 * Timers: name → what to run and when; each tick runs once across the cluster. None yet:
 * `npx sd generate timer Cleanup` makes app/timers/CleanupTimer.ts, then schedule it here, e.g.
 *   cleanup: { handler: 'CleanupTimer', method: 'run', every: '1m' },
 */
export default defineConfig<TimersConfig>({
})
