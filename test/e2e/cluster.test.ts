/**
 * The cluster with real processes on loopback, once per carrier. Dispatch links: a private
 * `redis-server`, two servers of the test app (`sd start --cluster`) and two dispatch servers
 * (`sd start --dispatch`); server A starts before any dispatcher and server B after the first
 * one, so both start orders are exercised. Redis pub/sub: the two servers and Redis only (no
 * dispatch server runs). Then, on both: every Bus call across servers; a server killed with
 * SIGKILL is purged within 5 s and sends to its uids report 0; Redis restarted empty is
 * refilled by the nodes. Dispatch links only (they need a dispatcher): a dispatcher killed with
 * SIGKILL during 10,000 sendToUid calls loses and duplicates none; a wrong secret and garbage on
 * a link port change nothing; with every dispatcher gone a server still serves its own clients
 * and reports SD_ERR_CLUSTER_UNAVAILABLE.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { once } from 'node:events'
import { Redis } from 'ioredis'
import { LinkClient } from '../../framework/cluster/link-client.js'
import { findBinary, freePort, PrivateServers, type ServerProcess } from '../data/private-servers.js'
import { waitUntil } from '../helpers.js'
import type { SdServer } from './sd-process.js'
import type { ClusterOverview } from '../../framework/cluster/overview.js'
import { runSd } from '../cli/run-sd.js'
import { root } from '../helpers.js'
import { ApiClient, clusterApp, startClusterServer, startDispatcher, workerPids, type DispatchProc } from './cluster-procs.js'

const haveRedis = Boolean(findBinary('redis-server'))

interface Where { node: string, connectionId: string, cluster: { carrier: string, resent: number, dispatchers: Array<{ name: string, status: string, preferred: boolean }> } }

for (const carrier of ['dispatch', 'redis'] as const) {
  const title = carrier === 'dispatch' ? 'dispatch cluster: 2 servers + 2 dispatchers + Redis' : 'Redis pub/sub carrier: 2 servers + Redis, no dispatch server'
  describe(`${title} (real processes)`, { timeout: 120_000, skip: haveRedis ? false : 'redis-server not installed' }, () => {
    const servers = new PrivateServers()
    let redis: ServerProcess
    let redisPort: number
    let env: Record<string, string>
    let a: SdServer
    let b: SdServer
    const dispatchers: DispatchProc[] = []
    const clients: ApiClient[] = []

    /** One command on the private Redis, through a connection of its own. */
    async function redisCommand (command: string, ...args: string[]): Promise<string> {
      const r = new Redis(redisPort, '127.0.0.1', { maxRetriesPerRequest: 1 })
      try {
        return String(await r.call(command, ...args))
      } finally {
        r.disconnect()
      }
    }

    async function client (server: SdServer, uid?: string): Promise<ApiClient> {
      const c = await ApiClient.connect(server.ports.tcp)
      clients.push(c)
      if (uid !== undefined) await c.call('bind', { uid })
      return c
    }

    before(async () => {
      redisPort = await freePort()
      redis = await servers.startRedis(redisPort)
      env = { REDIS_URL: `redis://127.0.0.1:${redisPort}`, SD_CLUSTER_CARRIER: carrier }
      if (carrier === 'redis') {
        a = await startClusterServer('a', env)
        // b has no SD_CLUSTER_SECRET: it authenticates dispatch links only, and there are none
        b = await startClusterServer('b', { ...env, SD_CLUSTER_SECRET: '' })
        return
      }
      a = await startClusterServer('a', env) // no dispatcher yet: A waits for one
      dispatchers.push(await startDispatcher('d1', env))
      b = await startClusterServer('b', env)
      dispatchers.push(await startDispatcher('d2', env))
    })

    after(async () => {
      for (const c of clients) c.close()
      await Promise.allSettled([a?.stop(), b?.stop(), ...dispatchers.map((d) => d.stop())])
      await servers.cleanup()
    })

    if (carrier === 'redis') {
      test('no dispatch server: both servers start at once, reach each other through Redis, and say nothing of dispatchers', async () => {
        const probe = await client(a)
        const probeB = await client(b)
        for (const c of [probe, probeB]) {
          const where = await c.call<Where>('where')
          assert.equal(where.cluster.carrier, 'redis')
          assert.deepEqual(where.cluster.dispatchers.map((d) => [d.name, d.status, d.preferred]), [['redis', 'ready', true]])
        }
        for (const s of [a, b]) assert.doesNotMatch(s.output(), /dispatch server/, 'no wait for, or warning about, dispatch servers')
        assert.equal(await probe.call('toConnection', { id: (await probeB.call<Where>('where')).connectionId, data: 'via redis' }), 1)
        assert.equal(await probeB.push((d) => d === 'via redis'), 'via redis')
      })

      test('sd status --cluster lists both servers with their Redis route and carrier', async () => {
        // one `sd status` per poll (each is a process start): until the heartbeats carry the carrier
        const { code, stdout } = await waitUntil(async () => {
          const run = await runSd(['status', '--cluster', '--root', clusterApp], root, env)
          return (run.stdout.match(/links: redis ready, carrier redis$/gm) ?? []).length === 2 ? run : undefined
        }, 8000, 'heartbeats carrying the carrier and its route')
        assert.equal(code, 0)
        assert.match(stdout, /^cluster sd-cluster-test: 2 servers, 0 dispatch servers$/m)
        assert.match(stdout, /^ {2}server {3}a .*links: redis ready, carrier redis$/m)
        assert.match(stdout, /^ {2}server {3}b .*links: redis ready, carrier redis$/m)
      })
    }

    if (carrier === 'dispatch') test('both start orders: each server links to both dispatchers within 2 s of the last start', async () => {
      const probe = await client(a)
      const probeB = await client(b)
      const started = Date.now()
      for (const c of [probe, probeB]) {
        await waitUntil(async () => {
          const where = await c.call<Where>('where')
          return where.cluster.dispatchers.filter((d) => d.status === 'ready').length === 2
        }, 2000, 'links to d1 and d2')
      }
      assert.ok(Date.now() - started <= 2000)
      const names = (await probe.call<Where>('where')).cluster.dispatchers.map((d) => d.name).sort()
      assert.deepEqual(names, ['d1', 'd2'])
    })

    if (carrier === 'dispatch') test('sd status --cluster lists the servers, the dispatchers, connections and link health', async () => {
      const open = clients.filter((c) => !c.tcp.closed).length // the probes of the first test
      await waitUntil(async () => {
        const { stdout } = await runSd(['status', '--cluster', '--json', '--root', clusterApp], root, env)
        const nodes = (JSON.parse(stdout) as ClusterOverview).nodes
        const tcp = nodes.reduce((n, node) => n + (node.connections.tcp ?? 0), 0)
        return tcp === open && nodes.every((n) => n.role === 'dispatch' || n.links.filter((l) => l.status === 'ready').length === 2)
      }, 4000, 'heartbeats carrying the connections and links')
      const { code, stdout } = await runSd(['status', '--cluster', '--root', clusterApp], root, env)
      assert.equal(code, 0)
      assert.match(stdout, /^cluster sd-cluster-test: 2 servers, 2 dispatch servers$/m)
      assert.match(stdout, /^ {2}server {3}a .*connections: tcp 1, uids 0, links: d[12] ready.*, d[12] ready/m)
      assert.match(stdout, /^ {2}server {3}b .*connections: tcp 1, uids 0, links: d[12] ready.*, d[12] ready/m)
      assert.match(stdout, /^ {2}dispatch d1 .*linked: (a, b|b, a)$/m)
      assert.match(stdout, /^ {2}dispatch d2 .*linked: (a, b|b, a)$/m)
    })

    test('every Bus call works across servers with the same code as standalone', async () => {
      const ua = await client(a, 'ua')
      const ub = await client(b, 'ub')
      const ub2 = await client(b, 'ub')
      const idB = (await ub.call<Where>('where')).connectionId
      assert.match(idB, /^b\./, 'connection ids name their node')

      // sendToUid: exactly the node holding the uid; every connection of it
      assert.equal(await ua.call('toUid', { uid: 'ub', data: { n: 1 } }), 2)
      assert.deepEqual(await ub.push(), { n: 1 })
      assert.deepEqual(await ub2.push(), { n: 1 })
      assert.equal(await ub.call('toUid', { uid: 'ua', data: 'to a' }), 1)
      assert.equal(await ua.push(), 'to a')
      assert.equal(await ua.call('toUid', { uid: 'nobody', data: 'x' }), 0, 'an offline uid reports 0')
      // a uid JSON must escape (quote, backslash, newline) and one it need not (non-ASCII), twice
      // each: the first send looks the uid up, the second uses the cached lookup
      for (const uid of ['q"u\\o\nte', 'ü✓ 𝄞']) {
        const odd = await client(b, uid)
        for (const n of [1, 2]) {
          assert.equal(await ua.call('toUid', { uid, data: { n } }), 1, `uid ${JSON.stringify(uid)}, send ${n}`)
          assert.deepEqual(await odd.push(), { n })
        }
      }

      // sends at once to a uid A has not looked up share one registry read (SMEMBERS of its key,
      // seen through MONITOR; the marker says every command before it has been seen)
      const crowd = await client(b, 'crowd')
      const watcher = new Redis(redisPort, '127.0.0.1')
      const monitor = await watcher.monitor()
      const reads: string[] = []
      let marked = false
      monitor.on('monitor', (_time: string, args: string[]) => {
        const command = String(args[0]).toLowerCase()
        if (command === 'smembers' && String(args[1]).endsWith('uid:crowd')) reads.push(String(args[1]))
        if (command === 'echo' && args[1] === 'crowd-marker') marked = true
      })
      try {
        assert.deepEqual(await ua.call('toUidMany', { uid: 'crowd', data: 'all at once', n: 20 }), Array.from({ length: 20 }, () => 1))
        await redisCommand('ECHO', 'crowd-marker')
        await waitUntil(() => marked, 3000, 'the monitor saw the marker')
      } finally {
        monitor.disconnect()
        watcher.disconnect()
      }
      assert.equal(reads.length, 1, 'one registry read for 20 sends')
      for (let i = 0; i < 20; i++) assert.equal(await crowd.push(), 'all at once')

      // sendToUids: local and remote in one call
      assert.equal(await ub.call('toUids', { uids: ['ua', 'ub', 'nobody'], data: 'many' }), 3)
      assert.equal(await ua.push(), 'many')
      assert.equal(await ub.push(), 'many')
      assert.equal(await ub2.push(), 'many')

      // groups
      await ua.call('join', { group: 'room' })
      await ub.call('join', { group: 'room' })
      assert.equal(await ua.call('toGroup', { group: 'room', data: 'hi room' }), 2)
      assert.equal(await ua.push(), 'hi room')
      assert.equal(await ub.push(), 'hi room')
      assert.equal(await ua.call('toGroup', { group: 'room', data: 'not b', exclude: idB }), 1, 'exclude works on another node')
      assert.equal(await ua.push(), 'not b')
      assert.deepEqual(await ua.call('members', { group: 'room' }), ['ua', 'ub'])
      assert.equal(await ub.call('countGroup', { group: 'room' }), 2)
      assert.deepEqual(await ua.call('allGroups'), ['room'])
      assert.equal(await ua.call('online', { uid: 'ub' }), true)
      assert.equal(await ub.call('online', { uid: 'ua' }), true)
      assert.equal(await ua.call('online', { uid: 'nobody' }), false)
      assert.equal(await ua.call('count'), 5, 'online uids: ua, ub and the three above')

      // sendToAll reaches every connection of both servers (the probes of the first test too)
      const total = await ub.call<number>('toAll', { data: 'everyone' })
      assert.equal(total, clients.filter((c) => !c.tcp.closed).length)
      assert.equal(await ua.push((d) => d === 'everyone'), 'everyone')

      // one connection by id, on the other node
      assert.equal(await ua.call('toConnection', { id: idB, data: 'just you' }), 1)
      assert.equal(await ub.push((d) => d === 'just you'), 'just you')

      // leaving updates the registry
      await ub.call('leave', { group: 'room' })
      assert.equal(await ua.call('countGroup', { group: 'room' }), 1)
      assert.deepEqual(await ua.call('members', { group: 'room' }), ['ua'])

      // kickUid from A closes both of B's connections of the uid
      assert.equal(await ua.call('kick', { uid: 'ub' }), 2)
      await ub.tcp.waitClosed()
      await ub2.tcp.waitClosed()
      await waitUntil(async () => (await ua.call('online', { uid: 'ub' })) === false, 3000, 'ub offline')

      // binding with kick closes the uid's connections on other servers
      const first = await client(b, 'twin')
      const second = await client(a)
      await second.call('bind', { uid: 'twin', kick: true })
      await first.tcp.waitClosed()
      assert.equal(await second.call('toUid', { uid: 'twin', data: 'me' }), 1)

      // closeConnection by id, across
      const victim = await client(b)
      const victimId = (await victim.call<Where>('where')).connectionId
      assert.equal(await ua.call('closeById', { id: victimId }), true)
      await victim.tcp.waitClosed()
      assert.equal(await ua.call('closeById', { id: victimId }), false)
    })

    test('a server killed with SIGKILL is purged within 5 s; sends to its uids then report 0', async (t) => {
      const c = await startClusterServer('c', env)
      t.after(() => c.stop())
      const uc = await client(c, 'uc')
      await uc.call('join', { group: 'croom' })
      const ua = await client(a, 'ua-2')
      await waitUntil(async () => (await ua.call('toUid', { uid: 'uc', data: 'before' })) === 1, 3000, 'C reachable')
      assert.equal(await ua.call('countGroup', { group: 'croom' }), 1)

      // the cluster node is the worker; the primary goes too, so nothing restarts it
      const [worker] = await workerPids(c)
      process.kill(worker, 'SIGKILL')
      process.kill(c.child.pid!, 'SIGKILL')
      const killed = Date.now()
      await waitUntil(async () => (await ua.call('online', { uid: 'uc' })) === false, 6000, 'uc purged')
      const purgedAfter = Date.now() - killed
      assert.ok(purgedAfter <= 5000, `purged after ${purgedAfter} ms`)
      assert.equal(await ua.call('toUid', { uid: 'uc', data: 'after' }), 0)
      assert.equal(await ua.call('countGroup', { group: 'croom' }), 0)
      // the onNodeGone hook (test app's boot.ts) ran on one server, which told everyone once
      const gone = await ua.push((d) => (d as { type?: string }).type === 'node-gone', 10_000) as { uids: string[] }
      assert.deepEqual(gone.uids, ['uc'])
      const ub = await client(b)
      assert.ok((await ub.call<number>('toAll', { data: 'marker' })) > 0)
      await ua.push((d) => d === 'marker')
      // (the first announcement was taken off `received` above; a second one would still be there)
      assert.equal(ua.tcp.received.filter((m) => (m.data as { type?: string } | undefined)?.type === 'node-gone').length, 0, 'announced once')
    })

    if (carrier === 'dispatch') test('a dispatcher killed with SIGKILL during 10,000 sendToUid calls: every message delivered exactly once', async () => {
      const sender = await client(a, 'stream-sender')
      const receiver = await client(b, 'stream-receiver')
      await waitUntil(async () => (await sender.call('toUid', { uid: 'stream-receiver', data: { seq: -1 } })) === 1, 3000, 'receiver reachable')
      await receiver.push((d) => (d as { seq: number }).seq === -1)
      const via = (await sender.call<Where>('where')).cluster.dispatchers.find((d) => d.preferred)
      assert.ok(via, 'A sends through one dispatcher')
      const victim = dispatchers.find((d) => d.output().includes(`"node":"${via.name}"`))!
      assert.ok(victim)

      const total = 10_000
      const window = 64
      const counts: number[] = []
      const errors: string[] = []
      let next = 0
      let killedAt = -1
      const lane = async (): Promise<void> => {
        while (next < total) {
          const seq = next++
          if (seq === 3000) {
            killedAt = seq
            victim.child.kill('SIGKILL')
          }
          try {
            counts[seq] = await sender.call<number>('toUid', { uid: 'stream-receiver', data: { seq } })
          } catch (err) {
            errors.push((err as Error).message)
          }
        }
      }
      await Promise.all(Array.from({ length: window }, lane))
      assert.equal(killedAt, 3000)
      assert.deepEqual(errors, [])
      assert.equal(counts.filter((n) => n === 1).length, total, 'every call reports 1 delivery')

      await waitUntil(() => receiver.tcp.received.length >= total, 5000, 'all pushes')
      const seen = new Map<number, number>()
      for (const m of receiver.tcp.received) {
        const seq = (m.data as { seq: number }).seq
        seen.set(seq, (seen.get(seq) ?? 0) + 1)
      }
      const missing = Array.from({ length: total }, (_, i) => i).filter((i) => !seen.has(i))
      const twice = [...seen].filter(([, n]) => n > 1).map(([seq]) => seq)
      assert.deepEqual(missing, [], 'none lost')
      assert.deepEqual(twice, [], 'none twice')
      assert.equal(seen.size, total)
      assert.ok((await sender.call<Where>('where')).cluster.resent > 0, 'requests in flight through the dead dispatcher were re-sent through the other')
      dispatchers.splice(dispatchers.indexOf(victim), 1)
      dispatchers.push(await startDispatcher(via.name, env)) // back to two for the next tests
    })

    test('Redis restarted empty: every node re-registers its connections by itself', async () => {
      const ua = await client(a, 'r-a')
      const ub = await client(b, 'r-b')
      await ub.call('join', { group: 'r-room' })
      const countBefore = await ua.call<number>('count')
      await servers.kill(redis)
      redis = await servers.startRedis(redisPort)
      await waitUntil(async () => {
        try {
          return (await ua.call('online', { uid: 'r-b' })) === true && (await ua.call<number>('count')) === countBefore
        } catch {
          return false
        }
      }, 10_000, 'the registry refilled')
      assert.equal(await ua.call('countGroup', { group: 'r-room' }), 1)
      await waitUntil(async () => (await ua.call('toUid', { uid: 'r-b', data: 'after restart' })) === 1, 5000, 'cross send after the restart')
      assert.equal(await ub.push((d) => d === 'after restart'), 'after restart')
    })

    if (carrier === 'dispatch') test('a link client with a wrong secret is refused; garbage on a link port changes nothing', async () => {
      const d = dispatchers[0]
      const intruder = new LinkClient({ host: '127.0.0.1', port: d.port, name: 'intruder', secret: Buffer.from('not-the-secret-at-all'), reconnectMinMs: 5000 })
      const denied = once(intruder, 'denied', { signal: AbortSignal.timeout(5000) })
      intruder.start()
      const [reason] = await denied as [string]
      assert.match(reason, /authentication failed/)
      await intruder.close()

      const garbage = connect(d.port, '127.0.0.1')
      garbage.on('error', () => {})
      garbage.resume() // read what comes (the dispatcher's challenge), so its close is seen
      await once(garbage, 'connect', { signal: AbortSignal.timeout(5000) })
      garbage.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n\x00\x01\x02\xff'.repeat(50)))
      await once(garbage, 'close', { signal: AbortSignal.timeout(5000) })

      const ua = await client(a, 'g-a')
      const ub = await client(b, 'g-b')
      await waitUntil(async () => (await ua.call('where') as Where).cluster.dispatchers.every((x) => x.status === 'ready'), 5000, 'links ready')
      assert.equal(await ua.call('toUid', { uid: 'g-b', data: 'still fine' }), 1)
      assert.equal(await ub.push((x) => x === 'still fine'), 'still fine')
    })

    if (carrier === 'dispatch') test('with every dispatcher gone a server serves its own clients and reports SD_ERR_CLUSTER_UNAVAILABLE', async () => {
      const ua = await client(a, 'alone-a')
      const ua2 = await client(a, 'alone-a2')
      await client(b, 'alone-b')
      for (const d of dispatchers.splice(0)) d.child.kill('SIGKILL')
      await waitUntil(async () => (await ua.call<Where>('where')).cluster.dispatchers.every((x) => x.status !== 'ready'), 3000, 'links down')
      assert.equal(await ua.call('toUid', { uid: 'alone-a2', data: 'local' }), 1)
      assert.equal(await ua2.push((x) => x === 'local'), 'local')
      await assert.rejects(ua.call('toUid', { uid: 'alone-b', data: 'remote' }), /SD_ERR_CLUSTER_UNAVAILABLE/)
      assert.equal(await ua.call('online', { uid: 'alone-b' }), true, 'the registry still answers queries')
    })
  })
}
