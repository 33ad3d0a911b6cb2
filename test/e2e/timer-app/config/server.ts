import { defineConfig } from '../../../../framework/index.js'

export default defineConfig({
  tcp: { host: '127.0.0.1', port: 0 },
  text: { enabled: false },
  http: { host: '127.0.0.1', port: 0 },
})
