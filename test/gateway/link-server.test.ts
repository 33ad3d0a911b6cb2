/** The gateway's link port under sockets that never handshake. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { once } from 'node:events'
import pino from 'pino'
import { clusterSecret } from '../../framework/cluster/link-auth.js'
import { GatewayLinkServer } from '../../framework/gateway/link-server.js'
import { waitUntil } from '../helpers.js'
import { secret } from './split-helpers.js'

test('silent sockets beyond maxPendingHandshakes evict the oldest: they cannot pile up until their timeout', async (t) => {
  const server = new GatewayLinkServer({
    host: '127.0.0.1', port: 0, name: 'gw-flood', secret: clusterSecret(secret), log: pino({ level: 'silent' }),
    onLink: () => {}, handshakeTimeoutMs: 60_000, maxPendingHandshakes: 2,
  })
  const port = await server.listen()
  const sockets: Socket[] = []
  t.after(async () => { for (const s of sockets) s.destroy(); await server.close() })
  const closed = new Set<number>()
  for (let i = 0; i < 5; i++) {
    const s = connect(port, '127.0.0.1')
    await once(s, 'connect')
    s.on('error', () => {})
    s.resume()
    s.on('close', () => closed.add(i))
    sockets.push(s)
  }
  // the handshake timeout is a minute: only the cap closes sockets within the test
  await waitUntil(() => closed.size === 3, 5000, 'the three oldest silent sockets evicted')
  assert.deepEqual([...closed].sort(), [0, 1, 2])
})
