/**
 * CPU time from /proc (Linux): of one process, to show how busy a server was during a
 * measuring window, and of the whole machine, to show how much CPU other processes took
 * meanwhile. Readings are undefined where /proc is not available.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

let ticksPerSecond: number | undefined

function clockTicks (): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {
      ticksPerSecond = 100
    }
  }
  return ticksPerSecond
}

/** A CPU-time reading: seconds of CPU used so far, and when it was read. */
export interface CpuSample {
  cpuSeconds: number
  /** The part spent in the kernel (system time); 0 for the whole machine. */
  sysSeconds: number
  atNs: bigint
}

/** User + system CPU time of `pid` (all its threads). */
export function sampleCpu (pid: number): CpuSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const ticks = Number(fields[11]) + Number(fields[12]) // utime, stime (fields 14 and 15)
    return { cpuSeconds: ticks / clockTicks(), sysSeconds: Number(fields[12]) / clockTicks(), atNs: process.hrtime.bigint() }
  } catch {
    return undefined
  }
}

/**
 * Busy CPU time of the whole machine (all cores): user, nice, system, irq and softirq. Loopback
 * traffic is partly accounted as softirq there but as system time of the process that sent it.
 */
export function sampleMachine (): CpuSample | undefined {
  try {
    const [user, nice, system, , , irq, softirq] = readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/).slice(1, 8).map(Number)
    return { cpuSeconds: (user + nice + system + irq + softirq) / clockTicks(), sysSeconds: 0, atNs: process.hrtime.bigint() }
  } catch {
    return undefined
  }
}

/** CPU use between two samples, in percent of one core. */
export function cpuPercent (from: CpuSample | undefined, to: CpuSample | undefined): number | undefined {
  if (!from || !to) return undefined
  const wall = Number(to.atNs - from.atNs) / 1e9
  return wall > 0 ? (100 * (to.cpuSeconds - from.cpuSeconds)) / wall : undefined
}

/** System (kernel) CPU time between two samples of one process, in percent of one core. */
export function sysPercent (from: CpuSample | undefined, to: CpuSample | undefined): number | undefined {
  if (!from || !to) return undefined
  const wall = Number(to.atNs - from.atNs) / 1e9
  return wall > 0 ? (100 * (to.sysSeconds - from.sysSeconds)) / wall : undefined
}
