/**
 * `npm run bench:view`: a view-rendering route through SD (`GET /bench/page`, an eta template
 * rendered by `this.view`) against bare fastify rendering the same template with eta, in the
 * same run. Both servers run in production mode (templates cached), pinned to CPU 0; autocannon
 * runs in this process. Segments alternate between the two servers, several rounds.
 * Env: BENCH_ROUNDS (3), BENCH_SEGMENT_MS (2000), BENCH_CONNECTIONS (32), BENCH_PIPELINING (1).
 */
import autocannon from 'autocannon'
import { benchRuntime, pinning } from './lib/child.js'
import { fastifyBare, sdServer, startServer, portOf, type RunningServer, type ServerSpec } from './lib/servers.js'
import { int, table } from './lib/table.js'

process.env.NODE_ENV = 'production'
const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const segmentMs = Number(process.env.BENCH_SEGMENT_MS ?? 2000)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32)
const pipelining = Number(process.env.BENCH_PIPELINING ?? 1)
const fastifyEta: ServerSpec = { ...fastifyBare, name: 'fastify+eta', script: 'baselines/fastify-eta.ts' }

async function load (server: RunningServer, ms: number): Promise<number> {
  const r = await autocannon({
    url: `http://127.0.0.1:${portOf(server, 'http')}/bench/page`,
    connections,
    pipelining,
    duration: ms / 1000,
    sampleInt: 100,
    timeout: 10,
  })
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`${server.spec.name}: ${r.non2xx} non-2xx, ${r.errors} errors`)
  return r['2xx'] / r.duration
}

async function checkSame (a: RunningServer, b: RunningServer): Promise<void> {
  const [x, y] = await Promise.all([a, b].map(async (s) => (await fetch(`http://127.0.0.1:${portOf(s, 'http')}/bench/page`)).text()))
  if (x !== y) throw new Error('SD and the baseline do not render the same page')
}

console.log(`View benchmark: node ${process.version}, ${pinning ? 'servers pinned to CPU 0' : 'no pinning'}, ${benchRuntime} build, ` +
  `${connections} connections × ${pipelining} pipelined, ${rounds} rounds of ${segmentMs} ms per side`)
const results = { sd: [] as number[], base: [] as number[] }
for (let round = 0; round < rounds; round++) {
  const sd = await startServer(sdServer, { cpu: 0 })
  const base = await startServer(fastifyEta, { cpu: 0 })
  try {
    await checkSame(sd, base)
    await load(sd, 1000)
    await load(base, 1000)
    const order = round % 2 === 0 ? [sd, base] : [base, sd]
    for (const s of order) (s === sd ? results.sd : results.base).push(await load(s, segmentMs))
    for (const s of order.reverse()) (s === sd ? results.sd : results.base).push(await load(s, segmentMs))
    console.error(`round ${round + 1}: sd ${results.sd.slice(-2).map((n) => n.toFixed(0)).join(', ')} req/s; fastify+eta ${results.base.slice(-2).map((n) => n.toFixed(0)).join(', ')} req/s`)
  } finally {
    await Promise.all([sd.child.stop(), base.child.stop()])
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const sdRate = median(results.sd)
const baseRate = median(results.base)
console.log(table(['route', 'SD req/s', 'fastify+eta req/s', 'ratio', 'target'], [
  ['GET /bench/page (eta view, 20 rows)', int(sdRate), int(baseRate), (sdRate / baseRate).toFixed(2), '≥ 0.90'],
], new Set([1, 2, 3])))
