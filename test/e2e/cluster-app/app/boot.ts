import type { Application } from '../../../../framework/index.js'

/** Tells every client (once, cluster-wide) which users a dead server took with it. */
export default function boot (app: Application): void {
  app.addHook('onNodeGone', async (_app, { node, uids }) => {
    await app.bus.sendToAll({ type: 'node-gone', node, uids })
  })
}
