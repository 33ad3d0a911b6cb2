/** Options of recovery and acknowledgements (`config/recovery.ts`), with their defaults. */
import { SdError } from '../core/errors.js'

/** Where recoverable pushes are kept: Redis when configured (`auto`), or this process's memory. */
export type RecoveryStoreName = 'auto' | 'memory' | 'redis'

/** `config/recovery.ts`: which pushes a reconnecting client can recover, and how long. */
export interface RecoveryConfig {
  /** Keep history and answer `/sd/recover` (off: `/sd/recover` answers every stream with a gap). @default true */
  enabled: boolean
  /** `auto` (Redis when Redis is configured, else memory), `memory` or `redis`. @default 'auto' */
  store: RecoveryStoreName
  /** Entries kept per stream (the oldest go first). @default 100 */
  maxCount: number
  /** Entries older than this are not recovered; an idle stream is dropped after it. @default 300000 */
  maxAgeMs: number
  /** Memory store: streams kept at most (the least recently written is dropped). @default 10000 */
  maxStreams: number
  /** Every sendToUid / sendToUids is recoverable (a send's `recover` option overrides it). @default false */
  uids: boolean
  /** Groups whose sendToGroup is recoverable: names, or prefixes ending in `*` (`'room:*'`). @default [] */
  groups: string[]
  /** How long a `sendToUid(..., {ack: true})` waits for acknowledgements when the send gives no `timeoutMs`. @default 5000 */
  ackTimeoutMs: number
}

/** Defaults of `config.recovery`. */
export function recoveryDefaults (): RecoveryConfig {
  return { enabled: true, store: 'auto', maxCount: 100, maxAgeMs: 300_000, maxStreams: 10_000, uids: false, groups: [], ackTimeoutMs: 5000 }
}

/** Allowed values of the enum keys, by config path. */
export const recoveryEnums: Record<string, readonly string[]> = {
  'recovery.store': ['auto', 'memory', 'redis'],
}

/** Checks what the key-by-key merge cannot (ranges); throws SD_ERR_CONFIG_INVALID naming the key. */
export function checkRecovery (c: RecoveryConfig): void {
  if (c.maxCount < 1) throw new SdError('SD_ERR_CONFIG_INVALID', `recovery.maxCount must be at least 1, got ${c.maxCount}`)
  if (c.maxAgeMs < 1) throw new SdError('SD_ERR_CONFIG_INVALID', `recovery.maxAgeMs must be at least 1, got ${c.maxAgeMs}`)
  if (c.maxStreams < 1) throw new SdError('SD_ERR_CONFIG_INVALID', `recovery.maxStreams must be at least 1, got ${c.maxStreams}`)
  for (const g of c.groups) {
    if (g === '' || g.indexOf('*') !== -1 && g.indexOf('*') !== g.length - 1) throw new SdError('SD_ERR_CONFIG_INVALID', `recovery.groups: ${JSON.stringify(g)} must be a group name or a prefix ending in *`)
  }
}

/** A test of group names against `recovery.groups` (exact names and `prefix*`). */
export function groupMatcher (patterns: readonly string[]): (group: string) => boolean {
  const exact = new Set<string>()
  const prefixes: string[] = []
  for (const p of patterns) {
    if (p.endsWith('*')) prefixes.push(p.slice(0, -1))
    else exact.add(p)
  }
  if (prefixes.length === 0) return (g) => exact.has(g)
  return (g) => exact.has(g) || prefixes.some((p) => g.startsWith(p))
}
