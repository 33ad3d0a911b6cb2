import { defineConfig } from '../framework/index.js'

export default defineConfig('app', {
  name: 'sd-chat',
  logLevel: 'info',
})
