/**
 * Memory of an idle WebSocket connection: the HTTP upgrade request (with its headers) must be
 * garbage once the connection is open, not kept alive by a listener for the connection's life.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Server as HttpServer, type IncomingMessage } from 'node:http'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { startApp, portOf, waitUntil, WsClient } from '../helpers.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

test('an open WebSocket connection does not keep its upgrade request alive', async (t) => {
  // a weak reference to every upgrade request the HTTP server sees (it keeps nothing alive)
  const requests: Array<WeakRef<IncomingMessage>> = []
  const emit = HttpServer.prototype.emit
  HttpServer.prototype.emit = function (this: HttpServer, event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'upgrade') requests.push(new WeakRef(args[0] as IncomingMessage))
    return Reflect.apply(emit, this, [event, ...args]) as boolean
  } as typeof emit
  t.after(() => { HttpServer.prototype.emit = emit })

  const app = await startApp()
  t.after(() => app.stop())
  const ws = await WsClient.connect(portOf(app, 'http'))
  t.after(() => ws.close())
  await waitUntil(() => app.connections.size === 1, 3000, 'the connection to be registered')
  assert.equal(requests.length, 1)

  await waitUntil(() => {
    gc()
    return requests[0].deref() === undefined
  }, 3000, 'the upgrade request to be collected')
  // the connection is still open and served
  assert.equal(app.connections.size, 1)
  assert.equal(ws.closed, false)
})
