import { defineConfig } from '../framework/index.js'

/** Timers (docs/timers.md): name → what to run and when. Each tick runs once across the cluster. */
export default defineConfig('timers', {
  // every 10 s, push the online count to each chat room (telnet shows `online: 3`); the first
  // push comes 10 s after start, so a freshly started server is quiet until users are in
  online: { handler: 'OnlineTimer', method: 'push', every: '10s', delayMs: 10_000 },
})
