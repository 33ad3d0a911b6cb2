/**
 * The app of meta-worker.mjs's worker processes: a controller that says which process it runs
 * in and pushes with meta (options passed as they are to the bus, as a recording bus would).
 */
import { Controller, createApp, type Application, type SendOptions } from '../../framework/index.js'
import type { PushMeta } from '../../framework/connection/bus-ops.js'
import { root, testOverrides } from '../helpers.js'

class MetaController extends Controller {
  /** Binds `uid` when given and joins `room`; the process and the connection id. */
  async enter (data: { uid?: string }): Promise<{ pid: number, id: string }> {
    this.session.$sd = 1 // as /sd/hello marks an SDK client: it gets skip messages
    if (data.uid !== undefined) await this.bindUid(data.uid)
    await this.joinGroup('room')
    return { pid: process.pid, id: this.connectionId ?? '' }
  }

  /** A push of `data` with `meta` to a uid, the room (leaving out `exclude`) or a connection. */
  async push (p: { to: 'uid' | 'room' | 'conn', target: string, data: unknown, meta: PushMeta, exclude?: string }): Promise<number> {
    const options = { meta: p.meta, exclude: p.exclude } as SendOptions
    if (p.to === 'uid') return this.sendToUid(p.target, p.data, options)
    if (p.to === 'room') return this.sendToGroup('room', p.data, options)
    return this.sendToConnection(p.target, p.data, options)
  }
}

/** The worker's app (runWorker's factory). */
export function metaApp (options: { root: string, connectionIdPrefix: string }): Promise<Application> {
  return createApp({ root, configDir: false, controllers: [MetaController], connectionIdPrefix: options.connectionIdPrefix, overrides: testOverrides() })
}
