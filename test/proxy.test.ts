import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, connect, type Socket, type AddressInfo } from 'node:net'
import { once } from 'node:events'
import { startProxy } from './proxy.js'
import { waitUntil } from './helpers.js'

/** A socket that collects what it reads and notes when it closes. */
async function client (port: number): Promise<{ socket: Socket, text: () => string, closed: () => boolean }> {
  const socket = connect(port, '127.0.0.1')
  let got = ''
  let closed = false
  socket.setEncoding('utf8')
  socket.on('data', (d: string) => { got += d })
  socket.on('error', () => {})
  socket.on('close', () => { closed = true })
  await once(socket, 'connect')
  return { socket, text: () => got, closed: () => closed }
}

test('the test proxy pipes both ways, drop() cuts every open pair, refuse() closes new connections at once', async (t) => {
  const serverSide = new Set<Socket>()
  const echo = createServer((s) => {
    serverSide.add(s)
    s.on('close', () => serverSide.delete(s))
    s.on('error', () => {})
    s.pipe(s)
  })
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>((resolve) => echo.close(() => resolve())))
  const proxy = await startProxy((echo.address() as AddressInfo).port)
  t.after(() => proxy.close())

  const a = await client(proxy.port)
  const b = await client(proxy.port)
  t.after(() => { a.socket.destroy(); b.socket.destroy() })
  a.socket.write('hello')
  b.socket.write('world')
  await waitUntil(() => a.text() === 'hello' && b.text() === 'world', 3000, 'echo through the proxy')
  await waitUntil(() => proxy.open === 2 && serverSide.size === 2, 3000, 'two pairs')
  assert.equal(proxy.accepted, 2)

  assert.equal(proxy.drop(), 2)
  await waitUntil(() => a.closed() && b.closed(), 3000, 'clients to see the drop')
  await waitUntil(() => serverSide.size === 0, 3000, 'the server to see the drop')
  assert.equal(proxy.open, 0)
  assert.equal(proxy.dropped, 2)

  proxy.refuse(true)
  const c = await client(proxy.port)
  t.after(() => c.socket.destroy())
  await waitUntil(() => c.closed(), 3000, 'a refused connection to close')
  assert.equal(proxy.refused, 1)
  assert.equal(proxy.accepted, 2, 'a refused connection is not a pair')
  assert.equal(serverSide.size, 0, 'nothing reached the server')

  proxy.refuse(false)
  const d = await client(proxy.port)
  t.after(() => d.socket.destroy())
  d.socket.write('again')
  await waitUntil(() => d.text() === 'again', 3000, 'echo after refusing stops')
  assert.equal(proxy.accepted, 3)

  await proxy.close()
  await waitUntil(() => d.closed(), 3000, 'close() to end open pairs')
  assert.equal(proxy.open, 0)
})

test('retarget(port): new connections go to the other server, open pairs stay where they are', async (t) => {
  const servers = await Promise.all(['one:', 'two:'].map(async (tag) => {
    const open = new Set<Socket>()
    const s = createServer((c) => {
      open.add(c)
      c.on('error', () => {}).on('close', () => open.delete(c)).setEncoding('utf8')
      c.on('data', (d: string) => c.write(tag + d))
    })
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
    // hooks run in order: this one ends the server's sockets itself, or close() would wait for them
    t.after(() => new Promise<void>((resolve) => { s.close(() => resolve()); for (const c of open) c.destroy() }))
    return (s.address() as AddressInfo).port
  }))
  const proxy = await startProxy(servers[0])
  t.after(() => proxy.close())
  const a = await client(proxy.port)
  t.after(() => a.socket.destroy())
  a.socket.write('x')
  await waitUntil(() => a.text() === 'one:x', 3000, 'the first server')
  proxy.retarget(servers[1])
  const b = await client(proxy.port)
  t.after(() => b.socket.destroy())
  b.socket.write('y')
  a.socket.write('z')
  await waitUntil(() => b.text() === 'two:y' && a.text() === 'one:xone:z', 3000, 'b on the second server, a still on the first')
})
