import { Command } from '@oclif/core'
import { appRoot, migrationsCommand, rootFlag } from '../context.js'

/** `sd migrate`: runs pending migrations. */
export default class Migrate extends Command {
  static override summary = 'Run every pending migration in app/migrations, as one batch.'
  static override examples = ['<%= config.bin %> migrate', 'MYSQL_URL=mysql://root@127.0.0.1/app <%= config.bin %> migrate']
  static override flags = {
    root: rootFlag,
  }

  async run (): Promise<void> {
    const { flags } = await this.parse(Migrate)
    const run = await migrationsCommand(this, appRoot(flags.root), (m) => m.latest())
    if (run.files.length === 0) return this.log('Already up to date.')
    this.log(`Batch ${run.batch}: ran ${run.files.length} migration${run.files.length === 1 ? '' : 's'}`)
    for (const f of run.files) this.log(`  ${f}`)
  }
}
