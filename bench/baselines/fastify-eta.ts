/**
 * Baseline of the view benchmark: bare fastify rendering the same eta template (same views
 * folder, escaping and caching as SD in production) at `GET /bench/page`.
 */
import Fastify from 'fastify'
import { Eta } from 'eta'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { serve } from '../lib/server-child.js'
import { benchPage } from '../../app/services/bench.js'

const views = fileURLToPath(new URL('../../app/views', import.meta.url))
const eta = new Eta({ views, cache: true, autoEscape: true, defaultExtension: '.eta' })
const app = Fastify({ logger: false })
app.get('/bench/page', (_request, reply) => {
  void reply.header('content-type', 'text/html; charset=utf-8').send(eta.render('bench/page', benchPage))
})
await app.listen({ host: '127.0.0.1', port: 0 })

let open = 0
app.server.on('connection', (socket) => {
  open++
  socket.once('close', () => { open-- })
})

serve({
  ports: { http: (app.server.address() as AddressInfo).port },
  connections: () => open,
  stop: () => app.close(),
})
