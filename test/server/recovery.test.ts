/**
 * Recovery end to end on a real app with raw JSON clients over TCP and WS: /sd/hello, /sd/recover
 * of entries recorded by a controller's recoverable sends, denied streams, validation, /sd/ack
 * settling an ack send; with Redis, the same across two app instances sharing it.
 */
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Controller, type Application } from '../../framework/index.js'
import { portOf, startApp, TcpClient, waitUntil, WsClient, type Envelope } from '../helpers.js'
import { deleteRedisKeys, redisUrl, testKeyPrefix } from '../stores.js'

interface RoomData { uid?: string, group?: string, text?: string, timeoutMs?: number }

class RoomController extends Controller {
  async login (): Promise<boolean> {
    await this.bindUid((this.data as RoomData).uid!)
    return true
  }

  async join (): Promise<boolean> {
    await this.joinGroup((this.data as RoomData).group!)
    return true
  }

  async say (): Promise<number> {
    const d = this.data as RoomData
    return this.sendToGroup(d.group!, d.text, { recover: true, exclude: this.connectionId })
  }

  async ping (): Promise<number> {
    const d = this.data as RoomData
    return this.sendToUid(d.uid!, d.text, { ack: true, timeoutMs: d.timeoutMs })
  }

  flag (): unknown {
    return this.session.$sd ?? null
  }
}

type Client = TcpClient | WsClient
const apps: Application[] = []
const clients: Client[] = []
const redisPrefix = testKeyPrefix('recovery-e2e')

after(async () => {
  for (const c of clients) c.close()
  await Promise.all(apps.map((a) => a.stop()))
  await deleteRedisKeys(redisPrefix)
})

async function start (extra: Parameters<typeof startApp>[0] = {}): Promise<Application> {
  const app = await startApp(extra, { controllers: [RoomController] })
  apps.push(app)
  return app
}

async function client (app: Application, kind: 'tcp' | 'ws'): Promise<Client> {
  const c = kind === 'tcp' ? await TcpClient.connect(portOf(app, 'tcp')) : await WsClient.connect(portOf(app, 'http'))
  clients.push(c)
  return c
}

function ok (reply: Envelope): unknown {
  assert.equal(reply.error, undefined, JSON.stringify(reply.error))
  return reply.data
}

/** Sends without id (no reply), as the SDK sends /sd/ack. */
function notify (c: Client, path: string, data: unknown): void {
  if (c instanceof TcpClient) c.notify(path, data)
  else c.ws.send(JSON.stringify({ path, data }))
}

interface Recovered { streams: Record<string, { epoch: string, offset: number, gap: boolean, entries: Array<{ offset: number, data: unknown, ack?: string }> }>, denied: string[] }

