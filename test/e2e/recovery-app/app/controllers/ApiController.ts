import { Controller } from '../../../../../framework/index.js'

/** Routes of the recovery tests: log in (bind + join), room and private sends, where it ran. */
export class ApiController extends Controller {
  /** Binds `uid` and joins `room` (when given). */
  async login (data: { uid: string, room?: string }): Promise<boolean> {
    await this.bindUid(data.uid)
    if (data.room !== undefined) await this.joinGroup(data.room)
    return true
  }

  /** A room message; `self: false` excludes the sender's connection. */
  toRoom (data: { room: string, data: unknown, self?: boolean }): Promise<number> {
    return this.sendToGroup(data.room, data.data, { exclude: data.self === false ? this.connectionId : undefined })
  }

  /** A private message (recoverable: `recovery.uids`); `ack` waits for acknowledgements. */
  toUid (data: { uid: string, data: unknown, ack?: boolean, timeoutMs?: number }): Promise<number> {
    return this.sendToUid(data.uid, data.data, { ack: data.ack === true, timeoutMs: data.timeoutMs })
  }

  /** Whether `uid` is online and a member of `room`, as this node sees it (cluster tests wait for it). */
  async present (data: { uid: string, room: string }): Promise<boolean> {
    return await this.isUidOnline(data.uid) && (await this.groupMembers(data.room)).includes(data.uid)
  }

  /** The process and node that answered. */
  where (): { pid: number, node: string } {
    return { pid: process.pid, node: this.config.app.nodeName }
  }
}
