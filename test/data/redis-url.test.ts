/**
 * `redisOptionsFromUrl`: the unix-socket forms (`unix:`, `unix://`, `redis+unix://`, a bare
 * path) and their parameters, the TCP forms read as ioredis reads them, and the URLs refused at
 * boot (a socket URL naming a host or a relative path, an unknown parameter, a bad db) without
 * showing the password. And `redis.path` replacing the URL's host and port.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Redis } from 'ioredis'
import { pino } from 'pino'
import { redisConfigured, redisOptionsFromUrl, RedisConnections, type RedisConfig } from '../../framework/data/redis.js'
import { redisDefaults } from '../../framework/data/options.js'

test('unix-socket URLs: unix:/path, unix:///path, redis+unix:///path, a bare path; db, password, username', () => {
  assert.deepEqual(redisOptionsFromUrl('unix:/run/redis/redis.sock'), { path: '/run/redis/redis.sock' })
  assert.deepEqual(redisOptionsFromUrl('unix:///run/redis/redis.sock?db=2'), { path: '/run/redis/redis.sock', db: 2 })
  assert.deepEqual(redisOptionsFromUrl('redis+unix:///run/redis/redis.sock?db=1&password=s%26cret&username=app'),
    { path: '/run/redis/redis.sock', db: 1, password: 's&cret', username: 'app' })
  assert.deepEqual(redisOptionsFromUrl('redis+unix://app:pw@localhost/tmp/r.sock'), { path: '/tmp/r.sock', username: 'app', password: 'pw' })
  assert.deepEqual(redisOptionsFromUrl('unix:/tmp/a%20b.sock'), { path: '/tmp/a b.sock' }, 'percent-escapes decoded')
  assert.deepEqual(redisOptionsFromUrl('/run/redis.sock?db=3'), { path: '/run/redis.sock', db: 3 })
  assert.deepEqual(redisOptionsFromUrl('  unix:/run/redis.sock '), { path: '/run/redis.sock' }, 'surrounding spaces (an env var) ignored')
})

test('TCP URLs as ioredis reads them: host, port, db, credentials, rediss:// as TLS, host:port, a port, IPv6, query options', () => {
  assert.deepEqual(redisOptionsFromUrl('redis://127.0.0.1:6379'), { host: '127.0.0.1', port: 6379 })
  assert.deepEqual(redisOptionsFromUrl('redis://u:p%40ss@redis.local:7000/4'), { username: 'u', password: 'p@ss', host: 'redis.local', port: 7000, db: 4 })
  assert.deepEqual(redisOptionsFromUrl('redis://:only-pw@h'), { username: '', password: 'only-pw', host: 'h' })
  assert.deepEqual(redisOptionsFromUrl('rediss://h:6380'), { host: 'h', port: 6380, tls: {} })
  assert.deepEqual(redisOptionsFromUrl('10.0.0.5:6379'), { host: '10.0.0.5', port: 6379 })
  assert.deepEqual(redisOptionsFromUrl('6380'), { port: 6380 })
  assert.deepEqual(redisOptionsFromUrl('redis://[::1]:6379'), { host: '::1', port: 6379 })
  assert.deepEqual(redisOptionsFromUrl('redis://h?db=5&family=6&name=x'), { host: 'h', db: 5, family: 6, name: 'x' })
  assert.deepEqual(redisOptionsFromUrl('redis://h/2?db=5'), { host: 'h', db: 2 }, "the URL's own db wins over the query")
})

test('refused at boot with SD_ERR_CONFIG_INVALID, the password never shown', () => {
  const refused = (url: string, why: RegExp): void => {
    assert.throws(() => redisOptionsFromUrl(url), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'SD_ERR_CONFIG_INVALID', url)
      assert.match(err.message, why)
      assert.doesNotMatch(err.message, /hunter2/)
      return true
    })
  }
  refused('unix://run/redis.sock', /names host "run"/)
  refused('unix:redis.sock', /absolute path/)
  refused('unix:/', /absolute path/)
  refused('unix:/run/r.sock?timeout=5&password=hunter2', /unknown parameter "timeout"/)
  refused('redis+unix:///run/r.sock?db=x&password=hunter2', /db "x"/)
  refused('redis://u:hunter2@h/zero', /db "zero"/)
  refused('redis://h?port=abc', /port "abc"/)
  refused('', /is empty/)
})

test('redis.path: the socket replaces the URL host and port (its db and password stay); it alone configures Redis', async () => {
  const config: RedisConfig = { ...redisDefaults(), path: '/tmp/nowhere.sock' }
  assert.equal(redisConfigured(config), true)
  assert.equal(redisConfigured(redisDefaults()), false)
  const log = pino({ level: 'silent' })
  const only = new RedisConnections({ ...config, maxRetriesPerRequest: 0 }, log)
  const mixed = new RedisConnections({ ...config, url: 'rediss://u:pw@10.0.0.5:6380/3', maxRetriesPerRequest: 0 }, log)
  try {
    const a = only.shared
    const b = mixed.shared
    if (!(a instanceof Redis) || !(b instanceof Redis)) throw new Error('a single-node client was expected')
    assert.equal(a.options.path, '/tmp/nowhere.sock')
    assert.equal(b.options.path, '/tmp/nowhere.sock')
    assert.equal(b.options.host, 'localhost', 'the URL host is not used (ioredis default)')
    assert.equal(b.options.tls, undefined)
    assert.deepEqual([b.options.db, b.options.username, b.options.password], [3, 'u', 'pw'])
    assert.equal(b.options.keyPrefix, 'sd:', 'the config defaults still apply')
  } finally {
    await Promise.all([only.close(), mixed.close()])
  }
})

test('a bad redis.url fails when the connections are made (at boot), not at the first command', () => {
  assert.throws(() => new RedisConnections({ ...redisDefaults(), url: 'unix:relative.sock' }, pino({ level: 'silent' })), /SD_ERR_CONFIG_INVALID|absolute path/)
})