for (const kind of ['tcp', 'ws'] as const) {
  describe(`recovery over ${kind}`, () => {
    it('/sd/hello answers the node and marks the session', async () => {
      const app = await start()
      const c = await client(app, kind)
      assert.equal(ok(await c.request('/room/flag')), null)
      assert.deepEqual(ok(await c.request('/sd/hello', { v: 1 })), { v: 1, node: app.config.app.nodeName, recovery: true })
      assert.equal(ok(await c.request('/room/flag')), 1)
      assert.equal((await c.request('/sd/hello', { v: 'x' })).error?.code, 'SD_ERR_VALIDATION')
    })

    it('/sd/recover returns what a recoverable sendToGroup recorded, after a reconnect', async () => {
      const app = await start()
      const sender = await client(app, kind)
      ok(await sender.request('/room/join', { group: 'lobby' }))
      let reader = await client(app, kind)
      ok(await reader.request('/room/join', { group: 'lobby' }))
      assert.equal(ok(await sender.request('/room/say', { group: 'lobby', text: 'm1' })), 1)
      const first = ok(await reader.request('/sd/recover', { streams: { 'group:lobby': { epoch: '', offset: 0 } } })) as Recovered
      const { epoch } = first.streams['group:lobby']
      assert.deepEqual(first.streams['group:lobby'], { epoch, offset: 1, gap: false, entries: [{ offset: 1, data: 'm1' }] })
      reader.close()
      await sender.request('/room/say', { group: 'lobby', text: 'm2' })
      await sender.request('/room/say', { group: 'lobby', text: 'm3' })
      reader = await client(app, kind)
      ok(await reader.request('/room/join', { group: 'lobby' }))
      const again = ok(await reader.request('/sd/recover', { streams: { 'group:lobby': { epoch, offset: 1 } } })) as Recovered
      assert.deepEqual(again, { streams: { 'group:lobby': { epoch, offset: 3, gap: false, entries: [{ offset: 2, data: 'm2' }, { offset: 3, data: 'm3' }] } }, denied: [] })
    })

    it('/sd/recover lists streams the connection may not read in denied', async () => {
      const app = await start()
      const c = await client(app, kind)
      ok(await c.request('/room/login', { uid: 'me' }))
      ok(await c.request('/room/join', { group: 'mine' }))
      const names = ['uid:me', 'uid:you', 'group:mine', 'group:theirs', 'other', '__proto__']
      // parsed from JSON: __proto__ is an own key, as a client would send it
      const streams = JSON.parse(JSON.stringify(Object.fromEntries(names.map((n) => [n, { epoch: '', offset: 0 }])))) as Record<string, unknown>
      assert.ok(Object.hasOwn(streams, '__proto__'))
      const r = ok(await c.request('/sd/recover', { streams })) as Recovered
      assert.deepEqual(Object.keys(r.streams).sort(), ['group:mine', 'uid:me'])
      assert.deepEqual(r.denied.sort(), ['__proto__', 'group:theirs', 'other', 'uid:you'].sort())
    })

    it('/sd/recover validates streams, names, offsets and epochs', async () => {
      const app = await start()
      const c = await client(app, kind)
      const many: Record<string, unknown> = {}
      for (let i = 0; i < 65; i++) many[`group:g${i}`] = { epoch: '', offset: 0 }
      const bad: unknown[] = [
        undefined,
        { streams: 'x' },
        { streams: many },
        { streams: { ['group:' + 'x'.repeat(251)]: { epoch: '', offset: 0 } } },
        { streams: { 'group:a': { epoch: '', offset: -1 } } },
        { streams: { 'group:a': { epoch: '', offset: 1.5 } } },
        { streams: { 'group:a': { epoch: '', offset: 2 ** 53 } } },
        { streams: { 'group:a': { epoch: 'e'.repeat(65), offset: 0 } } },
        { streams: { 'group:a': { offset: 0 } } },
      ]
      for (const data of bad) assert.equal((await c.request('/sd/recover', data)).error?.code, 'SD_ERR_VALIDATION', JSON.stringify(data)?.slice(0, 80))
      const max: Record<string, unknown> = {}
      for (let i = 0; i < 64; i++) max[`group:g${i}`] = { epoch: 'e'.repeat(64), offset: Number.MAX_SAFE_INTEGER }
      assert.equal((ok(await c.request('/sd/recover', { streams: max })) as Recovered).denied.length, 64)
    })

    it('/sd/ack settles a sendToUid with ack', async () => {
      const app = await start()
      const target = await client(app, kind)
      ok(await target.request('/room/login', { uid: 'u1' }))
      const sender = await client(app, kind)
      const sent = sender.request('/room/ping', { uid: 'u1', text: 'p', timeoutMs: 60_000 })
      // the ack id comes from the store's entries, as a reconnecting client would get it
      const entry = await waitUntil(async () => {
        const r = ok(await target.request('/sd/recover', { streams: { 'uid:u1': { epoch: '', offset: 0 } } })) as Recovered
        return r.streams['uid:u1'].entries[0]
      }, 3000, 'the recorded push')
      assert.equal(entry.data, 'p')
      assert.match(entry.ack ?? '', /^[0-9a-z]{12}\.\d+$/)
      notify(target, '/sd/ack', { ack: 'x'.repeat(129) })
      notify(target, '/sd/ack', { ack: 'nobodyhere12.1' })
      notify(target, '/sd/ack', { ack: 7 })
      notify(target, '/sd/ack', { ack: entry.ack })
      assert.equal(ok(await sent), 1)
    })

    it('/sd/ack counts only from a connection bound to the uid the push went to', async () => {
      const app = await start()
      const target = await client(app, kind)
      ok(await target.request('/room/login', { uid: 'u1' }))
      const other = await client(app, kind)
      ok(await other.request('/room/login', { uid: 'u2' }))
      const unbound = await client(app, kind)
      const sender = await client(app, kind)
      const sent = sender.request('/room/ping', { uid: 'u1', text: 'p', timeoutMs: 1500 })
      const entry = await waitUntil(async () => {
        const r = ok(await target.request('/sd/recover', { streams: { 'uid:u1': { epoch: '', offset: 0 } } })) as Recovered
        return r.streams['uid:u1'].entries[0]
      }, 3000, 'the recorded push')
      // ack ids are guessable: others acking it must not count
      notify(other, '/sd/ack', { ack: entry.ack })
      notify(unbound, '/sd/ack', { ack: entry.ack })
      assert.equal(ok(await sent), 0)
    })
  })
}

