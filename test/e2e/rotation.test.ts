/**
 * Rotating SD_CLUSTER_SECRET with real processes (a private `redis-server`, `sd start
 * --dispatch`, `sd start --cluster` of the test app): a server holding `new,old` links through
 * a dispatcher holding `old` to a server holding `old`; then, the old dispatcher gone, through
 * one holding `new` to a server holding `new`; a server holding only an unrelated secret is
 * refused and reaches no one. The gateway secret alike: `sd start --gateway` holding `old`, a
 * `sd start --worker` holding `new,old` answers its clients; one holding an unrelated secret is
 * refused.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { findBinary, freePort, PrivateServers } from '../data/private-servers.js'
import { root, TcpClient, waitUntil } from '../helpers.js'
import { childEnv, type SdServer } from './sd-process.js'
import { ApiClient, startClusterServer, startDispatcher, type DispatchProc } from './cluster-procs.js'
import { gatewayApp, startGatewayRun, workerPidsOf } from './gateway-procs.js'

const OLD = 'rotation-old-0123456789abcdef'
const NEW = 'rotation-new-0123456789abcdef'
const OTHER = 'rotation-unrelated-0123456789'

interface Where { cluster: { dispatchers: Array<{ name: string, status: string }> } }

describe('SD_CLUSTER_SECRET rotation across real processes (new,old)', { timeout: 120_000, skip: findBinary('redis-server') ? false : 'redis-server not installed' }, () => {
  const servers = new PrivateServers()
  const procs: Array<SdServer | DispatchProc> = []
  const clients: ApiClient[] = []
  let env: Record<string, string>

  before(async () => {
    const port = await freePort()
    await servers.startRedis(port)
    env = { REDIS_URL: `redis://127.0.0.1:${port}`, SD_CLUSTER_CARRIER: 'dispatch' }
  })

  after(async () => {
    for (const c of clients) c.close()
    await Promise.allSettled(procs.map((p) => p.stop()))
    await servers.cleanup()
  })

  async function server (name: string, secret: string): Promise<SdServer> {
    const s = await startClusterServer(name, { ...env, SD_CLUSTER_SECRET: secret })
    procs.push(s)
    return s
  }

  async function dispatcher (name: string, secret: string): Promise<DispatchProc> {
    const d = await startDispatcher(name, { ...env, SD_CLUSTER_SECRET: secret })
    procs.push(d)
    return d
  }

  async function client (s: SdServer, uid: string): Promise<ApiClient> {
    const c = await ApiClient.connect(s.ports.tcp)
    clients.push(c)
    await c.call('bind', { uid })
    return c
  }

  /** Waits until `c`'s server has a ready link to dispatcher `name`. */
  async function linkedTo (c: ApiClient, name: string): Promise<void> {
    let seen = ''
    await waitUntil(async () => {
      const where = await c.call<Where>('where')
      seen = JSON.stringify(where.cluster.dispatchers)
      return where.cluster.dispatchers.some((d) => d.name === name && d.status === 'ready')
    }, 15_000, `a ready link to ${name}`).catch((err: Error) => { throw new Error(`${err.message}: ${seen}`) })
  }

  /** A push from `from` to uid `to` (held by `receiver`) arrives. */
  async function crosses (from: ApiClient, to: string, receiver: ApiClient, text: string): Promise<void> {
    assert.equal(await from.call('toUid', { uid: to, data: text }), 1, text)
    assert.equal(await receiver.push((x) => x === text, 5000), text)
  }

  let ua: ApiClient
  let dOld: DispatchProc

  test('phase 1: server new,old and server old link through a dispatcher holding old', async () => {
    dOld = await dispatcher('d-old', OLD)
    const a = await server('a', `${NEW},${OLD}`)
    const b = await server('b', OLD)
    ua = await client(a, 'ua')
    const ub = await client(b, 'ub')
    await linkedTo(ua, 'd-old')
    await linkedTo(ub, 'd-old')
    await crosses(ua, 'ub', ub, 'new,old to old')
    await crosses(ub, 'ua', ua, 'old to new,old')
  })

  test('phase 2: the old dispatcher gone, server new,old and server new link through a dispatcher holding new', async () => {
    const dNew = await dispatcher('d-new', NEW)
    await linkedTo(ua, 'd-new')
    await dOld.stop()
    const c = await server('c', NEW)
    const uc = await client(c, 'uc')
    await linkedTo(uc, 'd-new')
    await crosses(ua, 'uc', uc, 'new,old to new')
    await crosses(uc, 'ua', ua, 'new to new,old')
    assert.doesNotMatch(dNew.output(), /authentication failed/, 'd-new refused no one of them')
  })

  test('a server holding only an unrelated secret is refused by the dispatcher and reaches no one', async () => {
    const x = await server('x', OTHER)
    await waitUntil(() => /refused this node/.test(x.output()), 15_000, 'x to log its refusal')
    assert.match(x.output(), /authentication failed/)
    const ux = await client(x, 'ux')
    const where = await ux.call<Where>('where')
    assert.ok(where.cluster.dispatchers.every((d) => d.status !== 'ready'), JSON.stringify(where.cluster.dispatchers))
    await assert.rejects(ux.call('toUid', { uid: 'ua', data: 'intruder' }), (err: Error & { code?: string }) => err.code === 'SD_ERR_CLUSTER_UNAVAILABLE' || /SD_ERR_CLUSTER_UNAVAILABLE/.test(err.message))
  })
})

