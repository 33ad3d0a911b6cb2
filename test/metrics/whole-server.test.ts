/**
 * Whole-server metrics of real `sd start` processes, scraped at the primary's admin listener and
 * parsed as Prometheus text: with `--workers 2` the figures are the sum over both workers (and
 * the default process metrics appear once, aggregated), with `--split --workers 2` socket
 * traffic comes from the gateway and actions from the workers without counting twice, and a
 * worker killed during a scrape is left out of it instead of hanging it.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { freePort } from '../free-port.js'
import { ApiClient, clusterApp, workerPids } from '../e2e/cluster-procs.js'
import { startSd, type SdServer } from '../e2e/sd-process.js'
import { runSd } from '../cli/run-sd.js'
import { root, waitUntil } from '../helpers.js'
import { parsePromText, valueOf, type Family } from './prom-text.js'

const TOKEN = 'whole-server-admin-token-0123456789'
const auth = { authorization: `Bearer ${TOKEN}` }

/** GET on the admin listener with the token; throws unless it answers 200. */
async function admin (port: number, path: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers: auth })
  const body = await res.text()
  if (res.status !== 200) throw new Error(`${path} answered ${res.status}: ${body}`)
  return body
}

async function scrape (port: number): Promise<Map<string, Family>> {
  return parsePromText(await admin(port, '/metrics'))
}

/** Each process's own figures, from `sd status --json` (slot, role, connections by transport). */
async function processes (server: SdServer): Promise<Array<{ id: number, role: string, pid: number, state: string, tcp: number }>> {
  const run = await runSd(['status', '--json', '--root', clusterApp], root, { SD_RUN_DIR: server.runDir })
  if (run.code !== 0) throw new Error(`sd status exited ${run.code}: ${run.stdout}${run.stderr}`)
  const status = JSON.parse(run.stdout) as { workers: Array<{ id: number, role: string, pid: number, state: string, stats?: { connections: { tcp?: number } } }> }
  return status.workers.map((w) => ({ id: w.id, role: w.role, pid: w.pid, state: w.state, tcp: w.stats?.connections.tcp ?? 0 }))
}

/** The `sd_action_duration_seconds` count of the one route whose name ends with `.method`. */
function actionCount (m: Map<string, Family>, method: string): number {
  const routes = new Set(m.get('sd_action_duration_seconds')?.samples.map((s) => s.labels.route).filter((r) => r.endsWith(`.${method}`)))
  assert.equal(routes.size, 1, `one route for ${method}: ${[...routes].join(', ')}`)
  return valueOf(m, 'sd_action_duration_seconds_count', { route: [...routes][0] })
}

/** A process's resident memory now, from /proc (what prom-client's `process_resident_memory_bytes` reads). */
function rssBytes (pid: number): number {
  const line = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(line?.[1]) * 1024
}

