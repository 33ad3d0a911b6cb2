/**
 * The split under faulty results and peers: every request gets exactly one answer, the right
 * one, and nothing a worker sends can take the gateway down.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { once } from 'node:events'
import { decode as unpackMsg, encode as packMsg } from '@msgpack/msgpack'
import { Controller } from '../../framework/index.js'
import { portOf, TcpClient, waitUntil } from '../helpers.js'
import { linkPort, startGateway, startWorker } from './split-helpers.js'

/** Resolvers of the `held` actions running now, by their data. */
const held = new Map<string, () => void>()

class FaultController extends Controller {
  echo (data: unknown): unknown { return data }
  /** A value JSON cannot encode (v8 can: it crosses the link). */
  big (): unknown { return { n: 1n } }
  pushBig (): string { this.send({ n: 1n }); return 'pushed' }
  huge (data: { n: number }): string { return 'x'.repeat(data.n) }
  greeted (): unknown { return this.session.greeted ?? null }
  badSession (): string { this.session.fn = () => 1; this.session.n = 1; return 'set' }
  sessionNow (): unknown { return { ...this.session } }
  async badSessionLater (): Promise<string> { await Promise.resolve(); this.session.fn = () => 2; this.session.n = 2; return 'set' }
  async hold (data: string): Promise<string> {
    await new Promise<void>((resolve) => held.set(data, resolve))
    return data
  }
}

const ready = (gw: Awaited<ReturnType<typeof startGateway>>, n = 1): Promise<boolean> =>
  waitUntil(() => gw.gateway?.status().workers.filter((w) => w.state === 'ready').length === n, 5000, 'the worker ready at the gateway')

test('an HTTP result JSON cannot encode is answered 500 SD_ERR_INTERNAL; the gateway keeps serving', async (t) => {
  const gw = await startGateway()
  const w = await startWorker(gw, `fw1-${process.pid}`, [FaultController])
  t.after(async () => { await w.stop(); await gw.stop() })
  await ready(gw)
  const res = await fetch(`http://127.0.0.1:${portOf(gw, 'http')}/fault/big`, { signal: AbortSignal.timeout(5000) })
  assert.equal(res.status, 500)
  assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'SD_ERR_INTERNAL')
  const again = await fetch(`http://127.0.0.1:${portOf(gw, 'http')}/fault/echo?x=1`, { signal: AbortSignal.timeout(5000) })
  assert.deepEqual(await again.json(), { x: '1' })
})

test('this.send of a value a JSON client cannot be sent fails the action, as in direct mode; the gateway keeps serving', async (t) => {
  const gw = await startGateway()
  const w = await startWorker(gw, `fw2-${process.pid}`, [FaultController])
  t.after(async () => { await w.stop(); await gw.stop() })
  await ready(gw)
  const c = await TcpClient.connect(portOf(gw, 'tcp'))
  t.after(() => c.close())
  assert.equal((await c.request('/fault/pushBig')).error?.code, 'SD_ERR_INTERNAL')
  assert.equal((await c.request('/fault/echo', 'alive')).data, 'alive')
})

test('a result larger than a link frame is answered SD_ERR_INTERNAL; the link and the other requests on it survive', async (t) => {
  const gw = await startGateway()
  const w = await startWorker(gw, `fw3-${process.pid}`, [FaultController])
  t.after(async () => { await w.stop(); await gw.stop() })
  await ready(gw)
  const c = await TcpClient.connect(portOf(gw, 'tcp'))
  t.after(() => c.close())
  const pending = c.request('/fault/hold', 'kept')
  await waitUntil(() => held.has('kept'), 3000, 'the held action to start')
  assert.equal((await c.request('/fault/huge', { n: 9 * 1024 * 1024 })).error?.code, 'SD_ERR_INTERNAL')
  held.get('kept')?.()
  held.delete('kept')
  assert.equal((await pending).data, 'kept', 'the request in flight on the same link was answered by the worker')
})

