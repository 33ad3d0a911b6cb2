/**
 * The gateway relays socket messages as the client's bytes and the worker answers with the
 * client's reply bytes: replies through the split are byte-identical to direct mode (JSON and
 * msgpack TCP, the text port), malformed payloads answer SD_ERR_BAD_MESSAGE as `receive` does,
 * the rate limit still applies at the gateway, and the gateway's own answers carry the id.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { once } from 'node:events'
import { decode as unpack, encode as pack } from '@msgpack/msgpack'
import { Controller, type Application, type ConfigInput } from '../../framework/index.js'
import { SdError } from '../../framework/core/errors.js'
import { Html } from '../../framework/core/html.js'
import { portOf, startApp, waitUntil } from '../helpers.js'
import { startGateway, startWorker } from './split-helpers.js'

const slowRunning: Array<() => void> = []

class RelayController extends Controller {
  echo (data: unknown): unknown { return data }
  page (): Html { return new Html('<b>page</b>') }
  fail (): never { throw new SdError('SD_ERR_VALIDATION', 'no good') }
  big (): unknown { return { n: 10n } }
  nothing (): undefined { return undefined }
  setSession (data: unknown): boolean { this.session.v = data; return true }
  getSession (): unknown { return this.session.v ?? null }
  async slow (): Promise<string> {
    await new Promise<void>((resolve) => { slowRunning.push(resolve) })
    return 'slow'
  }
}

/** A length-framed TCP client that keeps each reply's payload bytes as they came. */
class FrameClient {
  readonly frames: Buffer[] = []
  readonly socket: Socket
  #buf = Buffer.alloc(0)
  closed = false

  constructor (socket: Socket) {
    this.socket = socket
    socket.on('data', (chunk: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, chunk])
      while (this.#buf.length >= 4 && this.#buf.length >= 4 + this.#buf.readUInt32BE(0)) {
        const len = this.#buf.readUInt32BE(0)
        this.frames.push(Buffer.from(this.#buf.subarray(4, 4 + len)))
        this.#buf = this.#buf.subarray(4 + len)
      }
    })
    socket.on('close', () => { this.closed = true })
    socket.on('error', () => {})
  }

  static async connect (port: number): Promise<FrameClient> {
    const socket = connect(port, '127.0.0.1')
    await once(socket, 'connect')
    return new FrameClient(socket)
  }

  send (payload: Buffer | string): void {
    const body = Buffer.from(payload)
    const head = Buffer.alloc(4)
    head.writeUInt32BE(body.length)
    this.socket.write(Buffer.concat([head, body]))
  }

  /** Sends payloads one at a time, each after the previous one's reply; resolves to every reply. */
  async exchange (payloads: Array<Buffer | string>, answered: (p: Buffer | string) => boolean): Promise<Buffer[]> {
    for (const p of payloads) {
      const before = this.frames.length
      this.send(p)
      if (answered(p)) await waitUntil(() => this.frames.length > before, 3000, 'a reply')
    }
    return this.frames
  }

  close (): void { this.socket.destroy() }
}

/** The same app in split mode (gateway + one worker) and in direct mode, with `server` options on both. */
async function both (t: TestContext, server: NonNullable<ConfigInput['server']>): Promise<{ split: Application, direct: Application }> {
  const gw = await startGateway({}, { server })
  const w = await startWorker(gw, `rw-${process.pid}`, [RelayController], { extra: { server } })
  const direct = await startApp({ server }, { controllers: [RelayController] })
  t.after(async () => { await w.stop(); await gw.stop(); await direct.stop() })
  return { split: gw, direct }
}

