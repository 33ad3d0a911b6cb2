import { defineConfig } from '../framework/index.js'

export default defineConfig({
  name: 'sd-chat',
  logLevel: 'info',
})
