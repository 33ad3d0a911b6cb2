import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { errorCodes, SdError, AppError } from '../../framework/index.js'

const doc = await readFile(new URL('../../docs/errors.md', import.meta.url), 'utf8')
const documented = new Set([...doc.matchAll(/`(SD_ERR_[A-Z0-9_]+)`/g)].map((m) => m[1]))
const defined = new Set(Object.keys(errorCodes))

test('every error code is documented in docs/errors.md', () => {
  const missing = [...defined].filter((c) => !documented.has(c))
  assert.deepEqual(missing, [])
})

test('docs/errors.md lists no code that does not exist', () => {
  const extra = [...documented].filter((c) => !defined.has(c))
  assert.deepEqual(extra, [])
})

test('codes are SD_ERR_ names with a status and a message', () => {
  for (const [code, spec] of Object.entries(errorCodes)) {
    assert.match(code, /^SD_ERR_[A-Z0-9]+(_[A-Z0-9]+)*$/)
    assert.ok(spec.status >= 400 && spec.status < 600, code)
    assert.ok(spec.message.length > 0, code)
  }
})

test('SdError fills the message template and serializes without a stack', () => {
  const err = new SdError('SD_ERR_ROUTE_NOT_FOUND', '/x/y')
  assert.equal(err.message, 'no route for /x/y')
  assert.equal(err.status, 404)
  assert.deepEqual(JSON.parse(JSON.stringify(err)), { code: 'SD_ERR_ROUTE_NOT_FOUND', message: 'no route for /x/y' })
  assert.deepEqual(new AppError('APP_ERR_X', 'nope', 422).toJSON(), { code: 'APP_ERR_X', message: 'nope' })
})
