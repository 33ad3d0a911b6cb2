/** `sd token`: an HS256 JWT that jose verifies with the same secret, its sub and lifetime, and the refusals. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodeProtectedHeader, jwtVerify } from 'jose'
import { makeToken, parseTtl } from '../../framework/cli/token.js'
import { root } from '../helpers.js'
import { runSd } from './run-sd.js'

const key = (s: string): Uint8Array => new TextEncoder().encode(s)

test('parseTtl: units, plain seconds, refusals', () => {
  assert.equal(parseTtl('1h'), 3600_000)
  assert.equal(parseTtl('15m'), 900_000)
  assert.equal(parseTtl('90s'), 90_000)
  assert.equal(parseTtl('7d'), 7 * 86_400_000)
  assert.equal(parseTtl('500ms'), 500)
  assert.equal(parseTtl('3600'), 3600_000)
  for (const bad of ['', '0', '1y', '-1h', '1.5h', 'h', '400d']) assert.throws(() => parseTtl(bad), /--ttl/, bad)
})

test('makeToken: HS256 with sub, iat, exp = iat + ttl, optional iss/aud; verified by jose with the secret, refused with another', async () => {
  const nowMs = Date.now()
  const token = await makeToken({ sub: 'alice', secret: 's3cret', ttlMs: 15 * 60_000, nowMs, issuer: 'sd-demo', audience: 'chat' })
  assert.deepEqual(decodeProtectedHeader(token), { alg: 'HS256', typ: 'JWT' })
  const { payload } = await jwtVerify(token, key('s3cret'), { algorithms: ['HS256'], issuer: 'sd-demo', audience: 'chat' })
  assert.equal(payload.sub, 'alice')
  assert.equal(payload.iat, Math.floor(nowMs / 1000))
  assert.equal(payload.exp, Math.floor(nowMs / 1000) + 900)
  await assert.rejects(jwtVerify(token, key('other'), { algorithms: ['HS256'] }), /signature/)
  await assert.rejects(makeToken({ sub: 'alice', secret: '' }), /SD_AUTH_JWT_SECRET/)
  await assert.rejects(makeToken({ sub: '', secret: 'x' }), /--sub/)
  await assert.rejects(makeToken({ sub: 'x'.repeat(129), secret: 'x' }), /--sub/)
})

test('sd token prints a token signed with SD_AUTH_JWT_SECRET (1 h by default); --secret and --ttl; no secret → exit 2 with the reason', { timeout: 60_000 }, async () => {
  const run = await runSd(['token', '--sub', 'bob'], root, { SD_AUTH_JWT_SECRET: 'env-secret' })
  assert.equal(run.code, 0, run.stderr)
  const printed = run.stdout.trim()
  assert.match(printed, /^[\w-]+\.[\w-]+\.[\w-]+$/)
  const { payload } = await jwtVerify(printed, key('env-secret'), { algorithms: ['HS256'] })
  assert.equal(payload.sub, 'bob')
  assert.equal((payload.exp ?? 0) - (payload.iat ?? 0), 3600)

  const given = await runSd(['token', '--sub', '42', '--ttl', '90s', '--secret', 'flag-secret'], root, { SD_AUTH_JWT_SECRET: undefined })
  assert.equal(given.code, 0, given.stderr)
  const second = (await jwtVerify(given.stdout.trim(), key('flag-secret'), { algorithms: ['HS256'] })).payload
  assert.equal(second.sub, '42')
  assert.equal((second.exp ?? 0) - (second.iat ?? 0), 90)

  const none = await runSd(['token', '--sub', 'bob'], root, { SD_AUTH_JWT_SECRET: undefined })
  assert.equal(none.code, 2)
  assert.match(none.stderr, /SD_AUTH_JWT_SECRET/)
  assert.equal(none.stdout, '')
})
