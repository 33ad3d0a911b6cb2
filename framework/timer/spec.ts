/**
 * `config/timers.ts`: the shape of one timer, and its check. A spec is compiled into a plan
 * (its schedule and limits); every mistake is an `SD_ERR_CONFIG_INVALID` naming
 * `timers.<name>.<key>`, raised while the config loads.
 */
import { SdError } from '../core/errors.js'
import { cronSchedule, everySchedule, type Schedule, type TickWindow } from './schedule.js'

/** A duration: ms as a number, or `'500ms'`, `'30s'`, `'5m'`, `'1h'`. */
export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h'}`

/** A point in time: an ISO 8601 string (give an offset, e.g. `Z`), epoch ms, or a Date. */
export type TimePoint = string | number | Date

/** One timer of `config/timers.ts`. */
export interface TimerSpec {
  /** Timer class in `app.timersDir` (by export name) whose `method` runs on each tick; or give `task`. */
  handler?: string
  /** Task class in `tasks.dir` whose `method` runs on the task pool on each tick; or give `handler`. */
  task?: string
  /** Method to call. @default 'run' */
  method?: string
  /** Run every this long, ticks aligned to `startAt` (else the epoch); or give `cron`. */
  every?: Duration
  /** Cron pattern (5 fields, or 6 with seconds first), e.g. `'*\/5 * * * *'`; or give `every`. */
  cron?: string
  /** IANA time zone of `cron` (every node must agree). @default the process's local time zone */
  timezone?: string
  /** No tick before this time (inclusive). @default none */
  startAt?: TimePoint
  /** No tick at or after this time. @default none */
  endAt?: TimePoint
  /** Runs in total, then the timer ends (counted cluster-wide when Redis is configured). @default unlimited */
  maxRuns?: number
  /** `every` only: this process takes no tick until this long after the app started. @default 0 */
  delayMs?: number
}

/** `config/timers.ts`: timer name → spec. */
export type TimersConfig = Record<string, TimerSpec>

/** What runs on a tick: a Timer class's method or a Task class's method. */
export interface TimerTarget {
  kind: 'handler' | 'task'
  /** Class name. */
  name: string
  method: string
}

/** A checked timer, ready to schedule. */
export interface TimerPlan {
  name: string
  target: TimerTarget
  schedule: Schedule
  /** 0: unlimited. */
  maxRuns: number
  delayMs: number
}

/** Shortest `every`. */
export const MIN_INTERVAL_MS = 10

const keys = new Set(['handler', 'task', 'method', 'every', 'cron', 'timezone', 'startAt', 'endAt', 'maxRuns', 'delayMs'])
const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
const NAME = /^[\w.-]+$/
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/

function invalid (key: string, why: string): SdError {
  return new SdError('SD_ERR_CONFIG_INVALID', `${key} ${why}`)
}

/** Milliseconds of a duration, or `undefined` when it is not one. */
export function parseDuration (value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined
  if (typeof value !== 'string') return undefined
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$/.exec(value.trim())
  return m ? Number(m[1]) * units[m[2]] : undefined
}

/** Epoch ms of a time point, or `undefined` when it is not one. */
export function parseTime (value: unknown): number | undefined {
  const ms = value instanceof Date ? value.getTime() : typeof value === 'string' ? Date.parse(value) : value
  return typeof ms === 'number' && Number.isFinite(ms) ? ms : undefined
}

function optionalTime (spec: TimerSpec, key: 'startAt' | 'endAt', path: string): number | undefined {
  if (spec[key] === undefined) return undefined
  const ms = parseTime(spec[key])
  if (ms === undefined) throw invalid(`${path}.${key}`, `must be an ISO 8601 time or epoch ms, got ${JSON.stringify(spec[key])}`)
  return ms
}

