/**
 * Link behaviour on real loopback sockets: PING/PONG measures the round trip and cuts a peer
 * that stops answering, reconnect backoff is capped, a link refuses frames past
 * `maxBufferedBytes` instead of growing (and accepts them again once drained), and `close()`
 * flushes what was queued.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type AddressInfo, type Server } from 'node:net'
import { pino } from 'pino'
import type { Dispatcher } from '../../framework/cluster/dispatch-server.js'
import { Link } from '../../framework/cluster/link.js'
import { acceptHandshake } from '../../framework/cluster/link-auth.js'
import { freePort } from '../data/private-servers.js'
import { waitUntil } from '../helpers.js'
import { newSecret, ready, startClient, startDispatcher } from './link-helpers.js'

const secret = newSecret()
let dispatcher: Dispatcher
let port: number

before(async () => {
  ({ dispatcher, port } = await startDispatcher({ secret, pingIntervalMs: 50, pingTimeoutMs: 60_000 }))
})

after(async () => {
  await dispatcher.close()
})

test('PING/PONG measures the round trip on an idle link', async () => {
  const { client } = startClient({ name: 'pinger', port, secret, pingIntervalMs: 50 })
  try {
    await ready(client)
    const link = client.link
    assert.ok(link)
    await waitUntil(() => link.stats.rttMs !== undefined, 2000, 'a PONG')
    assert.ok(link.stats.rttMs !== undefined && link.stats.rttMs >= 0 && link.stats.rttMs < 1000)
  } finally {
    await client.close()
  }
})

test('a peer that stops answering is cut after pingTimeoutMs, and the client reconnects', async () => {
  // a fake dispatcher that authenticates, never pings, then stops reading (a frozen process)
  const accepted: Link[] = []
  const server: Server = createServer((socket) => {
    const link = new Link(socket, { pingIntervalMs: 60_000, pingTimeoutMs: 120_000 })
    accepted.push(link)
    acceptHandshake(link, { secret, name: 'frozen', role: 'dispatch' }).catch(() => {})
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { client, inbox } = startClient({ name: 'watcher', port: (server.address() as AddressInfo).port, secret, pingIntervalMs: 50, pingTimeoutMs: 300 })
  try {
    await ready(client)
    const connects = client.connects
    accepted[0].socket.pause()
    const t0 = Date.now()
    await waitUntil(() => inbox.down.length > 0, 3000, 'the link to be cut')
    assert.match(inbox.down[0], /ping timeout 300 ms/)
    assert.ok(Date.now() - t0 >= 250, `cut after ${Date.now() - t0} ms`)
    await waitUntil(() => client.status === 'ready' && client.connects > connects, 3000, 'a new link')
  } finally {
    await client.close()
    for (const l of accepted) l.destroy()
    server.close()
  }
})

test('reconnect backoff doubles, then stays at reconnectMaxMs', async () => {
  const closed = await freePort()
  const starts: number[] = []
  const { client } = startClient({ name: 'retrier', port: closed, secret, reconnectMinMs: 20, reconnectMaxMs: 100 })
  client.on('status', (s) => { if (s === 'connecting') starts.push(Date.now()) })
  try {
    // uncapped, the 12th attempt would come ~40 s after the first (20 ms × 2^11)
    await waitUntil(() => starts.length >= 12, 5000, '12 attempts')
    const gaps = starts.slice(1).map((t, i) => t - starts[i])
    assert.ok(gaps[10] < 400, `gap before the 12th attempt: ${gaps[10]} ms`)
    assert.ok(client.lastError && /ECONNREFUSED/.test(client.lastError), client.lastError)
  } finally {
    await client.close()
  }
  const after = starts.length
  await new Promise((resolve) => setTimeout(resolve, 250))
  assert.equal(starts.length, after, 'no attempt after close()')
})

test('a link refuses frames past maxBufferedBytes, keeps running, and takes them again once drained', async () => {
  const { client } = startClient({ name: 'flooder', port, secret, maxBufferedBytes: 256 * 1024, pingTimeoutMs: 60_000 })
  try {
    await ready(client)
    await waitUntil(() => dispatcher.linkOf('flooder'), 2000, 'the dispatcher side of the link')
    dispatcher.linkOf('flooder')?.socket.pause()
    const link = client.link
    assert.ok(link)
    const chunk = Buffer.alloc(64 * 1024, 2)
    let id = 0
    let refused = false
    await waitUntil(() => {
      for (let i = 0; i < 8 && !refused; i++) refused = !client.send({ id: ++id, source: 'flooder', targets: ['nobody'], kind: 0, payload: chunk })
      return refused
    }, 8000, 'a refused send')
    assert.ok(link.bufferedBytes <= 256 * 1024 + 64, `buffered ${link.bufferedBytes}`)
    assert.equal(link.status, 'ready')
    dispatcher.linkOf('flooder')?.socket.resume()
    await waitUntil(() => link.bufferedBytes === 0, 5000, 'the buffer to drain')
    assert.ok(client.send({ id: ++id, source: 'flooder', targets: ['nobody'], kind: 0, payload: chunk }), 'accepted again')
  } finally {
    await client.close()
  }
})

test('close() flushes what was queued before closing', async () => {
  const a = startClient({ name: 'closer', port, secret })
  const b = startClient({ name: 'listener', port, secret })
  try {
    await Promise.all([ready(a.client), ready(b.client)])
    await waitUntil(() => dispatcher.nodes().includes('listener'), 2000, 'listener linked')
    for (let i = 1; i <= 3; i++) a.client.send({ id: i, source: 'closer', targets: ['listener'], kind: 0, payload: Buffer.from(`last ${i}`) })
    await a.client.close()
    await waitUntil(() => b.inbox.data.length === 3, 3000, 'the three queued messages')
    assert.deepEqual(b.inbox.data.map((d) => d.payload), ['last 1', 'last 2', 'last 3'])
    assert.equal(a.client.status, 'closed')
  } finally {
    await b.client.close()
  }
})

test('a link client logs each change of its status at debug, as it emits it', async () => {
  const lines: Array<Record<string, unknown>> = []
  const log = pino({ level: 'debug' }, { write (line: string) { lines.push(JSON.parse(line) as Record<string, unknown>) } })
  const { client } = startClient({ name: 'logged', port, secret, log })
  const emitted: string[] = []
  client.on('status', (status) => emitted.push(status))
  await ready(client)
  await client.close()
  const logged = lines.filter((l) => l.msg === 'link client status')
  assert.deepEqual(logged.map((l) => l.status), ['connecting', ...emitted])
  assert.deepEqual(emitted, ['handshaking', 'ready', 'closed'])
  assert.equal(logged[0].dispatcher, `127.0.0.1:${port}`)
})
