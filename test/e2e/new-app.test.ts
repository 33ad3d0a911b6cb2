/**
 * The path a new user takes, end to end in a temp folder: `sd new` → npm install → `npm test`
 * → `sd start` → TCP and HTTP requests → `sd generate controller Foo` → `/foo/index` answers
 * after `sd reload` → `sd stop`; then every other generator's file and test in the same app.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TcpClient, http, waitUntil } from '../helpers.js'
import { runSd } from '../cli/run-sd.js'
import { childEnv } from './sd-process.js'

function npm (args: string[], cwd: string): Promise<{ code: number, out: string }> {
  return new Promise((resolve) => {
    execFile('npm', args, { cwd, env: childEnv(), timeout: 180_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: stdout + stderr })
    })
  })
}

describe('sd new → npm test → sd start → generate → reload → stop', () => {
  let parent: string
  let app: string
  let server: ChildProcess | undefined
  before(async () => {
    parent = await mkdtemp(join(tmpdir(), 'sd-new-'))
    app = join(parent, 'hello-app')
  })
  after(async () => {
    if (server && server.exitCode === null) server.kill('SIGKILL')
    await rm(parent, { recursive: true, force: true })
  })

  test('a new app installs, passes its tests, serves, picks up a generated controller on reload, and stops', async () => {
    const created = await runSd(['new', 'hello-app'], parent, {}, 240_000)
    assert.equal(created.code, 0, created.stderr)
    assert.match(created.stdout, /created hello-app\/package\.json/)
    assert.match(created.stderr + created.stdout, /Installing dependencies/)
    for (const dir of ['app/controllers', 'app/models', 'app/tasks', 'app/views', 'config', 'test']) {
      assert.ok((await readdir(join(app, dir))).length > 0, `${dir} exists and is not empty`)
    }
    const pkg = JSON.parse(await readFile(join(app, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }
    assert.match(pkg.dependencies['sd-framework'], /^file:\//)

    const refused = await runSd(['new', 'hello-app'], parent)
    assert.equal(refused.code, 1, 'a non-empty folder is refused')
    assert.match(refused.stderr, /not empty.*--force/)

    const tests = await npm(['test'], app)
    assert.equal(tests.code, 0, tests.out)
    assert.match(tests.out, /# pass 3/)

    const ports = { SD_TCP_PORT: '0', SD_TEXT_PORT: '0', SD_HTTP_PORT: '0' }
    server = spawn(process.execPath, [join(app, 'node_modules/.bin/sd'), 'start'], { cwd: app, env: childEnv(ports), stdio: 'ignore' })
    const exited = once(server, 'exit') as Promise<[number | null]>
    const state = await waitUntil(async () => {
      const text = await readFile(join(app, '.sd/state.json'), 'utf8').catch(() => undefined)
      return text ? JSON.parse(text) as { ports: { tcp: number, http: number } } : undefined
    }, 30_000, 'the new app to serve')
    const tcp = await TcpClient.connect(state.ports.tcp)
    assert.deepEqual((await tcp.request('/home/hello', { name: 'tcp' })).data, { greeting: 'hello, tcp' })
    tcp.close()
    assert.deepEqual((await http(state.ports.http, '/home/hello?name=http')).body, { greeting: 'hello, http' })
    assert.equal((await http(state.ports.http, '/foo/index')).status, 404, 'no Foo yet')

    const gen = await runSd(['generate', 'controller', 'Foo'], app)
    assert.equal(gen.code, 0, gen.stderr)
    assert.match(gen.stdout, /created app\/controllers\/FooController\.ts\ncreated test\/foo\.controller\.test\.ts/)
    const reload = await runSd(['reload'], app)
    assert.equal(reload.code, 0, reload.stderr)
    assert.deepEqual((await http(state.ports.http, '/foo/index?x=1')).body, { controller: 'foo', data: { x: '1' } })

    const stop = await runSd(['stop'], app)
    assert.equal(stop.code, 0, stop.stderr)
    const [code] = await exited
    assert.equal(code, 0)
    await assert.rejects(readFile(join(app, '.sd/sd.pid')), { code: 'ENOENT' }, 'the pid file is removed')

    for (const [kind, name] of [['model', 'Message'], ['task', 'Report'], ['timer', 'Cleanup'], ['view', 'room/list']]) {
      const run = await runSd(['generate', kind, name], app)
      assert.equal(run.code, 0, `${kind}: ${run.stderr}`)
    }
    const generatedTests = await npm(['test'], app)
    assert.equal(generatedTests.code, 0, generatedTests.out)
    assert.match(generatedTests.out, /# pass 8/, 'every generated file type-checks and its test passes (home 3, controller, model, task, timer, view)')
  })
})
