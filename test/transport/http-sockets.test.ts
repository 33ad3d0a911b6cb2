/**
 * Sockets the HTTP port refuses are closed by the server, even when the client keeps its side
 * open (half-open), so they cannot hold descriptors and admission slots; JSON pushes to many
 * WebSocket clients (one shared Buffer) still go out as text frames.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { once } from 'node:events'
import { WebSocket } from 'ws'
import { Controller, type Application } from '../../framework/index.js'
import { portOf, startApp, waitUntil } from '../helpers.js'

class RoomController extends Controller {
  async join (data: { room: string }): Promise<boolean> {
    await this.joinGroup(data.room)
    return true
  }
}

/**
 * Writes `request` on a socket that never ends its own side (half-open), and resolves with the
 * answer once the server has let go of the socket: its admission count is back to 0 while the
 * client still holds its end.
 */
async function refusedBy (app: Application, request: string): Promise<string> {
  const socket = connect({ port: portOf(app, 'http'), host: '127.0.0.1', allowHalfOpen: true })
  await once(socket, 'connect')
  let got = ''
  socket.on('data', (b: Buffer) => { got += b.toString() })
  socket.write(request)
  await once(socket, 'end')
  await waitUntil(() => app.admission.open === 0, 5000, `the server to let go of the socket (got: ${JSON.stringify(got)})`)
  assert.ok(!socket.destroyed, 'the client still holds its side')
  socket.destroy()
  return got
}

test('a malformed HTTP request and an upgrade to an unknown path are answered in SD shape and closed by the server', async (t) => {
  const app = await startApp({}, { controllers: [RoomController] })
  t.after(() => app.stop())
  const malformed = await refusedBy(app, 'GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n')
  assert.match(malformed, /^HTTP\/1\.1 400 /)
  assert.match(malformed, /"code":"SD_ERR_BAD_MESSAGE"/)
  const upgrade = await refusedBy(app, 'GET /nowhere HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
  assert.match(upgrade, /^HTTP\/1\.1 404 /)
  assert.match(upgrade, /"code":"SD_ERR_ROUTE_NOT_FOUND"/)
})

test('a JSON push to a group reaches every WebSocket as a text frame', async (t) => {
  const app = await startApp({}, { controllers: [RoomController] })
  t.after(() => app.stop())
  const frames: Array<{ text: string, binary: boolean }> = []
  const clients: WebSocket[] = []
  for (let i = 0; i < 3; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${portOf(app, 'http')}/ws`)
    await once(ws, 'open')
    ws.on('message', (data: Buffer, isBinary: boolean) => frames.push({ text: data.toString(), binary: isBinary }))
    ws.send(JSON.stringify({ id: 1, path: '/room/join', data: { room: 'r' } }))
    clients.push(ws)
  }
  t.after(() => { for (const ws of clients) ws.terminate() })
  await waitUntil(() => frames.length === 3, 3000, 'the join replies')
  assert.equal(await app.bus.sendToGroup('r', { hello: 'room' }), 3)
  await waitUntil(() => frames.length === 6, 3000, 'the pushes')
  for (const f of frames) assert.equal(f.binary, false, `a text frame: ${f.text}`)
  assert.deepEqual(JSON.parse(frames[5].text), { data: { hello: 'room' } })
})
