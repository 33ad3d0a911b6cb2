/**
 * The dispatch-link carrier with a real dispatcher on loopback: a bad static entry fails when
 * the carrier is made; the static list is linked by `start()`; a target the dispatcher does not
 * know comes back as `missed`; a dispatcher removed takes its route down.
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import type { CarrierRoute } from '../../framework/cluster/carrier.js'
import { DispatchCarrier } from '../../framework/cluster/dispatch-carrier.js'
import type { Dispatcher } from '../../framework/cluster/dispatch-server.js'
import { waitUntil } from '../helpers.js'
import { newSecret, startDispatcher } from './link-helpers.js'

const secret = newSecret()
const dispatchers: Dispatcher[] = []
const carriers: DispatchCarrier[] = []

after(async () => {
  for (const c of carriers) await c.close()
  for (const d of dispatchers) await d.close()
})

test('a static entry that is not host:port fails when the carrier is made', () => {
  assert.throws(() => new DispatchCarrier({ name: 'x', secret, dispatchers: ['nowhere'] }), /cluster\.dispatchers: 'nowhere' is not host:port/)
})

test('start() links to the static list; an unknown target is missed; a removed dispatcher takes its route down', async () => {
  const { dispatcher, port } = await startDispatcher({ secret, name: 'dc-1' })
  dispatchers.push(dispatcher)
  const carrier = new DispatchCarrier({ name: 'dc-a', secret, dispatchers: [`127.0.0.1:${port}`], link: { reconnectMinMs: 20, reconnectMaxMs: 200 } })
  carriers.push(carrier)
  const up = once(carrier, 'up')
  await carrier.start()
  await up
  assert.deepEqual(carrier.routes.map((r) => r.id), [`127.0.0.1:${port}`])
  assert.deepEqual(carrier.info().map((i) => [i.name, i.status, i.preferred]), [['dc-1', 'ready', true]])

  const missed = once(carrier, 'missed') as Promise<[CarrierRoute, ReadonlySet<string>]>
  assert.equal(carrier.routes[0].send({ id: 1, source: 'dc-a', targets: ['ghost'], kind: 1, payload: Buffer.from('x'), quiet: true }), true)
  carrier.routes[0].flush()
  const [route, targets] = await missed
  assert.equal(route.id, `127.0.0.1:${port}`)
  assert.deepEqual([...targets], ['ghost'])

  const down = once(carrier, 'down')
  carrier.removeDispatcher('127.0.0.1', port)
  await down
  await waitUntil(() => carrier.routes.length === 0, 1000, 'no route')
  assert.equal(carrier.unavailableReason(), 'no dispatch server is known (none registered, none configured)')
})
