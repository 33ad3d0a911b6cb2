/**
 * TLS on the client ports (issue 20): handshake and echo on tcp (length framing), text (a line),
 * http (GET) and wss with a self-signed certificate made by openssl; a plain client on a TLS
 * port is closed while the port keeps serving; a stalled handshake is closed after the
 * handshake timeout and frees its admission slot; SD_TLS_KEY/SD_TLS_CERT; bad files fail the
 * start naming the key; the SDK over tls:// and wss://.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { connect as connectPlain } from 'node:net'
import { connect as connectTls } from 'node:tls'
import { request } from 'node:https'
import { once } from 'node:events'
import { loadConfig, type Application } from '../../framework/index.js'
import { connect as sdConnect } from '../../framework/client/index.js'
import { LineClient, portOf, root, startApp, TcpClient, waitUntil, WsClient } from '../helpers.js'
import { testCert } from '../tls-certs.js'

/** GET over https trusting `ca`: status and body. */
function httpsGet (port: number, path: string, ca: string): Promise<{ status: number, body: string, fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, ca, method: 'GET', agent: false }, (res) => {
      const fingerprint = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().fingerprint256
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, fingerprint }))
    })
    req.on('error', reject)
    req.end()
  })
}

/** A plain socket that writes `bytes` to a TLS port: resolves once the server closed it, with what it got. */
async function plainOnTlsPort (port: number, bytes: string | Buffer): Promise<Buffer> {
  const socket = connectPlain(port, '127.0.0.1')
  socket.on('error', () => {})
  await once(socket, 'connect')
  const got: Buffer[] = []
  socket.on('data', (c: Buffer) => got.push(c))
  socket.write(bytes)
  await once(socket, 'close')
  return Buffer.concat(got)
}

describe('TLS on the client ports', () => {
  const cert = testCert()
  const tls = { key: cert.key, cert: cert.cert, handshakeTimeoutMs: 300 }
  let app: Application

  before(async () => {
    app = await startApp({ server: { tcp: { tls }, text: { tls, route: '/bench/echo' }, http: { tls }, rateLimit: { messagesPerSecond: 0 } } })
  })
  after(async () => { await app?.stop() })

  test('tcp: handshake with the served certificate, then a length-framed echo', async () => {
    const c = await TcpClient.connectTls(portOf(app, 'tcp'), cert.pem)
    try {
      assert.equal((c.socket as import('node:tls').TLSSocket).getPeerCertificate().fingerprint256, cert.fingerprint)
      assert.deepEqual(await c.request('/bench/echo', { n: 1, s: 'über TLS ✓' }), { id: 1, data: { n: 1, s: 'über TLS ✓' } })
      // pipelined: several frames in one TLS write
      const frames = [2, 3, 4].map((n) => { const b = Buffer.from(JSON.stringify({ id: n, path: '/bench/echo', data: n })); const h = Buffer.alloc(4); h.writeUInt32BE(b.length); return Buffer.concat([h, b]) })
      c.raw(Buffer.concat(frames))
      // (a reply taken by request() leaves the inbox)
      await waitUntil(() => c.received.length >= 3, 3000, 'pipelined replies')
      assert.deepEqual(c.received.map((m) => [m.id, m.data]), [[2, 2], [3, 3], [4, 4]])
    } finally { c.close() }
  })

  test('text: a line echoed over TLS (telnet negotiation included)', async () => {
    const c = await LineClient.connectTls(portOf(app, 'text'), cert.pem)
    try {
      c.send('hello over tls')
      assert.equal(await c.next(), 'hello over tls')
    } finally { c.close() }
  })

  test('http: GET over https; wss: an echo over the upgraded TLS socket', async () => {
    const res = await httpsGet(portOf(app, 'http'), '/bench/echo?x=1', cert.pem)
    assert.equal(res.status, 200)
    assert.equal(res.fingerprint, cert.fingerprint)
    const ws = await WsClient.connectTls(portOf(app, 'http'), cert.pem)
    try {
      assert.deepEqual(await ws.request('/bench/echo', { via: 'wss' }), { id: 1, data: { via: 'wss' } })
    } finally { ws.close() }
  })

  test('a plain client on each TLS port is closed without an answer; the ports keep serving', async () => {
    const frame = Buffer.from(JSON.stringify({ id: 1, path: '/bench/echo', data: 'plain' }))
    const head = Buffer.alloc(4)
    head.writeUInt32BE(frame.length)
    const got = await plainOnTlsPort(portOf(app, 'tcp'), Buffer.concat([head, frame]))
    assert.ok(!got.toString('latin1').includes('plain'), 'nothing of the request is answered in clear')
    await plainOnTlsPort(portOf(app, 'text'), 'hello\n')
    const http = await plainOnTlsPort(portOf(app, 'http'), 'GET /bench/echo HTTP/1.1\r\nHost: x\r\n\r\n')
    assert.ok(!http.toString('latin1').includes('HTTP/1.1 200'), 'no clear-text HTTP answer')
    await waitUntil(() => app.admission.open === 0, 3000, 'every refused socket to free its slot')
    const c = await TcpClient.connectTls(portOf(app, 'tcp'), cert.pem)
    try {
      assert.deepEqual((await c.request('/bench/echo', 'still here')).data, 'still here')
    } finally { c.close() }
  })

  test('a socket that never completes its handshake is closed after handshakeTimeoutMs, freeing its slot', async () => {
    const sockets = [portOf(app, 'tcp'), portOf(app, 'text'), portOf(app, 'http')].map((port) => {
      const s = connectPlain(port, '127.0.0.1')
      s.on('error', () => {})
      return s
    })
    await Promise.all(sockets.map((s) => once(s, 'connect')))
    await waitUntil(() => app.admission.open >= 3, 3000, 'the silent sockets to be counted')
    // silent: no ClientHello; each is closed by the server (the test's deadline is far above 300 ms)
    await Promise.all(sockets.map((s) => s.closed ? undefined : once(s, 'close')))
    await waitUntil(() => app.admission.open === 0, 3000, 'their slots to be freed')
  })

  test('SDK: tls:// and wss:// with the certificate as ca', async () => {
    for (const url of [`tls://127.0.0.1:${portOf(app, 'tcp')}`, `wss://127.0.0.1:${portOf(app, 'http')}/ws`]) {
      const client = sdConnect(url, { tls: { ca: cert.pem }, heartbeatMs: 0 })
      try {
        assert.deepEqual(await client.call('/bench/echo', { url }), { url })
      } finally { client.close() }
    }
  })

  test('SDK: a server certificate not vouched for is refused (no ca)', async () => {
    const client = sdConnect(`tls://127.0.0.1:${portOf(app, 'tcp')}`, { heartbeatMs: 0, timeoutMs: 500, backoff: { firstMs: 50, maxMs: 100 } })
    try {
      await assert.rejects(client.call('/bench/echo', 1), (err: { code?: string }) => err.code === 'SD_ERR_CLIENT_TIMEOUT')
    } finally { client.close() }
  })
})