const JSON_REQUESTS = [
  '{"id":1,"path":"/relay/echo","data":{"a":[1,"x",null],"é":"ü"}}',
  '{"id":"s2","path":"/relay/page"}',
  '{"id":3,"path":"/relay/fail"}',
  '{"id":4,"path":"/relay/big"}',
  '{"path":"/relay/echo","data":"no id: no reply"}',
  '{"id":5,"path":"/relay/nothing"}',
  '{"id":6,"path":"/relay/none"}',
  'not json',
  '{"id":7,"path":""}',
  '[1,2]',
  '{"id":8,"path":"/relay/setSession","data":{"k":[1]}}',
  '{"id":9,"path":"/relay/getSession"}',
]

test('JSON TCP: replies and errors through the split are byte-identical to direct mode', async (t) => {
  const { split, direct } = await both(t, {})
  const answered = (p: Buffer | string): boolean => !String(p).startsWith('{"path"')
  const a = await FrameClient.connect(portOf(split, 'tcp'))
  const b = await FrameClient.connect(portOf(direct, 'tcp'))
  t.after(() => { a.close(); b.close() })
  const viaSplit = await a.exchange(JSON_REQUESTS, answered)
  const viaDirect = await b.exchange(JSON_REQUESTS, answered)
  assert.equal(viaSplit.length, JSON_REQUESTS.length - 1)
  assert.deepEqual(viaSplit.map(String), viaDirect.map(String))
  const bad = viaSplit.map((f) => JSON.parse(String(f)) as { id?: unknown, error?: { code: string } })
  assert.equal(bad[6].error?.code, 'SD_ERR_BAD_MESSAGE', 'not JSON')
  assert.deepEqual([bad[7].id, bad[7].error?.code], [7, 'SD_ERR_BAD_MESSAGE'], 'an empty path: the id is kept')
  assert.deepEqual(JSON.parse(String(viaSplit.at(-1))), { id: 9, data: { k: [1] } }, 'the connection works after malformed payloads; the session came back')
})

test('msgpack TCP: replies through the split are byte-identical to direct mode', async (t) => {
  const { split, direct } = await both(t, { tcp: { pack: 'msgpack' } })
  const requests = [
    { id: 1, path: '/relay/echo', data: { bin: new Uint8Array([0, 1, 255]), n: -1.5, s: 'é', big: 2 ** 40 } },
    { id: 'two', path: '/relay/page' },
    { id: 3, path: '/relay/fail' },
    { id: 4, path: '/relay/setSession', data: { when: 'now' } },
    { id: 5, path: '/relay/getSession' },
    { id: 6, path: '/relay/none' },
  ].map((m) => Buffer.from(pack(m)))
  requests.push(Buffer.from([0xc1]), Buffer.from(pack({ id: 7, path: '/relay/echo', data: 'after garbage' })))
  const a = await FrameClient.connect(portOf(split, 'tcp'))
  const b = await FrameClient.connect(portOf(direct, 'tcp'))
  t.after(() => { a.close(); b.close() })
  const viaSplit = await a.exchange(requests, () => true)
  const viaDirect = await b.exchange(requests, () => true)
  assert.deepEqual(viaSplit.map((f) => f.toString('hex')), viaDirect.map((f) => f.toString('hex')))
  const decoded = viaSplit.map((f) => unpack(f) as { id?: unknown, data?: unknown, error?: { code: string } })
  const echoed = decoded[0] as { id: number, data: { bin: Uint8Array, n: number, s: string, big: number } }
  assert.deepEqual([echoed.id, [...echoed.data.bin], echoed.data.n, echoed.data.s, echoed.data.big], [1, [0, 1, 255], -1.5, 'é', 2 ** 40])
  assert.equal(decoded[6].error?.code, 'SD_ERR_BAD_MESSAGE')
  assert.deepEqual(decoded[7], { id: 7, data: 'after garbage' })
})

