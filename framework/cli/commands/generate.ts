import { Args, Command, Flags } from '@oclif/core'
import { appConfig, appRoot, rootFlag } from '../context.js'
import { chmod, mkdir } from 'node:fs/promises'
import { join, sep } from 'node:path'
import { ExistsError, generate, generateKinds, NameError, writePlanned, type GenerateKind, type PlannedFile } from '../generate.js'
import { deployDir, deployNotes, planDeploy } from '../generate-deploy.js'
import { readPid, runPaths } from '../run-state.js'

/** `sd generate <kind> <name>` (alias `sd g`). */
export default class Generate extends Command {
  static override summary = 'Render a new file from a template into the right folder.'
  static override aliases = ['g']
  static override examples = ['<%= config.bin %> generate controller Room', '<%= config.bin %> g model Message', '<%= config.bin %> g view room/list', '<%= config.bin %> g migration create_messages --dry-run', '<%= config.bin %> generate deploy']
  static override args = {
    kind: Args.string({ description: 'what to make', options: [...generateKinds], required: true }),
    name: Args.string({ description: 'its name (letters, digits, _ or -); none for deploy', required: false }),
  }

  static override flags = {
    'dry-run': Flags.boolean({ description: 'print what would be written, write nothing', default: false }),
    force: Flags.boolean({ description: 'overwrite files that exist', default: false }),
    root: rootFlag,
  }

  async run (): Promise<void> {
    const { args, flags } = await this.parse(Generate)
    const root = appRoot(flags.root)
    const config = await appConfig(root)
    const fail = (err: unknown): never => {
      if (err instanceof NameError) this.error(err.message, { exit: 2 })
      if (err instanceof ExistsError) this.error(err.message, { exit: 1 })
      throw err
    }
    // a dry run shows what it would write, but never a secret's value (logs keep what is printed)
    const secret = (path: string): boolean => path.startsWith(join(deployDir, 'secrets') + sep)
    const show = (files: PlannedFile[]): void => {
      for (const f of files) this.log(flags['dry-run'] ? `would write ${f.path}\n${secret(f.path) ? '(a new random secret)\n' : f.content}` : `created ${f.path}`)
    }
    if (args.kind === 'deploy') {
      if (args.name !== undefined) this.error('sd generate deploy takes no name', { exit: 2 })
      // the secret files: only their owner may list the folder, from before they are written
      if (!flags['dry-run']) await mkdir(join(root, deployDir, 'secrets'), { recursive: true, mode: 0o700 })
      show(await writePlanned(planDeploy(root, config), root, { dryRun: flags['dry-run'], force: flags.force }).catch(fail))
      if (!flags['dry-run']) await chmod(join(root, deployDir, 'secrets'), 0o700)
      this.log(['', ...deployNotes(root, config)].join('\n'))
      return
    }
    if (args.name === undefined) this.error(`sd generate ${args.kind} needs a name`, { exit: 2 })
    const kind = args.kind as GenerateKind
    const files = await generate(kind, args.name, root, config, { dryRun: flags['dry-run'], force: flags.force }).catch(fail)
    show(files)
    if (kind === 'timer' && !flags['dry-run']) {
      const cls = /export class (\w+)/.exec(files[0].content)?.[1] ?? ''
      this.log(`\nSchedule it in config/timers.ts, e.g.  ${cls.charAt(0).toLowerCase()}${cls.slice(1, -'Timer'.length)}: { handler: '${cls}', method: 'run', every: '1m' }`)
    }
    // a running server loaded its code at start: say so, or the new route looks broken (404)
    const running = flags['dry-run'] || kind === 'migration' ? undefined : await readPid(runPaths(root))
    if (running?.alive) {
      this.log(`\nA server is running here (pid ${running.pid}): it serves the new ${kind} after \`npx sd reload\` (until then it answers as before; \`sd dev\` reloads by itself).`)
    }
  }
}
