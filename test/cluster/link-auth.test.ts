/**
 * The link handshake against a real dispatcher on 127.0.0.1: the right secret links, a wrong
 * one is refused with DENY, and raw sockets writing garbage, oversized or out-of-order frames,
 * or nothing at all are closed, one by one, while two authenticated servers keep relaying.
 * The connecting side checks the dispatcher's proof too.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createServer, Socket, type AddressInfo, type Server } from 'node:net'
import type { Dispatcher } from '../../framework/cluster/dispatch-server.js'
import { Link } from '../../framework/cluster/link.js'
import type { LinkClient } from '../../framework/cluster/link-client.js'
import {
  acceptHandshake, clusterSecret, connectHandshake, encodeHello, linkProof, LinkHandshakeError, LINK_PROTOCOL_VERSION,
} from '../../framework/cluster/link-auth.js'
import { FrameType, encodeData, encodeFrame } from '../../framework/cluster/link-frames.js'
import { waitUntil } from '../helpers.js'
import { newSecret, RawLinkSocket, ready, startClient, startDispatcher, type Inbox } from './link-helpers.js'

const secret = newSecret()
let dispatcher: Dispatcher
let port: number
let a: { client: LinkClient, inbox: Inbox }
let b: { client: LinkClient, inbox: Inbox }
const refused: string[] = []
let seq = 0

before(async () => {
  ({ dispatcher, port } = await startDispatcher({ secret, handshakeTimeoutMs: 500 }))
  dispatcher.on('refused', (_remote, reason) => refused.push(reason))
  a = startClient({ name: 'server-a', port, secret })
  b = startClient({ name: 'server-b', port, secret })
  await ready(a.client)
  await ready(b.client)
})

after(async () => {
  await a.client.close()
  await b.client.close()
  await dispatcher.close()
})

/** A→B still relays (the dispatcher is unharmed). */
async function stillRelays (): Promise<void> {
  const id = ++seq
  assert.ok(a.client.send({ id, source: 'server-a', targets: ['server-b'], kind: 1, payload: Buffer.from(`still ${id}`) }))
  await waitUntil(() => b.inbox.data.some((d) => d.payload === `still ${id}`), 3000, `relay ${id}`)
  await waitUntil(() => a.inbox.acks.some((e) => e.id === id && e.delivered === 1), 3000, `ack ${id}`)
}

test('the right secret links: both ends know each other by name', async () => {
  assert.deepEqual(a.client.peer, { name: 'dispatch-1', role: 'dispatch' })
  assert.deepEqual(dispatcher.nodes().sort(), ['server-a', 'server-b'])
  assert.equal(dispatcher.linkOf('server-a')?.peer?.role, 'server')
  await stillRelays()
})

test('a wrong secret gets DENY and no link; the client keeps retrying with backoff', async () => {
  const bad = startClient({ name: 'intruder', port, secret: newSecret() })
  try {
    await waitUntil(() => bad.inbox.denied.length >= 2, 3000, 'two denied attempts')
    assert.match(bad.inbox.denied[0], /authentication failed/)
    assert.notEqual(bad.client.status, 'ready')
    assert.ok(!dispatcher.nodes().includes('intruder'))
  } finally {
    await bad.client.close()
  }
  await stillRelays()
})

test('garbage from a raw socket is cut at once and changes nothing', async () => {
  const before = refused.length
  const raw = await RawLinkSocket.connect(port)
  raw.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
  await raw.waitClosed(400) // well before the 500 ms handshake timeout
  assert.equal(raw.frames[0]?.type, FrameType.HELLO, 'the dispatcher sent its challenge first')
  assert.ok(!raw.frames.some((f) => f.type === FrameType.WELCOME))
  await waitUntil(() => refused.length > before, 1000, 'the refusal to be reported')
  assert.match(refused.at(-1) ?? '', /protocol error|unknown frame type/)

  const random = await RawLinkSocket.connect(port)
  random.write(randomBytes(4096))
  await random.waitClosed(2000)
  assert.deepEqual(dispatcher.nodes().sort(), ['server-a', 'server-b'])
  await stillRelays()
})

test('an oversized header is refused before its payload arrives', async () => {
  const raw = await RawLinkSocket.connect(port)
  const head = Buffer.alloc(5)
  head.writeUInt32BE(100 * 1024 * 1024)
  head[4] = FrameType.HELLO
  raw.write(head)
  await raw.waitClosed(400)
  assert.match(refused.at(-1) ?? '', /limit is 512/)
  await stillRelays()
})

test('a DATA frame before authentication closes the socket (nothing is relayed)', async () => {
  const raw = await RawLinkSocket.connect(port)
  raw.write(encodeFrame(FrameType.DATA, encodeData({ id: 1, source: 'server-a', targets: ['server-b'], kind: 1, payload: Buffer.from('forged') })))
  await raw.waitClosed(400)
  await stillRelays()
  assert.ok(!b.inbox.data.some((d) => d.payload === 'forged'))
})

