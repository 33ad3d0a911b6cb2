import { spawn } from 'node:child_process'
import { readdir } from 'node:fs/promises'
import { basename, resolve } from 'node:path'
import { Args, Command, Flags, ux } from '@oclif/core'
import { NameError } from '../generate.js'
import { newAppData, planNewApp, writeApp } from '../new-app.js'

/** `sd new <name>`: a new application folder. */
export default class New extends Command {
  static override summary = 'Create a new SD application in a new folder.'
  static override description = 'Renders the app template (controllers, models, tasks, timers, views, config, a passing test), then runs npm install.'
  static override examples = ['<%= config.bin %> new chat-server', '<%= config.bin %> new ./apps/chat-server --skip-install']
  static override args = {
    name: Args.string({ description: 'the new folder (a name, or a path: the app is named after its last part: letters, digits, _ or -)', required: true }),
  }

  static override flags = {
    'skip-install': Flags.boolean({ description: 'do not run npm install', default: false }),
    force: Flags.boolean({ description: 'write into a folder that is not empty', default: false }),
  }

  async run (): Promise<void> {
    const { args, flags } = await this.parse(New)
    // a path works as in `cargo new` and `rails new`: the app is named after its last part
    const dir = resolve(args.name)
    const data = await newAppData(basename(dir)).catch((err: unknown) => {
      if (err instanceof NameError) this.error(err.message, { exit: 2 })
      throw err
    })
    const existing = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [] as string[]
      this.error(`${dir} exists and is not a folder`, { exit: 1 })
    })
    if (existing.length > 0 && !flags.force) this.error(`${dir} is not empty (use --force to write into it)`, { exit: 1 })
    const files = await planNewApp(data)
    await writeApp(dir, files)
    const shown = args.name.replace(/(.)\/+$/, '$1')
    for (const f of files) this.log(`  created ${shown}/${f.path}`)
    if (!flags['skip-install']) {
      ux.action.start('Installing dependencies (npm install)')
      const code = await npmInstall(dir)
      ux.action.stop(code === 0 ? 'done' : `failed (exit ${code})`)
      if (code !== 0) this.error(`npm install failed in ${dir}; fix the problem and run it there`, { exit: 1 })
    }
    this.log(`\nNext:\n  cd ${shown}${flags['skip-install'] ? '\n  npm install' : ''}\n  npm start     # TCP 9093, text 8480, HTTP + WebSocket 8081\n  npm test`)
  }
}

/** Runs `npm install` in `dir`; npm's own output goes to stderr under the spinner. */
function npmInstall (dir: string): Promise<number> {
  return new Promise((resolveCode) => {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
    const child = spawn(npm, ['install', '--no-audit', '--no-fund'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] })
    let errors = ''
    child.stderr.on('data', (chunk: Buffer) => { errors += chunk.toString() })
    child.on('error', () => resolveCode(127))
    child.on('close', (code) => {
      if (code !== 0) process.stderr.write(errors)
      resolveCode(code ?? 1)
    })
  })
}
