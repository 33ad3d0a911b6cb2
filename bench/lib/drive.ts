/** A closed-loop load: `inFlight` loops each await `op(seq)` until `ms` have passed. */
import { performance } from 'node:perf_hooks'

/** One operation; resolves false when its result was wrong. */
export type Op = (seq: number) => Promise<boolean>

/** What a drive did. */
export interface Drive { ops: number, wrong: number, seconds: number }

/** Runs `op` from `inFlight` concurrent loops for `ms`. */
export async function drive (op: Op, inFlight: number, ms: number): Promise<Drive> {
  const start = performance.now()
  const end = start + ms
  let seq = 0
  let ops = 0
  let wrong = 0
  const loop = async (): Promise<void> => {
    while (performance.now() < end) {
      if (!await op(seq++)) wrong++
      ops++
    }
  }
  await Promise.all(Array.from({ length: inFlight }, loop))
  return { ops, wrong, seconds: (performance.now() - start) / 1000 }
}
