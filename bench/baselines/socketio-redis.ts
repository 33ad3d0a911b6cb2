/**
 * Baseline of the cluster benchmark: a Socket.IO server with `@socket.io/redis-adapter`
 * (ioredis clients on `REDIS_URL`), the usual way to reach a user on another Socket.IO server.
 * Events with the arguments of the SD demo's `/bench/*` routes, each acknowledged: `bind {uid}`
 * joins room `uid:<uid>`, `push {to, data}` emits `push` to room `uid:<to>`, `join {group}`
 * joins room `<group>`, `group {group, data}` emits `push` to that room. The ack follows the
 * emit at once: the adapter does not report deliveries.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createAdapter } from '@socket.io/redis-adapter'
import { Redis } from 'ioredis'
import { Server } from 'socket.io'
import { serve } from '../lib/server-child.js'

type Ack = (answer: unknown) => void

const url = process.env.REDIS_URL
if (!url) throw new Error('REDIS_URL is not set')
const pub = new Redis(url)
const sub = pub.duplicate()
const http = createServer()
const io = new Server(http, { adapter: createAdapter(pub, sub), transports: ['websocket'], serveClient: false })

io.on('connection', (socket) => {
  socket.on('bind', async (msg: { uid: string }, ack: Ack) => {
    await socket.join(`uid:${msg.uid}`)
    ack(true)
  })
  socket.on('push', (msg: { to: string, data: unknown }, ack: Ack) => {
    io.to(`uid:${msg.to}`).emit('push', msg.data)
    ack(true)
  })
  socket.on('burst', (msg: { to: string, data: unknown, n: number }, ack: Ack) => {
    for (let i = 0; i < msg.n; i++) io.to(`uid:${msg.to}`).emit('push', msg.data)
    ack(msg.n)
  })
  socket.on('join', async (msg: { group: string }, ack: Ack) => {
    await socket.join(msg.group)
    ack(true)
  })
  socket.on('group', (msg: { group: string, data: unknown }, ack: Ack) => {
    io.to(msg.group).emit('push', msg.data)
    ack(true)
  })
})

http.listen(0, '127.0.0.1', () => {
  serve({
    ports: { ws: (http.address() as AddressInfo).port },
    connections: () => io.engine.clientsCount,
    stop: async () => {
      await io.close()
      await Promise.all([pub.quit(), sub.quit()])
    },
  })
})
