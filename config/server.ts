import { defineConfig } from '../framework/index.js'
import { renderLine } from '../app/services/chat.js'

const bench = process.env.SD_BENCH === '1'

/** Ports of the demo: the ports and framings shown are the defaults; the text port's route and render are the chat's. */
export default defineConfig('server', {
  tcp: { port: 9093, framing: 'length', pack: 'json' },
  text: { port: 8480, framing: 'eof', pack: 'text', route: '/chat/text', render: renderLine },
  http: { port: 8081, ws: { path: '/ws' } },
  // telnet users idle for 10 minutes are disconnected (the default is 60 s)
  heartbeatIdleMs: 600_000,
  // at most 200 sockets from one address per process (the default, 1000, suits a large office
  // behind one NAT); a chat user never sends 1,000 messages a second: past that one connection
  // is refused (SD_ERR_RATE_LIMITED) and closed after 1,000 refusals. The benchmark harness
  // (SD_BENCH=1) opens thousands of connections from 127.0.0.1 and measures unthrottled.
  maxConnectionsPerIp: bench ? 100_000 : 200,
  rateLimit: bench ? { messagesPerSecond: 0 } : { messagesPerSecond: 1000, burst: 5000, maxRejected: 1000 },
})
