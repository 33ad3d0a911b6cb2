/**
 * Who runs a tick. With Redis, every node that reaches a tick tries to claim it with one atomic
 * script: `SET timer:{name}:tick:<time> <node> NX PX <ttl>`; only the node that sets the key runs
 * the tick, so a timer fires once per tick across every process sharing the Redis and key
 * prefix. The same script counts runs (`maxRuns`) and hands out a fencing token (INCR), so a
 * run can tell whether a newer run has started since. No node holds anything between ticks: a
 * node that dies simply stops claiming and the others take the next tick.
 * Without Redis the process is alone and claims every tick itself.
 */
import type { RedisClient } from '../data/redis.js'

/** Outcome of a claim: run with this fence, or leave the tick (another node has it, or `maxRuns` is reached). */
export type Claim = { won: true, fence: number } | { won: false, reason: 'taken' | 'exhausted' }

/** Claims ticks for the timers of one process. */
export interface TickClaims {
  /** True when claims are shared with other processes (Redis). */
  readonly shared: boolean
  /**
   * Claims tick `tick` of timer `name`; the claim is remembered for `ttlMs`. `maxRuns` 0 is
   * unlimited. Rejects when the claim cannot be made (Redis down): the tick must then be skipped.
   */
  claim (name: string, tick: number, ttlMs: number, maxRuns: number): Promise<Claim>
}

/** Claims of a process that is alone: every tick is won; fences count up from 1 per timer. */
export class LocalClaims implements TickClaims {
  readonly shared = false
  readonly #runs = new Map<string, number>()

  async claim (name: string, _tick: number, _ttlMs: number, maxRuns: number): Promise<Claim> {
    const runs = this.#runs.get(name) ?? 0
    if (maxRuns > 0 && runs >= maxRuns) return { won: false, reason: 'exhausted' }
    this.#runs.set(name, runs + 1)
    return { won: true, fence: runs + 1 }
  }
}

/**
 * KEYS: tick, runs, fence. ARGV: node, ttl ms, maxRuns (0: unlimited).
 * Returns -1 (taken), -2 (maxRuns reached) or the fence.
 */
const CLAIM_SCRIPT = `
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return -1 end
local max = tonumber(ARGV[3])
if max > 0 then
  if tonumber(redis.call('GET', KEYS[2]) or '0') >= max then return -2 end
  redis.call('INCR', KEYS[2])
end
return redis.call('INCR', KEYS[3])
`

/**
 * Redis keys of timer `name` (under the app's `redis.keyPrefix`). The `{name}` hash tag keeps
 * them in one slot, as a script needs on Redis Cluster.
 */
export function timerKeys (name: string): { tick: (tick: number) => string, runs: string, fence: string } {
  const base = `timer:{${name}}`
  return { tick: (tick) => `${base}:tick:${tick}`, runs: `${base}:runs`, fence: `${base}:fence` }
}

/** Claims shared through Redis by every process with the same Redis and key prefix. */
export class RedisClaims implements TickClaims {
  readonly shared = true
  readonly #redis: () => RedisClient
  readonly #node: string

  /** `redis` is called on each claim (the shared connection opens on first use). */
  constructor (redis: () => RedisClient, node: string) {
    this.#redis = redis
    this.#node = node
  }

  async claim (name: string, tick: number, ttlMs: number, maxRuns: number): Promise<Claim> {
    const k = timerKeys(name)
    const r = Number(await this.#redis().eval(CLAIM_SCRIPT, 3, k.tick(tick), k.runs, k.fence, this.#node, Math.ceil(ttlMs), maxRuns))
    if (r === -1) return { won: false, reason: 'taken' }
    if (r === -2) return { won: false, reason: 'exhausted' }
    return { won: true, fence: r }
  }
}
