/**
 * Admission control and HTTP timeouts on real sockets: over `server.maxConnections` (all ports
 * of a process together) or `maxConnectionsPerIp` a new socket is refused at once with
 * SD_ERR_TOO_MANY_CONNECTIONS (TCP: error frame, text: ERROR line, HTTP and the WebSocket
 * upgrade: 503) and closed, while the admitted clients keep being served; slow-header sockets
 * and idle keep-alive sockets are closed by their timeouts.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { request } from 'node:http'
import { connect, type Socket } from 'node:net'
import { WebSocket } from 'ws'
import { Controller } from '../../framework/index.js'
import { defaultMaxConnections, openFilesLimit } from '../../framework/transport/admission.js'
import { LineClient, portOf, startApp, TcpClient, waitUntil, WsClient } from '../helpers.js'

class EchoController extends Controller {
  echo (data: unknown): unknown { return data }
}

/** Text port lines go to the echo action. */
const textRoute = { route: '/echo/echo' }

/** One HTTP GET on a fresh socket (no keep-alive pool: each request is its own connection). */
function get (port: number, path: string, localAddress?: string): Promise<{ status: number, body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, localAddress }, (res) => {
      let text = ''
      res.setEncoding('utf8').on('data', (c: string) => { text += c })
      res.on('end', () => {
        let body: unknown
        try { body = JSON.parse(text) } catch { body = text }
        resolve({ status: res.statusCode ?? 0, body })
      })
    })
    req.on('error', reject)
    req.end()
  })
}

