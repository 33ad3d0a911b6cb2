/**
 * Bad input on a running demo app, port by port. After every case the same connection (when
 * it stays open) and clients on every other port (TCP, text, WebSocket, HTTP) must still get
 * answers from `/bench/echo`.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { pino, type Logger } from 'pino'
import { AppError, Controller, type Application } from '../../framework/index.js'
import { http, LineClient, portOf, startApp, TcpClient, WsClient, type Envelope } from '../helpers.js'

/** Asserts `m` is an error envelope with `code`, carrying `id` (or no id at all when undefined). */
function assertError (m: Envelope, code: string, id?: number | string): void {
  assert.equal(m.error?.code, code, `expected ${code}, got ${JSON.stringify(m)}`)
  assert.equal(typeof m.error?.message, 'string')
  assert.equal('data' in m, false, 'an error carries no data')
  if (id === undefined) assert.equal('id' in m, false, `no id expected in ${JSON.stringify(m)}`)
  else assert.equal(m.id, id)
}

/** Clients opened before the bad input, on every port, plus fresh ones per check. */
class Bystanders {
  #n = 0

  private constructor (
    readonly app: Application,
    readonly echoPath: string,
    readonly tcp: TcpClient,
    readonly ws: WsClient,
    readonly line: LineClient,
  ) {}

  /** `echoPath` is the echo action; the text port must be configured to route lines to it. */
  static async open (app: Application, echoPath: string): Promise<Bystanders> {
    const [tcp, ws, line] = await Promise.all([
      TcpClient.connect(portOf(app, 'tcp')),
      WsClient.connect(portOf(app, 'http')),
      LineClient.connect(portOf(app, 'text')),
    ])
    return new Bystanders(app, echoPath, tcp, ws, line)
  }

  /** Every port still answers: the long-lived clients and new connections. */
  async check (): Promise<void> {
    const tag = `still-ok-${++this.#n}`
    assert.equal(this.tcp.closed, false, 'the other TCP client was not closed')
    assert.equal(this.ws.closed, false, 'the other WebSocket client was not closed')
    assert.equal(this.line.closed, false, 'the other text client was not closed')
    assert.deepEqual((await this.tcp.request(this.echoPath, { tag })).data, { tag })
    assert.deepEqual((await this.ws.request(this.echoPath, { tag })).data, { tag })
    this.line.send(tag)
    assert.equal(await this.line.next((l) => l === tag), tag)
    const res = await http(portOf(this.app, 'http'), this.echoPath, {
      method: 'POST', body: JSON.stringify({ tag }), headers: { 'content-type': 'application/json' },
    })
    assert.equal(res.status, 200)
    assert.deepEqual(res.body, { tag })
    const fresh = await TcpClient.connect(portOf(this.app, 'tcp'))
    try {
      assert.deepEqual((await fresh.request(this.echoPath, tag)).data, tag)
    } finally {
      fresh.close()
    }
  }

  close (): void {
    this.tcp.close()
    this.ws.close()
    this.line.close()
  }
}

/** A TCP frame header announcing `len` bytes. */
function header (len: number): Buffer {
  const h = Buffer.alloc(4)
  h.writeUInt32BE(len, 0)
  return h
}

