/**
 * A worker's bus calls, run on the gateway's own bus: `LocalBus`, or `ClusterBus` when the
 * gateway is a dispatch cluster node (a uid on another gateway is then reached through the
 * cluster, to exactly the node that holds it). Calls about one connection find it in the
 * gateway's table; a connection that closed meanwhile makes them a no-op.
 */
import type { PushMeta, PushOp, QueryOp } from '../connection/bus-ops.js'
import type { Bus, PushOptions } from '../connection/bus.js'
import type { ConnectionTable } from '../connection/table.js'
import type { MemberOp } from './protocol.js'

/** The options of a push that carries `meta` (none without). */
function metaOptions (meta: PushMeta | undefined): PushOptions | undefined {
  return meta === undefined ? undefined : { meta }
}

/** Runs a push (or kick/close) on `bus`; resolves to the count it reached. */
export async function runPushOp (bus: Bus, op: PushOp, data: unknown): Promise<number> {
  switch (op.o) {
    case 'uid': return bus.sendToUid(op.u, data, metaOptions(op.m))
    case 'uids': return bus.sendToUids(op.u, data, metaOptions(op.m))
    case 'group': return bus.sendToGroup(op.g, data, op.x === undefined && op.m === undefined ? undefined : { exclude: op.x, meta: op.m })
    case 'all': return bus.sendToAll(data, op.x === undefined && op.m === undefined ? undefined : { exclude: op.x, meta: op.m })
    case 'conn': return bus.sendToConnection(op.c, data, metaOptions(op.m))
    case 'kick': return bus.kickUid(op.u, op.r)
    case 'close': return (await bus.closeConnection(op.c, op.r)) ? 1 : 0
  }
}

/** Answers a query on `bus`; `connections` (per transport) comes from `local`. */
export async function runQueryOp (bus: Bus, op: QueryOp, local: () => Record<string, number>): Promise<unknown> {
  switch (op.o) {
    case 'online': return bus.isUidOnline(op.u)
    case 'count': return bus.onlineCount()
    case 'members': return bus.groupMembers(op.g)
    case 'groupCount': return bus.groupCount(op.g)
    case 'groups': return bus.groups()
    case 'connections': return (await bus.serverConnections?.()) ?? local()
  }
}

/** Runs a membership call on the connection it names; resolves to the connection's uid after it. */
export async function runMemberOp (bus: Bus, table: ConnectionTable, op: MemberOp): Promise<string | undefined> {
  const conn = table.get(op.c)
  if (conn === undefined) return undefined
  switch (op.m) {
    case 'bind': await bus.bindUid(conn, op.u, { kick: op.kick }); break
    case 'unbind': await bus.unbindUid(conn); break
    case 'join': await bus.joinGroup(conn, op.g); break
    case 'leave': await bus.leaveGroup(conn, op.g); break
  }
  return conn.uid
}
