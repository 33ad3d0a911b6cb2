/**
 * The pipeline's admin guard (`static admin` actions), on admin/guard.ts's decision.
 */
import type { ConnectionRef } from '../core/contract.js'
import type { SdError } from '../core/errors.js'
import type { HttpExchange } from '../core/http-exchange.js'
import type { AdminCheck } from '../core/pipeline.js'
import { adminAllows, adminTokenDigest, checkAdmin, type AdminConfig, type AdminRequest } from '../admin/guard.js'

export { adminDefaults, adminAllows, isLoopback, type AdminConfig } from '../admin/guard.js'

/** The `Host` header as the decision reads it (sent twice: a name no loopback check accepts). */
function hostHeader (host: string | string[] | undefined): string | undefined {
  return Array.isArray(host) ? host.join(',') : host
}

/** The pipeline's admin guard for one application (core's `AdminCheck`). */
export class AdminGuard implements AdminCheck {
  readonly #config: AdminConfig
  readonly #tokenDigest: Buffer | undefined

  /** Checks the options (at boot: a bad token fails naming `admin.token`). */
  constructor (config: AdminConfig) {
    checkAdmin(config)
    this.#config = config
    this.#tokenDigest = adminTokenDigest(config)
  }

  /** `undefined`: the caller may run the admin action; else the error to answer. */
  check (conn: ConnectionRef | null, http: HttpExchange | null): SdError | undefined {
    const request: AdminRequest = http !== null
      ? { ip: http.request.ip, authorization: http.request.headers.authorization, host: hostHeader(http.request.headers.host) }
      : { ip: conn?.remoteAddress ?? '' }
    const verdict = adminAllows(request, this.#config, this.#tokenDigest)
    return verdict === true ? undefined : verdict
  }
}
