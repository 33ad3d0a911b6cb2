import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Controller } from '../../framework/index.js'
import { Router, routeName, actionNames } from '../../framework/core/router.js'

class UserProfileController extends Controller {
  static transports = { secret: ['http' as const] }
  show (): string { return 'show' }
  secret (): string { return 'secret' }
  _helper (): string { return 'hidden' }
}
class HomeController extends Controller {
  index (): string { return 'home' }
}

function build (): Router {
  const r = new Router()
  r.addController(UserProfileController)
  r.addController(HomeController)
  r.addRules({ 'GET /': 'Home.index', '/users/:id': 'UserProfile.show', '/files/*': { action: 'Home.index', transports: ['http'] } })
  return r
}

test('convention: /name/method with a lower-camel name; _methods and inherited ones are not actions', () => {
  assert.equal(routeName('ChatController'), 'chat')
  assert.equal(routeName('UserProfileController'), 'userProfile')
  assert.deepEqual(actionNames(UserProfileController).sort(), ['secret', 'show'])
  const r = build()
  assert.equal(r.match('/userProfile/show')?.route.name, 'UserProfileController.show')
  assert.equal(r.match('/userProfile/_helper'), undefined)
  assert.equal(r.match('/userProfile/send'), undefined)
  assert.equal(r.match('/nope/show'), undefined)
})

test('custom rules: params, HTTP methods, wildcards, transport restrictions', () => {
  const r = build()
  const m = r.match('/users/42%20x', 'GET')
  assert.equal(m?.route.name, 'UserProfileController.show')
  assert.deepEqual(m?.params, { id: '42 x' })
  assert.equal(r.match('/', 'GET')?.route.name, 'HomeController.index')
  assert.equal(r.match('/', 'POST'), undefined)
  assert.equal(r.match('/')?.route.name, 'HomeController.index', 'transports without HTTP methods match by path')
  assert.deepEqual(r.match('/files/a/b.txt', 'GET')?.params, { '*': 'a/b.txt' })
  assert.deepEqual([...(r.match('/files/x')?.route.transports ?? [])], ['http'])
  assert.deepEqual([...(r.match('/userProfile/secret')?.route.transports ?? [])], ['http'])
  assert.equal(r.match('/userProfile/show')?.route.transports, null)
})

test('rules naming a missing controller or method fail at boot with the key', () => {
  const r = new Router()
  r.addController(HomeController)
  assert.throws(() => r.addRules({ '/x': 'Nope.index' }), (err: Error & { code?: string }) => err.code === 'SD_ERR_CONFIG_INVALID' && err.message.includes("routes['/x']"))
  assert.throws(() => r.addRules({ '/y': 'Home.missing' }), /routes\['\/y'\] names Home.missing/)
})

test('HTTP methods: convention routes answer GET, POST and HEAD; method-less custom rules any method', () => {
  const r = build()
  r.addRules({ '/ping': 'Home.index' })
  assert.equal(r.match('/home/index', 'GET')?.route.name, 'HomeController.index')
  assert.equal(r.match('/home/index', 'HEAD')?.route.name, 'HomeController.index')
  assert.equal(r.match('/home/index', 'DELETE'), undefined)
  assert.equal(r.match('/ping', 'DELETE')?.route.name, 'HomeController.index')
  assert.equal(r.match('/users/7', 'PUT')?.route.name, 'UserProfileController.show')
})
