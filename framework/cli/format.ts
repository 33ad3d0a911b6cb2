/** Text helpers of the CLI's output. */

/** `42s`, `3m5s`, `2h14m`. */
export function duration (ms: number): string {
  const s = Math.floor(ms / 1000)
  return s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m${s % 60}s` : `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`
}
