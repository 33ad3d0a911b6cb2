/**
 * The gateway split carries a push's meta: a worker's bus sends the op with `m` over its link,
 * the gateway's runPushOp hands it to its own bus, and the TCP client gets stream, epoch,
 * offset (and ack); a group member the push excluded gets the sync message.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Controller } from '../../framework/index.js'
import { portOf, TcpClient, waitUntil, type Envelope } from '../helpers.js'
import { startGateway, startWorker } from './split-helpers.js'

class MetaController extends Controller {
  async enter (data: { uid?: string }): Promise<string> {
    this.session.$sd = 1 // as /sd/hello marks an SDK client: it gets skip messages
    if (data.uid !== undefined) await this.bindUid(data.uid)
    await this.joinGroup('room')
    return this.connectionId ?? ''
  }
}

/** Pushes of the test (the sync messages the real store sends after a bind or join as an SDK client left out). */
const isPush = (m: Envelope): boolean => m.id === undefined && !((m as { sync?: boolean, epoch?: string }).sync === true && (m as { epoch?: string }).epoch !== 'ep')

test('split: uid, group (exclude → skip) and connection pushes with meta reach the gateway\'s clients', async (t) => {
  const gw = await startGateway()
  const w = await startWorker(gw, `wm-${process.pid}`, [MetaController])
  t.after(async () => { await w.stop(); await gw.stop() })
  await waitUntil(() => gw.gateway?.status().workers.some((s) => s.state === 'ready'), 3000, 'the worker ready at the gateway')
  const ann = await TcpClient.connect(portOf(gw, 'tcp'))
  const other = await TcpClient.connect(portOf(gw, 'tcp'))
  t.after(() => { ann.close(); other.close() })
  const annId = (await ann.request('/meta/enter', { uid: 'ann' })).data as string
  const otherId = (await other.request('/meta/enter', {})).data as string

  const uidMeta = { s: 'uid:ann', e: 'ep', o: 5, a: 'own.3' }
  const room = { s: 'group:room', e: 'ep', o: 2 }
  assert.equal(await w.bus.sendToUid('ann', { n: 1 }, { meta: uidMeta }), 1)
  assert.equal(await w.bus.sendToGroup('room', { n: 2 }, { meta: room, exclude: annId }), 1)
  assert.equal(await w.bus.sendToConnection(otherId, undefined, { meta: { ...room, y: 1 } }), 1)
  assert.equal(await w.bus.sendToUid('ann', 'plain'), 1)

  const roomAt = { stream: 'group:room', epoch: 'ep', offset: 2 }
  assert.deepEqual(await ann.next(isPush), { data: { n: 1 }, stream: 'uid:ann', epoch: 'ep', offset: 5, ack: 'own.3' })
  assert.deepEqual(await ann.next(isPush), { ...roomAt, skip: true })
  assert.deepEqual(await ann.next(isPush), { data: 'plain' })
  assert.deepEqual(await other.next(isPush), { data: { n: 2 }, ...roomAt })
  assert.deepEqual(await other.next(isPush), { ...roomAt, sync: true })
})
