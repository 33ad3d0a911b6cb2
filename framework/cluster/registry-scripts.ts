/**
 * Lua scripts of the Redis cluster registry (framework/cluster/registry.ts), and how to
 * run them. Each script is atomic; every key a script names lives under the registry's
 * `{cluster}` hash tag, so on Redis Cluster they all hash to one slot (keys built inside a
 * script from ARGV[1], the full key prefix, are in that slot too).
 *
 * Key layout (P = `<keyPrefix>{<cluster>}:`):
 *   P node:<name>     string  node record (JSON), PX ttl, refreshed by heartbeats
 *   P servers         set     names of registered servers
 *   P dispatchers     set     names of registered dispatch servers
 *   P uid:<uid>       set     nodes holding at least one connection bound to uid
 *   P online          set     uids online on some node
 *   P nuids:<node>    set     uids held by node (reverse index, for purge)
 *   P group:<g>       hash    node → connections in g on that node
 *   P groups          zset    group → connections in it, all nodes (only groups > 0)
 *   P ngroups:<node>  hash    group → connections on node (reverse index, for purge)
 *   P sync:<node>     set     scratch set of a resync (expires after 60 s)
 *   P left:<node>     set     uids a purge of node took offline, until one server claims them (expires after 300 s)
 *   P stamp:<node>    string  the node's last replica-lag stamp (registry-replicas.ts; expires after 60 s)
 */
import { createHash } from 'node:crypto'
import type { RedisClient } from '../data/redis.js'
import type { ClusterRole } from './link-auth.js'

/** The keys of one node. */
export interface NodeKeys {
  record: string
  nuids: string
  online: string
  ngroups: string
  groups: string
}

/**
 * Key names of one cluster's registry, as passed to a client (which adds its own keyPrefix),
 * and the full prefix as stored (for keys a script builds itself).
 */
export class RegistryKeys {
  /** Prefix passed to commands: `<keyPrefix>{<cluster>}:`. */
  readonly prefix: string
  /** Prefix as stored in Redis (the client's keyPrefix + `prefix`): `sd:{<cluster>}:` by default. */
  readonly stored: string

  /**
   * `keyPrefix`: what the registry puts before `{cluster}:`; by default nothing when the
   * client has a keyPrefix of its own (the framework's connections use 'sd:'), else 'sd:'.
   */
  constructor (redis: RedisClient, cluster: string, keyPrefix?: string) {
    if (!/^[^{}\s]+$/.test(cluster)) throw new Error(`invalid cluster name ${JSON.stringify(cluster)}: no spaces or braces`)
    const options = redis.options as { keyPrefix?: string, redisOptions?: { keyPrefix?: string } }
    const clientPrefix = options.keyPrefix ?? options.redisOptions?.keyPrefix ?? ''
    this.prefix = `${keyPrefix ?? (clientPrefix ? '' : 'sd:')}{${cluster}}:`
    this.stored = clientPrefix + this.prefix
  }

  k (name: string): string { return this.prefix + name }

  node (name: string): NodeKeys {
    return { record: this.k(`node:${name}`), nuids: this.k(`nuids:${name}`), online: this.k('online'), ngroups: this.k(`ngroups:${name}`), groups: this.k('groups') }
  }

  roleSet (role: ClusterRole): string { return this.k(role === 'dispatch' ? 'dispatchers' : 'servers') }
}

/** A script and its SHA1 (EVALSHA first, EVAL when the server does not know it yet). */
export interface Script {
  readonly src: string
  readonly sha: string
}

function script (src: string): Script {
  return { src, sha: createHash('sha1').update(src).digest('hex') }
}

/** Runs `s` with `keys` (prefixed by the client like any key) and `args`. */
export async function runScript (redis: RedisClient, s: Script, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
  try {
    return await redis.evalsha(s.sha, keys.length, ...keys, ...args)
  } catch (err) {
    // a restarted (or new) Redis has an empty script cache
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err
    return redis.eval(s.src, keys.length, ...keys, ...args)
  }
}

/** Sets this node's connection count in a group (0 removes it) and keeps the totals. */
const SET_GROUP = `
local function setGroup (p, node, kng, kgroups, g, c)
  local old = tonumber(redis.call('HGET', kng, g) or '0')
  if c == old then return end
  local kg = p .. 'group:' .. g
  if c > 0 then
    redis.call('HSET', kng, g, c)
    redis.call('HSET', kg, node, c)
  else
    redis.call('HDEL', kng, g)
    redis.call('HDEL', kg, node)
  end
  if tonumber(redis.call('ZINCRBY', kgroups, c - old, g)) <= 0 then redis.call('ZREM', kgroups, g) end
end
local function addUid (p, node, knuids, konline, uid)
  redis.call('SADD', p .. 'uid:' .. uid, node)
  redis.call('SADD', knuids, uid)
  redis.call('SADD', konline, uid)
end
local function removeUid (p, node, knuids, konline, uid)
  local k = p .. 'uid:' .. uid
  redis.call('SREM', knuids, uid)
  redis.call('SREM', k, node)
  if redis.call('EXISTS', k) == 0 then redis.call('SREM', konline, uid) end
end
`

