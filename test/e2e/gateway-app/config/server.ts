import { defineConfig } from '../../../../framework/index.js'

/** Every line of the text port goes to `/api/text` (telnet on, the text port's default). */
export default defineConfig('server', {
  text: { route: '/api/text' },
})