describe('recovery reply bounds', () => {
  it('cuts a /sd/recover reply at about 1 MiB of data, listing the streams left out in more', async () => {
    const app = await start()
    const reader = await client(app, 'tcp')
    const sender = await client(app, 'tcp')
    const groups = ['b1', 'b2', 'b3']
    const big = 'x'.repeat(200_000)
    for (const g of groups) ok(await reader.request('/room/join', { group: g }))
    for (const g of groups) for (let i = 1; i <= 8; i++) ok(await sender.request('/room/say', { group: g, text: `${g}.${i}.${big}` }))
    const got: Record<string, Array<{ offset: number, data: unknown }>> = { 'group:b1': [], 'group:b2': [], 'group:b3': [] }
    let asks = 0
    let pending: Record<string, { epoch: string, offset: number }> = Object.fromEntries(groups.map((g) => [`group:${g}`, { epoch: '', offset: 0 }]))
    while (Object.keys(pending).length > 0) {
      assert.ok(++asks < 40, 'the reply makes progress')
      const reply = await reader.request('/sd/recover', { streams: pending })
      const r = ok(reply) as Recovered & { more?: string[] }
      const bytes = Object.values(r.streams).reduce((n, s) => n + s.entries.reduce((m, e) => m + JSON.stringify(e.data).length, 0), 0)
      assert.ok(bytes <= 1024 * 1024 + 200_100, `reply of ${bytes} bytes`)
      const next: typeof pending = {}
      for (const [name, s] of Object.entries(r.streams)) {
        got[name].push(...s.entries)
        assert.equal(s.gap, false)
        if (got[name].length < 8) next[name] = { epoch: s.epoch, offset: got[name].at(-1)!.offset }
      }
      for (const name of r.more ?? []) next[name] = pending[name]
      pending = next
    }
    assert.ok(asks > 1)
    for (const [name, entries] of Object.entries(got)) {
      assert.deepEqual(entries.map((e) => e.offset), [1, 2, 3, 4, 5, 6, 7, 8])
      assert.ok(String(entries[7].data).startsWith(`${name.slice(6)}.8.`))
    }
  })
})

