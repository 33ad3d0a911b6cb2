/**
 * The text port speaks telnet: option requests are answered or refused, IAC commands never
 * reach the app, Ctrl-C (IAC IP + DO TIMING-MARK, as netkit telnet sends it) is answered and
 * drops the typed line, and output can never carry a control byte but the line ending.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { once } from 'node:events'
import { Controller, type ConfigInput } from '../../framework/index.js'
import { startApp, portOf, waitUntil } from '../helpers.js'

const HOSTILE = 'a\x1b[2Jb\x07c\rd\x00e\u009bf\u0085g\nforged\x7f\th'

/** Lines the app received, in order (for checks that do not read the socket). */
const seen: string[] = []

class EchoController extends Controller {
  /** Every line: what arrived, as JSON (so any leftover byte shows); `hostile` answers control characters; `slow` takes a while. */
  async line (data: string): Promise<string> {
    seen.push(data)
    if (data === 'slow') await new Promise((resolve) => setTimeout(resolve, 100))
    return data === 'hostile' ? HOSTILE : `got ${JSON.stringify(data)}`
  }
}

async function textApp (text: ConfigInput['server'] extends infer S ? S extends { text?: infer T } ? T : never : never = {}): Promise<{ port: number, stop: () => Promise<void> }> {
  const app = await startApp({ server: { text: { route: '/echo/line', ...text } } }, { controllers: [EchoController] })
  return { port: portOf(app, 'text'), stop: () => app.stop() }
}

/** A raw socket that keeps every byte received. */
class Raw {
  readonly socket: Socket
  received = Buffer.alloc(0)
  private constructor (socket: Socket) {
    this.socket = socket
    socket.on('data', (b: Buffer) => { this.received = Buffer.concat([this.received, b]) })
    socket.on('error', () => {})
  }

  static async connect (port: number): Promise<Raw> {
    const s = connect(port, '127.0.0.1')
    await once(s, 'connect')
    return new Raw(s)
  }

  send (bytes: number[] | string): void {
    this.socket.write(typeof bytes === 'string' ? Buffer.from(bytes) : Buffer.from(bytes))
  }

  /** Waits until the bytes received contain `bytes`. */
  async has (bytes: number[] | string): Promise<void> {
    const want = typeof bytes === 'string' ? Buffer.from(bytes) : Buffer.from(bytes)
    await waitUntil(() => this.received.includes(want), 3000, `${want.toString('hex')} in ${this.received.toString('hex')}`)
  }

  close (): void { this.socket.destroy() }
}

test('telnet negotiation: every DO refused with WONT, every WILL with DONT, DO TIMING-MARK answered WILL; none of it reaches the app', async (t) => {
  const app = await textApp()
  t.after(() => app.stop())
  const c = await Raw.connect(app.port)
  t.after(() => c.close())
  // what netkit telnet sends on connect (terminal type, window size, speed, …)
  c.send([0xff, 0xfd, 0x18, 0xff, 0xfb, 0x1f, 0xff, 0xfd, 0x03, 0xff, 0xfb, 0x18])
  await c.has([0xff, 0xfc, 0x18])
  await c.has([0xff, 0xfe, 0x1f])
  await c.has([0xff, 0xfc, 0x03])
  await c.has([0xff, 0xfe, 0x18])
  c.send([0xff, 0xfd, 0x06])
  await c.has([0xff, 0xfb, 0x06])
  // a subnegotiation with an escaped IAC inside, then text: only the text arrives
  c.send([0xff, 0xfa, 0x18, 0x00, 0x41, 0xff, 0xff, 0x42, 0xff, 0xf0, ...Buffer.from('hi\r\n')])
  await c.has('got "hi"\r\n')
  assert.doesNotMatch(c.received.toString('latin1'), /got "[^"]*\\u|got ""/, 'no command byte became a line')
})

test('the port asks for BINARY on connect, so UTF-8 typed in netkit telnet arrives whole (bytes captured from telnet 0.17)', async (t) => {
  const app = await textApp()
  t.after(() => app.stop())
  const c = await Raw.connect(app.port)
  t.after(() => c.close())
  await c.has([0xff, 0xfd, 0x00]) // IAC DO BINARY, first thing on the wire
  // netkit telnet's answer, then `héllo ✓ 中文` + Enter as it sends them once BINARY is on
  // (without it, the 0x9c of ✓ went out as IAC BRK IAC DO TIMING-MARK and the line was invalid UTF-8)
  c.send('fffb00'.match(/../g)!.map((h) => parseInt(h, 16)))
  c.send('68c3a96c6c6f20e29c9320e4b8ade696870a'.match(/../g)!.map((h) => parseInt(h, 16)))
  await c.has(`got ${JSON.stringify('héllo ✓ 中文')}\r\n`)
  const afterHello = c.received.length
  // WILL BINARY acknowledged our DO: no answer to it (answering an acknowledgement would loop)
  c.send([0xff, 0xfd, 0x00]) // and DO BINARY from the client is agreed to
  await c.has([0xff, 0xfb, 0x00])
  assert.equal(c.received.subarray(0, afterHello).indexOf(Buffer.from([0xff, 0xfe, 0x00])), -1, 'WILL BINARY got no DONT')
})

