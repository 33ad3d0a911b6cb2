/**
 * Redis down (nothing listens on its port): a client on every port reads the SD code and a
 * plain message, never ioredis's own text ("Reached the max retries per request limit…"); the
 * library's text goes to the log instead, once, not per request.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { Controller, type Application } from '../../framework/index.js'
import { freePort } from '../free-port.js'
import { http, LineClient, portOf, startApp, TcpClient, type Envelope } from '../helpers.js'

class KvController extends Controller {
  async get (key: unknown): Promise<string | null> { return this.redis.get(typeof key === 'string' ? key : 'k') }
}

const plain = 'redis unavailable: Redis cannot be reached; try again later'
const library = /max retries|maxRetriesPerRequest|ECONNREFUSED|Connection is closed/

let app: Application
const lines: Array<Record<string, unknown>> = []

before(async () => {
  const stream = new Writable({ write (chunk: Buffer, _enc, cb) { lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>); cb() } })
  const closed = await freePort() // nothing listens there
  app = await startApp(
    { server: { text: { route: '/kv/get' } }, redis: { url: `redis://127.0.0.1:${closed}`, connectTimeoutMs: 500 } },
    { controllers: [KvController], logger: pino({ level: 'info' }, stream) },
  )
})
after(async () => { await app?.stop() })

test('a telnet user reads the SD code and a plain message', async () => {
  const c = await LineClient.connect(portOf(app, 'text'))
  try {
    c.send('some-key')
    const line = await c.next()
    assert.equal(line, `ERROR SD_ERR_REDIS_UNAVAILABLE: ${plain}`)
  } finally {
    c.close()
  }
})

test('TCP and HTTP clients get the same code and message; the library text is logged once', async () => {
  const tcp = await TcpClient.connect(portOf(app, 'tcp'))
  try {
    for (let i = 0; i < 3; i++) {
      const res = await tcp.request('/kv/get', 'k')
      assert.deepEqual(res.error, { code: 'SD_ERR_REDIS_UNAVAILABLE', message: plain })
    }
  } finally {
    tcp.close()
  }
  const res = await http(portOf(app, 'http'), '/kv/get?k=1')
  assert.equal(res.status, 503, res.text + JSON.stringify(lines.slice(-3)))
  assert.deepEqual((res.body as Envelope).error, { code: 'SD_ERR_REDIS_UNAVAILABLE', message: plain })
  assert.doesNotMatch(res.text, library)
  const logged = lines.filter((l) => l.code === 'SD_ERR_REDIS_UNAVAILABLE')
  assert.equal(logged.length, 1, `one line for ${5} failed requests: ${JSON.stringify(logged)}`)
  assert.match(String(logged[0].cause), library)
})