/** Status of a WebSocket upgrade that the server refuses (`unexpected-response`). */
function refusedUpgrade (port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`)
    ws.on('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); res.resume(); ws.terminate() })
    ws.on('open', () => { ws.terminate(); reject(new Error('the upgrade was accepted')) })
    ws.on('error', () => {})
  })
}

/** A raw TCP client from `localAddress`, with everything it receives until the server closes it. */
async function rawClient (port: number, localAddress = '127.0.0.1'): Promise<{ socket: Socket, closed: Promise<Buffer> }> {
  const socket = connect({ port, host: '127.0.0.1', localAddress })
  const chunks: Buffer[] = []
  socket.on('data', (c: Buffer) => chunks.push(c))
  socket.on('error', () => {})
  // resolves with what arrived once the server closes the socket; rejects if it is still open after 10 s
  const closed = new Promise<Buffer>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the server did not close the socket within 10 s')), 10_000)
    timer.unref()
    socket.once('close', () => { clearTimeout(timer); resolve(Buffer.concat(chunks)) })
  })
  closed.catch(() => {})
  await once(socket, 'connect')
  return { socket, closed }
}

function errorFrame (bytes: Buffer): { error?: { code: string } } {
  assert.ok(bytes.length >= 4, 'an error frame arrived before the close')
  return JSON.parse(bytes.subarray(4, 4 + bytes.readUInt32BE(0)).toString('utf8')) as { error?: { code: string } }
}

test('over maxConnections a new socket is refused on every port, and the admitted clients keep being served', async (t) => {
  const app = await startApp({ server: { maxConnections: 2, text: textRoute } }, { controllers: [EchoController] })
  t.after(() => app.stop())
  const tcp = await TcpClient.connect(portOf(app, 'tcp'))
  t.after(() => tcp.close())
  assert.equal((await tcp.request('/echo/echo', 'a')).data, 'a')
  const line = await LineClient.connect(portOf(app, 'text'))
  t.after(() => line.close())
  line.send('b')
  assert.equal(await line.next(), 'b')

  // TCP: an error frame, then the server closes
  const extraTcp = await rawClient(portOf(app, 'tcp'))
  assert.equal(errorFrame(await extraTcp.closed).error?.code, 'SD_ERR_TOO_MANY_CONNECTIONS')
  // text: an ERROR line, then the server closes
  const extraText = await rawClient(portOf(app, 'text'))
  assert.match((await extraText.closed).toString('utf8'), /^ERROR SD_ERR_TOO_MANY_CONNECTIONS: .*\r\n$/) // the text port speaks telnet: every line ends with CR LF
  // HTTP: 503 with the code
  const res = await get(portOf(app, 'http'), '/echo/echo?x=1')
  assert.equal(res.status, 503)
  assert.equal((res.body as { error: { code: string } }).error.code, 'SD_ERR_TOO_MANY_CONNECTIONS')
  // the WebSocket upgrade: 503
  assert.equal(await refusedUpgrade(portOf(app, 'http')), 503)

  // the admitted ones were never disturbed
  assert.equal((await tcp.request('/echo/echo', 'still')).data, 'still')
  line.send('here')
  assert.equal(await line.next(), 'here')
  assert.equal(app.admission.open, 2, 'refused sockets were never counted')

  // a closed client frees its place: a WebSocket gets in
  tcp.close()
  await waitUntil(() => app.admission.open === 1, 3000, 'the closed client to be released')
  const ws = await WsClient.connect(portOf(app, 'http'))
  t.after(() => ws.close())
  assert.equal((await ws.request('/echo/echo', 'ws')).data, 'ws')
})

test('maxConnectionsPerIp counts one address across ports; another source address still gets in', async (t) => {
  const app = await startApp({ server: { maxConnectionsPerIp: 1, text: textRoute } }, { controllers: [EchoController] })
  t.after(() => app.stop())
  const first = await TcpClient.connect(portOf(app, 'tcp'))
  t.after(() => first.close())
  assert.equal((await first.request('/echo/echo', 1)).data, 1)

  const second = await rawClient(portOf(app, 'tcp'))
  assert.equal(errorFrame(await second.closed).error?.code, 'SD_ERR_TOO_MANY_CONNECTIONS')
  assert.equal((await get(portOf(app, 'http'), '/echo/echo?x=1')).status, 503, 'the limit is per address, all ports together')

  const other = await rawClient(portOf(app, 'tcp'), '127.0.0.2')
  t.after(() => other.socket.destroy())
  const body = Buffer.from(JSON.stringify({ id: 9, path: '/echo/echo', data: 'other' }))
  const head = Buffer.alloc(4)
  head.writeUInt32BE(body.length)
  other.socket.write(Buffer.concat([head, body]))
  const [chunk] = await once(other.socket, 'data') as [Buffer]
  assert.deepEqual(errorFrame(chunk), { id: 9, data: 'other' })
  assert.equal((await get(portOf(app, 'http'), '/echo/echo?x=2', '127.0.0.3')).status, 200)
})

test('a socket that trickles its headers is closed by the header timeout with 408', async (t) => {
  const app = await startApp({ server: { http: { headersTimeoutMs: 200, requestTimeoutMs: 400 } } }, { controllers: [EchoController] })
  t.after(() => app.stop())
  const slow = await rawClient(portOf(app, 'http'))
  t.after(() => slow.socket.destroy())
  slow.socket.write('GET /echo/echo HTTP/1.1\r\nHost: x\r\n')
  const timer = setInterval(() => { if (!slow.socket.destroyed) slow.socket.write('X-Slow: 1\r\n') }, 50)
  t.after(() => clearInterval(timer))
  const received = await slow.closed
  assert.match(received.toString('latin1'), /^HTTP\/1\.1 408 /)
})

test('an idle keep-alive socket is closed after keepAliveTimeoutMs', async (t) => {
  const app = await startApp({ server: { http: { keepAliveTimeoutMs: 100 } } }, { controllers: [EchoController] })
  t.after(() => app.stop())
  const client = await rawClient(portOf(app, 'http'))
  t.after(() => client.socket.destroy())
  client.socket.write('GET /echo/echo?x=1 HTTP/1.1\r\nHost: x\r\n\r\n')
  const received = await client.closed
  assert.match(received.toString('latin1'), /^HTTP\/1\.1 200 /)
})

test('the default maxConnections keeps headroom below the open-files limit', () => {
  assert.equal(defaultMaxConnections(1024), 666)
  assert.equal(defaultMaxConnections(100), 64)
  assert.equal(openFilesLimit(() => 'Limit Soft Hard Units\nMax open files            512                  4096                 files\n'), 512)
  assert.equal(openFilesLimit(() => { throw new Error('no /proc') }), 4096)
  assert.ok(defaultMaxConnections() < openFilesLimit())
})
