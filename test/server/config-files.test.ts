/**
 * Config files checked twice: at boot, a file in config/ that is no SD section and does not
 * declare its own (a misspelt `config/sever.ts`) is reported with the known sections; and by
 * the compiler, `defineConfig('server', {...})` (what the demo and `sd new`'s templates use)
 * makes `tsc` flag a misspelt key. The tsc check runs the real compiler on a small project in a
 * temp folder.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { createApp, loadConfig } from '../../framework/index.js'
import { root } from '../helpers.js'

const framework = join(root, 'framework/index.js')
let dir: string

before(async () => { dir = await mkdtemp(join(tmpdir(), 'sd-config-files-')) })
after(async () => { await rm(dir, { recursive: true, force: true }) })

/** Writes `files` (name → source) into a fresh config folder and returns it. */
async function configDir (name: string, files: Record<string, string>): Promise<string> {
  const d = join(dir, name, 'config')
  await mkdir(d, { recursive: true })
  for (const [file, text] of Object.entries(files)) await writeFile(join(d, file), text)
  return d
}

test('a misspelt config file is reported with the known sections; SD sections and declared app sections are not', async () => {
  const d = await configDir('boot', {
    'sever.ts': `import { defineConfig } from '${framework}'\nexport default defineConfig('server', { heartbeatIdleMs: 1234 })\n`,
    'serve.ts': `export default { heartbeatIdleMs: 1 }\n`,
    'chat.ts': `import { defineConfig } from '${framework}'\nexport default defineConfig('chat', { rooms: ['lobby'] })\n`,
    'app.ts': `import { defineConfig } from '${framework}'\nexport default defineConfig('app', { name: 'typo-test' })\n`,
  })
  const warnings: string[] = []
  const config = await loadConfig({ root: dir, configDir: d, env: {}, onWarning: (w) => warnings.push(w) })
  assert.equal(config.app.name, 'typo-test')
  assert.deepEqual(config.chat, { rooms: ['lobby'] })
  assert.equal(warnings.length, 2, warnings.join('\n'))
  const [serve, sever] = warnings
  assert.match(serve, /config\/serve\.ts is not a known config file \(SD reads app, server, mysql, redis, tasks, views, cluster, gateway, recovery, admin, auth, metrics, routes, timers\)/)
  assert.match(sever, /config\/sever\.ts declares section 'server'.*rename it to config\/server\.ts/)

  // a running app logs them as warnings
  const lines: Array<{ level: number, msg: string }> = []
  const stream = new Writable({ write (chunk: Buffer, _enc, cb) { lines.push(JSON.parse(chunk.toString('utf8')) as { level: number, msg: string }); cb() } })
  await createApp({ root: dir, configDir: d, env: {}, logger: pino({ level: 'info' }, stream) })
  assert.deepEqual(lines.filter((l) => l.level === 40).map((l) => l.msg), warnings)
})

/** Runs the TypeScript compiler on `project`; resolves to its exit code and output. */
function tsc (project: string): Promise<{ code: number, output: string }> {
  const bin = join(root, 'node_modules/typescript/bin/tsc')
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, '-p', project], { cwd: project, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, output: stdout + stderr })
    })
  })
}

test('tsc flags a misspelt key in config/server.ts (the template sd new renders, and a nested one); correct files pass', async () => {
  const project = join(dir, 'tsc')
  const template = await readFile(join(root, 'templates/app/config/server.ts'), 'utf8')
  assert.match(template, /defineConfig\('server', \{/, 'the template names its section')
  const typo = template.replace('tcp: { port: 9093', 'tcp: { prot: 9093')
  assert.notEqual(typo, template)
  const files: Record<string, string> = {
    'typo/server.ts': typo,
    'typo-top/server.ts': `import { defineConfig } from 'sd-framework'\nexport default defineConfig('server', { heartbeatIdleMS: 5 })\n`,
    'good/server.ts': template,
    'good/chat.ts': `import { defineConfig } from 'sd-framework'\nexport default defineConfig('chat', { rooms: ['lobby'] })\n`,
    'good/timers.ts': `import { defineConfig } from 'sd-framework'\nexport default defineConfig('timers', { t: { handler: 'T', every: '1s' } })\n`,
  }
  for (const [file, text] of Object.entries(files)) {
    await mkdir(join(project, file, '..'), { recursive: true })
    await writeFile(join(project, file), text)
  }
  await writeFile(join(project, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: true, noEmit: true,
      types: ['node'], typeRoots: [join(root, 'node_modules/@types')], paths: { 'sd-framework': [join(root, 'framework/index.ts')] },
      allowImportingTsExtensions: true,
    },
    include: ['**/*.ts'],
  }))
  const { code, output } = await tsc(project)
  assert.notEqual(code, 0, output)
  const errorFiles = [...output.matchAll(/^(\S+?)\(\d+,\d+\): error/gm)].map((m) => m[1]).sort()
  assert.deepEqual(errorFiles, ['typo-top/server.ts', 'typo/server.ts'], output)
  assert.match(output, /'prot' does not exist/)
  assert.match(output, /'heartbeatIdleMS' does not exist/)
})
