/**
 * `sd start --workers 2`: the demo app on two worker processes behind one set of ports. Pushes,
 * groups and queries work across workers as in one process; a worker that crashes is replaced
 * and the other one's clients never notice; `sd stop` ends it all with exit 0.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { http, TcpClient, waitUntil } from '../helpers.js'
import { runSd } from '../cli/run-sd.js'
import { root } from '../helpers.js'
import { startSd, type SdServer } from './sd-process.js'

interface Where { node: string, pid: number, connectionId: string }

/** Opens TCP clients until one lands on each of `n` distinct workers (round-robin: a few tries). */
async function clientsOnWorkers (port: number, n: number): Promise<Array<{ client: TcpClient, where: Where }>> {
  const byPid = new Map<number, { client: TcpClient, where: Where }>()
  const extra: TcpClient[] = []
  for (let i = 0; i < 40 && byPid.size < n; i++) {
    const client = await TcpClient.connect(port)
    const where = (await client.request('/bench/where')).data as Where
    if (byPid.has(where.pid)) extra.push(client)
    else byPid.set(where.pid, { client, where })
  }
  for (const c of extra) c.close()
  assert.equal(byPid.size, n, `clients reached ${byPid.size} of ${n} workers`)
  return [...byPid.values()]
}

describe('sd start --workers 2 (real processes)', () => {
  let server: SdServer
  before(async () => { server = await startSd(['--workers', '2'], { SD_BENCH: '1' }) }) // /bench/where
  after(async () => { await server?.stop() })

  test('sendToUid, rooms, broadcasts and queries cross workers; a crashed worker is replaced, the other keeps serving', async (t) => {
    const [a, b] = await clientsOnWorkers(server.ports.tcp, 2)
    t.after(() => { a.client.close(); b.client.close() })
    assert.notEqual(a.where.pid, b.where.pid)
    assert.notEqual(a.where.connectionId, b.where.connectionId, 'connection ids are unique across workers')

    const bob = (await b.client.request('/chat/login', { name: 'bob', room: 'lobby' })).data as { uid: string }
    const alice = (await a.client.request('/chat/login', { name: 'alice', room: 'lobby' })).data as { uid: string }
    assert.notEqual(alice.uid, bob.uid, 'uids do not collide between workers')
    const joined = await b.client.next((m) => (m.data as { type?: string })?.type === 'join')
    assert.deepEqual(joined.data, { type: 'join', uid: alice.uid, name: 'alice', room: 'lobby' }, 'sendToAll reached the other worker')

    assert.deepEqual((await a.client.request('/chat/say', { to: bob.uid, text: 'psst' })).data, { delivered: 1, stored: false })
    const dm = await b.client.next((m) => (m.data as { text?: string })?.text === 'psst')
    assert.deepEqual(dm.data, { type: 'say', from: { uid: alice.uid, name: 'alice' }, text: 'psst', private: true })

    assert.deepEqual((await a.client.request('/chat/say', { text: 'hello room' })).data, { delivered: 1, stored: true })
    assert.equal(((await b.client.next((m) => (m.data as { text?: string })?.text === 'hello room')).data as { room: string }).room, 'lobby')

    const online = (await b.client.request('/chat/online', { room: 'lobby' })).data as { count: number, uids: string[] }
    assert.equal(online.count, 2, 'onlineCount covers both workers')
    assert.deepEqual(online.uids.sort(), [alice.uid, bob.uid].sort(), 'groupMembers covers both workers')
    const rooms = (await a.client.request('/chat/rooms')).data as Array<{ room: string, count: number }>
    assert.deepEqual(rooms, [{ room: 'lobby', count: 2 }])
    assert.deepEqual((await a.client.request('/chat/say', { to: '999999', text: 'x' })).data, { delivered: 0, stored: false })

    // crash worker B: its client is cut off, A's keeps working, a new worker takes B's place
    process.kill(b.where.pid, 'SIGKILL')
    await b.client.waitClosed(5000)
    assert.deepEqual((await a.client.request('/bench/echo', { still: 'here' })).data, { still: 'here' })
    const status = await waitUntil(async () => {
      const run = await runSd(['status', '--json'], root, { SD_RUN_DIR: server.runDir })
      let s: { workers: Array<{ pid: number, restarts: number, state: string }> }
      try { s = JSON.parse(run.stdout) as typeof s } catch { return undefined }
      return s.workers.length === 2 && s.workers.every((w) => w.state === 'serving' && w.pid !== b.where.pid) ? s : undefined
    }, 30_000, 'the crashed worker to be replaced')
    assert.ok(status.workers.some((w) => w.restarts >= 1), 'the replacement counts a restart')
    const after = (await a.client.request('/chat/online', { room: 'lobby' })).data as { count: number, uids: string[] }
    assert.deepEqual(after.uids, [alice.uid], 'the dead worker\'s users are gone from the registry')

    const [c] = await clientsOnWorkers(server.ports.tcp, 2).then((list) => list.filter((x) => x.where.pid !== a.where.pid))
    t.after(() => c.client.close())
    assert.deepEqual((await c.client.request('/bench/echo', 1)).data, 1, 'the new worker serves')
  })

  test('/status counts the connections of every worker, not only of the one that answers', async (t) => {
    // a TCP client on each worker: one worker's count is then always below the server's
    const [a, b] = await clientsOnWorkers(server.ports.tcp, 2)
    t.after(() => { a.client.close(); b.client.close() })
    let seen = ''
    await waitUntil(async () => {
      const status = await runSd(['status', '--json'], root, { SD_RUN_DIR: server.runDir })
      const total = (JSON.parse(status.stdout) as { connections: { tcp?: number } }).connections.tcp ?? 0
      const page = (await http(server.ports.http, '/status')).text
      seen = `sd status: tcp ${total}; page: ${/<th>connections<\/th><td>([^<]*)/.exec(page)?.[1] ?? page}`
      return total >= 2 && page.includes(`<th>connections</th><td>tcp: ${total} `)
    }, 10_000, 'the status page to show the whole server').catch((err: Error) => { throw new Error(`${err.message} (${seen})`) })
  })

  test('sd status shows the workers and their connections; sd stop exits 0', async () => {
    const client = await TcpClient.connect(server.ports.tcp)
    await client.request('/bench/echo', 1)
    const run = await runSd(['status'], root, { SD_RUN_DIR: server.runDir })
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stdout, /^pid \d+, running, up \d+\w*, ports: tcp \d+, text \d+, http \d+\n/)
    assert.match(run.stdout, /connections: tcp [1-9]/)
    assert.equal((run.stdout.match(/^ {2}worker \d: pid \d+/gm) ?? []).length, 2)
    client.close()
    const stop = await runSd(['stop'], root, { SD_RUN_DIR: server.runDir })
    assert.equal(stop.code, 0, stop.stderr)
    assert.match(stop.stdout, /^stopped \(pid \d+\)$/m)
    assert.equal(await server.stop(), 0)
    const again = await runSd(['status'], root, { SD_RUN_DIR: server.runDir })
    assert.equal(again.code, 1)
    assert.match(again.stderr, /not running/)
  })
})
