import { Command } from '@oclif/core'
import { appRoot, withMigrations, rootFlag } from '../context.js'
import { failWith } from '../fail.js'

/** `sd seed`: runs the seed files. */
export default class Seed extends Command {
  static override summary = 'Run every seed file in app/seeds, in name order.'
  static override flags = {
    root: rootFlag,
  }

  async run (): Promise<void> {
    const { flags } = await this.parse(Seed)
    const files = await withMigrations(appRoot(flags.root), (m) => m.seed()).catch((err) => failWith(this, err))
    if (files.length === 0) return this.log('No seed files.')
    this.log(`Ran ${files.length} seed file${files.length === 1 ? '' : 's'}`)
    for (const f of files) this.log(`  ${f}`)
  }
}
