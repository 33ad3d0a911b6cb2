/**
 * The admin listener on its own (AdminServer over recording sources): the admin decision on
 * every route (loopback without a token, Bearer token with one, a non-loopback caller through
 * eth0's 192.0.2.2), the routes, every publish validation error, and the hardening: body limit,
 * malformed JSON, garbage bytes, a slowloris half request, the connection cap.
 */
import { after, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { connect, type Socket } from 'node:net'
import { once } from 'node:events'
import { networkInterfaces } from 'node:os'
import { Writable } from 'node:stream'
import { pino, type Logger } from 'pino'
import { AdminServer, PROMETHEUS_CONTENT_TYPE, type AdminLimits } from '../../framework/admin/server.js'
import type { AdminSources, PublishRequest } from '../../framework/admin/sources.js'
import { SdError } from '../../framework/core/errors.js'
import { mergeSnapshots } from '../../framework/metrics/snapshot.js'
import { waitUntil } from '../helpers.js'

/** A publish's or an error's JSON answer, as the tests read it. */
interface Answer { reached?: number, error: { code: string, message: string } }

const TOKEN = 'admin-token-0123456789abcdef'
const METRICS = '# HELP sd_test 1\n# TYPE sd_test gauge\nsd_test 1\n'

/** Sources that answer fixed metrics and record publishes (reached: 3, or the error set). */
function recordingSources (): AdminSources & { published: PublishRequest[], fail?: Error } {
  const s: AdminSources & { published: PublishRequest[], fail?: Error } = {
    node: 'test',
    published: [],
    metrics: async () => METRICS,
    snapshot: async () => mergeSnapshots([]),
    publish: async (request) => {
      if (s.fail) throw s.fail
      s.published.push(request)
      return 3
    },
  }
  return s
}

/** The eth0 address (not loopback) of this machine, if it has one. */
function outsideAddress (): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address
  }
  return undefined
}

const servers: AdminServer[] = []
after(async () => { await Promise.all(servers.map((s) => s.stop())) })

async function start (token: string, options: { host?: string, limits?: Partial<AdminLimits>, log?: Logger, sources?: AdminSources } = {}): Promise<{ server: AdminServer, port: number, sources: ReturnType<typeof recordingSources> }> {
  const sources = (options.sources ?? recordingSources()) as ReturnType<typeof recordingSources>
  const server = new AdminServer({
    config: { token, host: options.host ?? '127.0.0.1', port: 0 },
    sources,
    log: options.log ?? pino({ level: 'silent' }),
    limits: options.limits,
    plugins: [(app, src) => { app.get('/dashboard', async () => ({ page: 'dashboard', node: src.node })) }],
  })
  servers.push(server)
  const { port } = await server.start()
  return { server, port, sources }
}

async function req (port: number, path: string, init: RequestInit & { host?: string } = {}): Promise<{ status: number, body: Answer, text: string, headers: Headers }> {
  const res = await fetch(`http://${init.host ?? '127.0.0.1'}:${port}${path}`, { redirect: 'manual', ...init })
  const text = await res.text()
  let body: unknown
  try { body = JSON.parse(text) } catch {}
  return { status: res.status, body: body as Answer, text, headers: res.headers }
}

const publish = (port: number, body: unknown, headers: Record<string, string> = {}): ReturnType<typeof req> =>
  req(port, '/sd/publish', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) })

/** Raw bytes to the listener; resolves to everything it answered once it closed the socket. */
async function raw (port: number, bytes: string, closeWithin = 5000): Promise<string> {
  const socket = connect(port, '127.0.0.1')
  await once(socket, 'connect')
  let got = ''
  socket.setEncoding('utf8').on('data', (c: string) => { got += c })
  socket.on('error', () => {})
  socket.write(bytes)
  let closed = false
  socket.once('close', () => { closed = true })
  try {
    await waitUntil(() => closed, closeWithin, 'the admin listener to close the socket')
  } finally {
    socket.destroy()
  }
  return got
}