test('the text port: lines through the split are byte-identical to direct mode', async (t) => {
  const { split, direct } = await both(t, { text: { route: '/relay/echo' } })
  const lines = ['hello', 'ünï\tcode', '\x1b[31mred']
  const collect = async (port: number): Promise<Buffer> => {
    const socket = connect(port, '127.0.0.1')
    t.after(() => socket.destroy())
    await once(socket, 'connect')
    const chunks: Buffer[] = []
    socket.on('data', (c: Buffer) => chunks.push(c))
    for (const line of lines) {
      const before = Buffer.concat(chunks).toString('latin1').split('\n').length
      socket.write(line + '\r\n')
      await waitUntil(() => Buffer.concat(chunks).toString('latin1').split('\n').length > before, 3000, `the answer to ${JSON.stringify(line)}`)
    }
    return Buffer.concat(chunks)
  }
  const viaSplit = await collect(portOf(split, 'text'))
  const viaDirect = await collect(portOf(direct, 'text'))
  assert.equal(viaSplit.toString('hex'), viaDirect.toString('hex'))
  assert.match(viaSplit.toString('latin1'), /\\x1b\[31mred\r\n/, 'control bytes escaped by the worker\'s codec')
})

test('the rate limit applies at the gateway: refusals carry the request id', async (t) => {
  const server = { rateLimit: { messagesPerSecond: 1, burst: 2, maxRejected: 0 } }
  const gw = await startGateway({}, { server })
  const w = await startWorker(gw, `rr-${process.pid}`, [RelayController], { extra: { server } })
  t.after(async () => { await w.stop(); await gw.stop() })
  const c = await FrameClient.connect(portOf(gw, 'tcp'))
  t.after(() => c.close())
  for (let id = 1; id <= 4; id++) c.send(JSON.stringify({ id, path: '/relay/echo', data: id }))
  await waitUntil(() => c.frames.length === 4, 3000, 'four answers')
  const answers = c.frames.map((f) => JSON.parse(String(f)) as { id: number, data?: number, error?: { code: string } })
  answers.sort((x, y) => x.id - y.id)
  assert.deepEqual(answers.map((m) => m.data ?? m.error?.code), [1, 2, 'SD_ERR_RATE_LIMITED', 'SD_ERR_RATE_LIMITED'])
  assert.deepEqual(answers.map((m) => m.id), [1, 2, 3, 4])
})

test('SD_ERR_NO_WORKER and SD_ERR_WORKER_LOST answers of relayed messages carry the request id (JSON and msgpack)', async (t) => {
  const gw = await startGateway({ workerWaitMs: 50 }, { server: { tcp: { pack: 'msgpack' } } })
  t.after(() => gw.stop())
  const c = await FrameClient.connect(portOf(gw, 'tcp'))
  t.after(() => c.close())
  c.send(Buffer.from(pack({ id: 'q1', path: '/relay/echo', data: 1 })))
  c.send(Buffer.from([0xc1]))
  await waitUntil(() => c.frames.length === 2, 3000, 'two NO_WORKER answers')
  const [first, second] = c.frames.map((f) => unpack(f) as { id?: unknown, error?: { code: string } })
  assert.deepEqual([first.id, first.error?.code], ['q1', 'SD_ERR_NO_WORKER'])
  assert.deepEqual([second.id, second.error?.code], [undefined, 'SD_ERR_NO_WORKER'], 'an undecodable payload: no id')
  const w = await startWorker(gw, `rl-${process.pid}`, [RelayController], { extra: { server: { tcp: { pack: 'msgpack' } } } })
  t.after(() => w.stop())
  await waitUntil(() => gw.gateway?.status().workers.length === 1, 3000, 'the worker at the gateway')
  c.send(Buffer.from(pack({ id: 42, path: '/relay/slow' })))
  await waitUntil(() => slowRunning.length === 1, 3000, 'the slow action to start')
  await w.gatewayWorker?.close()
  await waitUntil(() => c.frames.length === 3, 3000, 'the WORKER_LOST answer')
  const lost = unpack(c.frames[2]) as { id?: unknown, error?: { code: string } }
  assert.deepEqual([lost.id, lost.error?.code], [42, 'SD_ERR_WORKER_LOST'])
  for (const release of slowRunning.splice(0)) release()
})
