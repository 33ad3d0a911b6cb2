/** The link's split roles: a dispatch server still refuses them; MSG frames carry opaque bodies both ways. */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { once } from 'node:events'
import { acceptHandshake } from '../../framework/cluster/link-auth.js'
import { Link } from '../../framework/cluster/link.js'
import { LinkClient } from '../../framework/cluster/link-client.js'
import { waitUntil } from '../helpers.js'
import { newSecret, startDispatcher } from '../cluster/link-helpers.js'

/** A gateway-role listener on 127.0.0.1 and a worker LinkClient to it; `onLink` runs as each link authenticates. Cleans up after the test. */
async function workerToListener (t: TestContext, secret: Buffer, onLink: (link: Link) => void): Promise<LinkClient> {
  const links: Link[] = []
  const server = createServer((socket: Socket) => {
    const link = new Link(socket)
    acceptHandshake(link, { secret, name: 'gw-1', role: 'gateway', allowRoles: ['worker'] }).then(() => {
      links.push(link)
      onLink(link)
    }, () => {})
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const client = new LinkClient({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, name: 'w-1', role: 'worker', expectRole: 'gateway', secret })
  // after hooks run in order: the links go first, or server.close() would wait for them
  t.after(async () => {
    await client.close()
    for (const l of links) l.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return client
}

test('a dispatch server refuses a worker and a gateway (DENY: role not accepted)', async (t) => {
  const secret = newSecret()
  const { dispatcher, port } = await startDispatcher({ secret })
  t.after(() => dispatcher.close())
  for (const role of ['worker', 'gateway'] as const) {
    const denied: string[] = []
    const client = new LinkClient({ host: '127.0.0.1', port, name: `split-${role}`, role, secret, reconnectMinMs: 20, reconnectMaxMs: 200 })
    client.on('denied', (reason) => denied.push(reason))
    client.start()
    await waitUntil(() => denied.length > 0, 3000, `the ${role} to be denied`)
    assert.match(denied[0], new RegExp(`role ${role} is not accepted`))
    assert.deepEqual(dispatcher.nodes(), [])
    await client.close()
  }
})

test('a worker links to a gateway-role listener and MSG bodies arrive as sent, in order, both ways', async (t) => {
  const secret = newSecret()
  let gatewaySide: Link | undefined
  const client = await workerToListener(t, secret, (link) => {
    gatewaySide = link
    link.on('msg', (body) => link.sendMsg(Buffer.concat([Buffer.from('echo:'), body])))
  })
  const got: string[] = []
  client.on('msg', (body) => got.push(body.toString('utf8')))
  client.start()
  await waitUntil(() => client.status === 'ready', 3000, 'the worker link')
  assert.deepEqual(client.peer, { name: 'gw-1', role: 'gateway' })
  assert.equal(gatewaySide?.peer?.role, 'worker')
  for (let i = 0; i < 5; i++) assert.ok(client.link?.sendMsg(Buffer.from(`m${i}`)))
  await waitUntil(() => got.length === 5, 3000, 'the echoed MSG frames')
  assert.deepEqual(got, ['echo:m0', 'echo:m1', 'echo:m2', 'echo:m3', 'echo:m4'])
})

test('a frame the accepting side sends right after WELCOME (same socket read) reaches the link client', async (t) => {
  // queued in the same turn as WELCOME, so both go out in one write and arrive in one read
  const client = await workerToListener(t, newSecret(), (link) => link.sendMsg(Buffer.from('first')))
  const got: string[] = []
  let readyFirst = false
  client.on('ready', () => { readyFirst = got.length === 0 })
  client.on('msg', (body) => got.push(body.toString('utf8')))
  client.start()
  await waitUntil(() => got.length === 1, 3000, 'the frame sent right after WELCOME')
  assert.deepEqual(got, ['first'])
  assert.ok(readyFirst, "'ready' is emitted before the first frame")
})
