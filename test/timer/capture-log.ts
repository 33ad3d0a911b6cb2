/** A pino logger whose lines are kept in memory, for asserting what the framework logged. */
import { pino, type Logger } from 'pino'

/** Logged lines (parsed JSON) and the logger writing them. */
export interface CapturedLog {
  logger: Logger
  lines: Array<Record<string, unknown>>
  /** Lines whose message starts with `prefix`. */
  with (prefix: string): Array<Record<string, unknown>>
}

/** A debug-level logger that records every line. */
export function captureLog (): CapturedLog {
  const lines: Array<Record<string, unknown>> = []
  const logger = pino({ level: 'debug' }, { write (line: string) { lines.push(JSON.parse(line) as Record<string, unknown>) } })
  return { logger, lines, with: (prefix) => lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith(prefix)) }
}
