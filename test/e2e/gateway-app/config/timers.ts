import { defineConfig } from '../../../../framework/index.js'

/**
 * A timer, so a split start proves the gateway (which loads no Timer class and runs no timer)
 * accepts an app with config/timers.ts, and the workers run it.
 */
export default defineConfig('timers', {
  beat: { handler: 'BeatTimer', method: 'beat', every: '1s' },
})
