/**
 * Baseline: bare fastify (`logger: false`) with `POST /bench/echo` sending back the parsed
 * JSON body.
 */
import Fastify from 'fastify'
import { serveHttp } from '../lib/server-child.js'

const app = Fastify({ logger: false })
app.post('/bench/echo', (request, reply) => {
  void reply.send(request.body)
})
await app.listen({ host: '127.0.0.1', port: 0 })
serveHttp(app)
