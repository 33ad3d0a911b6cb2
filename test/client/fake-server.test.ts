/**
 * The client against small fake servers: the reconnect order (socket → /sd/hello → onReconnect →
 * /sd/recover → 'open' → queued calls), acks of recovered pushes, and the tcp frame limit.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type Socket } from 'node:net'
import { once } from 'node:events'
import { WebSocketServer, type WebSocket } from 'ws'
import { connect } from '../../framework/client/index.js'
import { waitUntil } from '../helpers.js'

test('reconnect: hello, onReconnect, recover from the last handled position, open, then the queue; recovered pushes acked', async (t) => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await once(wss, 'listening')
  const log: string[] = []
  const sockets: WebSocket[] = []
  let connections = 0
  wss.on('connection', (ws) => {
    sockets.push(ws)
    const n = ++connections
    ws.on('message', (raw) => {
      const msg = JSON.parse(String(raw)) as { id?: number, path: string, data?: { streams?: unknown, ack?: string } }
      log.push(`${n} ${msg.path}`)
      const reply = (data: unknown) => ws.send(JSON.stringify({ id: msg.id, data }))
      if (msg.path === '/sd/hello') reply({ v: 1, node: 'fake', recovery: true })
      else if (msg.path === '/sd/recover') {
        log.push(`${n} recover ${JSON.stringify(msg.data?.streams)}`)
        reply({ streams: { 'uid:7': { epoch: 'e', offset: 2, gap: false, entries: [{ offset: 2, data: 'b', ack: 'o.1' }] } }, denied: [] })
      } else if (msg.path === '/sd/ack') log.push(`${n} ack ${msg.data?.ack}`)
      else reply(msg.path)
    })
  })
  const port = (wss.address() as { port: number }).port
  const client = connect(`ws://127.0.0.1:${port}/ws`, {
    backoff: { firstMs: 10, maxMs: 20 },
    onReconnect: async ({ call }) => { log.push(`re-login ${String(await call('/user/login'))}`) },
  })
  t.after(async () => {
    client.close()
    for (const s of sockets) s.terminate()
    await new Promise<void>((resolve) => wss.close(() => resolve()))
  })
  const pushes: Array<{ data: unknown, recovered: boolean }> = []
  client.on('push', (data, meta) => { pushes.push({ data, recovered: meta.recovered }) })
  client.on('status', (s) => {
    log.push(`status ${s}`)
    // a call made while reconnecting waits in the queue
    if (s === 'reconnecting') void client.call('/queued/call').then((r) => log.push(`queued -> ${String(r)}`))
  })
  await waitUntil(() => client.status === 'open')
  sockets[0].send(JSON.stringify({ data: 'a', stream: 'uid:7', epoch: 'e', offset: 1 }))
  await waitUntil(() => pushes.length === 1)
  sockets[0].terminate()
  await waitUntil(() => log.includes('queued -> /queued/call') && log.includes('2 ack o.1'), 5000)
  assert.deepEqual(log.filter(l => !l.includes('ack')), [
    '1 /sd/hello', 'status open', 'status reconnecting',
    '2 /sd/hello', '2 /user/login', 're-login /user/login',
    '2 /sd/recover', '2 recover {"uid:7":{"epoch":"e","offset":1}}',
    'status open', '2 /queued/call', 'queued -> /queued/call',
  ])
  assert.deepEqual(pushes, [{ data: 'a', recovered: false }, { data: 'b', recovered: true }])
})

test('tcp: a frame over maxFrameBytes closes the link with an error, and the client reconnects', async (t) => {
  const sockets: Socket[] = []
  const server = createServer((s) => {
    sockets.push(s)
    s.on('data', () => {})
    if (sockets.length === 1) {
      const head = Buffer.alloc(4)
      head.writeUInt32BE(1025, 0)
      s.write(head)
    }
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as { port: number }).port
  const client = connect(`tcp://127.0.0.1:${port}`, { maxFrameBytes: 1024, backoff: { firstMs: 10, maxMs: 20 } })
  t.after(async () => {
    client.close()
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  const errors: string[] = []
  client.on('error', (err) => errors.push(err.message))
  await waitUntil(() => errors.some(m => m.includes('maxFrameBytes')) && sockets.length >= 2, 5000)
})
