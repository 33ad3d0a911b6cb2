/**
 * A publish of the admin listener (`POST /sd/publish`) run on a bus: one target (a uid, uids, a
 * group or everyone), the data, and the send option `recover`. Shared by the in-process
 * admin listener (server/ops.ts) and a worker process answering its primary's `publish`.
 */
import type { Bus } from './bus.js'

/** Who a publish reaches: exactly one of the four (admin/sources.ts's `PublishTarget`). */
export type BusTarget =
  | { uid: string }
  | { uids: string[] }
  | { group: string }
  | { all: true }

/** Pushes `data` to `to` through `bus`; resolves to the number of connections reached. */
export function publishOnBus (bus: Bus, to: BusTarget, data: unknown, recover?: boolean): Promise<number> {
  const options = recover === undefined ? undefined : { recover }
  if ('uid' in to) return bus.sendToUid(to.uid, data, options)
  if ('uids' in to) return bus.sendToUids(to.uids, data, options)
  if ('group' in to) return bus.sendToGroup(to.group, data, options)
  return bus.sendToAll(data, options)
}
