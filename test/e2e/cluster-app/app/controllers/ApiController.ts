import { Controller } from '../../../../../framework/index.js'

type Exclude = { exclude?: string | string[] }

/** Every Bus call a controller can make, one route each (the cluster tests call them across servers). */
export class ApiController extends Controller {
  where (): { node: string, connectionId: string | undefined, cluster: unknown } {
    return { node: this.config.app.nodeName, connectionId: this.connectionId, cluster: this.nodeStats().cluster }
  }

  async bind (data: { uid: string, kick?: boolean }): Promise<string | undefined> {
    await this.bindUid(data.uid, { kick: data.kick === true })
    return this.connectionId
  }

  async unbind (): Promise<boolean> {
    await this.unbindUid()
    return true
  }

  async join (data: { group: string }): Promise<boolean> {
    await this.joinGroup(data.group)
    return true
  }

  async leave (data: { group: string }): Promise<boolean> {
    await this.leaveGroup(data.group)
    return true
  }

  toUid (data: { uid: string, data: unknown }): Promise<number> {
    return this.sendToUid(data.uid, data.data)
  }

  /** `n` sendToUid calls at once; answers what each reported. */
  toUidMany (data: { uid: string, data: unknown, n: number }): Promise<number[]> {
    return Promise.all(Array.from({ length: data.n }, () => this.sendToUid(data.uid, data.data)))
  }

  toUids (data: { uids: string[], data: unknown }): Promise<number> {
    return this.sendToUids(data.uids, data.data)
  }

  toAll (data: { data: unknown } & Exclude): Promise<number> {
    return this.sendToAll(data.data, { exclude: data.exclude })
  }

  toGroup (data: { group: string, data: unknown } & Exclude): Promise<number> {
    return this.sendToGroup(data.group, data.data, { exclude: data.exclude })
  }

  toConnection (data: { id: string, data: unknown }): Promise<number> {
    return this.sendToConnection(data.id, data.data)
  }

  kick (data: { uid: string }): Promise<number> {
    return this.kickUid(data.uid, 'kicked by a test')
  }

  closeById (data: { id: string }): Promise<boolean> {
    return this.closeConnection(data.id, 'closed by a test')
  }

  online (data: { uid: string }): Promise<boolean> {
    return this.isUidOnline(data.uid)
  }

  count (): Promise<number> {
    return this.onlineCount()
  }

  members (data: { group: string }): Promise<string[]> {
    return this.groupMembers(data.group).then((m) => m.sort())
  }

  countGroup (data: { group: string }): Promise<number> {
    return this.groupCount(data.group)
  }

  allGroups (): Promise<string[]> {
    return this.groups().then((g) => g.sort())
  }
}
