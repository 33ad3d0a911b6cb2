/**
 * Admission control: every client socket of a process (TCP, text, HTTP, WebSocket) asks here
 * before anything is read from it. Over `server.maxConnections` (all ports together) or
 * `server.maxConnectionsPerIp` it is refused at once (the transport writes its refusal and
 * closes it), so the process refuses clients before it runs out of descriptors. Refusals and
 * accept failures (EMFILE/ENFILE) are logged once per interval with counts, never per socket.
 */
import { readFileSync } from 'node:fs'
import type { Logger } from 'pino'
import { SdError } from '../core/errors.js'

/** How often refusals and accept failures are logged (the first at once, then a count per interval). */
export const ADMISSION_LOG_INTERVAL_MS = 5000

/** Open-files limit assumed where /proc/self/limits cannot be read. */
const FALLBACK_NOFILE = 4096

/** The soft open-files limit of this process: /proc/self/limits on Linux, else a fallback. */
export function openFilesLimit (read: () => string = () => readFileSync('/proc/self/limits', 'utf8')): number {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(read())
    if (m === null) return FALLBACK_NOFILE
    return m[1] === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(m[1])
  } catch {
    return FALLBACK_NOFILE
  }
}

/**
 * `server.maxConnections` when it is 0: the open-files limit less the headroom kept for
 * everything else a process opens (MySQL and Redis pools, cluster links, task threads, log and
 * view files, the IPC channel): a tenth of the limit and 256 more, at least 64 sockets.
 */
export function defaultMaxConnections (nofile: number = openFilesLimit()): number {
  return Math.max(64, nofile - Math.floor(nofile / 10) - 256)
}

/** `::ffff:1.2.3.4` (an IPv4 client on a dual-stack socket) counts as `1.2.3.4`. */
function ipKey (address: string | undefined): string {
  if (address === undefined) return ''
  return address.startsWith('::ffff:') ? address.slice(7) : address
}

/** Limits of `Admission`. */
export interface AdmissionLimits {
  /** 0: derived from the open-files limit. */
  maxConnections: number
  /** 0: no limit. */
  maxConnectionsPerIp: number
}

/** Counts a process's open client sockets and decides whether a new one gets in. */
export class Admission {
  /** Effective limit of open sockets in this process. */
  readonly maxConnections: number
  readonly maxConnectionsPerIp: number
  readonly #log: Logger
  /** Sockets the open-files limit leaves for clients (`defaultMaxConnections`). */
  readonly #fits: number
  readonly #nofile: number
  #open = 0
  readonly #byIp = new Map<string, number>()
  /** Refusals since the last log line, by reason. */
  #refusedTotal = 0
  #refusedPerIp = 0
  #acceptErrors = 0
  #lastAcceptError = ''
  /** Sockets admitted past `#fits` (only when maxConnections is set above it). */
  #overBudget = 0
  #logTimer: NodeJS.Timeout | undefined

  constructor (limits: AdmissionLimits, log: Logger) {
    const nofile = openFilesLimit()
    const fits = defaultMaxConnections(nofile)
    this.maxConnections = limits.maxConnections > 0 ? limits.maxConnections : fits
    this.maxConnectionsPerIp = limits.maxConnectionsPerIp
    this.#log = log
    this.#fits = fits
    this.#nofile = nofile
    if (this.maxConnections > fits) {
      log.warn({ maxConnections: this.maxConnections, openFilesLimit: nofile, fits },
        'server.maxConnections is more than the open-files limit leaves for clients: past that, new connections are closed unanswered (raise ulimit -n)')
    }
  }

  /** Open client sockets of this process. */
  get open (): number {
    return this.#open
  }

