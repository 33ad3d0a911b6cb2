import { defineConfig } from 'sd-framework'

/** Ports (these are the defaults); env SD_TCP_PORT, SD_TEXT_PORT, SD_HTTP_PORT override them. */
export default defineConfig('server', {
  tcp: { port: 9093, framing: 'length', pack: 'json' },
  text: { port: 8480 },
  http: { port: 8081, ws: { path: '/ws' } },
})
