/** Plain-text tables for the benchmark output (also pasted into docs/benchmarks.md). */

/** Formats rows under a header; numbers should already be strings. Right-aligns columns listed in `right`. */
export function table (header: string[], rows: string[][], right: ReadonlySet<number> = new Set()): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]): string =>
    cells.map((c, i) => (right.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd()
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

/** `123456.7` → `123,457`. */
export function int (n: number): string {
  return Math.round(n).toLocaleString('en-US')
}

/** Percent with no decimals, or `?` when unknown. */
export function pct (n: number | undefined): string {
  return n === undefined ? '?' : `${Math.round(n)}%`
}
