/**
 * Listening hosts (real processes): `SD_HOST` sets the interface of every client port; a dispatch
 * server listens on loopback unless told otherwise (`cluster.dispatchHost` or `SD_HOST`).
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { freePort, PrivateServers } from '../data/private-servers.js'
import { startSd } from './sd-process.js'
import { startDispatcher } from './cluster-procs.js'

/** The `<transport> listening on host:port` lines of a server's log, by transport. */
function listening (logs: Array<Record<string, unknown>>): Record<string, unknown> {
  const hosts: Record<string, unknown> = {}
  for (const l of logs) if (typeof l.transport === 'string' && String(l.msg).includes(' listening on ')) hosts[l.transport] = l.host
  return hosts
}

test('SD_HOST=127.0.0.1: the TCP, text, HTTP and WebSocket ports listen on loopback only', async () => {
  const sd = await startSd([], { SD_HOST: '127.0.0.1' })
  try {
    assert.deepEqual(listening(sd.logs), { tcp: '127.0.0.1', text: '127.0.0.1', http: '127.0.0.1', ws: '127.0.0.1' }, sd.output())
  } finally {
    assert.equal(await sd.stop(), 0)
  }
})

describe('dispatch server host', () => {
  const servers = new PrivateServers()
  let env: Record<string, string>
  before(async () => {
    const port = await freePort()
    await servers.startRedis(port)
    env = { REDIS_URL: `redis://127.0.0.1:${port}` }
  })
  after(() => servers.cleanup())

  test('listens on 127.0.0.1 by default', async () => {
    const d = await startDispatcher('hosts-d1', env)
    try {
      assert.match(d.output(), /"dispatch server listening on 127\.0\.0\.1:\d+"/)
    } finally {
      await d.stop()
    }
  })

  test('SD_HOST sets it (0.0.0.0 or a public address exposes it; here 127.0.0.2)', async () => {
    const d = await startDispatcher('hosts-d2', { ...env, SD_HOST: '127.0.0.2' })
    try {
      assert.match(d.output(), /"dispatch server listening on 127\.0\.0\.2:\d+"/)
    } finally {
      await d.stop()
    }
  })
})
