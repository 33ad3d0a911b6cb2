/**
 * A dispatch server's admin listener (real processes: `sd start --dispatch` with SD_ADMIN_PORT,
 * two `sd start --cluster` servers linked through it, a private redis-server): its scrape,
 * parsed, counts the linked servers and the frames and bytes it relayed, carries the default
 * metrics, exposes exactly the dispatch metrics docs/metrics.md lists, and a publish there
 * answers SD_ERR_NOT_SUPPORTED.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { findBinary, freePort, PrivateServers } from '../data/private-servers.js'
import { ApiClient, startClusterServer, startDispatcher, type DispatchProc } from '../e2e/cluster-procs.js'
import type { SdServer } from '../e2e/sd-process.js'
import { waitUntil } from '../helpers.js'
import { parsePromText, valueOf, type Family } from './prom-text.js'

const TOKEN = 'dispatch-admin-token-0123456789'
const haveRedis = Boolean(findBinary('redis-server'))

describe('sd start --dispatch with SD_ADMIN_PORT', { timeout: 90_000, skip: haveRedis ? false : 'redis-server not installed' }, () => {
  const servers = new PrivateServers()
  let dispatcher: DispatchProc
  let a: SdServer
  let b: SdServer
  let adminPort: number
  const clients: ApiClient[] = []

  async function scrape (): Promise<Map<string, Family>> {
    const res = await fetch(`http://127.0.0.1:${adminPort}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })
    assert.equal(res.status, 200)
    return parsePromText(await res.text())
  }

  before(async () => {
    const redisPort = await freePort()
    await servers.startRedis(redisPort)
    adminPort = await freePort()
    const env = { REDIS_URL: `redis://127.0.0.1:${redisPort}` }
    dispatcher = await startDispatcher('d1', { ...env, SD_ADMIN_PORT: String(adminPort), SD_ADMIN_TOKEN: TOKEN })
    a = await startClusterServer('a', env)
    b = await startClusterServer('b', env)
  })
  after(async () => {
    for (const c of clients) c.close()
    await Promise.allSettled([a?.stop(), b?.stop(), dispatcher?.stop()])
    await servers.cleanup()
  })

  test('the scrape counts linked servers, relayed frames and bytes; a publish is refused', async () => {
    await waitUntil(async () => valueOf(await scrape(), 'sd_dispatch_links') === 2, 10_000, 'both servers linked')
    const onA = await ApiClient.connect(a.ports.tcp)
    const onB = await ApiClient.connect(b.ports.tcp)
    clients.push(onA, onB)
    const idB = (await onB.call<{ connectionId: string }>('where')).connectionId
    const before = await scrape()
    // a push from A to a connection on B crosses the dispatcher
    await waitUntil(async () => (await onA.call<number>('toConnection', { id: idB, data: 'via d1' })) === 1, 10_000, 'A to reach B')
    assert.equal(await onB.push((d) => d === 'via d1'), 'via d1')
    const m = await scrape()
    assert.equal(valueOf(m, 'sd_dispatch_links'), 2)
    assert.ok(valueOf(m, 'sd_dispatch_relayed_total') > valueOf(before, 'sd_dispatch_relayed_total'), 'the push was relayed')
    assert.ok(valueOf(m, 'sd_dispatch_bytes_in_total') > valueOf(before, 'sd_dispatch_bytes_in_total'))
    assert.ok(valueOf(m, 'sd_dispatch_bytes_out_total') > valueOf(before, 'sd_dispatch_bytes_out_total'))
    assert.equal(valueOf(m, 'sd_dispatch_refused_total'), 0)
    // a round trip per linked server once its first ping came back
    for (const sample of m.get('sd_dispatch_link_rtt_seconds')?.samples ?? []) assert.ok(['a', 'b'].includes(sample.labels.peer))
    assert.equal(m.get('process_cpu_user_seconds_total')?.samples.length, 1, 'default metrics')
    // exactly the dispatch metrics docs/metrics.md lists in its dispatch section
    const doc = readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8')
    const section = doc.slice(doc.indexOf('## Dispatch servers'))
    const documented = [...section.matchAll(/^\| `(sd_[a-z_]+)` \|/gm)].map((x) => x[1]).sort()
    assert.deepEqual([...m.keys()].filter((n) => n.startsWith('sd_')).sort(), documented)

    const res = await fetch(`http://127.0.0.1:${adminPort}/sd/publish`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ to: { all: true }, data: 'x' }) })
    const body = await res.json() as { error: { code: string } }
    assert.equal(body.error.code, 'SD_ERR_NOT_SUPPORTED')
    assert.equal(res.status, 400)
    assert.match(dispatcher.output(), /admin listening on 127\.0\.0\.1:/)
  })
})
