import { defineConfig, type TimersConfig } from '../../../../framework/index.js'

export default defineConfig<TimersConfig>({
  beat: { handler: 'BeatTimer', every: 200 },
})