describe('SD_GATEWAY_SECRET rotation: a gateway and workers started apart (real processes)', { timeout: 90_000 }, () => {
  const running: SdServer[] = []
  const clients: TcpClient[] = []
  after(async () => {
    for (const c of clients) c.close()
    await Promise.allSettled(running.map((s) => s.stop()))
  })

  test('gateway old ← worker new,old: linked, the worker answers; worker unrelated: refused', async () => {
    const linkPort = await freePort()
    const gateway = await startGatewayRun(gatewayApp, ['--gateway'], { SD_GATEWAY_PORT: String(linkPort), SD_GATEWAY_SECRET: OLD })
    running.push(gateway)
    const worker = await startGatewayRun(gatewayApp, ['--worker'], { SD_GATEWAYS: `127.0.0.1:${linkPort}`, SD_GATEWAY_SECRET: `${NEW},${OLD}` })
    running.push(worker)
    const [pid] = await workerPidsOf(worker)
    const c = await TcpClient.connect(gateway.ports.tcp)
    clients.push(c)
    const reply = await waitUntil(async () => {
      const r = await c.request('/api/where')
      return r.error === undefined ? r : undefined
    }, 20_000, 'the rotating worker to answer through the gateway')
    assert.equal((reply.data as { pid: number }).pid, pid)

    // a worker that cannot link never reports that it serves: watch its output instead
    const runDir = await mkdtemp(join(tmpdir(), 'sd-run-x-'))
    const intruder = spawn(process.execPath, ['bin/sd.js', 'start', '--worker', '--root', gatewayApp], {
      cwd: root,
      env: childEnv({ SD_RUN_DIR: runDir, SD_TCP_PORT: '0', SD_TEXT_PORT: '0', SD_HTTP_PORT: '0', SD_GATEWAYS: `127.0.0.1:${linkPort}`, SD_GATEWAY_SECRET: OTHER }),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const exited = once(intruder, 'exit')
    let out = ''
    intruder.stdout.setEncoding('utf8').on('data', (chunk: string) => { out += chunk })
    intruder.stderr.setEncoding('utf8').on('data', (chunk: string) => { out += chunk })
    try {
      await waitUntil(() => /gateway refused the link/.test(out), 20_000, 'the unrelated worker to be refused')
      assert.match(out, /authentication failed/)
    } finally {
      if (intruder.exitCode === null && intruder.signalCode === null) intruder.kill('SIGTERM')
      await exited
      await rm(runDir, { recursive: true, force: true })
    }
    assert.doesNotMatch(worker.output(), /gateway refused the link/)
    assert.equal((await c.request('/api/where')).error, undefined, 'the gateway still serves through the rotating worker')
  })
})
