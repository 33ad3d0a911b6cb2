/**
 * `sd dev` (real process): a controller saved the way `sed -i` and editors' safe-save write
 * (a new file renamed over the old one) is reloaded, and so is every later edit of that file.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { http, root, waitUntil } from '../helpers.js'
import { childEnv } from '../e2e/sd-process.js'

/** A controller whose `/dev/version` answers `version`. */
function controller (version: string): string {
  return `import { Controller } from '${join(root, 'framework/index.js')}'\n` +
    `export class DevController extends Controller {\n  version (): string { return '${version}' }\n}\n`
}

test('sd dev reloads a file saved by rename, and later edits of it, each time', async (t) => {
  const app = await mkdtemp(join(tmpdir(), 'sd-dev-'))
  t.after(() => rm(app, { recursive: true, force: true }))
  await mkdir(join(app, 'app/controllers'), { recursive: true })
  await mkdir(join(app, 'config'))
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'dev-app', type: 'module' }))
  const file = join(app, 'app/controllers/DevController.ts')
  await writeFile(file, controller('v1'))

  const child = spawn(process.execPath, [join(root, 'bin/sd.js'), 'dev', '--root', app], {
    cwd: app,
    env: childEnv({ SD_TCP_PORT: '0', SD_TEXT_PORT: '0', SD_HTTP_PORT: '0' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { out += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { out += chunk })
  const exited = once(child, 'exit')
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })

  const state = await waitUntil(async () => {
    if (child.exitCode !== null) throw new Error(`sd dev exited: ${out}`)
    const text = await readFile(join(app, '.sd/state.json'), 'utf8').catch(() => undefined)
    return text !== undefined && out.includes('watching app/ and config/') ? JSON.parse(text) as { ports: { http: number } } : undefined
  }, 30_000, 'sd dev to serve and watch')
  // (a request that meets a worker being replaced counts as not served yet)
  const version = async (): Promise<unknown> => (await http(state.ports.http, '/dev/version').catch(() => undefined))?.body
  assert.equal(await version(), 'v1')

  // safe-save: write a temp file next to it, rename it over the old one (twice, as each save does)
  for (const v of ['v2', 'v3']) {
    await writeFile(`${file}.tmp`, controller(v))
    await rename(`${file}.tmp`, file)
    await waitUntil(async () => (await version()) === v, 20_000, `the renamed save ${v} to be served (output: ${out})`)
  }
  // then an in-place write of the file that replaced the old one
  await writeFile(file, controller('v4'))
  await waitUntil(async () => (await version()) === 'v4', 20_000, `the in-place edit to be served (output: ${out})`)

  child.kill('SIGTERM')
  const [code] = await exited as [number | null]
  assert.equal(code, 0, out)
})
