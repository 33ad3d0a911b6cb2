/**
 * Baseline: bare fastify (`logger: false`) with `POST /bench/echo` sending back the parsed
 * JSON body.
 */
import Fastify from 'fastify'
import type { AddressInfo } from 'node:net'
import { serve } from '../lib/server-child.js'

const app = Fastify({ logger: false })
app.post('/bench/echo', (request, reply) => {
  void reply.send(request.body)
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
