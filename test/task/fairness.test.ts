/**
 * The task queue per connection (`tasks.maxQueuePerConnection`): one connection flooding task
 * calls gets `SD_ERR_TASK_QUEUE_FULL` for its own calls past its share, and cannot make another
 * connection's call fail that way.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { Controller, type Application } from '../../framework/index.js'
import { CALLS_PER_THREAD } from '../../framework/task/pool.js'
import { portOf, startApp, TcpClient, waitUntil } from '../helpers.js'
import { SpinTask } from './fixtures/basic.js'

const FLOOD = 60
const SHARE = 5

class QueueController extends Controller {
  spin (ms: number): Promise<{ spunMs: number }> {
    return this.task(SpinTask).spin(ms)
  }
}

/** Wire bytes of one request frame, written from the protocol. */
function requestFrame (id: number, path: string, data: unknown): Buffer {
  const body = Buffer.from(JSON.stringify({ id, path, data }))
  const head = Buffer.alloc(4)
  head.writeUInt32BE(body.length, 0)
  return Buffer.concat([head, body])
}

describe('task queue share per connection', () => {
  let app: Application
  before(async () => {
    // one thread: 8 calls in flight, 20 may wait in all, 5 of them for one connection
    app = await startApp({ tasks: { dir: 'test/task/fixtures', minWorkers: 1, maxWorkers: 1, maxQueue: 20, maxQueuePerConnection: SHARE } }, { controllers: [QueueController] })
  })
  after(async () => { await app?.stop() })

  test(`one connection sending ${FLOOD} task calls at once cannot make another connection's call fail with SD_ERR_TASK_QUEUE_FULL`, async () => {
    const flood = await TcpClient.connect(portOf(app, 'tcp'))
    const other = await TcpClient.connect(portOf(app, 'tcp'))
    try {
      const frames: Buffer[] = []
      for (let i = 1; i <= FLOOD; i++) frames.push(requestFrame(i, '/queue/spin', 20))
      flood.raw(Buffer.concat(frames))
      // the flood has been refused past its share: the pool is as full as it lets one connection make it
      const refused = await flood.next((m) => m.error?.code === 'SD_ERR_TASK_QUEUE_FULL', 5000)
      assert.match(refused.error?.message ?? '', /this connection/)
      other.raw(requestFrame(1, '/queue/spin', 1))
      // it waits behind the flood's share (the worker thread may still be starting)
      const reply = await other.next((m) => m.id === 1, 15_000)
      assert.equal(reply.error, undefined, `the other connection's call: ${JSON.stringify(reply)}`)
      assert.ok((reply.data as { spunMs: number }).spunMs >= 1)
      await waitUntil(() => flood.received.length >= FLOOD - 1, 10_000, 'every flood reply')
      const ok = flood.received.filter((m) => m.error === undefined).length
      assert.ok(ok >= CALLS_PER_THREAD + SHARE, `flood calls run: ${ok}`)
      assert.ok(ok < FLOOD, 'the flood was not given the whole queue')
    } finally {
      flood.close()
      other.close()
    }
  })
})