test('a well-formed answer with a wrong proof gets DENY, then the socket is closed', async () => {
  const linkOfA = dispatcher.linkOf('server-a')
  const raw = await RawLinkSocket.connect(port)
  await waitUntil(() => raw.frames.length > 0, 1000, 'the challenge')
  raw.write(encodeFrame(FrameType.HELLO, encodeHello({ version: LINK_PROTOCOL_VERSION, role: 'server', nonce: randomBytes(32), name: 'server-a', proof: randomBytes(32) })))
  await raw.waitClosed(1000)
  const deny = raw.frames.find((f) => f.type === FrameType.DENY)
  assert.ok(deny, 'DENY sent')
  assert.equal(deny.body.toString(), 'authentication failed')
  // the real server-a kept its link
  assert.ok(linkOfA && dispatcher.linkOf('server-a') === linkOfA)
  await stillRelays()
})

test('a silent socket is closed after the handshake timeout', async () => {
  const raw = await RawLinkSocket.connect(port)
  const t0 = Date.now()
  await raw.waitClosed(2000)
  assert.ok(Date.now() - t0 >= 400, `closed after ${Date.now() - t0} ms`)
  assert.match(refused.at(-1) ?? '', /no handshake within 500 ms/)
})

test('a handshake frame after authentication closes that link only; it reconnects', async () => {
  const link = a.client.link
  assert.ok(link)
  const connects = a.client.connects
  link.sendFrame(FrameType.HELLO, Buffer.alloc(10))
  await waitUntil(() => a.inbox.down.length > 0, 2000, 'server-a link to drop')
  await waitUntil(() => a.client.status === 'ready' && a.client.connects > connects, 3000, 'server-a to link again')
  assert.equal(b.inbox.down.length, 0, 'server-b was not affected')
  await stillRelays()
})

test('the connecting side refuses a dispatcher that cannot prove the secret', async () => {
  // a fake dispatcher: sends a challenge, then a WELCOME with a made-up proof
  const server: Server = createServer((socket) => {
    const nonce = randomBytes(32)
    socket.write(encodeFrame(FrameType.HELLO, encodeHello({ version: LINK_PROTOCOL_VERSION, role: 'dispatch', nonce, name: 'fake' })))
    socket.once('data', () => socket.write(encodeFrame(FrameType.WELCOME, randomBytes(32))))
    socket.on('error', () => {})
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  try {
    const socket = new Socket()
    await new Promise<void>((resolve) => socket.connect((server.address() as AddressInfo).port, '127.0.0.1', resolve))
    const link = new Link(socket)
    await assert.rejects(connectHandshake(link, { secret, name: 'victim', role: 'server' }), (err: unknown) => err instanceof LinkHandshakeError && err.reason === 'bad-peer-proof')
    await waitUntil(() => link.status === 'closed', 1000, 'the link to close')
  } finally {
    server.close()
  }
})

test('acceptHandshake and connectHandshake agree on a bare socket pair; proofs depend on name and role', async () => {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  try {
    const accepted = new Promise<Link>((resolve) => server.once('connection', (s) => resolve(new Link(s))))
    const socket = new Socket()
    await new Promise<void>((resolve) => socket.connect((server.address() as AddressInfo).port, '127.0.0.1', resolve))
    const client = new Link(socket)
    const srv = await accepted
    const [peerOfServer, peerOfClient] = await Promise.all([
      acceptHandshake(srv, { secret, name: 'd', role: 'dispatch', allowRoles: ['server', 'dispatch'] }),
      connectHandshake(client, { secret, name: 'other-dispatcher', role: 'dispatch', expectRole: 'dispatch' }),
    ])
    assert.deepEqual(peerOfServer, { name: 'other-dispatcher', role: 'dispatch' })
    assert.deepEqual(peerOfClient, { name: 'd', role: 'dispatch' })
    assert.equal(srv.status, 'ready')
    assert.equal(client.status, 'ready')
    await client.close()
  } finally {
    server.close()
  }
  const n = randomBytes(32)
  assert.notDeepEqual(linkProof(secret, n, 'a', 'server'), linkProof(secret, n, 'a', 'dispatch'))
  assert.notDeepEqual(linkProof(secret, n, 'ab', 'server'), linkProof(secret, n, 'a', 'server'))
  assert.notDeepEqual(linkProof(secret, n, 'a', 'server'), linkProof(newSecret(), n, 'a', 'server'))
})

test('clusterSecret() refuses a missing or short secret', () => {
  assert.throws(() => clusterSecret(undefined), /SD_CLUSTER_SECRET/)
  assert.throws(() => clusterSecret('short'), /at least 16/)
  assert.deepEqual(clusterSecret('0123456789abcdef'), [Buffer.from('0123456789abcdef')])
})
