/**
 * Input that parses but cannot be used (JSON or MessagePack nested deeper than
 * MAX_NESTING_DEPTH, invalid UTF-8 in an HTTP body) and requests fastify answers by itself (bad
 * URLs, unknown methods, malformed HTTP): every transport answers SD_ERR_BAD_MESSAGE in SD's
 * shape, and nothing reaches the log as an action that threw.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { once } from 'node:events'
import { Writable } from 'node:stream'
import { decode, encode } from '@msgpack/msgpack'
import { pino } from 'pino'
import { Controller, type Application } from '../../framework/index.js'
import { MAX_NESTING_DEPTH, jsonTooDeep } from '../../framework/transport/packs.js'
import { http, portOf, startApp, TcpClient, WsClient, type Envelope } from '../helpers.js'

/** Echoes its data (a reply is JSON.stringify'd: deep data would overflow there). */
class DeepController extends Controller {
  echo (data: unknown): unknown { return data }
}

const nest = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth)
const deepMessage = (id: string, depth: number): string => `{"id":"${id}","path":"/deep/echo","data":${nest(depth - 1)}}`
/** Depth counted with the envelope as level 1: `deepMessage(id, MAX)` is exactly at the limit. */
const tooDeep = 100_000

/** Raw HTTP/1.1 exchange (fetch would normalize the URL). */
async function rawHttp (port: number, request: string): Promise<{ status: number, body: unknown }> {
  const socket = connect(port, '127.0.0.1')
  await once(socket, 'connect')
  socket.write(request)
  const chunks: Buffer[] = []
  socket.on('data', (c: Buffer) => chunks.push(c))
  await once(socket, 'close')
  const text = Buffer.concat(chunks).toString('utf8')
  const status = Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1])
  return { status, body: JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) }
}

function assertBadMessage (m: Envelope | undefined, what: string): void {
  assert.equal(m?.error?.code, 'SD_ERR_BAD_MESSAGE', `${what}: ${JSON.stringify(m)}`)
  assert.equal(typeof m?.error?.message, 'string', what)
}

