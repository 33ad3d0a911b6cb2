/**
 * `POST /sd/publish` on an in-process application's admin listener (createApp + start: `Ops`):
 * TCP and WebSocket clients receive exactly the data, `reached` is the number of receivers; the
 * Node helper `createPublisher` against the real server; `createApp({ adminListener: false })`
 * (what a worker process of `sd start` uses) opens no listener.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer as createHttpServer } from 'node:http'
import { createServer, type Socket } from 'node:net'
import { once } from 'node:events'
import { Controller, createApp, type Application } from '../../framework/index.js'
import { createPublisher, SdClientError } from '../../framework/client/index.js'
import { portOf, root, startApp, TcpClient, testOverrides, WsClient, type Envelope } from '../helpers.js'

/** A publish's or an error's JSON answer, as the tests read it. */
interface Answer { reached?: number, error: { code: string, message: string } }

const TOKEN = 'publish-token-0123456789'

/** Binds the uid and joins the groups it is given. */
class PubController extends Controller {
  async login (data: { uid: string, groups?: string[] }): Promise<string | undefined> {
    await this.bindUid(data.uid)
    for (const g of data.groups ?? []) await this.joinGroup(g)
    return this.connectionId
  }
}

type Client = TcpClient | WsClient

describe('POST /sd/publish on an in-process application', () => {
  let app: Application
  let url: string
  const clients: Client[] = []
  let tcpA: Client
  let wsA: Client
  let tcpB: Client
  let wsC: Client
  let anon: Client

  before(async () => {
    app = await startApp({ admin: { enabled: true, port: 0, token: TOKEN } }, { controllers: [PubController] })
    const addr = app.ops.address()
    assert.ok(addr, 'the admin listener runs')
    url = `http://127.0.0.1:${addr.port}`
    const login = async (c: Client, uid: string, groups: string[]): Promise<Client> => {
      clients.push(c)
      const r = await c.request('/pub/login', { uid, groups })
      assert.equal(r.error, undefined)
      return c
    }
    // uid a on TCP and WebSocket, b on TCP, c on WebSocket; group g1: a (both) and b; g2: c
    tcpA = await login(await TcpClient.connect(portOf(app, 'tcp')), 'a', ['g1'])
    wsA = await login(await WsClient.connect(portOf(app, 'http')), 'a', ['g1'])
    tcpB = await login(await TcpClient.connect(portOf(app, 'tcp')), 'b', ['g1'])
    wsC = await login(await WsClient.connect(portOf(app, 'http')), 'c', ['g2'])
    anon = await WsClient.connect(portOf(app, 'http'))
    clients.push(anon)
  })

  after(async () => {
    for (const c of clients) c.close()
    await app?.stop()
  })

  async function post (body: unknown): Promise<{ status: number, body: Answer }> {
    const res = await fetch(`${url}/sd/publish`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(body) })
    return { status: res.status, body: await res.json() as Answer }
  }

  /** Waits for the push carrying `data` at each receiver, and checks the others got none. */
  async function expectPush (data: unknown, receivers: Client[]): Promise<void> {
    const isPush = (m: Envelope): boolean => m.id === undefined && m.error === undefined
    for (const c of receivers) assert.deepEqual((await c.next(isPush)).data, data)
    // a marker to every client, then nothing before it at the others
    const marker = { marker: Math.random() }
    assert.equal((await post({ to: { all: true }, data: marker })).body.reached, clients.length)
    for (const c of clients) {
      const got = await c.next(isPush)
      assert.deepEqual(got.data, marker, 'the next push is the marker: nobody got the publish twice or unasked')
    }
  }

  test('to one uid: its TCP and WebSocket connections', async () => {
    const data = { text: 'hello a', n: 1, nested: { ok: true }, list: [1, 'two', null] }
    assert.deepEqual(await post({ to: { uid: 'a' }, data }), { status: 200, body: { reached: 2 } })
    await expectPush(data, [tcpA, wsA])
  })

  test('to several uids (an unknown one reaches nobody)', async () => {
    assert.deepEqual(await post({ to: { uids: ['b', 'c', 'nobody'] }, data: 'for b and c' }), { status: 200, body: { reached: 2 } })
    await expectPush('for b and c', [tcpB, wsC])
  })

  test('to a group', async () => {
    assert.deepEqual(await post({ to: { group: 'g1' }, data: [1, 2, 3] }), { status: 200, body: { reached: 3 } })
    await expectPush([1, 2, 3], [tcpA, wsA, tcpB])
  })

  test('to everyone, the unbound connection too; offline targets reach 0', async () => {
    assert.deepEqual(await post({ to: { all: true }, data: null }), { status: 200, body: { reached: 5 } })
    await expectPush(null, clients)
    assert.deepEqual(await post({ to: { uid: 'offline' }, data: 1 }), { status: 200, body: { reached: 0 } })
    assert.deepEqual(await post({ to: { group: 'empty' }, data: 1 }), { status: 200, body: { reached: 0 } })
  })

  test('the Node helper: publishes, and throws SdClientError with the server\'s code', async () => {
    const publisher = createPublisher({ url, token: TOKEN })
    assert.equal(await publisher.publish({ group: 'g2' }, { from: 'php' }, { recover: false }), 1)
    await expectPush({ from: 'php' }, [wsC])
    assert.equal(await publisher.publish({ uids: ['a', 'b'] }, 'x'), 3)
    await expectPush('x', [tcpA, wsA, tcpB])
    await assert.rejects(createPublisher({ url }).publish({ all: true }, 1), (err: unknown) => err instanceof SdClientError && err.code === 'SD_ERR_FORBIDDEN')
    await assert.rejects(createPublisher({ url, token: 'wrong-token-0123456789' }).publish({ all: true }, 1), (err: unknown) => err instanceof SdClientError && err.code === 'SD_ERR_FORBIDDEN')
    await assert.rejects(publisher.publish({ uid: '' }, 1), (err: unknown) => err instanceof SdClientError && err.code === 'SD_ERR_VALIDATION' && /to\.uid/.test(err.message))
    await assert.rejects(publisher.publish({ all: true }, undefined), (err: unknown) => err instanceof SdClientError && err.code === 'SD_ERR_VALIDATION' && /data is required/.test(err.message))
  })
})

