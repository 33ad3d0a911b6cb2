/**
 * A small strict parser of the Prometheus text exposition format (0.0.4), for tests: HELP and
 * TYPE lines, samples with labels (escapes `\\`, `\"`, `\n`), and histogram consistency (every
 * `_bucket` series has `le` ascending with counts that never fall, a `+Inf` bucket equal to
 * `_count`, and a `_sum`). Anything it does not understand throws.
 */

export interface Sample { name: string, labels: Record<string, string>, value: number }
export interface Family { name: string, help: string, type: string, samples: Sample[] }

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped'])

function parseLabels (text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {}
  let i = 0
  while (i < text.length) {
    const eq = text.indexOf('=', i)
    if (eq === -1) throw new Error(`bad labels in: ${line}`)
    const key = text.slice(i, eq)
    if (!NAME.test(key) || key in labels) throw new Error(`bad label name ${key} in: ${line}`)
    if (text[eq + 1] !== '"') throw new Error(`unquoted label value in: ${line}`)
    let j = eq + 2
    let value = ''
    for (;;) {
      if (j >= text.length) throw new Error(`unterminated label value in: ${line}`)
      const c = text[j]
      if (c === '"') break
      if (c === '\\') {
        const n = text[j + 1]
        if (n === '\\') value += '\\'
        else if (n === '"') value += '"'
        else if (n === 'n') value += '\n'
        else throw new Error(`bad escape in: ${line}`)
        j += 2
        continue
      }
      value += c
      j++
    }
    labels[key] = value
    i = j + 1
    if (i < text.length) {
      if (text[i] !== ',') throw new Error(`expected , in labels of: ${line}`)
      i++
    }
  }
  return labels
}

function parseValue (s: string, line: string): number {
  if (s === '+Inf') return Infinity
  if (s === '-Inf') return -Infinity
  // Prometheus reads values with Go's ParseFloat: NaN in any case (prom-client writes `Nan`)
  if (/^nan$/i.test(s)) return NaN
  if (!/^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$/.test(s)) throw new Error(`bad value in: ${line}`)
  return Number(s)
}

/** The family a sample name belongs to (a histogram's `_bucket`, `_sum`, `_count`). */
function familyOf (name: string, families: Map<string, Family>): Family | undefined {
  if (families.has(name)) return families.get(name)
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (name.endsWith(suffix)) {
      const f = families.get(name.slice(0, -suffix.length))
      if (f && (f.type === 'histogram' || f.type === 'summary')) return f
    }
  }
  return undefined
}

/** Parses an exposition; throws on anything malformed. */
export function parsePromText (text: string): Map<string, Family> {
  const families = new Map<string, Family>()
  for (const line of text.split('\n')) {
    if (line === '') continue
    if (line.startsWith('# HELP ')) {
      const rest = line.slice(7)
      const sp = rest.indexOf(' ')
      const name = sp === -1 ? rest : rest.slice(0, sp)
      if (!NAME.test(name)) throw new Error(`bad name: ${line}`)
      if (families.has(name)) throw new Error(`second HELP for ${name}`)
      families.set(name, { name, help: sp === -1 ? '' : rest.slice(sp + 1), type: 'untyped', samples: [] })
      continue
    }
    if (line.startsWith('# TYPE ')) {
      const [name, type, extra] = line.slice(7).split(' ')
      const f = families.get(name)
      if (!f || !TYPES.has(type) || extra !== undefined || f.samples.length > 0) throw new Error(`bad TYPE line: ${line}`)
      f.type = type
      continue
    }
    if (line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?[0-9]+)?$/.exec(line)
    if (!m) throw new Error(`bad sample line: ${line}`)
    const f = familyOf(m[1], families)
    if (!f) throw new Error(`sample without HELP/TYPE: ${line}`)
    f.samples.push({ name: m[1], labels: m[3] ? parseLabels(m[3], line) : {}, value: parseValue(m[4], line) })
  }
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f)
  return families
}

function checkHistogram (f: Family): void {
  const series = new Map<string, { buckets: Array<[number, number]>, sum?: number, count?: number }>()
  const keyOf = (labels: Record<string, string>): string => JSON.stringify(Object.entries(labels).filter(([k]) => k !== 'le').sort())
  for (const s of f.samples) {
    const key = keyOf(s.labels)
    let entry = series.get(key)
    if (!entry) series.set(key, (entry = { buckets: [] }))
    if (s.name === `${f.name}_bucket`) {
      if (s.labels.le === undefined) throw new Error(`${f.name}: bucket without le`)
      entry.buckets.push([parseValue(s.labels.le, s.labels.le), s.value])
    } else if (s.name === `${f.name}_sum`) entry.sum = s.value
    else if (s.name === `${f.name}_count`) entry.count = s.value
    else throw new Error(`${f.name}: stray sample ${s.name}`)
  }
  for (const [key, e] of series) {
    if (e.sum === undefined || e.count === undefined) throw new Error(`${f.name}${key}: no _sum or _count`)
    for (let i = 1; i < e.buckets.length; i++) {
      if (!(e.buckets[i][0] > e.buckets[i - 1][0])) throw new Error(`${f.name}${key}: le not ascending`)
      if (e.buckets[i][1] < e.buckets[i - 1][1]) throw new Error(`${f.name}${key}: bucket counts fall`)
    }
    const last = e.buckets[e.buckets.length - 1]
    if (!last || last[0] !== Infinity || last[1] !== e.count) throw new Error(`${f.name}${key}: +Inf bucket missing or not equal to _count`)
  }
}

/** The value of the sample `name` with exactly `labels` (0 when absent). */
export function valueOf (families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const f = familyOf(name, families)
  const want = JSON.stringify(Object.entries(labels).sort())
  const s = f?.samples.find((x) => x.name === name && JSON.stringify(Object.entries(x.labels).sort()) === want)
  return s?.value ?? 0
}