describe('recovery paths elsewhere', () => {
  it('answer SD_ERR_TRANSPORT_NOT_ALLOWED over HTTP', async () => {
    const app = await start()
    const res = await fetch(`http://127.0.0.1:${portOf(app, 'http')}/sd/hello`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ v: 1 }) })
    assert.match(await res.text(), /SD_ERR_TRANSPORT_NOT_ALLOWED/)
  })

  it('fail at boot on an invalid recovery config, naming the key', async () => {
    await assert.rejects(start({ recovery: { store: 'disk' as never } }), /recovery\.store/)
    await assert.rejects(start({ recovery: { maxCount: 0 } }), /recovery\.maxCount/)
    await assert.rejects(start({ recovery: { groups: ['a*b'] } }), /recovery\.groups/)
    await assert.rejects(start({ recovery: { store: 'redis' }, redis: { url: '' } }), /recovery\.store/)
  })

  it('keeps no history when disabled: recover answers a gap', async () => {
    const app = await start({ recovery: { enabled: false } })
    const c = await client(app, 'tcp')
    assert.deepEqual(ok(await c.request('/sd/hello', { v: 1 })), { v: 1, node: app.config.app.nodeName, recovery: false })
    ok(await c.request('/room/join', { group: 'g' }))
    await c.request('/room/say', { group: 'g', text: 'lost' })
    const r = ok(await c.request('/sd/recover', { streams: { 'group:g': { epoch: 'old', offset: 4 } } })) as Recovered
    assert.deepEqual(r.streams['group:g'], { epoch: '', offset: 0, gap: true, entries: [] })
  })
})

describe('recovery with Redis across two app instances', () => {
  const shared = { redis: { url: redisUrl, keyPrefix: redisPrefix }, app: { name: `rec${process.pid}` } }

  it('recovers on one instance what the other recorded, and routes the ack back', async () => {
    const one = await start(shared)
    const two = await start(shared)
    assert.equal(one.recovery.storeKind, 'redis')
    const sender = await client(one, 'tcp')
    const reader = await client(two, 'ws')
    ok(await sender.request('/room/join', { group: 'hall' }))
    ok(await reader.request('/room/join', { group: 'hall' }))
    ok(await reader.request('/room/login', { uid: 'far' }))
    await sender.request('/room/say', { group: 'hall', text: 'from one' })
    const r = ok(await reader.request('/sd/recover', { streams: { 'group:hall': { epoch: '', offset: 0 } } })) as Recovered
    assert.deepEqual(r.streams['group:hall'].entries, [{ offset: 1, data: 'from one' }])
    // no cluster: one reaches no connection of uid far, so it waits out the timeout, counting the ack two forwarded
    const sent = sender.request('/room/ping', { uid: 'far', text: 'p', timeoutMs: 2000 })
    const entry = await waitUntil(async () => {
      const got = ok(await reader.request('/sd/recover', { streams: { 'uid:far': { epoch: '', offset: 0 } } })) as Recovered
      return got.streams['uid:far'].entries[0]
    }, 3000, 'the recorded push')
    assert.ok(entry.ack?.startsWith(`${one.recovery.store?.owner}.`))
    notify(reader, '/sd/ack', { ack: entry.ack })
    assert.equal(ok(await sent), 1)
  })

  it('does not count an ack forwarded from a connection bound to another uid', async () => {
    const one = await start(shared)
    const two = await start(shared)
    const sender = await client(one, 'tcp')
    const reader = await client(two, 'ws')
    const intruder = await client(two, 'tcp')
    ok(await reader.request('/room/login', { uid: 'far2' }))
    ok(await intruder.request('/room/login', { uid: 'near2' }))
    const sent = sender.request('/room/ping', { uid: 'far2', text: 'p', timeoutMs: 1500 })
    const entry = await waitUntil(async () => {
      const got = ok(await reader.request('/sd/recover', { streams: { 'uid:far2': { epoch: '', offset: 0 } } })) as Recovered
      return got.streams['uid:far2'].entries[0]
    }, 3000, 'the recorded push')
    notify(intruder, '/sd/ack', { ack: entry.ack })
    assert.equal(ok(await sent), 0)
  })
})
