// A stand-in for a worker process of `sd start` (multicore/worker-process.ts), for the
// primary's role tests: it speaks the same IPC messages (ready, stats, stop) and appends what
// it saw to the file SD_FAKE_LOG (one JSON line per event): its role, slot, generation and the
// split-mode environment it was given. A gateway reports a client port and a link port; a
// business worker reports no ports, like the real ones. On stop a worker takes a few turns
// before it exits (as a drain would), so a gateway stopped at the same time would log first.
import { appendFileSync } from 'node:fs'

const env = process.env
const me = { role: env.SD_ROLE ?? 'server', slot: Number(env.SD_WORKER_SLOT), gen: Number(env.SD_WORKER_GENERATION), pid: process.pid }
const log = (ev, extra = {}) => appendFileSync(env.SD_FAKE_LOG, JSON.stringify({ ev, ...me, ...extra }) + '\n')

log('start', { env: { SD_ROLE: env.SD_ROLE, SD_GATEWAYS: env.SD_GATEWAYS, SD_GATEWAY_SECRET: env.SD_GATEWAY_SECRET, SD_CLUSTER: env.SD_CLUSTER, SD_GATEWAY_PORT: env.SD_GATEWAY_PORT, SD_GATEWAY_ANNOUNCE: env.SD_GATEWAY_ANNOUNCE } })

function handle (m) {
  if (m.t === 'stop') {
    log('stop')
    let turns = me.role === 'gateway' ? 0 : 20
    const later = () => {
      if (turns-- > 0) return setImmediate(later)
      log('exit')
      process.exit(0)
    }
    later()
  } else if (m.t === 'stats') {
    process.send({ t: 'stats', r: m.r, stats: { role: me.role } })
  }
}
process.on('message', (m) => {
  if (m?.t === 'batch') m.m.forEach(handle)
  else if (m?.t) handle(m)
})
process.on('SIGINT', () => {})

// SD_GATEWAY_PORT unset stands for port 0: each gateway process gets another one
const ports = me.role === 'gateway'
  ? { tcp: 7000, gateway: env.SD_GATEWAY_PORT ? Number(env.SD_GATEWAY_PORT) : 9992 + me.gen }
  : me.role === 'server' ? { tcp: 7100 } : {}
log('ready', { ports })
process.send({ t: 'ready', ports })
