import { defineConfig } from '../framework/index.js'

/**
 * Redis for chat uids and names. Off by default; set `REDIS_URL=redis://127.0.0.1:6379` to
 * share them between processes.
 */
export default defineConfig('redis', {
  url: '',
  keyPrefix: 'sd-chat:',
})