test('after a gateway restart, a result of the old gateway\'s request never answers a new request', async (t) => {
  const first = await startGateway({}, { server: { shutdownTimeoutMs: 100 } })
  const port = linkPort(first)
  const w = await startWorker(first, `fw4-${process.pid}`, [FaultController])
  t.after(() => w.stop())
  await ready(first)
  const old = await TcpClient.connect(portOf(first, 'tcp'))
  t.after(() => old.close())
  void old.request('/fault/hold', 'old').catch(() => {})
  await waitUntil(() => held.has('old'), 3000, 'the old request to run in the worker')
  await first.stop() // gives up on the request after 100 ms and closes the links
  const second = await startGateway({ port })
  t.after(() => second.stop())
  await ready(second)
  const c = await TcpClient.connect(portOf(second, 'tcp'))
  t.after(() => c.close())
  const answer = c.request('/fault/hold', 'new')
  await waitUntil(() => held.has('new'), 3000, 'the new request to run in the worker')
  held.get('old')?.() // the old gateway's request ends now, on the worker
  held.delete('old')
  // the new request is still running: nothing may have answered it
  await c.request('/fault/echo', 'ping')
  assert.equal(c.received.length, 0, `no stray answer: ${JSON.stringify(c.received)}`)
  held.get('new')?.()
  held.delete('new')
  assert.equal((await answer).data, 'new')
})

test('a client message larger than a link frame is answered SD_ERR_INTERNAL; the link survives', async (t) => {
  const gw = await startGateway({}, { server: { tcp: { maxFrameBytes: 16 * 1024 * 1024 } } })
  const w = await startWorker(gw, `fw5-${process.pid}`, [FaultController])
  t.after(async () => { await w.stop(); await gw.stop() })
  await ready(gw)
  const c = await TcpClient.connect(portOf(gw, 'tcp'))
  t.after(() => c.close())
  const pending = c.request('/fault/hold', 'kept5')
  await waitUntil(() => held.has('kept5'), 3000, 'the held action to start')
  assert.equal((await c.request('/fault/echo', 'y'.repeat(9 * 1024 * 1024))).error?.code, 'SD_ERR_INTERNAL')
  held.get('kept5')?.()
  held.delete('kept5')
  assert.equal((await pending).data, 'kept5', 'the request in flight on the same link was answered by the worker')
})

test('a draining worker that links again (its gateway restarted) is draining there too: no new request goes to it', async (t) => {
  const first = await startGateway({}, { server: { shutdownTimeoutMs: 100 } })
  const port = linkPort(first)
  const w = await startWorker(first, `fw6-${process.pid}`, [FaultController])
  await ready(first)
  const old = await TcpClient.connect(portOf(first, 'tcp'))
  t.after(() => old.close())
  void old.request('/fault/hold', 'keep6').catch(() => {})
  await waitUntil(() => held.has('keep6'), 3000, 'the held request to run in the worker')
  const stopped = w.stop() // drains: waits for the held request
  await waitUntil(() => first.gateway?.status().workers[0]?.state === 'draining', 3000, 'the drain marked')
  await first.stop()
  const second = await startGateway({ port, workerWaitMs: 200 })
  t.after(() => second.stop())
  await waitUntil(() => second.gateway?.status().workers.length === 1 && second.gateway.status().workers[0].state !== undefined, 5000, 'the worker linked again')
  assert.equal(second.gateway?.status().workers[0].state, 'draining')
  const c = await TcpClient.connect(portOf(second, 'tcp'))
  t.after(() => c.close())
  assert.equal((await c.request('/fault/echo', 1)).error?.code, 'SD_ERR_NO_WORKER', 'the request waited for a ready worker, not sent to the stopping one')
  held.get('keep6')?.()
  held.delete('keep6')
  await stopped
})

