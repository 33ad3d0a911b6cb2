/**
 * A clock read once per event-loop turn: hot paths that stamp many messages in one turn (the
 * cluster's request times, the uid cache's ages) share one `Date.now()` instead of one each.
 * The value is at most one turn old: the first read of a turn schedules a `setImmediate` that
 * lets the next read ask again (and a pending immediate keeps the loop from sleeping in between).
 */
let now = 0
let current = false

function expire (): void {
  current = false
}

/** Milliseconds since the epoch, as of this turn's first read. */
export function turnNow (): number {
  if (!current) {
    now = Date.now()
    current = true
    setImmediate(expire)
  }
  return now
}
