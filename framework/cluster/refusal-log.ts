/**
 * Refused link connections, logged as one summary per interval with counts by reason (a flood
 * of bad handshakes would otherwise write one warning per connection: 29,000 lines in 8 s).
 */
import type { Logger } from 'pino'

/**
 * The reason a refusal is counted under: the handshake's failure kind (`timeout`, `denied`,
 * `protocol`, `closed` by the peer); a protocol error the link itself caught counts as `protocol`.
 */
export function refusalReason (err: Error & { reason?: string }): string {
  if (err.reason === 'closed') return /protocol error|before authentication/.test(err.message) ? 'protocol' : 'closed'
  return err.reason ?? 'other'
}

/** How many distinct remote addresses a summary names. */
const SAMPLE_REMOTES = 5

/** Counts refusals and logs them as one `warn` line per interval that had any. */
export class RefusalLog {
  readonly #log: Logger | undefined
  readonly #intervalMs: number
  #total = 0
  #reasons: Record<string, number> = {}
  #remotes = new Set<string>()
  #timer: NodeJS.Timeout | undefined

  constructor (log: Logger | undefined, intervalMs: number) {
    this.#log = log
    this.#intervalMs = intervalMs
  }

  /** Counts one refusal of `remote` (`host:port`) for `reason`. */
  note (remote: string, reason: string): void {
    this.#total++
    this.#reasons[reason] = (this.#reasons[reason] ?? 0) + 1
    if (this.#remotes.size < SAMPLE_REMOTES) this.#remotes.add(remote.slice(0, remote.lastIndexOf(':')))
    if (this.#timer === undefined) {
      this.#timer = setTimeout(() => this.flush(), this.#intervalMs)
      this.#timer.unref()
    }
  }

  /** Logs what was counted since the last summary (nothing when there was nothing). */
  flush (): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    if (this.#total === 0) return
    const refused = this.#total
    this.#log?.warn({ refused, reasons: this.#reasons, remotes: [...this.#remotes], intervalMs: this.#intervalMs },
      `${refused} link connection${refused === 1 ? '' : 's'} refused before authenticating`)
    this.#total = 0
    this.#reasons = {}
    this.#remotes = new Set()
  }
}
