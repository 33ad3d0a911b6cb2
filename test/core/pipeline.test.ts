/** The dispatch pipeline on its own: a router, controllers, and fake sinks (no sockets, no ports). */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { AppError, Controller, SdError, type Middleware } from '../../framework/index.js'
import type { ErrorBody } from '../../framework/core/errors.js'
import { HttpReply, type HttpExchange, type HttpRequest } from '../../framework/core/http-exchange.js'
import { Pipeline, type ErrorMapper, type PipelineConnection, type PipelineHost, type ReplySink, type RequestId } from '../../framework/core/pipeline.js'
import { Router } from '../../framework/core/router.js'

type Sent = { id: RequestId | undefined | null, data?: unknown, error?: ErrorBody, status?: number }

/** A connection as the pipeline sees it: records replies and holds. */
class FakeConnection implements ReplySink {
  readonly id = 'c1'
  readonly uid = undefined
  readonly session: Record<string, unknown> = {}
  pending = 0
  holds = 0
  readonly sent: Sent[] = []
  readonly transport: 'tcp' | 'ws'
  constructor (transport: 'tcp' | 'ws' = 'tcp') { this.transport = transport }
  reply (id: RequestId | null, data: unknown): void {
    if (typeof data === 'bigint') throw new TypeError('cannot encode a BigInt')
    this.sent.push({ id, data })
  }

  replyError (id: RequestId | undefined | null, error: ErrorBody, status: number): void { this.sent.push({ id, error, status }) }
  hold (): void { this.holds++ }
  release (): void { this.holds-- }
}

/** An HTTP request as the pipeline sees it: the controller's exchange and the sink. */
class FakeExchange implements HttpExchange, ReplySink {
  readonly request: HttpRequest = { method: 'GET', url: '/t/web?a=1', query: { a: '1' }, headers: {}, cookies: {}, ip: '127.0.0.1' }
  readonly response = new HttpReply()
  readonly session: Record<string, unknown> = {}
  readonly sent: Sent[] = []
  reply (id: RequestId | null, data: unknown): void { this.sent.push({ id, data }) }
  replyError (id: RequestId | undefined | null, error: ErrorBody, status: number): void { this.sent.push({ id, error, status }) }
}

const calls: string[] = []
let release: (() => void) | undefined

class TController extends Controller {
  static transports = { tcpOnly: ['tcp' as const] }
  static schemas = { typed: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] } }
  echo (data: unknown): unknown { calls.push('echo'); return data }
  nothing (): void {}
  tcpOnly (): string { return 'tcp' }
  typed (data: { n: number }): number { calls.push('typed'); return data.n }
  async later (data: unknown): Promise<unknown> {
    await new Promise<void>((resolve) => { release = resolve })
    return data
  }

  public (): never { throw new AppError('T_ERR_NOPE', 'nope', 409) }
  async publicLater (): Promise<never> { await null; throw new SdError('SD_ERR_NOT_FOUND', 'x') }
  secret (): never { throw new Error('secret detail') }
  broken (): never { throw new Error('db down') }
  big (): bigint { return 1n }
  web (): unknown {
    this.reply.code(201).header('x-a', '1')
    this.session.seen = true
    return { query: this.request.query, session: this.session }
  }

  req (): unknown { return this.request }
}

interface Setup { pipeline: Pipeline<Controller>, errors: Array<Record<string, unknown>>, middleware: Middleware[], mapped: string[] }

function setup (mapError?: ErrorMapper, maxPending = 2): Setup {
  const router = new Router()
  router.addController(TController, 'TController')
  const errors: Array<Record<string, unknown>> = []
  const log = { error: (obj: Record<string, unknown>) => errors.push(obj) }
  const host = { router, log, config: { server: { maxPendingPerConnection: maxPending } } } as unknown as PipelineHost
  const middleware: Middleware[] = []
  const mapped: string[] = []
  const pipeline = new Pipeline(host, middleware, mapError && ((thrown, action) => { mapped.push(action); return mapError(thrown, action) }))
  return { pipeline, errors, middleware, mapped }
}

