/**
 * Redis URLs as ioredis connection options: TCP (`redis://`, `rediss://`, `host:port`) and unix
 * sockets (`unix:/path`, `unix:///path`, `redis+unix:///path`, a bare `/path`). One parser for
 * every place a Redis URL is accepted (`redis.url` / `REDIS_URL`, the registry's replicas).
 */
import type { RedisOptions } from 'ioredis'
import { SdError } from '../core/errors.js'

/** Where one Redis server is and how to log in: the part of the options a URL names. */
export type RedisTarget = Pick<RedisOptions, 'host' | 'port' | 'path' | 'db' | 'username' | 'password' | 'tls' | 'family'> & Record<string, unknown>

/** Query keys a unix-socket URL may carry. */
const unixQueryKeys = new Set(['db', 'password', 'username'])

/** The URL with its password hidden, for error messages. */
function shown (url: string): string {
  return JSON.stringify(url.replace(/(\/\/[^:/@]*:)[^@/]*@/, '$1***@').replace(/([?&]password=)[^&]*/, '$1***'))
}

function invalid (url: string, why: string): SdError {
  return new SdError('SD_ERR_CONFIG_INVALID', `Redis URL ${shown(url)} ${why}`)
}

function dbNumber (url: string, raw: string): number {
  const db = Number(raw)
  if (raw === '' || !Number.isInteger(db) || db < 0) throw invalid(url, `names db ${JSON.stringify(raw)}: a database is a number from 0`)
  return db
}

/** `user:password@` of a parsed URL, decoded (ioredis's rule: both when either is set). */
function credentials (u: URL, into: RedisTarget): void {
  if (u.username === '' && u.password === '') return
  into.username = decodeURIComponent(u.username)
  into.password = decodeURIComponent(u.password)
}

/** `unix:/path`, `unix:///path`, `redis+unix:///path` (host empty or `localhost`), `?db=&password=&username=`. */
function unixTarget (url: string): RedisTarget {
  let u: URL
  try { u = new URL(url) } catch { throw invalid(url, 'is not a URL') }
  if (u.hostname !== '' && u.hostname !== 'localhost') throw invalid(url, `names host ${JSON.stringify(u.hostname)}: a socket URL is unix:/path or unix:///path`)
  const path = decodeURIComponent(u.pathname)
  if (!path.startsWith('/') || path.length < 2) throw invalid(url, 'needs the absolute path of the socket (unix:/run/redis/redis.sock)')
  const target: RedisTarget = { path }
  credentials(u, target)
  for (const [key, value] of u.searchParams) {
    if (!unixQueryKeys.has(key)) throw invalid(url, `has an unknown parameter ${JSON.stringify(key)} (known: db, password, username)`)
    if (key === 'db') target.db = dbNumber(url, value)
    else target[key] = value
  }
  return target
}

/** A bare socket path, as ioredis takes it (`/run/redis.sock?db=2`). */
function pathTarget (url: string): RedisTarget {
  const q = url.indexOf('?')
  const target: RedisTarget = { path: q === -1 ? url : url.slice(0, q) }
  if (q !== -1) queryInto(url, new URLSearchParams(url.slice(q + 1)), target)
  return target
}

/** Query parameters as options, the way ioredis reads them (any key; `db`, `port`, `family` numbers). */
function queryInto (url: string, params: URLSearchParams, target: RedisTarget): void {
  for (const [key, value] of params) {
    if (key in target) continue // the URL's own parts win, as in ioredis
    if (key === 'db') target.db = dbNumber(url, value)
    else if (key === 'family' || key === 'port') {
      const n = Number.parseInt(value, 10)
      if (Number.isNaN(n)) throw invalid(url, `names ${key} ${JSON.stringify(value)}: not a number`)
      target[key] = n
    } else target[key] = value
  }
}

/** `redis://`, `rediss://` (TLS), `//host`, `host:port`, or a port number: what ioredis accepts. */
function tcpTarget (url: string): RedisTarget {
  if (/^\d+$/.test(url)) return { port: Number(url) }
  const scheme = /^rediss?:\/\//i.test(url)
  let u: URL
  try { u = new URL(scheme ? url : url.startsWith('//') ? `redis:${url}` : `redis://${url}`) } catch { throw invalid(url, 'is not a URL') }
  const target: RedisTarget = {}
  credentials(u, target)
  if (u.pathname.length > 1) target.db = dbNumber(url, u.pathname.slice(1))
  if (u.hostname !== '') target.host = u.hostname.replace(/^\[|\]$/g, '')
  if (u.port !== '') target.port = Number(u.port)
  if (/^rediss:/i.test(url)) target.tls = {}
  queryInto(url, u.searchParams, target)
  return target
}

/**
 * ioredis options of the Redis server `url` names:
 * - `redis://[user:password@]host[:port][/db]`, `rediss://…` (TLS), `host:port`: TCP, as ioredis reads them;
 * - `unix:/run/redis/redis.sock`, `unix:///run/redis/redis.sock`, `redis+unix:///run/redis/redis.sock`,
 *   with `?db=1&password=…&username=…`: a unix socket (the path must be absolute);
 * - a bare `/run/redis/redis.sock[?db=1]`: a unix socket too (ioredis's own form).
 * Throws `SD_ERR_CONFIG_INVALID` for a URL it cannot read.
 */
export function redisOptionsFromUrl (url: string): RedisTarget {
  const trimmed = url.trim()
  if (trimmed === '') throw invalid(url, 'is empty')
  if (/^(redis\+)?unix:/i.test(trimmed)) return unixTarget(trimmed)
  if (trimmed.startsWith('/') && !trimmed.startsWith('//')) return pathTarget(trimmed)
  return tcpTarget(trimmed)
}