/**
 * Writes the node record. KEYS: record, role set. ARGV: record JSON, ttl ms, name, '1' for a
 * heartbeat (only refreshes an existing record). Returns 0 when a heartbeat found no record.
 */
export const REGISTER = script(`
if ARGV[4] == '1' then
  if not redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'XX') then return 0 end
else
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
redis.call('SADD', KEYS[2], ARGV[3])
return 1
`)

/**
 * Applies one batch of this node's changes. KEYS: record, nuids, online, ngroups, groups.
 * ARGV: prefix, node, n, then n pairs (uid, '1' bound here | '0' not any more), then pairs
 * (group, connections here). Returns -1 (and changes nothing) when the record is gone.
 */
export const APPLY = script(SET_GROUP + `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local p, node = ARGV[1], ARGV[2]
local i = 4
for _ = 1, tonumber(ARGV[3]) do
  if ARGV[i + 1] == '1' then addUid(p, node, KEYS[2], KEYS[3], ARGV[i]) else removeUid(p, node, KEYS[2], KEYS[3], ARGV[i]) end
  i = i + 2
end
while i < #ARGV do
  setGroup(p, node, KEYS[4], KEYS[5], ARGV[i], tonumber(ARGV[i + 1]))
  i = i + 2
end
return 1
`)

/**
 * Makes Redis hold exactly this node's state: uids = the scratch set, groups = ARGV pairs.
 * KEYS: record, nuids, online, ngroups, groups, scratch. ARGV: prefix, node, then pairs
 * (group, connections). Returns -1 when the record is gone.
 */
export const SYNC = script(SET_GROUP + `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local p, node = ARGV[1], ARGV[2]
for _, uid in ipairs(redis.call('SDIFF', KEYS[2], KEYS[6])) do removeUid(p, node, KEYS[2], KEYS[3], uid) end
for _, uid in ipairs(redis.call('SDIFF', KEYS[6], KEYS[2])) do addUid(p, node, KEYS[2], KEYS[3], uid) end
redis.call('DEL', KEYS[6])
local want = {}
for i = 3, #ARGV, 2 do want[ARGV[i]] = tonumber(ARGV[i + 1]) end
local have = redis.call('HGETALL', KEYS[4])
for i = 1, #have, 2 do
  if want[have[i]] == nil then setGroup(p, node, KEYS[4], KEYS[5], have[i], 0) end
end
for g, c in pairs(want) do setGroup(p, node, KEYS[4], KEYS[5], g, c) end
return 1
`)

/**
 * Removes up to ARGV[3] of a node's uids per call, then its groups and its name. KEYS: record,
 * nuids, online, ngroups, groups, servers, dispatchers. ARGV: prefix, node, batch, '1' to
 * delete the record first (the node deregistering itself). Returns -1 when the record exists
 * (the node is alive: nothing is purged), 1 when uids remain (call again), 0 when done.
 */
export const PURGE = script(SET_GROUP + `
if ARGV[4] == '1' then redis.call('DEL', KEYS[1]) elseif redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
local p, node = ARGV[1], ARGV[2]
for _, uid in ipairs(redis.call('SPOP', KEYS[2], tonumber(ARGV[3]))) do
  local k = p .. 'uid:' .. uid
  redis.call('SREM', k, node)
  if redis.call('EXISTS', k) == 0 then
    redis.call('SREM', KEYS[3], uid)
    redis.call('SADD', p .. 'left:' .. node, uid)
    redis.call('EXPIRE', p .. 'left:' .. node, 300)
  end
end
if redis.call('EXISTS', KEYS[2]) == 1 then return 1 end
local have = redis.call('HGETALL', KEYS[4])
for i = 1, #have, 2 do setGroup(p, node, KEYS[4], KEYS[5], have[i], 0) end
redis.call('DEL', KEYS[4])
redis.call('SREM', KEYS[6], node)
redis.call('SREM', KEYS[7], node)
return 0
`)

/**
 * Claims the uids a purge of a dead node took offline: -1 while the purge is not done (KEYS:
 * nuids, left, servers; ARGV: node), else the uids, to the first caller only (later ones get []).
 */
export const CLAIM_LEFT = script(`
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 1 then return -1 end
local uids = redis.call('SMEMBERS', KEYS[2])
redis.call('DEL', KEYS[2])
return uids
`)

/**
 * Every registered name with its record ('' when the record expired). KEYS: servers,
 * dispatchers. ARGV: prefix. Returns [name, record, name, record, …].
 */
export const SNAPSHOT = script(`
local out = {}
for _, set in ipairs(KEYS) do
  for _, name in ipairs(redis.call('SMEMBERS', set)) do
    out[#out + 1] = name
    out[#out + 1] = redis.call('GET', ARGV[1] .. 'node:' .. name) or ''
  end
end
return out
`)
