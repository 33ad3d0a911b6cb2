import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { once } from 'node:events'
import { decode as unpack, encode as pack } from '@msgpack/msgpack'
import { WebSocket } from 'ws'
import { startApp, portOf, waitUntil } from '../helpers.js'

test('msgpack pack on the TCP port: same envelope, binary payloads', async (t) => {
  const app = await startApp({ server: { tcp: { pack: 'msgpack' } } })
  t.after(() => app.stop())
  const socket = connect(portOf(app, 'tcp'), '127.0.0.1')
  t.after(() => socket.destroy())
  await once(socket, 'connect')
  const frames: unknown[] = []
  let buf = Buffer.alloc(0)
  socket.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk])
    while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
      const len = buf.readUInt32BE(0)
      frames.push(unpack(buf.subarray(4, 4 + len)))
      buf = buf.subarray(4 + len)
    }
  })
  const send = (value: unknown): void => {
    const body = pack(value)
    const head = Buffer.alloc(4)
    head.writeUInt32BE(body.length)
    socket.write(Buffer.concat([head, body]))
  }
  send({ id: 1, path: '/bench/echo', data: { bin: new Uint8Array([1, 2, 3]), n: 1.5 } })
  send({ id: 2, path: '/nope' })
  send([1, 2])
  await waitUntil(() => frames.length === 3, 3000, 'three replies')
  const [echo, missing, bad] = frames as Array<{ id?: number, data?: { bin: Uint8Array, n: number }, error?: { code: string } }>
  assert.equal(echo.id, 1)
  assert.deepEqual([...echo.data!.bin], [1, 2, 3])
  assert.equal(echo.data!.n, 1.5)
  assert.deepEqual([missing.id, missing.error?.code], [2, 'SD_ERR_ROUTE_NOT_FOUND'])
  assert.equal(bad.error?.code, 'SD_ERR_BAD_MESSAGE')
})

test('eof framing with the json pack: newline-delimited JSON', async (t) => {
  const app = await startApp({ server: { tcp: { framing: 'eof', pack: 'json' } } })
  t.after(() => app.stop())
  const socket = connect(portOf(app, 'tcp'), '127.0.0.1')
  t.after(() => socket.destroy())
  await once(socket, 'connect')
  let text = ''
  socket.setEncoding('utf8')
  socket.on('data', (s: string) => { text += s })
  socket.write('{"id":1,"path":"/bench/echo","data":"a"}\r\n{"id":2,"path":"/bench/echo","data":"b"}\n')
  await waitUntil(() => text.split('\n').length === 3, 3000, 'two lines')
  assert.deepEqual(text.trim().split('\n').map((l) => JSON.parse(l)), [{ id: 1, data: 'a' }, { id: 2, data: 'b' }])
})

test('msgpack pack on WebSocket uses binary frames', async (t) => {
  const app = await startApp({ server: { http: { ws: { pack: 'msgpack' } } } })
  t.after(() => app.stop())
  const ws = new WebSocket(`ws://127.0.0.1:${portOf(app, 'http')}/ws`)
  t.after(() => ws.terminate())
  await once(ws, 'open')
  const got = new Promise<unknown>((resolve) => ws.once('message', (data: Buffer, isBinary: boolean) => resolve({ isBinary, value: unpack(data) })))
  ws.send(pack({ id: 9, path: '/bench/echo', data: [1, 'x'] }))
  assert.deepEqual(await got, { isBinary: true, value: { id: 9, data: [1, 'x'] } })
})

test('WebSocket upgrades to a path other than /ws are refused with 404; /ws still works', async (t) => {
  const app = await startApp()
  t.after(() => app.stop())
  const port = portOf(app, 'http')
  const wrong = new WebSocket(`ws://127.0.0.1:${port}/elsewhere`)
  wrong.on('error', () => {})
  const [, res] = await once(wrong, 'unexpected-response') as [unknown, { statusCode: number }]
  assert.equal(res.statusCode, 404)
  const ok = new WebSocket(`ws://127.0.0.1:${port}/ws?token=x`)
  t.after(() => ok.terminate())
  await once(ok, 'open')
  const reply = once(ok, 'message')
  ok.send(JSON.stringify({ id: 1, path: '/bench/echo', data: 'q' }))
  assert.deepEqual(JSON.parse(String((await reply)[0])), { id: 1, data: 'q' })
})