  /**
   * Counts a new socket from `address` in, or returns why it is refused (it is then not
   * counted). Every admitted socket must be `release`d once when it closes.
   */
  admit (address: string | undefined): SdError | undefined {
    const ip = ipKey(address)
    if (this.#open >= this.maxConnections) {
      this.#refusedTotal++
      this.#logSoon()
      return new SdError('SD_ERR_TOO_MANY_CONNECTIONS', `this server holds its maximum of ${this.maxConnections}`)
    }
    const fromIp = this.#byIp.get(ip) ?? 0
    if (this.maxConnectionsPerIp > 0 && fromIp >= this.maxConnectionsPerIp) {
      this.#refusedPerIp++
      this.#logSoon()
      return new SdError('SD_ERR_TOO_MANY_CONNECTIONS', `at most ${this.maxConnectionsPerIp} from one address`)
    }
    this.#byIp.set(ip, fromIp + 1)
    if (++this.#open > this.#fits) {
      // past the descriptor budget libuv closes accepted sockets unanswered when it runs out (EMFILE)
      this.#overBudget++
      this.#logSoon()
    }
    return undefined
  }

  /** A socket counted in by `admit` has closed. */
  release (address: string | undefined): void {
    const ip = ipKey(address)
    this.#open--
    const n = (this.#byIp.get(ip) ?? 1) - 1
    if (n <= 0) this.#byIp.delete(ip)
    else this.#byIp.set(ip, n)
  }

  /**
   * A listener's accept failed. EMFILE/ENFILE (out of descriptors) are counted and logged once
   * per interval; libuv keeps accepting once descriptors are free again. Returns false for
   * other errors (the caller logs them).
   */
  acceptFailed (err: NodeJS.ErrnoException): boolean {
    if (err.code !== 'EMFILE' && err.code !== 'ENFILE') return false
    this.#acceptErrors++
    this.#lastAcceptError = err.code
    this.#logSoon()
    return true
  }

  /** Logs at once when no line went out in the current interval, else at its end. */
  #logSoon (): void {
    if (this.#logTimer !== undefined) return
    this.#flushLog()
    this.#logTimer = setTimeout(() => this.#tick(), ADMISSION_LOG_INTERVAL_MS)
    this.#logTimer.unref()
  }

  #tick (): void {
    this.#logTimer = undefined
    if (this.#refusedTotal + this.#refusedPerIp + this.#acceptErrors + this.#overBudget === 0) return
    this.#flushLog()
    this.#logTimer = setTimeout(() => this.#tick(), ADMISSION_LOG_INTERVAL_MS)
    this.#logTimer.unref()
  }

  #flushLog (): void {
    const refused = this.#refusedTotal + this.#refusedPerIp
    const intervalMs = ADMISSION_LOG_INTERVAL_MS
    if (refused > 0) {
      this.#log.warn({ refused, overMaxConnections: this.#refusedTotal, overPerIp: this.#refusedPerIp, open: this.#open, maxConnections: this.maxConnections, maxConnectionsPerIp: this.maxConnectionsPerIp, intervalMs },
        `connections refused (SD_ERR_TOO_MANY_CONNECTIONS): ${refused} since the last report`)
    }
    if (this.#acceptErrors > 0) {
      this.#log.error({ code: this.#lastAcceptError, failures: this.#acceptErrors, open: this.#open, intervalMs },
        `out of file descriptors (${this.#lastAcceptError}): ${this.#acceptErrors} accept failures since the last report; pending connections are closed until descriptors are free`)
    }
    if (this.#overBudget > 0) {
      this.#log.error({ admitted: this.#overBudget, open: this.#open, openFilesLimit: this.#nofile, fits: this.#fits, intervalMs },
        `near the open-files limit (${this.#nofile}): ${this.#overBudget} sockets admitted past what it leaves for clients; once descriptors run out (EMFILE) new connections are closed unanswered (raise ulimit -n, or lower server.maxConnections)`)
    }
    this.#refusedTotal = 0
    this.#refusedPerIp = 0
    this.#acceptErrors = 0
    this.#overBudget = 0
  }

  /** Stops the log timer (the process is stopping). */
  close (): void {
    clearTimeout(this.#logTimer)
    this.#logTimer = undefined
  }
}
