import { Command, Flags } from '@oclif/core'
import { appRoot, withMigrations } from '../context.js'
import { failWith } from '../fail.js'

/** `sd migrate:status`: lists ran and pending migrations. */
export default class MigrateStatus extends Command {
  static override summary = 'List the migrations that have run and those still pending.'
  static override flags = {
    root: Flags.directory({ description: 'application folder', default: '.', exists: true }),
  }

  async run (): Promise<void> {
    const { flags } = await this.parse(MigrateStatus)
    const status = await withMigrations(appRoot(flags.root), async (m) => {
      if (!(await m.hasDirectory())) this.error(`no migrations folder: ${m.directory}`, { exit: 1 })
      return m.status()
    }).catch((err) => failWith(this, err))
    for (const f of status.completed) this.log(`  ran      ${f}`)
    for (const f of status.pending) this.log(`  pending  ${f}`)
    this.log(`${status.completed.length} ran, ${status.pending.length} pending`)
  }
}
