/**
 * The real `sd` executable: `sd new` accepts a path (the app is named after its last part), and
 * `sd generate` tells that a running server needs `sd reload` to serve the new file.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runSd } from './run-sd.js'
import { startSd } from '../e2e/sd-process.js'

test('sd new ./nested/dir/hello-app makes the folders and names the app hello-app', async (t) => {
  const parent = await mkdtemp(join(tmpdir(), 'sd-new-path-'))
  t.after(() => rm(parent, { recursive: true, force: true }))
  const run = await runSd(['new', './nested/dir/hello-app', '--skip-install'], parent)
  assert.equal(run.code, 0, run.stderr)
  assert.match(run.stdout, /created \.\/nested\/dir\/hello-app\/package\.json/)
  assert.match(run.stdout, /cd \.\/nested\/dir\/hello-app\n/)
  const app = join(parent, 'nested/dir/hello-app')
  const pkg = JSON.parse(await readFile(join(app, 'package.json'), 'utf8')) as { name: string }
  assert.equal(pkg.name, 'hello-app')
  assert.match(await readFile(join(app, 'config/app.ts'), 'utf8'), /name: 'hello-app'/)

  const bad = await runSd(['new', './nested/123', '--skip-install'], parent)
  assert.equal(bad.code, 2, 'the last part must still be a valid name')
})

test('sd generate controller says a running server serves it after sd reload; says nothing when none runs', async (t) => {
  const app = await mkdtemp(join(tmpdir(), 'sd-gen-running-'))
  t.after(() => rm(app, { recursive: true, force: true }))
  await mkdir(join(app, 'app/controllers'), { recursive: true })
  await mkdir(join(app, 'config'))
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'gen-app', type: 'module' }))

  // (the generated files import 'sd-framework', which this bare folder cannot resolve: the
  // server starts before any is written, and no reload happens here)
  const sd = await startSd(['--root', app])
  try {
    const run = await runSd(['generate', 'controller', 'Room', '--root', app], app, { SD_RUN_DIR: sd.runDir })
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stdout, /created app\/controllers\/RoomController\.ts/)
    assert.match(run.stdout, new RegExp(`server is running here \\(pid ${sd.child.pid}\\).*npx sd reload`))
  } finally {
    assert.equal(await sd.stop(), 0)
  }
  const idle = await runSd(['generate', 'controller', 'After', '--root', app], app, { SD_RUN_DIR: sd.runDir })
  assert.equal(idle.code, 0, idle.stderr)
  assert.doesNotMatch(idle.stdout, /sd reload/)
})