describe('deep and invalid input on every transport', () => {
  let app: Application
  const lines: string[] = []
  const stream = new Writable({ write (chunk: Buffer, _enc, cb) { lines.push(chunk.toString('utf8')); cb() } })

  before(async () => {
    app = await startApp({ server: { tcp: { pack: 'json' } } }, { controllers: [DeepController], logger: pino({ level: 'info' }, stream) })
  })
  after(async () => { await app?.stop() })

  const noStackLogged = (): void => {
    const bad = lines.filter((l) => /action threw|http error|"stack"/.test(l))
    assert.deepEqual(bad, [], 'nothing logged as an internal error')
  }

  test('the scanner: depth at the limit passes, one more is refused; brackets in strings do not count', () => {
    assert.equal(jsonTooDeep(nest(MAX_NESTING_DEPTH)), false)
    assert.equal(jsonTooDeep(nest(MAX_NESTING_DEPTH + 1)), true)
    const inString = JSON.stringify({ s: '['.repeat(500), t: 'a\\"[[[', u: '\\' })
    assert.equal(jsonTooDeep(inString), false)
  })

  test('TCP: JSON nested too deep → SD_ERR_BAD_MESSAGE with the id; at the limit it is echoed', async () => {
    const c = await TcpClient.connect(portOf(app, 'tcp'))
    try {
      c.frame(deepMessage('d1', tooDeep))
      const deep = await c.next()
      assertBadMessage(deep, 'tcp deep')
      assert.equal(deep.id, 'd1', 'the refusal carries the id (the envelope\'s first key)')
      c.frame(deepMessage('d2', MAX_NESTING_DEPTH + 1))
      assertBadMessage(await c.next(), 'tcp one level too deep')
      c.frame(deepMessage('ok', MAX_NESTING_DEPTH))
      const ok = await c.next()
      assert.equal(ok.id, 'ok')
      assert.deepEqual(ok.data, JSON.parse(nest(MAX_NESTING_DEPTH - 1)))
    } finally {
      c.close()
    }
    noStackLogged()
  })

  test('WebSocket: JSON nested too deep → SD_ERR_BAD_MESSAGE; connection stays open', async () => {
    const c = await WsClient.connect(portOf(app, 'http'))
    try {
      c.ws.send(deepMessage('w1', tooDeep))
      const deep = await c.next()
      assertBadMessage(deep, 'ws deep')
      assert.equal(deep.id, 'w1')
      assert.deepEqual((await c.request('/deep/echo', 'after')).data, 'after')
    } finally {
      c.close()
    }
    noStackLogged()
  })

  test('HTTP: a JSON body nested too deep → 400 SD_ERR_BAD_MESSAGE', async () => {
    const res = await http(portOf(app, 'http'), '/deep/echo', {
      method: 'POST', body: nest(tooDeep), headers: { 'content-type': 'application/json' },
    })
    assert.equal(res.status, 400)
    assertBadMessage(res.body as Envelope, 'http deep')
    noStackLogged()
  })

  test('HTTP: invalid UTF-8 in a JSON body → 400 SD_ERR_BAD_MESSAGE (as on TCP), not replacement characters', async () => {
    const body = Buffer.concat([Buffer.from('{"s":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}')])
    const res = await http(portOf(app, 'http'), '/deep/echo', { method: 'POST', body, headers: { 'content-type': 'application/json' } })
    assert.equal(res.status, 400, res.text)
    assertBadMessage(res.body as Envelope, 'http utf-8')
  })

  test('HTTP: an overlong UTF-8 URL (%C0%AF) → 400 in SD shape', async () => {
    const res = await rawHttp(portOf(app, 'http'), 'GET /deep/%C0%AF HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    assert.equal(res.status, 400)
    assertBadMessage(res.body as Envelope, 'bad url')
  })

  test('HTTP: a method the catch-all route does not take → 404 SD_ERR_ROUTE_NOT_FOUND', async () => {
    const res = await rawHttp(portOf(app, 'http'), 'TRACE /deep/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    assert.equal(res.status, 404)
    assert.equal((res.body as Envelope).error?.code, 'SD_ERR_ROUTE_NOT_FOUND')
  })

  test('HTTP: a malformed request → 400 in SD shape', async () => {
    const res = await rawHttp(portOf(app, 'http'), 'GET /deep/echo HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n')
    assert.equal(res.status, 400)
    assertBadMessage(res.body as Envelope, 'malformed request')
  })
})

describe('deep MessagePack', () => {
  let app: Application
  before(async () => {
    app = await startApp({ server: { tcp: { pack: 'msgpack' } } }, { controllers: [DeepController] })
  })
  after(async () => { await app?.stop() })

  test('TCP msgpack nested too deep → SD_ERR_BAD_MESSAGE', async () => {
    // {id, path, data: [[[…1…]]]} 1000 levels deep, by hand: the library's encoder stops at 100
    const payload = Buffer.concat([Buffer.from([0x83]), encode('id'), encode('m1'), encode('path'), encode('/deep/echo'),
      encode('data'), Buffer.alloc(1000, 0x91), Buffer.from([0x01])])
    const head = Buffer.alloc(4)
    head.writeUInt32BE(payload.length)
    const socket = connect(portOf(app, 'tcp'), '127.0.0.1')
    try {
      await once(socket, 'connect')
      socket.write(Buffer.concat([head, payload]))
      let got = Buffer.alloc(0)
      while (got.length < 4 || got.length < 4 + got.readUInt32BE(0)) got = Buffer.concat([got, (await once(socket, 'data'))[0] as Buffer])
      assertBadMessage(decode(got.subarray(4, 4 + got.readUInt32BE(0))) as Envelope, 'msgpack deep')
    } finally {
      socket.destroy()
    }
  })
})
