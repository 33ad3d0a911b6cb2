import { Command } from '@oclif/core'
import { relative } from 'node:path'
import { appRoot, rootFlag } from '../context.js'
import { buildApp } from '../build.js'

/** `sd build`: the production build `sd start` runs when it is there. */
export default class Build extends Command {
  static override summary = 'Compile the app into dist/ (tsc, plus views and static files); sd start then runs it.'
  static override flags = {
    root: rootFlag,
  }

  async run (): Promise<void> {
    const { flags } = await this.parse(Build)
    const root = appRoot(flags.root)
    const result = buildApp(root)
    if (!result.ok) this.error(`tsc failed:\n${result.output}`, { exit: 1 })
    this.log(`built ${relative(root, result.dir) || '.'}/ (sd start runs it; delete it to run the sources)`)
  }
}
