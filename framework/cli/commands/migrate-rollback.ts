import { Command, Flags } from '@oclif/core'
import { appRoot, migrationsCommand, rootFlag } from '../context.js'

/** `sd migrate:rollback`: undoes the last batch (or all). */
export default class MigrateRollback extends Command {
  static override summary = 'Undo the last batch of migrations.'
  static override examples = ['<%= config.bin %> migrate:rollback', '<%= config.bin %> migrate:rollback --all']
  static override flags = {
    all: Flags.boolean({ description: 'undo every batch', default: false }),
    root: rootFlag,
  }

  async run (): Promise<void> {
    const { flags } = await this.parse(MigrateRollback)
    const run = await migrationsCommand(this, appRoot(flags.root), (m) => m.rollback(flags.all))
    if (run.files.length === 0) return this.log('Nothing to roll back.')
    this.log(`Rolled back ${run.files.length} migration${run.files.length === 1 ? '' : 's'}`)
    for (const f of run.files) this.log(`  ${f}`)
  }
}
