/**
 * Baseline of the view benchmark: bare fastify rendering the same eta template (same views
 * folder, escaping and caching as SD in production) at `GET /bench/page`.
 */
import Fastify from 'fastify'
import { Eta } from 'eta'
import { fileURLToPath } from 'node:url'
import { serveHttp } from '../lib/server-child.js'
import { benchPage } from '../../app/services/bench.js'

const views = fileURLToPath(new URL('../../app/views', import.meta.url))
const eta = new Eta({ views, cache: true, autoEscape: true, defaultExtension: '.eta' })
const app = Fastify({ logger: false })
app.get('/bench/page', (_request, reply) => {
  void reply.header('content-type', 'text/html; charset=utf-8').send(eta.render('bench/page', benchPage))
})
await app.listen({ host: '127.0.0.1', port: 0 })
serveHttp(app)
