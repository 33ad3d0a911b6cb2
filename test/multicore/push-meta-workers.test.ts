/**
 * `--workers 2` with real worker processes (meta-worker.mjs: the real runWorker and primary,
 * IPC included): pushes with meta cross workers through the primary with stream, epoch,
 * offset and ack; a room member on the other worker that the push excluded gets the sync message.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { Primary } from '../../framework/multicore/primary.js'
import { root, TcpClient, type Envelope } from '../helpers.js'

const exec = fileURLToPath(new URL('./meta-worker.mjs', import.meta.url))
/** Pushes of the test (the sync messages the real store sends after a bind or join as an SDK client left out). */
const isPush = (m: Envelope): boolean => m.id === undefined && !((m as { sync?: boolean, epoch?: string }).sync === true && (m as { epoch?: string }).epoch !== 'ep')

test('real workers: uid, room (exclude → skip) and connection pushes with meta cross the primary', async (t) => {
  const primary = new Primary({ root, workers: 2, exec, log: pino({ level: 'silent' }) })
  t.after(() => primary.stop())
  const ports = await primary.start()
  // round-robin: a few connections until one is on each worker
  const byPid = new Map<number, { client: TcpClient, id: string }>()
  const extra: TcpClient[] = []
  t.after(() => { for (const c of [...extra, ...[...byPid.values()].map((v) => v.client)]) c.close() })
  for (let i = 0; i < 40 && byPid.size < 2; i++) {
    const client = await TcpClient.connect(ports.tcp ?? 0)
    const where = (await client.request('/meta/enter', { uid: byPid.size === 0 ? 'ann' : undefined })).data as { pid: number, id: string }
    if (byPid.has(where.pid)) extra.push(client)
    else byPid.set(where.pid, { client, id: where.id })
  }
  assert.equal(byPid.size, 2, 'a client on each worker')
  const [ann, bob] = [...byPid.values()]
  for (const c of extra) c.close()
  extra.length = 0

  const uidMeta = { s: 'uid:ann', e: 'ep', o: 5, a: 'own.3' }
  const room = { s: 'group:room', e: 'ep', o: 2 }
  assert.equal((await bob.client.request('/meta/push', { to: 'uid', target: 'ann', data: 'u', meta: uidMeta })).data, 1)
  assert.equal((await ann.client.request('/meta/push', { to: 'room', target: '', data: 'g', meta: room, exclude: bob.id })).data, 1)
  assert.equal((await bob.client.request('/meta/push', { to: 'conn', target: ann.id, data: 'c', meta: room })).data, 1)

  const roomAt = { stream: 'group:room', epoch: 'ep', offset: 2 }
  assert.deepEqual(await ann.client.next(isPush), { data: 'u', stream: 'uid:ann', epoch: 'ep', offset: 5, ack: 'own.3' })
  assert.deepEqual(await ann.client.next(isPush), { data: 'g', ...roomAt })
  assert.deepEqual(await ann.client.next(isPush), { data: 'c', ...roomAt })
  assert.deepEqual(await bob.client.next(isPush), { ...roomAt, skip: true })
})
