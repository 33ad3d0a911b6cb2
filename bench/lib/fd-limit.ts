/**
 * The descriptor limit of this process and whether children may be given a higher one
 * (`prlimit` raises a hard limit only with CAP_SYS_RESOURCE).
 */
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

/** Soft and hard `RLIMIT_NOFILE` of this process (Infinity when unlimited or unknown). */
export function openFileLimit (): { soft: number, hard: number } {
  let line: string | undefined
  try {
    line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'))
  } catch {}
  const [soft, hard] = (line?.slice('Max open files'.length).trim().split(/\s+/) ?? []).map(Number)
  return { soft: Number.isNaN(soft) ? Infinity : soft, hard: Number.isNaN(hard) ? Infinity : hard }
}

/** True when a child can be started with `prlimit --nofile=n:n`. */
export function canRaiseOpenFiles (n: number): boolean {
  return spawnSync('prlimit', [`--nofile=${n}:${n}`, 'true']).status === 0
}