describe('the Node helper without a server that answers', () => {
  test('nothing listening: SD_ERR_CLIENT_DISCONNECTED; no answer in time: SD_ERR_CLIENT_TIMEOUT', async () => {
    // a port that accepts and never answers
    const accepted: Socket[] = []
    const silent = createServer((socket) => { accepted.push(socket); socket.on('error', () => {}) })
    silent.listen(0, '127.0.0.1')
    await once(silent, 'listening')
    const port = (silent.address() as { port: number }).port
    try {
      await assert.rejects(createPublisher({ url: `http://127.0.0.1:${port}`, timeoutMs: 200 }).publish({ all: true }, 1), (err: unknown) => err instanceof SdClientError && err.code === 'SD_ERR_CLIENT_TIMEOUT')
    } finally {
      const closed = once(silent, 'close')
      silent.close()
      for (const socket of accepted) socket.destroy()
      await closed
    }
    await assert.rejects(createPublisher({ url: `http://127.0.0.1:${port}` }).publish({ all: true }, 1), (err: unknown) => err instanceof SdClientError && err.code === 'SD_ERR_CLIENT_DISCONNECTED')
  })
})

describe('the Node helper\'s options', () => {
  test('a token a header cannot carry throws at creation without showing it; surrounding whitespace (a file\'s newline) is trimmed', async () => {
    for (const token of ['secret-token-abc\r\nX-Evil: 1', 'secret-token-\u20ac', 'secret\u0000token-abc']) {
      assert.throws(() => createPublisher({ url: 'http://127.0.0.1:1', token }), (err: unknown) => {
        assert.ok(err instanceof TypeError)
        assert.match(err.message, /token must be printable ASCII/)
        assert.doesNotMatch(err.message, /secret/)
        return true
      })
    }
    // a URL with a query string: the path is added to the URL's path, not after its query
    const seen: Array<{ url?: string, auth?: string }> = []
    const server = createHttpServer((req, res) => {
      seen.push({ url: req.url, auth: req.headers.authorization })
      res.setHeader('content-type', 'application/json')
      res.end('{"reached":7}')
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    try {
      const port = (server.address() as { port: number }).port
      assert.equal(await createPublisher({ url: `http://127.0.0.1:${port}/admin/?k=v`, token: ' file-token-0123456789\n' }).publish({ all: true }, 1), 7)
      assert.deepEqual(seen, [{ url: '/admin/sd/publish?k=v', auth: 'Bearer file-token-0123456789' }])
    } finally {
      server.close()
    }
  })
})

test('createApp({ adminListener: false }) (a worker of sd start) opens no admin listener, even with SD_ADMIN_PORT', async () => {
  const env = { ...process.env, SD_ADMIN_PORT: '0' }
  const worker = await createApp({ root, configDir: false, env, controllers: [PubController], overrides: testOverrides(), adminListener: false })
  const own = await createApp({ root, configDir: false, env, controllers: [PubController], overrides: testOverrides() })
  try {
    await worker.start()
    await own.start()
    assert.equal(worker.ops.address(), undefined)
    assert.equal(worker.config.admin.enabled, false)
    assert.ok(own.ops.address()?.port, 'the same config without the flag runs it')
  } finally {
    await worker.stop()
    await own.stop()
  }
  assert.equal(own.ops.address(), undefined, 'stopped with the app')
})