describe('TLS ports and admission', () => {
  const cert = testCert()

  test('a socket over maxConnections on a TLS port is closed at once (no handshake); the port keeps serving', async () => {
    const tls = { key: cert.key, cert: cert.cert }
    const app = await startApp({ server: { tcp: { tls }, http: { tls }, maxConnections: 1 } })
    try {
      const held = await TcpClient.connectTls(portOf(app, 'tcp'), cert.pem)
      for (const port of [portOf(app, 'tcp'), portOf(app, 'http')]) {
        const s = connectTls({ port, host: '127.0.0.1', ca: cert.pem })
        let failed: Error | undefined
        s.on('error', (err) => { failed = err })
        await new Promise((resolve) => s.once('close', resolve))
        assert.equal(s.authorized, false, 'no handshake was done')
        assert.ok(failed !== undefined, 'the client sees the socket end before any handshake')
      }
      assert.deepEqual((await held.request('/bench/echo', 'held')).data, 'held')
      held.close()
      await waitUntil(() => app.admission.open === 0, 3000, 'the slot to be freed')
      const again = await TcpClient.connectTls(portOf(app, 'tcp'), cert.pem)
      assert.deepEqual((await again.request('/bench/echo', 'again')).data, 'again')
      again.close()
    } finally { await app.stop() }
  })
})

describe('TLS options', () => {
  const cert = testCert()

  test('SD_TLS_KEY + SD_TLS_CERT turn TLS on for every client port without its own', async () => {
    const config = await loadConfig({ root, configDir: false, env: { SD_TLS_KEY: cert.key, SD_TLS_CERT: cert.cert }, overrides: { server: { text: { tls: { key: 'k.pem', cert: 'c.pem' } } } } })
    assert.deepEqual(config.server.tcp.tls, { key: cert.key, cert: cert.cert })
    assert.deepEqual(config.server.http.tls, { key: cert.key, cert: cert.cert })
    assert.deepEqual(config.server.text.tls, { key: 'k.pem', cert: 'c.pem' })
    await assert.rejects(loadConfig({ root, configDir: false, env: { SD_TLS_KEY: cert.key } }), /SD_TLS_CERT must be set too/)
  })

  test('bad options fail at load naming the key; an unreadable file fails the start naming it', async () => {
    await assert.rejects(loadConfig({ root, configDir: false, env: {}, overrides: { server: { tcp: { tls: { key: cert.key } as never } } } }), /server\.tcp\.tls\.cert is required/)
    await assert.rejects(loadConfig({ root, configDir: false, env: {}, overrides: { server: { http: { tls: { key: cert.key, cert: cert.cert, pfx: 'x' } as never } } } }), /server\.http\.tls\.pfx is not a known option/)
    await assert.rejects(loadConfig({ root, configDir: false, env: {}, overrides: { cluster: { tls: { key: cert.key, cert: cert.cert, rejectUnauthorized: 'no' } as never } } }), /cluster\.tls\.rejectUnauthorized must be a boolean/)
    await assert.rejects(startApp({ server: { tcp: { tls: { key: cert.key, cert: '/nonexistent/cert.pem' } } } }), (err: { code?: string, message: string }) =>
      err.code === 'SD_ERR_CONFIG_INVALID' && /server\.tcp\.tls\.cert cannot be read/.test(err.message))
  })

  test('a plain TLS client (node:tls) sees the certificate of each port', async () => {
    const app = await startApp({ server: { tcp: { tls: { key: cert.key, cert: cert.cert } } } })
    try {
      const s = connectTls({ port: portOf(app, 'tcp'), host: '127.0.0.1', ca: cert.pem })
      await once(s, 'secureConnect')
      assert.equal(s.getPeerCertificate().fingerprint256, cert.fingerprint)
      s.destroy()
    } finally { await app.stop() }
  })
})
