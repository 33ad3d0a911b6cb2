/**
 * Links over a unix socket: a dispatcher listening on a socket path beside its TCP port (a stale
 * socket file left by a SIGKILLed process replaced, the file made 0660, removed on close), two
 * servers relaying DATA through it with the usual handshake, a live dispatcher's socket never
 * taken over, a path that is not a socket refused and left alone, and the dispatch carrier's
 * `unix:/path` entries.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { DataMessage } from '../../framework/cluster/link-frames.js'
import { Dispatcher } from '../../framework/cluster/dispatch-server.js'
import { DispatchCarrier } from '../../framework/cluster/dispatch-carrier.js'
import type { LinkClient } from '../../framework/cluster/link-client.js'
import { waitUntil } from '../helpers.js'
import { newSecret, ready, staleSocketFile, startClient, startDispatcher, type Inbox } from './link-helpers.js'

const secret = newSecret()
const dir = mkdtempSync('/tmp/sd-ul-')
const dispatchers: Dispatcher[] = []
const clients: LinkClient[] = []
const carriers: DispatchCarrier[] = []

after(async () => {
  for (const c of carriers) await c.close()
  for (const c of clients) await c.close()
  for (const d of dispatchers) await d.close()
  rmSync(dir, { recursive: true, force: true })
})

async function dispatcherOn (path: string, name = 'ux-d1'): Promise<Dispatcher> {
  const { dispatcher } = await startDispatcher({ secret, name, path })
  dispatchers.push(dispatcher)
  return dispatcher
}

function client (name: string, path: string): { client: LinkClient, inbox: Inbox } {
  const c = startClient({ name, path, secret })
  clients.push(c.client)
  return c
}

describe('a dispatcher on a unix socket', () => {
  const path = join(dir, 'd1.sock')
  let dispatcher: Dispatcher

  before(async () => {
    await staleSocketFile(path)
    dispatcher = await dispatcherOn(path)
  })

  test('a stale socket file does not stop it: it listens there (mode 0660) and on its TCP port', () => {
    assert.equal(dispatcher.status, 'listening')
    assert.equal(dispatcher.socketPath, path)
    const st = lstatSync(path)
    assert.ok(st.isSocket())
    assert.equal(st.mode & 0o777, 0o660)
    assert.ok((dispatcher.address()?.port ?? 0) > 0, 'the TCP port listens too')
  })

  test('two servers link through the socket (same handshake) and DATA goes both ways with ACKs', async () => {
    const a = client('ux-a', path)
    const b = client('ux-b', path)
    await ready(a.client)
    await ready(b.client)
    assert.equal(a.client.address, `unix:${path}`)
    assert.equal(a.client.peer?.name, 'ux-d1')
    await waitUntil(() => dispatcher.nodes().length === 2, 2000, 'two links')
    assert.deepEqual(dispatcher.linked().map((l) => l.remote), [`unix:${path}`, `unix:${path}`])

    const msg: DataMessage = { id: 1, source: 'ux-a', targets: ['ux-b'], kind: 9, payload: Buffer.from('through the socket') }
    assert.ok(a.client.send(msg))
    const got = await waitUntil(() => b.inbox.data.find((d) => d.msg.id === 1), 3000, 'delivery to ux-b')
    assert.equal(got.payload, 'through the socket')
    assert.deepEqual(await waitUntil(() => a.inbox.acks.find((e) => e.id === 1), 3000, 'the ACK'), { id: 1, delivered: 1, missed: [] })
    assert.ok(b.client.send({ id: 2, source: 'ux-b', targets: ['ux-a'], kind: 9, payload: Buffer.from('back') }))
    await waitUntil(() => a.inbox.data.some((d) => d.msg.id === 2 && d.payload === 'back'), 3000, 'delivery to ux-a')
  })

  test('a wrong secret is denied on the socket as on the port', async () => {
    const intruder = startClient({ name: 'ux-intruder', path, secret: newSecret(), reconnectMinMs: 5000 })
    clients.push(intruder.client)
    await waitUntil(() => intruder.inbox.denied.length > 0, 3000, 'the DENY')
    assert.match(intruder.inbox.denied[0], /authentication failed/)
    assert.equal(dispatcher.nodes().includes('ux-intruder'), false)
  })

  test('a live dispatcher keeps its socket: a second one on the path fails with EADDRINUSE and frees its port', async () => {
    const second = new Dispatcher({ name: 'ux-d2', secret, host: '127.0.0.1', port: 0, path })
    await assert.rejects(second.listen(), (err: NodeJS.ErrnoException & { address?: string }) => {
      assert.equal(err.code, 'EADDRINUSE')
      assert.equal(err.address, path)
      return true
    })
    assert.equal(second.address(), undefined, 'its TCP port was released')
    assert.equal(second.socketPath, undefined)
    assert.ok(lstatSync(path).isSocket(), 'the socket file is still there')
    // the first dispatcher still takes links on it
    const c = client('ux-c', path)
    await ready(c.client)
  })
})

test('a path that is not a socket is refused (EEXIST) and never deleted', async () => {
  const path = join(dir, 'not-a-socket')
  writeFileSync(path, 'keep me')
  const d = new Dispatcher({ name: 'ux-d3', secret, host: '127.0.0.1', port: 0, path })
  await assert.rejects(d.listen(), { code: 'EEXIST' })
  assert.equal(readFileSync(path, 'utf8'), 'keep me')
  assert.equal(d.address(), undefined)
})

test('close() removes the socket file', async () => {
  const path = join(dir, 'd4.sock')
  const d = await dispatcherOn(path, 'ux-d4')
  assert.ok(existsSync(path))
  await d.close()
  assert.equal(existsSync(path), false)
})

test("the dispatch carrier links to a 'unix:/path' entry and carries frames between two servers", async () => {
  const path = join(dir, 'd5.sock')
  await dispatcherOn(path, 'ux-d5')
  assert.throws(() => new DispatchCarrier({ name: 'x', secret, dispatchers: ['unix:relative.sock'] }), /cluster\.dispatchers: 'unix:relative\.sock' is not unix:\/absolute\/path/)
  const make = (name: string): { carrier: DispatchCarrier, got: DataMessage[] } => {
    const carrier = new DispatchCarrier({ name, secret, dispatchers: [`unix:${path}`], link: { reconnectMinMs: 20, reconnectMaxMs: 200 } })
    carriers.push(carrier)
    const got: DataMessage[] = []
    carrier.onData = (msg) => { got.push(msg) }
    return { carrier, got }
  }
  const a = make('ux-ca')
  const b = make('ux-cb')
  const ups = [once(a.carrier, 'up'), once(b.carrier, 'up')]
  await a.carrier.start()
  await b.carrier.start()
  await Promise.all(ups)
  assert.deepEqual(a.carrier.routes.map((r) => r.id), [`unix:${path}`])
  assert.deepEqual(a.carrier.info().map((i) => [i.address, i.name, i.status]), [[`unix:${path}`, 'ux-d5', 'ready']])
  assert.equal(a.carrier.routes[0].send({ id: 7, source: 'ux-ca', targets: ['ux-cb'], kind: 1, payload: Buffer.from('via unix'), quiet: true }), true)
  a.carrier.routes[0].flush()
  const msg = await waitUntil(() => b.got.find((m) => m.id === 7), 3000, 'the frame at ux-cb')
  assert.equal(msg.payload.toString(), 'via unix')
})
