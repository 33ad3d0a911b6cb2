/**
 * Which processes `sd start` runs, from its flags (`--split`, `--gateway`, `--worker`,
 * `--dispatch`: one at most), and what each mode needs before anything is forked: a worker
 * for gateways elsewhere needs where to find them and the link secret; a gateway alone
 * needs the secret its workers (another run) share. A failed check is a usage error (exit 2).
 */
import { MIN_SECRET_BYTES } from '../cluster/link-auth.js'
import { redisConfigured } from '../data/redis.js'
import type { PrimaryMode } from '../multicore/primary.js'
import type { Config } from '../server/config.js'

/** The mode flags of `sd start`. */
export interface ModeFlags {
  split: boolean
  gateway: boolean
  worker: boolean
  dispatch: boolean
}

/** A start that cannot work as asked: its message says what to set. */
export class StartUsageError extends Error {}

/** The primary's mode, or `dispatch` for a dispatch server; throws when several are asked. */
export function startMode (flags: ModeFlags): PrimaryMode | 'dispatch' {
  const asked = (['split', 'gateway', 'worker', 'dispatch'] as const).filter((f) => flags[f])
  if (asked.length > 1) throw new StartUsageError(`${asked.map((f) => `--${f}`).join(' and ')} cannot be combined: --split, --gateway, --worker and --dispatch each start a different kind of process`)
  return asked[0] ?? 'direct'
}

/** The `gateway` section of the config (server/'s, issue 18), read loosely: fields may be absent. */
function gatewaySection (config: Config): { addresses?: unknown, secret?: unknown } {
  const section = (config as { gateway?: unknown }).gateway
  return typeof section === 'object' && section !== null ? section : {}
}

/** The link secret a gateway and its workers share: `SD_GATEWAY_SECRET`, `gateway.secret`, else the cluster's. */
export function configuredGatewaySecret (config: Config, env: Record<string, string | undefined> = process.env): string {
  const fromConfig = gatewaySection(config).secret
  return env.SD_GATEWAY_SECRET || (typeof fromConfig === 'string' ? fromConfig : '') || env.SD_CLUSTER_SECRET || config.cluster.secret || ''
}

/** Throws `StartUsageError` when `mode` lacks a setting it needs (nothing to check for direct and split). */
export function checkStartMode (mode: PrimaryMode, config: Config, env: Record<string, string | undefined> = process.env): void {
  if (mode !== 'gateway' && mode !== 'worker') return
  const flag = `--${mode}`
  if (mode === 'worker') {
    const addresses = gatewaySection(config).addresses
    const listed = Boolean(env.SD_GATEWAYS?.trim()) || (Array.isArray(addresses) && addresses.length > 0)
    if (!listed && !redisConfigured(config.redis)) {
      throw new StartUsageError(`${flag} needs to know its gateways: set SD_GATEWAYS (host:port,…) or gateway.addresses in config/gateway.ts, or Redis settings (REDIS_URL) to find them in the gateway registry`)
    }
  }
  const secret = configuredGatewaySecret(config, env)
  // one secret, or `new,old` while rotating: each at least MIN_SECRET_BYTES
  const parts = secret.split(',')
  if (parts.length > 2 || parts.some((p) => Buffer.byteLength(p) < MIN_SECRET_BYTES)) {
    const why = mode === 'worker' ? 'the gateways it links to' : 'its workers, started by another sd start --worker'
    throw new StartUsageError(`${flag} needs the link secret it shares with ${why}: set SD_GATEWAY_SECRET (or SD_CLUSTER_SECRET), at least ${MIN_SECRET_BYTES} bytes, the same on every gateway and worker (or new,old while rotating)`)
  }
}
