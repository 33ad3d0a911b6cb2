import { Command } from '@oclif/core'
import { appRoot, migrationsCommand, rootFlag } from '../context.js'

/** `sd migrate:status`: lists ran and pending migrations. */
export default class MigrateStatus extends Command {
  static override summary = 'List the migrations that have run and those still pending.'
  static override flags = {
    root: rootFlag,
  }

  async run (): Promise<void> {
    const { flags } = await this.parse(MigrateStatus)
    const status = await migrationsCommand(this, appRoot(flags.root), (m) => m.status())
    for (const f of status.completed) this.log(`  ran      ${f}`)
    for (const f of status.pending) this.log(`  pending  ${f}`)
    this.log(`${status.completed.length} ran, ${status.pending.length} pending`)
  }
}