function conn (transport: 'tcp' | 'ws' = 'tcp'): FakeConnection & PipelineConnection {
  return new FakeConnection(transport) as unknown as FakeConnection & PipelineConnection
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

test('an unknown path answers SD_ERR_ROUTE_NOT_FOUND (socket: by id; HTTP: 404 naming the method)', () => {
  const { pipeline } = setup()
  const c = conn()
  pipeline.message(c, { id: 1, path: '/nope/x', data: null })
  assert.deepEqual(c.sent, [{ id: 1, error: { code: 'SD_ERR_ROUTE_NOT_FOUND', message: 'no route for /nope/x' }, status: 404 }])
  const h = new FakeExchange()
  pipeline.http(h, '/nope/x', 'DELETE', {})
  assert.deepEqual(h.sent, [{ id: null, error: { code: 'SD_ERR_ROUTE_NOT_FOUND', message: 'no route for DELETE /nope/x' }, status: 404 }])
})

test('an action restricted to other transports answers SD_ERR_TRANSPORT_NOT_ALLOWED', () => {
  const { pipeline } = setup()
  const ws = conn('ws')
  pipeline.message(ws, { id: 2, path: '/t/tcpOnly', data: null })
  assert.deepEqual(ws.sent, [{ id: 2, error: { code: 'SD_ERR_TRANSPORT_NOT_ALLOWED', message: 'action /t/tcpOnly is not available on this transport' }, status: 405 }])
  const h = new FakeExchange()
  pipeline.http(h, '/t/tcpOnly', 'GET', {})
  assert.equal(h.sent[0].error?.code, 'SD_ERR_TRANSPORT_NOT_ALLOWED')
  const tcp = conn('tcp')
  pipeline.message(tcp, { id: 3, path: '/t/tcpOnly', data: null })
  assert.deepEqual(tcp.sent, [{ id: 3, data: 'tcp' }])
})

test('once refusing, requests answer SD_ERR_SHUTTING_DOWN and no action runs', () => {
  const { pipeline } = setup()
  pipeline.refusing = true
  calls.length = 0
  const c = conn()
  pipeline.message(c, { id: 4, path: '/t/echo', data: 1 })
  const h = new FakeExchange()
  pipeline.http(h, '/t/echo', 'POST', {})
  assert.deepEqual(c.sent, [{ id: 4, error: { code: 'SD_ERR_SHUTTING_DOWN', message: 'server is shutting down' }, status: 503 }])
  assert.equal(h.sent[0].status, 503)
  assert.deepEqual(calls, [])
})

test('invalid data answers SD_ERR_VALIDATION before the action; HTTP data is coerced', () => {
  const { pipeline } = setup()
  calls.length = 0
  const c = conn()
  pipeline.message(c, { id: 5, path: '/t/typed', data: { n: '7' } })
  assert.deepEqual(c.sent, [{ id: 5, error: { code: 'SD_ERR_VALIDATION', message: 'invalid data: n must be integer' }, status: 400 }])
  assert.deepEqual(calls, [])
  const h = new FakeExchange()
  pipeline.http(h, '/t/typed', 'GET', { n: '7' })
  assert.deepEqual(h.sent, [{ id: null, data: 7 }])
})

test('a sync result is replied before the call returns; no id, no reply; a null id replies unless the result is undefined', () => {
  const { pipeline } = setup()
  const c = conn()
  pipeline.message(c, { id: 'a', path: '/t/echo', data: { x: 1 } })
  assert.deepEqual(c.sent, [{ id: 'a', data: { x: 1 } }], 'replied without a microtask')
  pipeline.message(c, { id: undefined, path: '/t/echo', data: 2 })
  pipeline.message(c, { id: null, path: '/t/nothing', data: null })
  pipeline.message(c, { id: null, path: '/t/echo', data: 3 })
  assert.deepEqual(c.sent.slice(1), [{ id: null, data: 3 }])
  assert.equal(pipeline.inflight, 0)
  const h = new FakeExchange()
  pipeline.http(h, '/t/nothing', 'GET', {})
  assert.deepEqual(h.sent, [{ id: null, data: undefined }], 'HTTP always answers')
})

test('an async result settles: inflight and pending counted, reading held at maxPendingPerConnection, idle waiters woken', async () => {
  const { pipeline } = setup(undefined, 2)
  const c = conn()
  pipeline.message(c, { id: 1, path: '/t/later', data: 'one' })
  const first = release as () => void
  pipeline.message(c, { id: 2, path: '/t/later', data: 'two' })
  const second = release as () => void
  assert.equal(pipeline.inflight, 2)
  assert.equal(c.pending, 2)
  assert.equal(c.holds, 1, 'held at the second pending request')
  assert.deepEqual(c.sent, [])
  let idle = false
  pipeline.idleWaiters.push(() => { idle = true })
  first()
  await tick()
  assert.deepEqual(c.sent, [{ id: 1, data: 'one' }])
  assert.equal(c.holds, 0, 'released below the limit')
  assert.equal(idle, false)
  second()
  await tick()
  assert.deepEqual(c.sent.at(-1), { id: 2, data: 'two' })
  assert.equal(pipeline.inflight, 0)
  assert.equal(c.pending, 0)
  assert.equal(idle, true)
  assert.equal(pipeline.idleWaiters.length, 0)

  const h = new FakeExchange()
  pipeline.http(h, '/t/later', 'GET', { h: 1 })
  assert.equal(pipeline.inflight, 1)
  ;(release as () => void)()
  await tick()
  assert.deepEqual(h.sent, [{ id: null, data: { h: 1 } }])
  assert.equal(pipeline.inflight, 0)
})

test('thrown errors: public ones reach the client as they are, others become SD_ERR_INTERNAL and are logged', async () => {
  const { pipeline, errors } = setup()
  const c = conn()
  pipeline.message(c, { id: 1, path: '/t/public', data: null })
  pipeline.message(c, { id: 2, path: '/t/secret', data: null })
  pipeline.message(c, { id: 3, path: '/t/publicLater', data: null })
  await tick()
  assert.deepEqual(c.sent, [
    { id: 1, error: { code: 'T_ERR_NOPE', message: 'nope' }, status: 409 },
    { id: 2, error: { code: 'SD_ERR_INTERNAL', message: 'internal server error' }, status: 500 },
    { id: 3, error: { code: 'SD_ERR_NOT_FOUND', message: 'not found: x' }, status: 404 },
  ])
  assert.equal(errors.length, 1)
  assert.equal(errors[0].action, 'TController.secret')
  assert.equal(errors[0].connectionId, 'c1')
  assert.match(String(errors[0].err), /secret detail/)
  const h = new FakeExchange()
  pipeline.http(h, '/t/secret', 'GET', {})
  assert.deepEqual(h.sent, [{ id: null, error: { code: 'SD_ERR_INTERNAL', message: 'internal server error' }, status: 500 }])
  assert.equal(errors.length, 2)
  assert.equal('connectionId' in errors[1], false, 'an HTTP request has no connection id')
})

test('a result the sink cannot encode becomes SD_ERR_INTERNAL', () => {
  const { pipeline, errors } = setup()
  const c = conn()
  pipeline.message(c, { id: 9, path: '/t/big', data: null })
  assert.deepEqual(c.sent, [{ id: 9, error: { code: 'SD_ERR_INTERNAL', message: 'internal server error' }, status: 500 }])
  assert.equal(errors.length, 1)
})

test('the injected error mapper decides what the client gets (the server layer maps data-layer failures)', async () => {
  const { pipeline, errors, mapped } = setup((thrown) => (thrown as Error).message === 'db down' ? new SdError('SD_ERR_DB_UNAVAILABLE', 'try later') : thrown)
  const c = conn()
  pipeline.message(c, { id: 1, path: '/t/broken', data: null })
  assert.deepEqual(c.sent, [{ id: 1, error: { code: 'SD_ERR_DB_UNAVAILABLE', message: 'database unavailable: try later' }, status: 503 }])
  assert.deepEqual(mapped, ['TController.broken'])
  assert.equal(errors.length, 0, 'a mapped (public) error is not logged as an action failure')
})

test('middleware runs around the action in the order added, sees the result and can replace it', async () => {
  const { pipeline, middleware } = setup()
  const order: string[] = []
  middleware.push(async (ctx, next) => {
    order.push(`a>${ctx.path}`)
    const r = await next()
    order.push('a<')
    return { wrapped: r }
  })
  middleware.push(async (_ctx, next) => {
    order.push('b>')
    const r = await next()
    order.push('b<')
    return r
  })
  calls.length = 0
  const c = conn()
  pipeline.message(c, { id: 1, path: '/t/echo', data: 5 })
  assert.deepEqual(c.sent, [], 'with middleware the result is async')
  await tick()
  assert.deepEqual(order, ['a>/t/echo', 'b>', 'b<', 'a<'])
  assert.deepEqual(calls, ['echo'])
  assert.deepEqual(c.sent, [{ id: 1, data: { wrapped: 5 } }])
  middleware.push(() => { throw new AppError('T_ERR_STOP', 'stopped') })
  pipeline.message(c, { id: 2, path: '/t/echo', data: 6 })
  await tick()
  assert.deepEqual(c.sent.at(-1), { id: 2, error: { code: 'T_ERR_STOP', message: 'stopped' }, status: 400 })
})

test('HTTP actions see the exchange: this.request, this.reply, one session per request; sockets get SD_ERR_NOT_SUPPORTED', () => {
  const { pipeline } = setup()
  const h = new FakeExchange()
  pipeline.http(h, '/t/web', 'GET', { a: '1' })
  assert.deepEqual(h.sent, [{ id: null, data: { query: { a: '1' }, session: { seen: true } } }])
  assert.deepEqual(h.response.toJSON(), { statusCode: 201, headers: { 'x-a': '1' }, cookies: [] })
  const c = conn()
  pipeline.message(c, { id: 1, path: '/t/req', data: null })
  assert.deepEqual(c.sent, [{ id: 1, error: { code: 'SD_ERR_NOT_SUPPORTED', message: 'this.request is not supported on this transport' }, status: 400 }])
})

test('done() is called exactly once per request, after its outcome, with or without a reply', async () => {
  const { pipeline } = setup()
  class DoneConnection extends FakeConnection {
    readonly log: string[] = []
    override reply (id: RequestId | null, data: unknown): void { super.reply(id, data); this.log.push('reply') }
    override replyError (id: RequestId | undefined | null, error: ErrorBody, status: number): void { super.replyError(id, error, status); this.log.push('error') }
    done (): void { this.log.push('done') }
  }
  const run = (path: string, id: RequestId | undefined, data: unknown = 1): DoneConnection => {
    const c = new DoneConnection()
    pipeline.message(c as unknown as DoneConnection & PipelineConnection, { id, path, data })
    return c
  }
  assert.deepEqual(run('/t/echo', 1).log, ['reply', 'done'], 'sync reply')
  assert.deepEqual(run('/t/echo', undefined).log, ['done'], 'no id: no reply, still done')
  assert.deepEqual(run('/t/nope', 2).log, ['error', 'done'], 'refused before the action')
  assert.deepEqual(run('/t/secret', 3).log, ['error', 'done'], 'sync throw')
  assert.deepEqual(run('/t/big', 4).log, ['error', 'done'], 'reply that cannot be encoded: one error, one done')
  const later = run('/t/later', 5)
  assert.deepEqual(later.log, [], 'not done while the action runs')
  release?.()
  await tick()
  assert.deepEqual(later.log, ['reply', 'done'], 'async reply')
  const laterNoId = run('/t/publicLater', undefined)
  await tick()
  assert.deepEqual(laterNoId.log, ['error', 'done'], 'async failure without id: its error (sent without id), then done')
})
