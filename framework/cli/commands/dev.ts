import { join, relative } from 'node:path'
import { Command } from '@oclif/core'
import { watch } from 'chokidar'
import { appRoot, rootFlag } from '../context.js'
import { AlreadyRunningError, runServer } from '../serve.js'

/** `sd dev`: the server, restarted on every change. */
export default class Dev extends Command {
  static override summary = 'Run the app from its sources and reload it when a file in app/ or config/ changes.'
  static override flags = {
    root: rootFlag,
  }

  async run (): Promise<void> {
    const { flags } = await this.parse(Dev)
    const root = appRoot(flags.root)
    const { primary } = await runServer({ root, workers: 1, sources: true }).catch((err: unknown) => {
      if (err instanceof AlreadyRunningError) this.error(err.message, { exit: 1 })
      throw err
    })
    let timer: NodeJS.Timeout | undefined
    let reloading = false
    const changed = new Set<string>()
    // changes made while a reload runs are picked up by one more reload right after it
    const reload = (): void => {
      if (reloading || changed.size === 0) return
      reloading = true
      const files = [...changed]
      changed.clear()
      this.log(`changed: ${files.join(', ')}: reloading`)
      primary.reload()
        .catch((err: unknown) => this.warn(`reload failed (fix the error; the old code keeps serving): ${(err as Error).message}`))
        .finally(() => { reloading = false; reload() })
    }
    // chokidar, not fs.watch: an editor's safe-save (and `sed -i`) writes a new file and renames it
    // over the old one, and a watch on the old file would never see later edits of the new one
    const watcher = watch(['app', 'config'].map((dir) => join(root, dir)), { ignoreInitial: true })
    watcher.on('all', (_event, file) => {
      changed.add(relative(root, file))
      clearTimeout(timer)
      timer = setTimeout(reload, 150)
    })
    watcher.once('ready', () => this.log('watching app/ and config/ for changes'))
    watcher.on('error', (err) => this.warn(`watching files failed: ${(err as Error).message}`))
  }
}