describe('sd start --workers 2: a scrape at the primary covers both workers', { timeout: 90_000 }, () => {
  let server: SdServer
  let adminPort: number
  const clients: ApiClient[] = []
  const byWorker = new Map<string, ApiClient[]>()
  let requests = 0

  before(async () => {
    adminPort = await freePort()
    // node's round robin spreads the clients over both workers (the default lets the kernel pick)
    server = await startSd(['--workers', '2', '--root', clusterApp], { SD_ADMIN_PORT: String(adminPort), SD_ADMIN_TOKEN: TOKEN, NODE_CLUSTER_SCHED_POLICY: 'rr' })
  })
  after(async () => {
    for (const c of clients) c.close()
    await server?.stop()
  })

  test('connections, messages and actions are the sum over the workers; default metrics appear once', async () => {
    // clients until both workers hold some (a connection id starts with its worker's `w<id>.`)
    await waitUntil(async () => {
      const c = await ApiClient.connect(server.ports.tcp)
      clients.push(c)
      const id = await c.call<string>('where').then((w) => (w as unknown as { connectionId: string }).connectionId)
      requests++
      const w = id.slice(0, id.indexOf('.'))
      byWorker.set(w, [...byWorker.get(w) ?? [], c])
      return byWorker.size === 2
    }, 20_000, 'clients on both workers')
    // four more (wherever they land), then three `where` on every client
    for (let i = 0; i < 4; i++) clients.push(await ApiClient.connect(server.ports.tcp))
    for (const c of clients) for (let i = 0; i < 3; i++) { await c.call('where'); requests++ }
    const procs = await processes(server)
    assert.equal(procs.length, 2)
    assert.ok(procs.every((p) => p.tcp > 0), `both workers hold clients: ${JSON.stringify(procs)}`)
    assert.equal(procs[0].tcp + procs[1].tcp, clients.length)
    const rssSum = procs.reduce((sum, p) => sum + rssBytes(p.pid), 0)

    const m = await scrape(adminPort)
    assert.equal(valueOf(m, 'sd_connections', { transport: 'tcp' }), clients.length)
    assert.equal(valueOf(m, 'sd_connections_opened_total', { transport: 'tcp' }), clients.length)
    // one message in and one reply out per request: the app pushes nothing here
    assert.equal(valueOf(m, 'sd_messages_in_total', { transport: 'tcp' }), requests)
    assert.equal(valueOf(m, 'sd_messages_out_total', { transport: 'tcp' }), requests)
    assert.equal(actionCount(m, 'where'), requests)
    assert.ok(valueOf(m, 'sd_bytes_in_total', { transport: 'tcp' }) > 0)
    // default metrics: one family, one series, aggregated over the workers
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds']) {
      assert.equal(m.get(name)?.samples.length, 1, `${name} once`)
    }
    assert.equal(m.get('nodejs_version_info')?.samples.length, 1)
    // memory sums: near both workers' RSS together (one worker's, or an average, is about half);
    // idle workers' RSS moves by a few MB between the two reads, far less than the bounds allow
    const rss = valueOf(m, 'process_resident_memory_bytes')
    assert.ok(rss > 0.75 * rssSum && rss < 1.33 * rssSum, `merged RSS ${rss} near both workers' ${rssSum}`)

    // the dashboard's series: the server's connections, both workers summed
    await waitUntil(async () => {
      const data = JSON.parse(await admin(adminPort, '/dashboard/data')) as { server: Array<{ connections: number, byTransport: Record<string, number> }> }
      const last = data.server.at(-1)
      return last?.connections === clients.length && last.byTransport.tcp === clients.length
    }, 10_000, 'a dashboard point with every connection')
  })

  test('a worker killed (SIGKILL) while a scrape waits for it: the scrape answers without its connections, and no counter goes down', async () => {
    const [victim] = (await processes(server)).filter((p) => p.tcp > 0)
    const survivors = clients.length - victim.tcp
    const before = await scrape(adminPort)
    const counters = ['sd_messages_in_total', 'sd_messages_out_total', 'sd_connections_opened_total'].map((name) => [name, valueOf(before, name, { transport: 'tcp' })] as const)
    const actions = actionCount(before, 'where')
    const noneDown = (m: Awaited<ReturnType<typeof scrape>>, when: string): void => {
      for (const [name, was] of counters) assert.ok(valueOf(m, name, { transport: 'tcp' }) >= was, `${name} ${when}: ${valueOf(m, name, { transport: 'tcp' })} < ${was}`)
      assert.ok(actionCount(m, 'where') >= actions, `the action count ${when}`)
    }
    // stopped, it cannot answer: the scrape waits on it (at most 2 s) when it is killed
    process.kill(victim.pid, 'SIGSTOP')
    const scraping = scrape(adminPort)
    // the page is served after the scrape's request was read: the scrape is under way
    await admin(adminPort, '/dashboard')
    process.kill(victim.pid, 'SIGKILL')
    const m = await scraping
    assert.equal(valueOf(m, 'sd_connections', { transport: 'tcp' }), survivors)
    // its counts stay in the sums (its last registry, then its counters kept by the primary)
    noneDown(m, 'while it was stopped')
    // the slot is restarted (with no clients); later scrapes count it again
    await waitUntil(async () => {
      const now = await processes(server)
      return now.length === 2 && now.every((p) => p.state === 'serving') && !(await workerPids(server)).includes(victim.pid)
    }, 20_000, 'the worker to be restarted')
    const again = await scrape(adminPort)
    assert.equal(valueOf(again, 'sd_connections', { transport: 'tcp' }), survivors)
    noneDown(again, 'after its restart')
    assert.equal(again.get('process_cpu_user_seconds_total')?.samples.length, 1)
  })
})

describe('sd start --split --workers 2: gateway traffic and worker actions in one scrape', { timeout: 90_000 }, () => {
  let server: SdServer
  let adminPort: number
  const clients: ApiClient[] = []

  before(async () => {
    adminPort = await freePort()
    server = await startSd(['--split', '--workers', '2', '--root', clusterApp], { SD_GATEWAY_PORT: '0', SD_ADMIN_PORT: String(adminPort), SD_ADMIN_TOKEN: TOKEN })
  })
  after(async () => {
    for (const c of clients) c.close()
    await server?.stop()
  })

  test('connections and messages from the gateway, action counts from the workers, none counted twice', async () => {
    let requests = 0
    for (let i = 0; i < 4; i++) clients.push(await ApiClient.connect(server.ports.tcp))
    for (const c of clients) for (let i = 0; i < 5; i++) { await c.call('where'); requests++ }
    const procs = await processes(server)
    assert.deepEqual(procs.map((p) => p.role), ['gateway', 'worker', 'worker'])
    // the gateway holds every socket; the business workers none
    assert.deepEqual(procs.map((p) => p.tcp), [clients.length, 0, 0])

    const m = await scrape(adminPort)
    assert.equal(valueOf(m, 'sd_connections', { transport: 'tcp' }), clients.length)
    assert.equal(valueOf(m, 'sd_messages_in_total', { transport: 'tcp' }), requests)
    assert.equal(valueOf(m, 'sd_messages_out_total', { transport: 'tcp' }), requests)
    assert.equal(actionCount(m, 'where'), requests)
    // the links of both sides: the gateway's to each worker, each worker's to the gateway
    const linksUp = m.get('sd_gateway_link_up')?.samples.reduce((sum, s) => sum + s.value, 0)
    assert.equal(linksUp, 4)
    assert.equal(m.get('process_cpu_user_seconds_total')?.samples.length, 1)
  })
})
