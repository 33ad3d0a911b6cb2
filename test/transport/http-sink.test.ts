/**
 * The HTTP sink: `this.request` made from fastify's request is plain data, and a reply recorded
 * in one place and sent as JSON elsewhere answers exactly as the original (fastify.inject: no port).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify'
import cookie from '@fastify/cookie'
import formbody from '@fastify/formbody'
import { HttpReply } from '../../framework/core/http-exchange.js'
import { addCookieWriter } from '../../framework/transport/http-cookies.js'
import { applyHttpReply, HttpSink, sendHttpResult } from '../../framework/transport/http-sink.js'

async function server (route: (sink: HttpSink, reply: FastifyReply) => void): Promise<FastifyInstance> {
  const app = Fastify({ logger: false })
  await app.register(formbody)
  await app.register(cookie, { hook: false })
  addCookieWriter(app)
  app.route({
    method: ['GET', 'POST'],
    url: '/*',
    handler: (request, reply) => {
      const header = request.headers.cookie
      request.cookies = header === undefined ? {} : app.parseCookie(header)
      route(new HttpSink(request, reply), reply)
    },
  })
  return app
}

test('this.request is plain data: a JSON round trip gives an equal object', async (t) => {
  const seen: unknown[] = []
  const app = await server((sink) => {
    const req = sink.request
    assert.equal(sink.request, req, 'built once per request')
    seen.push(req)
    sink.reply(null, JSON.parse(JSON.stringify(req)))
  })
  t.after(() => app.close())
  const res = await app.inject({ method: 'POST', url: '/web/input?a=1&tag=x&tag=y', headers: { 'content-type': 'application/json', 'x-agent': 'test', cookie: 'session=s%201; theme=dark' }, payload: '{"b":{"c":[1,2]}}' })
  const req = seen[0] as Record<string, unknown>
  assert.deepEqual(res.json(), req)
  assert.deepEqual(JSON.parse(JSON.stringify(req)), req)
  assert.equal(req.method, 'POST')
  assert.equal(req.url, '/web/input?a=1&tag=x&tag=y')
  assert.deepEqual(req.query, { a: '1', tag: ['x', 'y'] })
  assert.deepEqual(req.body, { b: { c: [1, 2] } })
  assert.equal((req.headers as Record<string, string>)['x-agent'], 'test')
  assert.deepEqual(req.cookies, { session: 's 1', theme: 'dark' })
  assert.equal(typeof req.ip, 'string')

  await app.inject({ method: 'GET', url: '/web/input' })
  const get = seen[1] as Record<string, unknown>
  assert.equal('body' in get, false, 'no body: no key (undefined would not survive JSON)')
  assert.deepEqual(JSON.parse(JSON.stringify(get)), get)
})

test('a reply recorded here and applied from its JSON elsewhere answers the same as applied here', async (t) => {
  const record = (reply: HttpReply): void => {
    reply.code(201).header('x-app', 'sd').setCookie('session', 'abc 123', { httpOnly: true, path: '/', expires: new Date(Date.UTC(2030, 0, 1)) }).setCookie('theme', 'dark').clearCookie('old')
  }
  const app = await server((sink, reply) => {
    if (sink.request.url === '/local') {
      record(sink.response)
      sink.reply(null, { ok: true })
      return
    }
    const recorded = new HttpReply()
    record(recorded)
    const travelled = new HttpReply(JSON.parse(JSON.stringify(recorded)))
    applyHttpReply(travelled, reply)
    sendHttpResult(reply, { ok: true })
  })
  t.after(() => app.close())
  const local = await app.inject({ method: 'GET', url: '/local' })
  const remote = await app.inject({ method: 'GET', url: '/remote' })
  for (const res of [local, remote]) {
    assert.equal(res.statusCode, 201)
    assert.equal(res.headers['x-app'], 'sd')
    assert.deepEqual(res.json(), { ok: true })
  }
  const cookies = local.headers['set-cookie'] as string[]
  assert.equal(cookies.length, 3)
  assert.match(cookies[0], /^session=abc%20123; Path=\/; Expires=Tue, 01 Jan 2030 00:00:00 GMT; HttpOnly/)
  assert.match(cookies[1], /^theme=dark/)
  assert.match(cookies[2], /^old=; .*Expires=Thu, 01 Jan 1970/)
  assert.deepEqual(remote.headers['set-cookie'], cookies)
})

test('a recorded redirect wins over the result and over a failure; a failure keeps the recorded headers', async (t) => {
  const app = await server((sink) => {
    const url = sink.request.url
    if (url === '/go') {
      sink.response.redirect('/there')
      sink.reply(null, { ignored: true })
    } else if (url === '/go-fail') {
      sink.response.code(301).redirect('/moved')
      sink.replyError(null, { code: 'SD_ERR_INTERNAL', message: 'internal server error' }, 500)
    } else {
      sink.response.code(201).header('x-app', 'sd')
      sink.replyError(null, { code: 'SD_ERR_NOT_FOUND', message: 'not found: x' }, 404)
    }
  })
  t.after(() => app.close())
  const go = await app.inject({ method: 'GET', url: '/go' })
  assert.equal(go.statusCode, 302)
  assert.equal(go.headers.location, '/there')
  const moved = await app.inject({ method: 'GET', url: '/go-fail' })
  assert.equal(moved.statusCode, 301)
  assert.equal(moved.headers.location, '/moved')
  const failed = await app.inject({ method: 'GET', url: '/fail' })
  assert.equal(failed.statusCode, 404)
  assert.equal(failed.headers['x-app'], 'sd')
  assert.deepEqual(failed.json(), { error: { code: 'SD_ERR_NOT_FOUND', message: 'not found: x' } })
})

test('a content type set on the reply sends a string result as it is; a session lives for one request', async (t) => {
  const sessions: unknown[] = []
  const app = await server((sink) => {
    sink.session.n = ((sink.session.n as number | undefined) ?? 0) + 1
    sessions.push(sink.session)
    sink.response.type('text/plain; charset=utf-8')
    sink.reply(null, `n=${String(sink.session.n)}`)
  })
  t.after(() => app.close())
  const a = await app.inject({ method: 'GET', url: '/x' })
  const b = await app.inject({ method: 'GET', url: '/x' })
  assert.equal(a.body, 'n=1')
  assert.equal(b.body, 'n=1', 'a fresh session per request')
  assert.equal(a.headers['content-type'], 'text/plain; charset=utf-8')
  assert.notEqual(sessions[0], sessions[1])
})
