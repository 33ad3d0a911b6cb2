/**
 * The cluster in two more setups, with real processes on loopback, on both carriers (dispatch
 * links, Redis pub/sub):
 *  - the demo chat on two servers: a telnet user on server A writes `<uid>:text` to a telnet
 *    user on server B, and room messages reach both;
 *  - a 3-master Redis Cluster (`redis-server --cluster-enabled yes` on three ports) holding the
 *    registry (and carrying the frames, on Redis pub/sub): the cross-server calls work as on a
 *    single Redis (every key of a cluster shares one hash tag, so the registry's scripts are
 *    legal there).
 * Plus the dispatch server's own commands (daemon, status, stop).
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { findBinary, freePort, PrivateServers } from '../data/private-servers.js'
import { LineClient, root, waitUntil } from '../helpers.js'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runSd } from '../cli/run-sd.js'
import { startSd, type SdServer } from './sd-process.js'
import { ApiClient, secret, startClusterServer, startDispatcher, type DispatchProc } from './cluster-procs.js'

const run = promisify(execFile)
const haveRedis = Boolean(findBinary('redis-server'))
const haveCli = Boolean(findBinary('redis-cli'))

const carriers = ['dispatch', 'redis'] as const

for (const carrier of carriers) describe(`demo chat on two cluster servers (telnet), carrier ${carrier}`, { timeout: 60_000, skip: haveRedis ? false : 'redis-server not installed' }, () => {
  const servers = new PrivateServers()
  const procs: Array<SdServer | DispatchProc> = []
  let a: SdServer
  let b: SdServer

  before(async () => {
    const port = await freePort()
    await servers.startRedis(port)
    const env = { REDIS_URL: `redis://127.0.0.1:${port}`, SD_CLUSTER_SECRET: secret, SD_CLUSTER_CARRIER: carrier }
    if (carrier === 'dispatch') procs.push(await startDispatcher('chat-d', env, root)) // the demo app: same cluster name as its servers
    a = await startSd(['--cluster'], { ...env, SD_NODE_NAME: 'chat-a' })
    procs.push(a)
    b = await startSd(['--cluster'], { ...env, SD_NODE_NAME: 'chat-b' })
    procs.push(b)
  })

  after(async () => {
    await Promise.allSettled(procs.map((p) => p.stop()))
    await servers.cleanup()
  })

  test('a telnet user on A writes <uid>:text to a telnet user on B; room messages reach both', async () => {
    const alice = await LineClient.connect(a.ports.text)
    const bob = await LineClient.connect(b.ports.text)
    try {
      alice.send('alice')
      const aliceUid = /your uid is (\d+)/.exec(await alice.next((l) => l.startsWith('welcome')))![1]
      bob.send('bob')
      const bobUid = /your uid is (\d+)/.exec(await bob.next((l) => l.startsWith('welcome')))![1]
      assert.notEqual(aliceUid, bobUid, 'uids come from Redis: unique across servers')
      assert.equal(await alice.next((l) => l.includes('joined')), `bob(${bobUid}) joined lobby`, 'the join reached server A')

      alice.send(`${bobUid}:hello from A`)
      assert.equal(await bob.next((l) => l.includes('hello from A')), `alice(${aliceUid}) says to you: hello from A`)
      bob.send(`${aliceUid}:hi back`)
      assert.equal(await alice.next((l) => l.includes('hi back')), `bob(${bobUid}) says to you: hi back`)
      alice.send('99999:anyone?')
      assert.equal(await alice.next((l) => l.includes('99999')), 'uid 99999 is not online')
      bob.send('to the room')
      assert.equal(await alice.next((l) => l.includes('to the room')), `bob(${bobUid}) says: to the room`)
    } finally {
      alice.close()
      bob.close()
    }
  })
})

describe('sd start --dispatch --daemon, sd status --dispatch, sd stop --dispatch', { timeout: 60_000, skip: haveRedis ? false : 'redis-server not installed' }, () => {
  const servers = new PrivateServers()
  let env: Record<string, string>
  let runDir: string

  before(async () => {
    const port = await freePort()
    await servers.startRedis(port)
    runDir = await mkdtemp(join(tmpdir(), 'sd-run-dd-'))
    env = { REDIS_URL: `redis://127.0.0.1:${port}`, SD_CLUSTER_SECRET: secret, SD_RUN_DIR: runDir, SD_NODE_NAME: 'dd', SD_DISPATCH_PORT: '0' }
  })

  after(async () => {
    await runSd(['stop', '--dispatch'], root, env)
    await rm(runDir, { recursive: true, force: true })
    await servers.cleanup()
  })

  test('the dispatch server runs in the background, shows in both status views and stops', async () => {
    const started = await runSd(['start', '--dispatch', '--daemon'], root, env, 60_000)
    assert.equal(started.code, 0, started.stderr)
    assert.match(started.stdout + started.stderr, /running \(pid \d+\)/)
    const own = await runSd(['status', '--dispatch'], root, env)
    assert.match(own.stdout, /^dispatch dd \(cluster sd-chat\): pid \d+, listening, .*registry registered$/m)
    const all = await runSd(['status', '--cluster'], root, env)
    assert.match(all.stdout, /^cluster sd-chat: 0 servers, 1 dispatch server$/m)
    assert.match(all.stdout, /^ {2}dispatch dd .*linked: none$/m)
    const stopped = await runSd(['stop', '--dispatch'], root, env)
    assert.match(stopped.stdout, /^stopped \(pid \d+\)$/m)
    assert.match((await runSd(['status', '--cluster'], root, env)).stdout, /0 dispatch servers/, 'it left the registry')
  })

  test('--cluster and --dispatch refuse to start without a secret or without Redis', async () => {
    const noSecret = await runSd(['start', '--cluster'], root, { ...env, SD_CLUSTER_SECRET: undefined })
    assert.equal(noSecret.code, 2)
    assert.match(noSecret.stderr, /SD_CLUSTER_SECRET must be set to at least 16 bytes/)
    const noRedis = await runSd(['start', '--dispatch'], root, { ...env, REDIS_URL: undefined })
    assert.equal(noRedis.code, 2)
    assert.match(noRedis.stderr, /--dispatch needs Redis settings/)
  })
})

for (const carrier of carriers) describe(`cluster on a 3-master Redis Cluster, carrier ${carrier}`, { timeout: 90_000, skip: haveRedis && haveCli ? false : 'redis-server / redis-cli not installed' }, () => {
  const servers = new PrivateServers()
  const procs: Array<SdServer | DispatchProc> = []
  let a: SdServer
  let b: SdServer

  /** A port whose cluster bus port (+10000) is free too. */
  async function clusterPort (): Promise<number> {
    for (;;) {
      const p = await freePort()
      if (p + 10_000 <= 65_535) return p
    }
  }

  before(async () => {
    const ports = [await clusterPort(), await clusterPort(), await clusterPort()]
    for (const p of ports) {
      await servers.startRedis(p, ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${p}.conf`, '--cluster-node-timeout', '2000'])
    }
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'])
    await waitUntil(async () => {
      const infos = await Promise.all(ports.map((p) => run('redis-cli', ['-p', String(p), 'cluster', 'info']).then((r) => r.stdout)))
      return infos.every((i) => i.includes('cluster_state:ok'))
    }, 15_000, 'the Redis Cluster to be ok')
    const env = { SD_TEST_REDIS_CLUSTER: ports.map((p) => `127.0.0.1:${p}`).join(','), SD_CLUSTER_CARRIER: carrier }
    if (carrier === 'dispatch') procs.push(await startDispatcher('rc-d1', env))
    a = await startClusterServer('rc-a', env)
    procs.push(a)
    b = await startClusterServer('rc-b', env)
    procs.push(b)
  })

  after(async () => {
    await Promise.allSettled(procs.map((p) => p.stop()))
    await servers.cleanup()
  })

  test('cross-server sends, groups and queries with the registry on Redis Cluster', async () => {
    const ua = await ApiClient.connect(a.ports.tcp)
    const ub = await ApiClient.connect(b.ports.tcp)
    try {
      await ua.call('bind', { uid: 'rc-ua' })
      await ub.call('bind', { uid: 'rc-ub' })
      await ua.call('join', { group: 'rc-room' })
      await ub.call('join', { group: 'rc-room' })
      await waitUntil(async () => (await ua.call('toUid', { uid: 'rc-ub', data: 'over redis cluster' })) === 1, 5000, 'A reaches rc-ub')
      assert.equal(await ub.push((d) => d === 'over redis cluster'), 'over redis cluster')
      assert.equal(await ub.call('toGroup', { group: 'rc-room', data: 'room' }), 2)
      assert.equal(await ua.push((d) => d === 'room'), 'room')
      assert.equal(await ua.call('count'), 2)
      assert.deepEqual(await ub.call('members', { group: 'rc-room' }), ['rc-ua', 'rc-ub'])
      assert.equal(await ua.call('countGroup', { group: 'rc-room' }), 2)
      assert.equal(await ub.call('online', { uid: 'rc-ua' }), true)
      assert.equal(await ua.call('kick', { uid: 'rc-ub' }), 1)
      await ub.tcp.waitClosed()
      await waitUntil(async () => (await ua.call('online', { uid: 'rc-ub' })) === false, 3000, 'rc-ub offline')
      assert.equal(await ua.call('toUid', { uid: 'rc-ub', data: 'gone' }), 0)
    } finally {
      ua.close()
      ub.close()
    }
  })
})
