/**
 * Secret rotation on links (`SD_CLUSTER_SECRET=new,old`, the gateway secret alike): a node
 * holding two secrets proves with both and accepts either, so it links with nodes holding
 * `old`, `new` or `new,old`; a node holding only an unrelated secret is refused. Real
 * dispatchers and gateway link ports on 127.0.0.1, real link clients.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { randomBytes } from 'node:crypto'
import pino from 'pino'
import { clusterSecret, decodeHello, encodeHello, LINK_PROTOCOL_VERSION } from '../../framework/cluster/link-auth.js'
import { LinkClient } from '../../framework/cluster/link-client.js'
import { GatewayLinkServer } from '../../framework/gateway/link-server.js'
import { waitUntil } from '../helpers.js'
import { ready, startClient, startDispatcher } from './link-helpers.js'

const OLD = 'old-secret-0123456789abcdef'
const NEW = 'new-secret-0123456789abcdef'
const OTHER = 'unrelated-secret-0123456789'

test('clusterSecret: one secret, or new,old; more than two, an empty or a short part fail naming SD_CLUSTER_SECRET', () => {
  assert.deepEqual(clusterSecret(NEW), [Buffer.from(NEW)])
  assert.deepEqual(clusterSecret(`${NEW},${OLD}`), [Buffer.from(NEW), Buffer.from(OLD)])
  for (const bad of [`${NEW},${OLD},${OTHER}`, `${NEW},`, `,${OLD}`, `${NEW},short`, ',', '']) {
    assert.throws(() => clusterSecret(bad), (err: Error & { code?: string }) => err.code === 'SD_ERR_CONFIG_INVALID' && /SD_CLUSTER_SECRET/.test(err.message), JSON.stringify(bad))
  }
})

test('an answer HELLO carries a second proof after the name only while rotating; other lengths stay malformed', () => {
  const base = { version: LINK_PROTOCOL_VERSION, role: 'server' as const, nonce: randomBytes(32), name: 'srv', proof: randomBytes(32) }
  const one = decodeHello(encodeHello(base), true)
  assert.equal(one?.altProof, undefined)
  const altProof = randomBytes(32)
  const two = decodeHello(encodeHello({ ...base, altProof }), true)
  assert.deepEqual(two?.altProof, altProof)
  assert.equal(two?.name, 'srv')
  assert.equal(decodeHello(Buffer.concat([encodeHello(base), randomBytes(31)]), true), undefined)
  assert.equal(decodeHello(Buffer.concat([encodeHello(base), randomBytes(33)]), true), undefined)
  const challenge = { version: LINK_PROTOCOL_VERSION, role: 'dispatch' as const, nonce: randomBytes(32), name: 'd' }
  assert.equal(decodeHello(Buffer.concat([encodeHello(challenge), randomBytes(32)]), false), undefined, 'a challenge has no proofs')
})

/** Which pairs link: [accepting side, connecting side, links?]. */
const cases: Array<[string, string, boolean]> = [
  [OLD, `${NEW},${OLD}`, true],
  [`${NEW},${OLD}`, OLD, true],
  [`${NEW},${OLD}`, NEW, true],
  [NEW, `${NEW},${OLD}`, true],
  [`${NEW},${OLD}`, `${NEW},${OLD}`, true],
  [`${OLD},${NEW}`, `${NEW},${OLD}`, true],
  [OLD, NEW, false],
  [`${NEW},${OLD}`, OTHER, false],
  [OTHER, `${NEW},${OLD}`, false],
]

/** `new,old` rather than the secrets themselves, for test names. */
const label = (s: string): string => s.replaceAll(NEW, 'new').replaceAll(OLD, 'old').replaceAll(OTHER, 'unrelated')

for (const [accepting, connecting, links] of cases) {
  test(`dispatch link: dispatcher ${label(accepting)} ← server ${label(connecting)}: ${links ? 'links and relays' : 'refused'}`, async (t) => {
    const { dispatcher, port } = await startDispatcher({ secret: clusterSecret(accepting) })
    t.after(() => dispatcher.close())
    const refused: string[] = []
    dispatcher.on('refused', (_remote, reason) => refused.push(reason))
    const a = startClient({ name: 'server-a', port, secret: clusterSecret(connecting) })
    t.after(() => a.client.close())
    if (!links) {
      const [reason] = await once(a.client, 'denied', { signal: AbortSignal.timeout(5000) }) as [string]
      assert.match(reason, /authentication failed/)
      assert.equal(a.client.status === 'ready', false)
      assert.ok(refused.some((r) => /authentication failed/.test(r)), `the dispatcher logged the refusal: ${refused.join('; ')}`)
      return
    }
    await ready(a.client)
    // a second server on the dispatcher's own secret: a message crosses from the rotating one
    const b = startClient({ name: 'server-b', port, secret: clusterSecret(accepting) })
    t.after(() => b.client.close())
    await ready(b.client)
    assert.ok(a.client.send({ id: 1, source: 'server-a', targets: ['server-b'], kind: 1, payload: Buffer.from('rotated') }))
    await waitUntil(() => b.inbox.data.some((d) => d.payload === 'rotated'), 3000, 'the message relayed')
  })
}

test('gateway link port: the gateway secret rotates the same way (old ← new,old links, new,old ← new links, unrelated refused)', async (t) => {
  const log = pino({ level: 'silent' })
  const pairs: Array<[string, string, boolean]> = [[OLD, `${NEW},${OLD}`, true], [`${NEW},${OLD}`, NEW, true], [`${NEW},${OLD}`, OTHER, false]]
  for (const [gatewaySecret, workerSecret, links] of pairs) {
    const linked: string[] = []
    const server = new GatewayLinkServer({ host: '127.0.0.1', port: 0, name: 'gw', secret: clusterSecret(gatewaySecret), log, onLink: (_link, peer) => linked.push(peer.name) })
    const port = await server.listen()
    const worker = new LinkClient({ host: '127.0.0.1', port, name: 'w1', role: 'worker', expectRole: 'gateway', secret: clusterSecret(workerSecret), reconnectMinMs: 5000, reconnectMaxMs: 5000 })
    t.after(async () => { await worker.close(); await server.close() })
    const outcome = Promise.race([
      once(worker, 'denied', { signal: AbortSignal.timeout(5000) }).then(([reason]) => `denied: ${String(reason)}`),
      ready(worker, 5000).then(() => 'ready'),
    ])
    worker.start()
    const got = await outcome
    if (links) {
      assert.equal(got, 'ready', `${gatewaySecret} ← ${workerSecret}`)
      assert.deepEqual(linked, ['w1'])
    } else {
      assert.match(got, /^denied: authentication failed/, `${gatewaySecret} ← ${workerSecret}`)
      assert.deepEqual(linked, [])
    }
  }
})
