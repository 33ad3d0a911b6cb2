/**
 * When a timer's ticks fall. A tick is an absolute time (ms since the epoch) computed from the
 * spec alone, never from when a process started, so every node of a cluster agrees on which
 * tick is due and can claim it by its time. Pure functions: the clock is always an argument.
 */
import { Cron } from 'croner'

/** The ticks of one timer. */
export interface Schedule {
  /** The first tick strictly after `afterMs`, or `null` when the schedule has ended. */
  next (afterMs: number): number | null
}

/** The window ticks must fall in: `startAt` inclusive, `endAt` exclusive (ms since the epoch). */
export interface TickWindow {
  startAt?: number
  endAt?: number
}

/**
 * Every `intervalMs`, aligned to `startAt` when given, else to the epoch: ticks are
 * `anchor + k × intervalMs` (`every: '5m'` runs at :00, :05, :10…, on every node alike).
 */
export function everySchedule (intervalMs: number, window: TickWindow = {}): Schedule {
  const anchor = window.startAt ?? 0
  const endAt = window.endAt
  return {
    next (afterMs) {
      const tick = afterMs < anchor ? anchor : anchor + (Math.floor((afterMs - anchor) / intervalMs) + 1) * intervalMs
      return endAt !== undefined && tick >= endAt ? null : tick
    },
  }
}

/**
 * A cron pattern (croner: 5 fields, or 6 with seconds first), in `timezone` (an IANA name) or
 * the process's local time zone. Throws croner's error for a bad pattern or time zone.
 */
export function cronSchedule (pattern: string, window: TickWindow = {}, timezone?: string): Schedule {
  const cron = new Cron(pattern, timezone === undefined ? {} : { timezone })
  const { startAt, endAt } = window
  return {
    next (afterMs) {
      const from = startAt !== undefined && afterMs < startAt ? startAt - 1 : afterMs
      const tick = cron.nextRun(new Date(from))?.getTime() ?? null
      return tick === null || (endAt !== undefined && tick >= endAt) ? null : tick
    },
  }
}

/** The first tick at or after `fromMs`. */
export function firstTick (schedule: Schedule, fromMs: number): number | null {
  return schedule.next(fromMs - 1)
}

/** Most ticks `dueTick` steps over one by one; past that (a big clock jump) it just resumes. */
const MAX_CATCH_UP = 1000

/**
 * What to do on waking at `nowMs` for the tick `due`: the tick to run (the latest one already
 * due: ticks a blocked event loop or a clock jump let pass are skipped, never run in a burst),
 * how many were skipped, and the tick after it. `run` is `null` when woken before `due`, and
 * when more than 1000 ticks were missed (then `next` is the first tick after `nowMs`).
 */
export function dueTick (schedule: Schedule, due: number, nowMs: number): { run: number | null, skipped: number, next: number | null } {
  if (nowMs < due) return { run: null, skipped: 0, next: due }
  let run = due
  let skipped = 0
  let next = schedule.next(run)
  while (next !== null && next <= nowMs) {
    if (++skipped > MAX_CATCH_UP) return { run: null, skipped, next: schedule.next(nowMs) }
    run = next
    next = schedule.next(run)
  }
  return { run, skipped, next }
}