describe('admin decision', () => {
  test('no token: loopback callers pass, on every route', async () => {
    const { port } = await start('')
    const metrics = await req(port, '/metrics')
    assert.equal(metrics.status, 200)
    assert.equal(metrics.headers.get('content-type'), PROMETHEUS_CONTENT_TYPE)
    assert.equal(metrics.text, METRICS)
    assert.equal((await publish(port, { to: { all: true }, data: 1 })).body.reached, 3)
  })

  test('with a token: missing, wrong and malformed are refused with 403 SD_ERR_FORBIDDEN, the right one passes', async () => {
    const { port, sources } = await start(TOKEN)
    for (const authorization of [undefined, 'Bearer wrong-token-0123456789', `Basic ${TOKEN}`, `Bearer ${TOKEN}x`, TOKEN]) {
      const headers: Record<string, string> = authorization === undefined ? {} : { authorization }
      const m = await req(port, '/metrics', { headers })
      assert.equal(m.status, 403, String(authorization))
      assert.equal(m.body.error.code, 'SD_ERR_FORBIDDEN')
      assert.ok(!m.text.includes(TOKEN), 'the answer never shows the token')
      const p = await publish(port, { to: { all: true }, data: 1 }, headers)
      assert.equal(p.status, 403)
      assert.equal(p.body.error.code, 'SD_ERR_FORBIDDEN')
    }
    assert.equal(sources.published.length, 0, 'no refused publish ran')
    // unknown paths too: a refused caller learns nothing about the routes
    assert.equal((await req(port, '/nope')).body.error.code, 'SD_ERR_FORBIDDEN')
    const ok = await req(port, '/metrics', { headers: { authorization: `Bearer ${TOKEN}` } })
    assert.equal(ok.status, 200)
    assert.equal(ok.text, METRICS)
    assert.equal((await publish(port, { to: { uid: 'u1' }, data: { x: 1 } }, { authorization: `bearer ${TOKEN}` })).body.reached, 3)
  })

  test('no token: a Host that is not loopback (a DNS rebinding page in a browser on this machine) is refused on every data route', async () => {
    const { port, sources } = await start('')
    /** One request with this Host header (fetch cannot set it), answering status and body. */
    const withHost = (host: string, method: string, path: string, body?: string): Promise<{ status: number, text: string }> => new Promise((resolve, reject) => {
      const r = request({ host: '127.0.0.1', port, method, path, headers: { host, ...body === undefined ? {} : { 'content-type': 'application/json' } } }, (res) => {
        let text = ''
        res.setEncoding('utf8').on('data', (c: string) => { text += c }).on('end', () => resolve({ status: res.statusCode ?? 0, text }))
      })
      r.on('error', reject)
      r.end(body)
    })
    const publishBody = JSON.stringify({ to: { all: true }, data: 'rebound' })
    for (const host of ['evil.example.com', `evil.example.com:${port}`, '10.0.0.5', 'localhost.evil.example.com', '127.0.0.1.nip.io']) {
      for (const [method, path, body] of [['GET', '/metrics'], ['GET', '/dashboard'], ['GET', '/nope'], ['POST', '/sd/publish', publishBody]] as const) {
        const got = await withHost(host, method, path, body)
        assert.equal(got.status, 403, `${host} ${method} ${path}`)
        assert.equal((JSON.parse(got.text) as Answer).error.code, 'SD_ERR_FORBIDDEN')
      }
    }
    assert.equal(sources.published.length, 0, 'no publish ran')
    for (const host of [`localhost:${port}`, 'LOCALHOST', `127.0.0.1:${port}`, '127.0.0.2', `[::1]:${port}`]) {
      assert.equal((await withHost(host, 'GET', '/metrics')).status, 200, host)
    }
    assert.equal((await withHost(`localhost:${port}`, 'POST', '/sd/publish', publishBody)).status, 200)
    // with a token the Host does not matter: a page cannot know the token
    const tokened = await start(TOKEN)
    const ok = await fetch(`http://127.0.0.1:${tokened.port}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })
    assert.equal(ok.status, 200)
  })

  const outside = outsideAddress()
  test(`a caller not on loopback (${outside ?? 'no eth0 address'}): refused without a token, served with it`, { skip: outside === undefined ? 'this machine has no non-loopback IPv4 address' : false }, async () => {
    const open = await start('', { host: '0.0.0.0' })
    const refused = await req(open.port, '/metrics', { host: outside })
    assert.equal(refused.status, 403)
    assert.equal(refused.body.error.code, 'SD_ERR_FORBIDDEN')
    assert.match(refused.body.error.message, /loopback/)
    assert.equal((await req(open.port, '/metrics')).status, 200, 'loopback still passes')
    const tokened = await start(TOKEN, { host: '0.0.0.0' })
    assert.equal((await req(tokened.port, '/metrics', { host: outside })).status, 403)
    const ok = await req(tokened.port, '/metrics', { host: outside, headers: { authorization: `Bearer ${TOKEN}` } })
    assert.equal(ok.status, 200)
    assert.equal(ok.text, METRICS)
  })
})

describe('routes', () => {
  test('GET / redirects to the dashboard; plugins add guarded routes', async () => {
    const { port } = await start(TOKEN)
    const auth = { authorization: `Bearer ${TOKEN}` }
    const root = await req(port, '/', { headers: auth })
    assert.equal(root.status, 302)
    assert.equal(root.headers.get('location'), '/dashboard')
    assert.deepEqual((await req(port, '/dashboard', { headers: auth })).body, { page: 'dashboard', node: 'test' })
    assert.equal((await req(port, '/dashboard')).status, 403)
  })

  test('unknown paths and wrong methods answer 404 SD_ERR_ROUTE_NOT_FOUND', async () => {
    const { port } = await start('')
    for (const [method, path] of [['GET', '/nope'], ['GET', '/sd/publish'], ['DELETE', '/metrics'], ['PUT', '/sd/publish'], ['POST', '/metrics']]) {
      const r = await req(port, path, { method })
      assert.equal(r.status, 404, `${method} ${path}`)
      assert.equal(r.body.error.code, 'SD_ERR_ROUTE_NOT_FOUND')
      assert.equal(r.body.error.message, `no route for ${method} ${path}`)
    }
  })

  test('a publish passes the checked request to the sources; their SD errors reach the caller', async () => {
    const { port, sources } = await start('')
    assert.deepEqual((await publish(port, { to: { uids: ['a', 7] }, data: null, recover: true })).body, { reached: 3 })
    assert.deepEqual(sources.published, [{ to: { uids: ['a', '7'] }, data: null, recover: true }])
    sources.fail = new SdError('SD_ERR_CLUSTER_UNAVAILABLE', 'no dispatch server')
    const r = await publish(port, { to: { all: true }, data: 1 })
    assert.equal(r.status, 503)
    assert.deepEqual(r.body, { error: { code: 'SD_ERR_CLUSTER_UNAVAILABLE', message: 'cluster unavailable: no dispatch server' } })
    sources.fail = new Error('secret internals')
    const internal = await publish(port, { to: { all: true }, data: 1 })
    assert.equal(internal.status, 500)
    assert.deepEqual(internal.body, { error: { code: 'SD_ERR_INTERNAL', message: 'internal server error' } })
  })

  test('every publish validation error: 400 SD_ERR_VALIDATION naming the field', async () => {
    const { port, sources } = await start('')
    const cases: Array<[unknown, RegExp]> = [
      [[1, 2], /the body must be a JSON object/],
      ['"text"', /the body must be a JSON object/],
      [{ data: 1 }, /to is required/],
      [{ to: 'u1', data: 1 }, /to must be an object/],
      [{ to: {}, data: 1 }, /to must name exactly one of uid, uids, group, all \(got none\)/],
      [{ to: { uid: 'a', group: 'g' }, data: 1 }, /to must name exactly one .*got uid, group/],
      [{ to: { user: 'a' }, data: 1 }, /to\.user is not a target/],
      [{ to: { uid: '' }, data: 1 }, /to\.uid must be a string of 1-256 characters/],
      [{ to: { uid: 'x'.repeat(257) }, data: 1 }, /to\.uid must be/],
      [{ to: { uid: 1.5 }, data: 1 }, /to\.uid must be/],
      [{ to: { uid: true }, data: 1 }, /to\.uid must be/],
      [{ to: { uids: [] }, data: 1 }, /to\.uids must be an array of 1-10000 uids/],
      [{ to: { uids: 'a' }, data: 1 }, /to\.uids must be an array/],
      [{ to: { uids: Array.from({ length: 10_001 }, (_, i) => `u${i}`) }, data: 1 }, /to\.uids must be an array of 1-10000/],
      [{ to: { uids: ['a', {}] }, data: 1 }, /to\.uids\[1\] must be/],
      [{ to: { group: '' }, data: 1 }, /to\.group must be a string of 1-256 characters/],
      [{ to: { group: 5 }, data: 1 }, /to\.group must be/],
      [{ to: { all: 1 }, data: 1 }, /to\.all must be true/],
      [{ to: { all: false }, data: 1 }, /to\.all must be true/],
      [{ to: { all: true } }, /data is required/],
      [{ to: { all: true }, data: 1, recover: 'yes' }, /recover must be true or false/],
      [{ to: { all: true }, data: 1, extra: 1 }, /extra is not a field of a publish/],
    ]
    for (const [body, message] of cases) {
      const r = await publish(port, body)
      assert.equal(r.status, 400, JSON.stringify(body).slice(0, 80))
      assert.equal(r.body.error.code, 'SD_ERR_VALIDATION')
      assert.match(r.body.error.message, message)
    }
    assert.equal(sources.published.length, 0)
    // 10,000 uids is the most, and passes
    assert.equal((await publish(port, { to: { uids: Array.from({ length: 10_000 }, (_, i) => i) }, data: 1 })).body.reached, 3)
  })

  test('a body that is not JSON: SD_ERR_BAD_MESSAGE (400 malformed, 415 another media type)', async () => {
    const { port, sources } = await start('')
    const bad = await publish(port, '{"to": {"all": tru')
    assert.equal(bad.status, 400)
    assert.equal(bad.body.error.code, 'SD_ERR_BAD_MESSAGE')
    const text = await req(port, '/sd/publish', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"to":{"all":true},"data":1}' })
    assert.equal(text.status, 415)
    assert.equal(text.body.error.code, 'SD_ERR_BAD_MESSAGE')
    const latin1 = await req(port, '/sd/publish', { method: 'POST', headers: { 'content-type': 'application/json' }, body: Buffer.from([0x7b, 0xff, 0x7d]) })
    assert.equal(latin1.body.error.code, 'SD_ERR_BAD_MESSAGE')
    assert.equal(sources.published.length, 0)
  })
})

describe('hardening', () => {
  test('a body over 1 MiB: 413 SD_ERR_BODY_TOO_LARGE, nothing published', async () => {
    const { port, sources } = await start('')
    const r = await publish(port, { to: { all: true }, data: 'x'.repeat(1024 * 1024) })
    assert.equal(r.status, 413)
    assert.equal(r.body.error.code, 'SD_ERR_BODY_TOO_LARGE')
    assert.equal(sources.published.length, 0)
  })

  test('garbage bytes and a slowloris half request are closed cleanly while other requests are served', async () => {
    const { port } = await start('', { limits: { headersTimeoutMs: 400, requestTimeoutMs: 800 } })
    const garbage = await raw(port, '\x00\x01\xff garbage\r\n\r\n')
    assert.match(garbage, /^HTTP\/1\.1 400 /)
    assert.match(garbage, /"code":"SD_ERR_BAD_MESSAGE"/)
    // a request whose headers never end
    const slow = raw(port, 'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1')
    // a body that never comes
    const slowBody = raw(port, 'POST /sd/publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"to"')
    const served = await req(port, '/metrics')
    assert.equal(served.status, 200, 'served while the slow ones hang')
    const [slowAnswer, slowBodyAnswer] = await Promise.all([slow, slowBody])
    assert.match(slowAnswer, /^HTTP\/1\.1 408 /)
    assert.match(slowBodyAnswer, /^HTTP\/1\.1 408 /)
    assert.equal((await req(port, '/metrics')).status, 200)
  })

  test('connections over the cap get 503 SD_ERR_TOO_MANY_CONNECTIONS and are closed', async () => {
    const { port } = await start('', { limits: { maxConnections: 2 } })
    const held: Socket[] = []
    try {
      for (let i = 0; i < 2; i++) {
        const s = connect(port, '127.0.0.1')
        await once(s, 'connect')
        held.push(s)
      }
      const refused = await raw(port, '')
      assert.match(refused, /^HTTP\/1\.1 503 /)
      assert.match(refused, /SD_ERR_TOO_MANY_CONNECTIONS/)
    } finally {
      for (const s of held) s.destroy()
    }
    await waitUntil(async () => (await req(port, '/metrics').catch(() => ({ status: 0 }))).status === 200, 3000, 'a free slot again')
  })

  test('start logs where it listens, never the token; stop closes idle connections', async () => {
    const lines: string[] = []
    const log = pino({ level: 'info' }, new Writable({ write (chunk, _enc, done) { lines.push(String(chunk)); done() } }))
    const { server, port } = await start(TOKEN, { log })
    assert.ok(lines.some((l) => l.includes(`admin listening on 127.0.0.1:${port}`)), lines.join(''))
    assert.ok(!lines.join('').includes(TOKEN))
    const idle = connect(port, '127.0.0.1')
    await once(idle, 'connect')
    idle.on('error', () => {})
    const closed = once(idle, 'close')
    await server.stop()
    await closed
    assert.equal(server.address(), undefined)
  })
})
