/**
 * The bus seam's fake for decorator tests: a LocalBus over a real table that records every
 * push with the options (and meta) it was given.
 */
import { LocalBus, type PushOptions } from '../../framework/connection/bus.js'
import type { ConnectionTable } from '../../framework/connection/table.js'
import type { Uid } from '../../framework/core/contract.js'

/** One push call as the inner bus received it. */
export interface RecordedPush {
  op: 'conn' | 'uid' | 'uids' | 'all' | 'group'
  target: unknown
  data: unknown
  options: PushOptions | undefined
}

export class RecordingBus extends LocalBus {
  readonly pushes: RecordedPush[] = []

  constructor (table: ConnectionTable) {
    super(table)
  }

  override sendToConnection (connectionId: string, data: unknown, options?: PushOptions): Promise<number> {
    this.pushes.push({ op: 'conn', target: connectionId, data, options })
    return super.sendToConnection(connectionId, data)
  }

  override sendToUid (uid: Uid, data: unknown, options?: PushOptions): Promise<number> {
    this.pushes.push({ op: 'uid', target: uid, data, options })
    return super.sendToUid(uid, data)
  }

  override sendToUids (uids: readonly Uid[], data: unknown, options?: PushOptions): Promise<number> {
    this.pushes.push({ op: 'uids', target: uids, data, options })
    return super.sendToUids(uids, data)
  }

  override sendToAll (data: unknown, options?: PushOptions): Promise<number> {
    this.pushes.push({ op: 'all', target: undefined, data, options })
    return super.sendToAll(data, options)
  }

  override sendToGroup (group: string, data: unknown, options?: PushOptions): Promise<number> {
    this.pushes.push({ op: 'group', target: group, data, options })
    return super.sendToGroup(group, data, options)
  }
}