test('a stopping gateway refuses new requests SD_ERR_SHUTTING_DOWN while those at workers finish', async (t) => {
  const gw = await startGateway({}, { server: { shutdownTimeoutMs: 10_000 } })
  const w = await startWorker(gw, `fw7-${process.pid}`, [FaultController])
  t.after(() => w.stop())
  await ready(gw)
  const c = await TcpClient.connect(portOf(gw, 'tcp'))
  t.after(() => c.close())
  const pending = c.request('/fault/hold', 'keep7')
  await waitUntil(() => held.has('keep7'), 3000, 'the held request to run in the worker')
  const stopped = gw.stop()
  await waitUntil(async () => (await c.request('/fault/echo', 1)).error?.code === 'SD_ERR_SHUTTING_DOWN', 3000, 'a new request refused')
  held.get('keep7')?.()
  held.delete('keep7')
  assert.equal((await pending).data, 'keep7', 'the request at the worker finished')
  await stopped
})

test('a session value the link cannot carry (a function) is dropped as JSON drops it; the request is answered and the worker lives on', async (t) => {
  const gw = await startGateway({}, { server: { tcp: { pack: 'msgpack' } } })
  const w = await startWorker(gw, `fw8-${process.pid}`, [FaultController])
  t.after(async () => { await w.stop(); await gw.stop() })
  await ready(gw)
  // a msgpack client: its messages cross the link as its own bytes, the session as JSON (which leaves a function out)
  const socket = connect(portOf(gw, 'tcp'), '127.0.0.1')
  await once(socket, 'connect')
  t.after(() => socket.destroy())
  let id = 0
  const request = async (path: string, data?: unknown): Promise<{ data?: unknown, error?: { code: string } }> => {
    const body = Buffer.from(packMsg({ id: ++id, path, data }))
    const head = Buffer.alloc(4)
    head.writeUInt32BE(body.length)
    socket.write(Buffer.concat([head, body]))
    const [chunk] = await once(socket, 'data', { signal: AbortSignal.timeout(3000) }) as [Buffer]
    return unpackMsg(chunk.subarray(4)) as { data?: unknown, error?: { code: string } }
  }
  assert.equal((await request('/fault/badSession')).data, 'set')
  assert.equal((await request('/fault/badSessionLater')).data, 'set')
  assert.deepEqual((await request('/fault/sessionNow')).data, { n: 2 }, 'the plain values were kept, the function left out')
  assert.equal((await request('/fault/echo', 'alive')).data, 'alive')
  assert.equal(gw.gateway?.status().workers.length, 1, 'the worker never lost its link')
})

test('an onConnect hook that puts a function in the session does not take the worker down', async (t) => {
  const gw = await startGateway()
  const w = await startWorker(gw, `fw9-${process.pid}`, [FaultController], { boot: (app) => app.addHook('onConnect', (ctx) => { ctx.session.fn = () => 1; ctx.session.n = 1 }) })
  t.after(async () => { await w.stop(); await gw.stop() })
  await ready(gw)
  const c = await TcpClient.connect(portOf(gw, 'tcp'))
  t.after(() => c.close())
  assert.equal((await c.request('/fault/echo', 'alive')).data, 'alive')
  const d = await TcpClient.connect(portOf(gw, 'tcp'))
  t.after(() => d.close())
  assert.equal((await d.request('/fault/echo', 'still')).data, 'still')
})

test('what onConnect sets before its first await is in the session of the connection\'s first request; a hook that never settles holds nothing', async (t) => {
  const gw = await startGateway()
  const w = await startWorker(gw, `fw10-${process.pid}`, [FaultController], {
    boot: (app) => {
      app.addHook('onConnect', (ctx) => { ctx.session.greeted = 'yes' })
      app.addHook('onConnect', () => new Promise<void>(() => {}))
    },
  })
  t.after(async () => { await w.stop(); await gw.stop() })
  await ready(gw)
  for (let i = 0; i < 3; i++) {
    const c = await TcpClient.connect(portOf(gw, 'tcp'))
    t.after(() => c.close())
    assert.equal((await c.request('/fault/greeted')).data, 'yes')
  }
})