describe('bad input on the demo app', () => {
  let app: Application
  let by: Bystanders
  const open: Array<{ close (): void }> = []

  before(async () => {
    app = await startApp({
      server: {
        // The text port echoes lines so it can be checked like the others.
        text: { route: '/bench/echo', maxFrameBytes: 64 },
        http: { bodyLimitBytes: 1024, ws: { maxFrameBytes: 1024 } },
      },
    })
    by = await Bystanders.open(app, '/bench/echo')
  })
  after(async () => {
    for (const c of open) c.close()
    by?.close()
    await app?.stop()
  })

  async function tcp (): Promise<TcpClient> {
    const c = await TcpClient.connect(portOf(app, 'tcp'))
    open.push(c)
    return c
  }

  async function ws (): Promise<WsClient> {
    const c = await WsClient.connect(portOf(app, 'http'))
    open.push(c)
    return c
  }

  async function line (): Promise<LineClient> {
    const c = await LineClient.connect(portOf(app, 'text'))
    open.push(c)
    return c
  }

  /** The same TCP connection still answers. */
  async function sameTcpAnswers (c: TcpClient): Promise<void> {
    assert.equal(c.closed, false, 'connection stays open')
    assert.deepEqual((await c.request('/bench/echo', 'after')).data, 'after')
  }

  describe('TCP port', () => {
    const badPayloads: Array<[string, string | Buffer, (number | string)?]> = [
      ['malformed JSON', '{"id":1,"path":'],
      ['not JSON at all', 'hello'],
      ['a JSON array', '[{"id":1,"path":"/bench/echo"}]'],
      ['a JSON number', '42'],
      ['a JSON string', '"/bench/echo"'],
      ['JSON null', 'null'],
      ['an empty payload', ''],
      ['missing path (id readable)', '{"id":"m1","data":1}', 'm1'],
      ['empty path (id readable)', '{"id":17,"path":""}', 17],
      ['path that is not a string (id readable)', '{"id":"m3","path":["/bench/echo"]}', 'm3'],
      ['id that is an object', '{"id":{"n":1},"path":"/bench/echo","data":1}'],
      ['id that is a boolean', '{"id":true,"path":"/bench/echo","data":1}'],
      ['id that is null', '{"id":null,"path":"/bench/echo","data":1}'],
    ]
    for (const [what, payload, id] of badPayloads) {
      test(`${what} → SD_ERR_BAD_MESSAGE${id === undefined ? '' : ' with the id'}; connection stays open`, async () => {
        const c = await tcp()
        c.frame(payload)
        assertError(await c.next(), 'SD_ERR_BAD_MESSAGE', id)
        await sameTcpAnswers(c)
        assert.equal(c.received.length, 0, `nothing else was sent: ${JSON.stringify(c.received)}`)
        await by.check()
      })
    }

    test('unknown route → SD_ERR_ROUTE_NOT_FOUND with the id; connection stays open', async () => {
      const c = await tcp()
      c.frame(JSON.stringify({ id: 'r1', path: '/nope/nothing', data: 1 }))
      assertError(await c.next(), 'SD_ERR_ROUTE_NOT_FOUND', 'r1')
      c.frame(JSON.stringify({ id: 99, path: '/bench/nothing' }))
      assertError(await c.next(), 'SD_ERR_ROUTE_NOT_FOUND', 99)
      await sameTcpAnswers(c)
      await by.check()
    })

    test('invalid UTF-8 in a JSON payload → SD_ERR_BAD_MESSAGE, the action does not run', async () => {
      const c = await tcp()
      c.frame(Buffer.concat([Buffer.from('{"id":"u1","path":"/bench/echo","data":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}')]))
      assertError(await c.next(), 'SD_ERR_BAD_MESSAGE')
      await sameTcpAnswers(c)
      assert.equal(c.received.some((m) => m.id === 'u1'), false, 'no echo of the invalid payload')
      await by.check()
    })

    test('a header announcing more than 2 MiB (the default) → SD_ERR_FRAME_TOO_LARGE push, then close, payload never sent', async () => {
      const c = await tcp()
      c.raw(header(2 * 1024 * 1024 + 1))
      const err = await c.next()
      assertError(err, 'SD_ERR_FRAME_TOO_LARGE')
      await c.waitClosed()
      await by.check()
    })

    test('many bad messages pipelined with good ones: one answer each, in order', async () => {
      const c = await tcp()
      const frames: Buffer[] = []
      const expected: Array<(m: Envelope) => void> = []
      for (let i = 0; i < 50; i++) {
        const frame = (s: string): Buffer => Buffer.concat([header(Buffer.byteLength(s)), Buffer.from(s)])
        frames.push(frame(JSON.stringify({ id: `g${i}`, path: '/bench/echo', data: i })))
        expected.push((m) => assert.deepEqual(m, { id: `g${i}`, data: i }))
        frames.push(frame('{oops'))
        expected.push((m) => assertError(m, 'SD_ERR_BAD_MESSAGE'))
        frames.push(frame(JSON.stringify({ id: `n${i}`, path: '/no/where' })))
        expected.push((m) => assertError(m, 'SD_ERR_ROUTE_NOT_FOUND', `n${i}`))
      }
      c.raw(Buffer.concat(frames))
      for (const check of expected) check(await c.next())
      await sameTcpAnswers(c)
    })
  })

  describe('text port', () => {
    test('a line over the limit → ERROR SD_ERR_FRAME_TOO_LARGE line, then close', async () => {
      const c = await line()
      c.send('y'.repeat(100))
      assert.match(await c.next(), /^ERROR SD_ERR_FRAME_TOO_LARGE: /)
      await c.waitClosed()
      await by.check()
    })

    test('a line over the limit without a newline → ERROR SD_ERR_FRAME_TOO_LARGE line, then close', async () => {
      const c = await line()
      c.socket.write('y'.repeat(100))
      assert.match(await c.next(), /^ERROR SD_ERR_FRAME_TOO_LARGE: /)
      await c.waitClosed()
      await by.check()
    })

    test('a line of exactly the limit is answered', async () => {
      const c = await line()
      const max = 'm'.repeat(64)
      c.send(max)
      assert.equal(await c.next(), max)
    })

    test('an invalid UTF-8 line → ERROR SD_ERR_BAD_MESSAGE line; connection stays open', async () => {
      const c = await line()
      c.socket.write(Buffer.from([0x61, 0xc3, 0x28, 0xfe, 0x0a])) // no 0xFF: that is telnet's IAC on this port
      assert.match(await c.next(), /^ERROR SD_ERR_BAD_MESSAGE\b/)
      c.send('after bad line')
      assert.equal(await c.next(), 'after bad line')
      assert.equal(c.closed, false)
      await by.check()
    })
  })

  describe('WebSocket', () => {
    test('malformed JSON → SD_ERR_BAD_MESSAGE; connection stays open', async () => {
      const c = await ws()
      c.ws.send('{"id":1,"path":')
      assertError(await c.next(), 'SD_ERR_BAD_MESSAGE')
      c.ws.send('[1,2,3]')
      assertError(await c.next(), 'SD_ERR_BAD_MESSAGE')
      c.ws.send('{"id":"w1","data":1}')
      assertError(await c.next(), 'SD_ERR_BAD_MESSAGE', 'w1')
      assert.deepEqual((await c.request('/bench/echo', 'after')).data, 'after')
      assert.equal(c.closed, false)
      await by.check()
    })

    test('unknown route → SD_ERR_ROUTE_NOT_FOUND with the id; connection stays open', async () => {
      const c = await ws()
      c.ws.send(JSON.stringify({ id: 'w2', path: '/nope/nothing' }))
      assertError(await c.next(), 'SD_ERR_ROUTE_NOT_FOUND', 'w2')
      assert.deepEqual((await c.request('/bench/echo', 'after')).data, 'after')
      await by.check()
    })

    test('a message of exactly ws.maxFrameBytes is answered', async () => {
      const c = await ws()
      const prefix = '{"id":"big","path":"/bench/echo","data":"'
      const msg = prefix + 'b'.repeat(1024 - prefix.length - 2) + '"}'
      assert.equal(Buffer.byteLength(msg), 1024)
      c.ws.send(msg)
      const reply = await c.next()
      assert.equal(reply.id, 'big')
    })

    test('a message larger than ws.maxFrameBytes → closed with 1009', async () => {
      const c = await ws()
      c.ws.send(JSON.stringify({ id: 1, path: '/bench/echo', data: 'z'.repeat(2000) }))
      await c.waitClosed()
      assert.equal(c.closeCode, 1009)
      await by.check()
    })

    test('invalid UTF-8 in a text frame → closed with 1007', async () => {
      const c = await ws()
      c.ws.send(Buffer.concat([Buffer.from('{"id":1,"path":"/bench/echo","data":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]), { binary: false })
      await c.waitClosed()
      assert.equal(c.closeCode, 1007)
      await by.check()
    })
  })

  describe('HTTP port', () => {
    test('a body over bodyLimitBytes → 413 SD_ERR_BODY_TOO_LARGE', async () => {
      const res = await http(portOf(app, 'http'), '/bench/echo', {
        method: 'POST', body: JSON.stringify({ big: 'q'.repeat(2000) }), headers: { 'content-type': 'application/json' },
      })
      assert.equal(res.status, 413)
      assert.equal((res.body as Envelope).error?.code, 'SD_ERR_BODY_TOO_LARGE')
      await by.check()
    })

    test('invalid JSON body → 400 SD_ERR_BAD_MESSAGE', async () => {
      const res = await http(portOf(app, 'http'), '/bench/echo', {
        method: 'POST', body: '{"a":', headers: { 'content-type': 'application/json' },
      })
      assert.equal(res.status, 400)
      assert.equal((res.body as Envelope).error?.code, 'SD_ERR_BAD_MESSAGE')
      await by.check()
    })

    test('unknown path → 404 SD_ERR_ROUTE_NOT_FOUND', async () => {
      for (const method of ['GET', 'POST']) {
        const res = await http(portOf(app, 'http'), '/nope/nothing', { method })
        assert.equal(res.status, 404, method)
        assert.equal((res.body as Envelope).error?.code, 'SD_ERR_ROUTE_NOT_FOUND', method)
      }
      await by.check()
    })
  })
})

describe('TCP frame limit set in config', () => {
  let app: Application
  let by: Bystanders
  before(async () => {
    app = await startApp({ server: { tcp: { maxFrameBytes: 1024 }, text: { route: '/bench/echo' } } })
    by = await Bystanders.open(app, '/bench/echo')
  })
  after(async () => {
    by?.close()
    await app?.stop()
  })

  test('a frame of exactly maxFrameBytes is answered', async () => {
    const c = await TcpClient.connect(portOf(app, 'tcp'))
    try {
      const prefix = '{"id":"max","path":"/bench/echo","data":"'
      const payload = prefix + 'p'.repeat(1024 - prefix.length - 2) + '"}'
      assert.equal(Buffer.byteLength(payload), 1024)
      c.frame(payload)
      assert.equal((await c.next()).id, 'max')
    } finally {
      c.close()
    }
  })

  test('a header announcing maxFrameBytes + 1 → SD_ERR_FRAME_TOO_LARGE push and close, without the payload', async () => {
    const c = await TcpClient.connect(portOf(app, 'tcp'))
    try {
      assert.deepEqual((await c.request('/bench/echo', 1)).data, 1)
      c.raw(header(1025))
      assertError(await c.next(), 'SD_ERR_FRAME_TOO_LARGE')
      await c.waitClosed()
      assert.equal(c.received.length, 0, `nothing after the error: ${JSON.stringify(c.received)}`)
    } finally {
      c.close()
    }
    await by.check()
  })

  test('an oversized header split across two writes is refused too', async () => {
    const c = await TcpClient.connect(portOf(app, 'tcp'))
    try {
      const h = header(5000)
      c.raw(h.subarray(0, 2))
      // Half a header is not an error yet: the server answers others meanwhile.
      assert.deepEqual((await by.tcp.request('/bench/echo', 'between')).data, 'between')
      assert.equal(c.closed, false)
      c.raw(h.subarray(2))
      assertError(await c.next(), 'SD_ERR_FRAME_TOO_LARGE')
      await c.waitClosed()
    } finally {
      c.close()
    }
    await by.check()
  })
})

/** Log lines captured from the app's pino logger. */
function captureLogs (): { logger: Logger, lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  let partial = ''
  const stream = new Writable({
    write (chunk: Buffer, _enc, cb) {
      const parts = (partial + chunk.toString('utf8')).split('\n')
      partial = parts.pop() ?? ''
      for (const l of parts) if (l) lines.push(JSON.parse(l) as Record<string, unknown>)
      cb()
    },
  })
  return { logger: pino({ level: 'info' }, stream), lines }
}

/** Test actions that fail in different ways; the marker in `data` ends up in the error. */
class BoomController extends Controller {
  boom (data: unknown): never {
    throw new Error(`secret-${String(data)} at /srv/app/private.ts:12`)
  }

  async boomAsync (data: unknown): Promise<never> {
    await Promise.resolve()
    throw new TypeError(`secret-${String(data)}`)
  }

  throwsString (data: unknown): never {
    throw `secret-${String(data)}` as unknown as Error
  }

  business (): never {
    throw new AppError('DEMO_ERR_NOPE', 'you may see this')
  }

  echo (data: unknown): unknown {
    return data
  }
}

describe('an action that throws', () => {
  let app: Application
  let logs: ReturnType<typeof captureLogs>
  let by: Bystanders
  before(async () => {
    logs = captureLogs()
    app = await startApp({ server: { text: { route: '/boom/echo' } } }, { controllers: [BoomController], logger: logs.logger })
    by = await Bystanders.open(app, '/boom/echo')
  })
  after(async () => {
    by?.close()
    await app?.stop()
  })

  /** Log lines mentioning `marker`. */
  function logged (marker: string): Array<Record<string, unknown>> {
    return logs.lines.filter((l) => JSON.stringify(l).includes(marker))
  }

  function assertNoLeak (text: string, marker: string): void {
    assert.equal(text.includes(marker), false, `the client must not see the error's message: ${text}`)
    assert.equal(/\bat \S+:\d+/.test(text) || text.includes('.ts'), false, `no stack trace: ${text}`)
  }

  /** The failure is logged exactly once, at error level, with the original error. */
  async function assertLoggedOnce (marker: string): Promise<void> {
    // One more round trip on every port, so a duplicate log written later would be seen.
    await by.check()
    const found = logged(marker)
    assert.equal(found.length, 1, `logged once: ${JSON.stringify(found)}`)
    assert.ok((found[0].level as number) >= 50, 'logged at error level')
  }

  const cases: Array<[string, string]> = [['boom', 'sync'], ['boomAsync', 'async'], ['throwsString', 'string']]
  for (const [action, kind] of cases) {
    test(`TCP: ${kind} throw → SD_ERR_INTERNAL to the caller, no detail, logged once`, async () => {
      const marker = `tcp-${action}`
      const c = await TcpClient.connect(portOf(app, 'tcp'))
      try {
        const reply = await c.request(`/boom/${action}`, marker)
        assertError(reply, 'SD_ERR_INTERNAL', 1)
        assertNoLeak(JSON.stringify(reply), `secret-${marker}`)
        assert.deepEqual((await c.request('/boom/echo', 'next')).data, 'next', 'connection still works')
      } finally {
        c.close()
      }
      await assertLoggedOnce(`secret-${marker}`)
    })
  }

  test('WebSocket: throw → SD_ERR_INTERNAL, no detail, logged once', async () => {
    const marker = 'ws-boom'
    const c = await WsClient.connect(portOf(app, 'http'))
    try {
      const reply = await c.request('/boom/boom', marker)
      assertError(reply, 'SD_ERR_INTERNAL', 1)
      assertNoLeak(JSON.stringify(reply), `secret-${marker}`)
    } finally {
      c.close()
    }
    await assertLoggedOnce(`secret-${marker}`)
  })

  test('HTTP: throw → 500 SD_ERR_INTERNAL, no detail, logged once', async () => {
    for (const action of ['boom', 'boomAsync']) {
      const marker = `http-${action}`
      const res = await http(portOf(app, 'http'), `/boom/${action}?x=1`, {
        method: 'POST', body: JSON.stringify(marker), headers: { 'content-type': 'application/json' },
      })
      assert.equal(res.status, 500)
      assert.equal((res.body as Envelope).error?.code, 'SD_ERR_INTERNAL')
      assertNoLeak(res.text, `secret-${marker}`)
      await assertLoggedOnce(`secret-${marker}`)
    }
  })

  test('text port: throw → an ERROR SD_ERR_INTERNAL line without detail', async () => {
    const marker = 'text-boom'
    const app2 = await startApp({ server: { text: { route: '/boom/boom' } } }, { controllers: [BoomController], logger: logs.logger })
    const c = await LineClient.connect(portOf(app2, 'text'))
    try {
      c.send(marker)
      const l = await c.next()
      assert.match(l, /^ERROR SD_ERR_INTERNAL\b/)
      assertNoLeak(l, `secret-${marker}`)
      assert.equal(logged(`secret-${marker}`).length, 1)
    } finally {
      c.close()
      await app2.stop()
    }
  })

  test('an AppError reaches the client with its code and message and is not logged as a failure', async () => {
    const c = await TcpClient.connect(portOf(app, 'tcp'))
    try {
      const before = logs.lines.filter((l) => (l.level as number) >= 50).length
      const reply = await c.request('/boom/business')
      assert.deepEqual(reply, { id: 1, error: { code: 'DEMO_ERR_NOPE', message: 'you may see this' } })
      await by.check()
      assert.equal(logs.lines.filter((l) => (l.level as number) >= 50).length, before)
    } finally {
      c.close()
    }
  })
})
