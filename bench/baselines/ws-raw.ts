/**
 * Baseline: a raw `ws` WebSocketServer that JSON-parses each text message and replies
 * `{id, data}`: the least a WebSocket RPC endpoint does.
 */
import type { AddressInfo } from 'node:net'
import { WebSocketServer, type RawData } from 'ws'
import { serve } from '../lib/server-child.js'

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/ws' }, () => {
  serve({
    ports: { ws: (wss.address() as AddressInfo).port },
    connections: () => wss.clients.size,
    stop: () => new Promise((resolve) => {
      for (const client of wss.clients) client.terminate()
      wss.close(() => resolve())
    }),
  })
})

wss.on('connection', (socket) => {
  socket.on('message', (raw: RawData) => {
    let reply: string
    try {
      const msg = JSON.parse(raw.toString()) as { id?: unknown, data?: unknown }
      reply = JSON.stringify({ id: msg.id, data: msg.data })
    } catch {
      reply = '{"error":{"code":"BAD_MESSAGE","message":"invalid JSON"}}'
    }
    socket.send(reply)
  })
  socket.on('error', () => {})
})
