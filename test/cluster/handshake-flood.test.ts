/**
 * A flood of connections that never finish the handshake: a real server still links while it
 * goes on (pending handshakes are bounded, the oldest gives way), and the dispatcher logs the
 * refusals as summaries with counts, not one line per connection.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { waitUntil } from '../helpers.js'
import { newSecret, RawLinkSocket, startClient, startDispatcher } from './link-helpers.js'

test('a real server links during a flood of silent and garbage handshakes; refusals are logged as summaries', async () => {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({ write (chunk: Buffer, _enc, cb) { lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>); cb() } })
  const secret = newSecret()
  // silent sockets would hold their slot for a minute: longer than this test may take
  const { dispatcher, port } = await startDispatcher({
    secret, handshakeTimeoutMs: 60_000, maxPendingHandshakes: 8, refusalLogIntervalMs: 100, log: pino({ level: 'info' }, stream),
  })
  const flood: RawLinkSocket[] = []
  let real: ReturnType<typeof startClient> | undefined
  try {
    for (let i = 0; i < 2; i++) {
      const garbage = await RawLinkSocket.connect(port)
      garbage.write('GET / HTTP/1.1\r\n\r\n')
      await garbage.waitClosed()
    }
    for (let i = 0; i < 8; i++) flood.push(await RawLinkSocket.connect(port))
    await waitUntil(() => dispatcher.pendingHandshakes === 8, 3000, 'the pending handshakes to fill up')
    real = startClient({ name: 'server-real', port, secret })
    // the flood goes on while the real server links: silent sockets and garbage
    let n = 0
    while (real.client.status !== 'ready' && n < 2000) {
      const raw = await RawLinkSocket.connect(port)
      if (n++ % 2 === 0) raw.write('GET / HTTP/1.1\r\n\r\n')
      flood.push(raw)
    }
    assert.equal(real.client.status, 'ready', `linked during the flood (${n} bad connections opened)`)
    assert.deepEqual(dispatcher.nodes(), ['server-real'])
    assert.ok(dispatcher.pendingHandshakes <= 8, `pending handshakes stay bounded: ${dispatcher.pendingHandshakes}`)

    for (const raw of flood) raw.destroy()
    await waitUntil(() => dispatcher.pendingHandshakes === 0, 3000, 'the flood sockets to be gone')
    const refused = dispatcher.counters.refused
    assert.ok(refused >= 8, `refusals counted: ${refused}`)
    // every refusal is in a summary line; no line is about one connection
    const summed = (): number => lines.filter((l) => typeof l.refused === 'number').reduce((sum, l) => sum + (l.refused as number), 0)
    await waitUntil(() => summed() === refused, 3000, 'the summaries to count every refusal')
    const summaries = lines.filter((l) => typeof l.refused === 'number')
    assert.ok(summaries.length < refused, `${summaries.length} summary lines for ${refused} refusals`)
    assert.deepEqual(lines.filter((l) => l.level === 40 && typeof l.refused !== 'number'), [], 'no per-connection warning')
    const reasons = summaries.map((l) => l.reasons as Record<string, number>)
    assert.ok(reasons.some((r) => (r['too many pending handshakes'] ?? 0) > 0), `evictions are counted by reason: ${JSON.stringify(reasons)}`)
    assert.ok(reasons.some((r) => (r.protocol ?? 0) > 0), `garbage is counted by reason: ${JSON.stringify(reasons)}`)
    assert.deepEqual(summaries[0].remotes, ['127.0.0.1'])
  } finally {
    for (const raw of flood) raw.destroy()
    await real?.client.close()
    await dispatcher.close()
  }
})
