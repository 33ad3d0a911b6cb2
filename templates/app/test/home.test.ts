import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { once } from 'node:events'
import { createApp, type Application } from 'sd-framework'

let app: Application

before(async () => {
  // every port on a free loopback port, logs off
  app = await createApp({
    overrides: {
      app: { logLevel: 'silent' },
      server: { tcp: { host: '127.0.0.1', port: 0 }, text: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 } },
    },
  })
  await app.start()
})
after(() => app.stop())

test('/home/hello answers on HTTP', async () => {
  const res = await fetch(`http://127.0.0.1:${app.address('http')?.port}/home/hello?name=test`)
  assert.equal(res.status, 200)
  assert.deepEqual(await res.json(), { greeting: 'hello, test' })
})

test('/home/hello answers on TCP (uint32 length + JSON)', async () => {
  const socket = connect(app.address('tcp')?.port ?? 0, '127.0.0.1')
  const payload = Buffer.from(JSON.stringify({ id: 1, path: '/home/hello', data: {} }))
  const header = Buffer.alloc(4)
  header.writeUInt32BE(payload.length)
  socket.end(Buffer.concat([header, payload]))
  const [chunk] = await once(socket, 'data') as [Buffer]
  assert.deepEqual(JSON.parse(chunk.subarray(4, 4 + chunk.readUInt32BE(0)).toString()), { id: 1, data: { greeting: 'hello, world' } })
})

test('the home page is an HTML view', async () => {
  const res = await fetch(`http://127.0.0.1:${app.address('http')?.port}/`)
  assert.match(res.headers.get('content-type') ?? '', /^text\/html/)
  assert.match(await res.text(), /<h1>.+<\/h1>/)
})
