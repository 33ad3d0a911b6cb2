/** `this.reply` records what the action asks for as plain data, which survives a JSON round trip. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { HttpReply } from '../../framework/core/http-exchange.js'

test('a reply records status, headers, cookies and redirect, chainable as fastify\'s', () => {
  const reply = new HttpReply()
  assert.equal(reply.statusCode, 200)
  const same = reply.code(201).header('X-App', 'sd').header('x-n', 3).type('text/plain').setCookie('session', 'abc 123', { httpOnly: true, path: '/', maxAge: undefined })
  assert.equal(same, reply)
  reply.clearCookie('old', { path: '/' }).header('Set-Cookie', 'a=1').header('set-cookie', ['b=2'])
  assert.equal(reply.statusCode, 201)
  assert.equal(reply.getHeader('x-app'), 'sd')
  assert.equal(reply.hasHeader('Content-Type'), true)
  reply.removeHeader('x-n')
  assert.equal(reply.hasHeader('x-n'), false)
  assert.deepEqual(reply.toJSON(), {
    statusCode: 201,
    headers: { 'x-app': 'sd', 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'] },
    cookies: [
      { name: 'session', value: 'abc 123', options: { httpOnly: true, path: '/' } },
      { name: 'old', value: '', clear: true, options: { path: '/' } },
    ],
  })
  reply.redirect('/bye')
  assert.deepEqual(reply.toJSON().redirect, { url: '/bye' })
  reply.redirect('/moved', 301)
  assert.deepEqual(reply.toJSON().redirect, { url: '/moved', code: 301 })
})

test('an invalid status throws where the action sets it', () => {
  const reply = new HttpReply()
  assert.throws(() => reply.code(99), RangeError)
  assert.throws(() => reply.status(600), RangeError)
  assert.throws(() => reply.redirect('/x', 1000), RangeError)
  assert.equal(reply.statusCode, 200)
})

test('the recorded state round-trips through JSON: a reply made from it records the same', () => {
  const reply = new HttpReply()
  reply.code(202).headers({ 'x-a': '1', 'x-list': ['a', 'b'] })
    .setCookie('theme', 'dark', { expires: new Date(Date.UTC(2030, 0, 1)), sameSite: 'strict', secure: true })
    .redirect('/next')
  const json = JSON.stringify(reply)
  const state = JSON.parse(json)
  assert.deepEqual(state, reply.toJSON())
  assert.equal(state.cookies[0].options?.expires, Date.UTC(2030, 0, 1), 'a Date is kept as ms since the epoch')
  const copy = new HttpReply(state)
  assert.equal(copy.statusCode, 202)
  assert.equal(JSON.stringify(copy), json)
})
