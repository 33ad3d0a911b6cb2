/** What `sd status` reports about a server run by a Primary (primary.ts), and its lifecycle. */
import type { WorkerStats } from './ipc-protocol.js'
import type { Ports } from './ports.js'
import type { PrimaryMode, SlotRole } from './roles.js'

/** One worker as `sd status` shows it. */
export interface WorkerStatus {
  /** Slot number: 0 for the gateway, 1..N for servers and workers. */
  id: number
  role: SlotRole
  pid: number
  /** `serving`, or `down` while a crashed worker is being restarted. */
  state: 'serving' | 'down'
  uptimeMs: number
  /** Times this slot's worker was restarted after a crash. */
  restarts: number
  stats?: WorkerStats
}

/** What `sd status` reports. */
export interface ServerStatus {
  /** Pid of the primary. */
  pid: number
  status: PrimaryStatus
  mode: PrimaryMode
  uptimeMs: number
  /** The server's (direct) or the gateway's ports (with `gateway`, its link port); `{}` in worker mode. */
  ports: Ports
  workers: WorkerStatus[]
  /** Open connections by transport, all workers. */
  connections: Record<string, number>
}

/** Lifecycle of the primary. */
export type PrimaryStatus = 'starting' | 'running' | 'reloading' | 'stopping' | 'stopped'
