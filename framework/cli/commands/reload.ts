import { Command } from '@oclif/core'
import { appRoot, rootFlag } from '../context.js'
import { sendControl } from '../control.js'
import { runPaths } from '../run-state.js'
import type { ServerStatus } from '../../multicore/primary.js'

/** `sd reload`: fresh code, no refused connection. */
export default class Reload extends Command {
  static override summary = 'Replace the worker processes one by one with fresh code; the ports keep accepting (split mode: only business workers, the gateway and its clients stay).'
  static override flags = {
    root: rootFlag,
  }

  async run (): Promise<void> {
    const { flags } = await this.parse(Reload)
    const paths = runPaths(appRoot(flags.root))
    // no time limit: each worker takes its boot time plus its graceful stop
    const answer = await sendControl(paths.socket, 'reload', 0).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') this.error('not running (start it with sd start)', { exit: 1 })
      this.error(`reload: ${err.message}`, { exit: 1 })
    })
    if (!answer.ok) this.error(`reload failed: ${answer.error}`, { exit: 1 })
    const status = answer.data as ServerStatus
    const replaced = status.workers.filter((w) => w.role !== 'gateway')
    const kept = status.workers.find((w) => w.role === 'gateway')
    this.log(`reloaded: ${replaced.map((w) => `worker ${w.id} pid ${w.pid}`).join(', ')}${kept ? ` (gateway pid ${kept.pid} kept: no client closed)` : ''}`)
  }
}