function optionalCount (spec: TimerSpec, key: 'maxRuns' | 'delayMs', path: string, min: number): number {
  const value = spec[key]
  if (value === undefined) return 0
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw invalid(`${path}.${key}`, `must be an integer >= ${min}, got ${JSON.stringify(value)}`)
  }
  return value
}

function target (spec: TimerSpec, path: string): TimerTarget {
  if ((spec.handler === undefined) === (spec.task === undefined)) throw invalid(path, 'must have exactly one of `handler` (a Timer class) and `task` (a Task class)')
  const kind = spec.handler !== undefined ? 'handler' : 'task'
  const name = spec[kind]
  if (typeof name !== 'string' || !IDENTIFIER.test(name)) throw invalid(`${path}.${kind}`, `must be a class name, got ${JSON.stringify(name)}`)
  const method = spec.method ?? 'run'
  if (typeof method !== 'string' || !IDENTIFIER.test(method)) throw invalid(`${path}.method`, `must be a method name, got ${JSON.stringify(method)}`)
  return { kind, name, method }
}

function schedule (spec: TimerSpec, path: string, window: TickWindow): Schedule {
  if ((spec.every === undefined) === (spec.cron === undefined)) throw invalid(path, 'must have exactly one of `every` and `cron`')
  if (spec.every !== undefined) {
    if (spec.timezone !== undefined) throw invalid(`${path}.timezone`, 'applies to `cron` only')
    const ms = parseDuration(spec.every)
    if (ms === undefined || !Number.isInteger(ms) || ms < MIN_INTERVAL_MS) {
      throw invalid(`${path}.every`, `must be a whole number of ms >= ${MIN_INTERVAL_MS} or a duration like '500ms', '30s', '5m', '1h', got ${JSON.stringify(spec.every)}`)
    }
    return everySchedule(ms, window)
  }
  if (spec.delayMs !== undefined) throw invalid(`${path}.delayMs`, 'applies to `every` only (a cron pattern says when it runs)')
  if (typeof spec.cron !== 'string') throw invalid(`${path}.cron`, `must be a cron pattern string, got ${JSON.stringify(spec.cron)}`)
  if (spec.timezone !== undefined && typeof spec.timezone !== 'string') throw invalid(`${path}.timezone`, 'must be an IANA time zone name')
  let s: Schedule
  try {
    s = cronSchedule(spec.cron, window, spec.timezone)
    s.next(window.startAt ?? Date.now())
  } catch (err) {
    const key = spec.timezone !== undefined && /timezone/i.test(String((err as Error).message)) ? 'timezone' : 'cron'
    throw invalid(`${path}.${key}`, `is not valid: ${(err as Error).message}`)
  }
  return s
}

/** Checks one spec and compiles it; throws `SD_ERR_CONFIG_INVALID` naming the key. */
export function compileTimer (name: string, spec: unknown): TimerPlan {
  const path = `timers.${name}`
  if (!NAME.test(name)) throw invalid(path, 'has a bad name: use letters, digits, `_`, `-` and `.`')
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw invalid(path, 'must be an object')
  for (const key of Object.keys(spec)) {
    if (!keys.has(key)) throw invalid(`${path}.${key}`, 'is not a known option')
  }
  const s = spec as TimerSpec
  const startAt = optionalTime(s, 'startAt', path)
  const endAt = optionalTime(s, 'endAt', path)
  if (startAt !== undefined && endAt !== undefined && endAt <= startAt) throw invalid(`${path}.endAt`, 'must be after startAt')
  return {
    name,
    target: target(s, path),
    schedule: schedule(s, path, { startAt, endAt }),
    maxRuns: optionalCount(s, 'maxRuns', path, 1),
    delayMs: optionalCount(s, 'delayMs', path, 0),
  }
}

/** The `timers` config section's check (like `routes`, a record with its own rules). */
export function checkTimers (value: unknown): TimersConfig {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('timers', 'must be an object of name → timer')
  for (const [name, spec] of Object.entries(value)) compileTimer(name, spec)
  return value as TimersConfig
}