test('Ctrl-C (IAC IP IAC DO TIMING-MARK) drops the typed line and is answered, so telnet keeps showing output; typing goes on', async (t) => {
  const app = await textApp()
  t.after(() => app.stop())
  const c = await Raw.connect(app.port)
  t.after(() => c.close())
  c.send('half a li')
  c.send([0xff, 0xf4, 0xff, 0xfd, 0x06])
  await c.has([0xff, 0xfb, 0x06])
  c.send('next\r\n')
  await c.has('got "next"\r\n')
  assert.ok(!c.received.includes('half'), 'the interrupted line was dropped')
})

test('Ctrl-C while the connection is held (its requests at maxPendingPerConnection) still drops the line typed before it', async (t) => {
  // `slow` holds the connection (maxPendingPerConnection 1 below); `foo` then Ctrl-C come in the same chunk
  const held = await startApp({ server: { maxPendingPerConnection: 1, text: { route: '/echo/line' } } }, { controllers: [EchoController] })
  t.after(() => held.stop())
  const h = await Raw.connect(portOf(held, 'text'))
  t.after(() => h.close())
  h.socket.write(Buffer.concat([Buffer.from('slow\nfoo'), Buffer.from([0xff, 0xf4]), Buffer.from('bar\n')]))
  await h.has('got "bar"\r\n')
  assert.ok(h.received.includes('got "slow"'))
  assert.ok(!h.received.includes('foo'), `the interrupted "foo" was dropped: ${h.received.toString()}`)
})

test('a client that floods telnet commands without reading does not grow the server\'s output: answers stop once some are unsent', async (t) => {
  const app = await startApp({ server: { text: { route: '/echo/line' } } }, { controllers: [EchoController] })
  t.after(() => app.stop())
  const c = await Raw.connect(portOf(app, 'text'))
  t.after(() => c.close())
  c.socket.pause()
  // 3 MB of IAC AYT: each would be answered with 9 bytes (27 MB) if every one were answered
  const ayt = Buffer.alloc(3 * 1024 * 1024)
  for (let i = 0; i < ayt.length; i += 2) { ayt[i] = 0xff; ayt[i + 1] = 0xf6 }
  seen.length = 0
  c.socket.write(ayt)
  c.socket.write('after the flood\n')
  await waitUntil(() => seen.includes('after the flood'), 10_000, 'the line after the flood')
  const conn = [...app.connections.all()].find((x) => x.transport === 'text') as unknown as { socket: Socket }
  assert.ok(conn.socket.writableLength < 256 * 1024, `unsent on the server: ${conn.socket.writableLength} bytes`)
})

test('CR NUL and CR LF end lines, UTF-8 passes, IAC IAC is a 0xFF byte, and sequences split byte by byte work', async (t) => {
  const app = await textApp()
  t.after(() => app.stop())
  const c = await Raw.connect(app.port)
  t.after(() => c.close())
  const bytes = [
    ...Buffer.from('one\r\0'), ...Buffer.from('zwei ü 🎉\r\n'), 0xff, 0xfd, 0x18, ...Buffer.from('x'), 0xff, 0xf4, 0xff, 0xfd, 0x06,
    ...Buffer.from('three\r\n'),
  ]
  for (const b of bytes) {
    c.send([b])
    await new Promise((resolve) => setImmediate(resolve))
  }
  await c.has('got "three"\r\n')
  // negotiation answers go out as soon as they are read, between lines: take them out to read the lines
  const text = Buffer.from(c.received.toString('latin1').replace(/\xff[\xfb-\xfe][\s\S]/g, ''), 'latin1').toString('utf8')
  assert.ok(text.includes('got "one"\r\ngot "zwei ü 🎉"\r\n'), text)
  await c.has([0xff, 0xfc, 0x18])
  await c.has([0xff, 0xfb, 0x06])
  assert.ok(!text.includes('"x'), 'x was interrupted')
  // 0xFF alone is not UTF-8: the line arrives as that byte and is refused as such
  c.send([0x61, 0xff, 0xff, 0x0d, 0x0a])
  await c.has('ERROR SD_ERR_BAD_MESSAGE: bad message: line is not valid UTF-8\r\n')
})

test('no control byte but the line ending leaves the text port, whatever the app answers (escaped as \\xHH)', async (t) => {
  for (const telnet of [true, false]) {
    const app = await textApp({ telnet })
    t.after(() => app.stop())
    const c = await Raw.connect(app.port)
    t.after(() => c.close())
    c.send('hostile\n')
    const end = telnet ? '\r\n' : '\n'
    await c.has(end)
    // a telnet port opens with IAC DO BINARY (negotiation, not app output)
    const negotiation = telnet ? Buffer.from([0xff, 0xfd, 0x00]) : Buffer.alloc(0)
    assert.deepEqual(c.received.subarray(0, negotiation.length), negotiation)
    const out = c.received.subarray(negotiation.length)
    const line = out.toString('utf8')
    assert.equal(line, 'a\\x1b[2Jb\\x07c\\x0dd\\x00e\\x9bf\\x85g\\x0aforged\\x7f\\x09h' + end, `telnet: ${telnet}`)
    const body = out.subarray(0, out.length - end.length).toString('utf8')
    assert.doesNotMatch(body, /[\u0000-\u001f\u007f-\u009f]/)
  }
})

test('telnet: false leaves IAC bytes alone and ends lines with \\n (a plain line protocol for nc)', async (t) => {
  const app = await textApp({ telnet: false })
  t.after(() => app.stop())
  const c = await Raw.connect(app.port)
  t.after(() => c.close())
  c.send('plain\r\n')
  await c.has('got "plain"\n')
  assert.equal(c.received.toString(), 'got "plain"\n')
})
