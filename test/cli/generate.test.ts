/** `sd generate`: rendering, names, dry run and overwrite rules, without a child process. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ExistsError, generate, NameError, planGenerate, snakeCase, pascalCase, kebabCase } from '../../framework/cli/generate.js'
import { defaultConfig } from '../../framework/index.js'
import { root } from '../helpers.js'

const now = new Date('2026-03-04T05:06:07Z')
const dirs = defaultConfig()

async function tempApp (t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sd-generate-'))
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'an-app', type: 'module' }))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

test('migration: stamped snake_case file; create_<table> renders createTable/dropTable; imports the framework package', async (t) => {
  const dir = await tempApp(t)
  const [create] = await planGenerate('migration', 'CreateUserProfiles', dir, dirs, now)
  assert.equal(create.path, join(dir, 'app/migrations/20260304050607_create_user_profiles.ts'))
  assert.match(create.content, /^import type \{ Knex \} from 'sd-framework'\n/)
  assert.match(create.content, /export async function up \(knex: Knex\): Promise<void> \{\n {2}await knex\.schema\.createTable\('user_profiles', \(t\) => \{/)
  assert.match(create.content, /export async function down \(knex: Knex\): Promise<void> \{\n {2}await knex\.schema\.dropTable\('user_profiles'\)\n\}/)
  assert.doesNotMatch(create.content, /<%|%>/)

  const [alter] = await planGenerate('migration', 'add-email-index', dir, dirs, now)
  assert.equal(alter.path, join(dir, 'app/migrations/20260304050607_add_email_index.ts'))
  assert.doesNotMatch(alter.content, /createTable|dropTable/)
  assert.match(alter.content, /alterTable/)
})

test('inside the framework repository the demo imports the framework by relative path', async () => {
  const [file] = await planGenerate('migration', 'create_things', root, dirs, now)
  assert.match(file.content, /^import type \{ Knex \} from '\.\.\/\.\.\/framework\/index\.js'\n/)
})

test('controller: <Name>Controller.ts routed by convention, and a test that calls it over HTTP', async (t) => {
  const dir = await tempApp(t)
  for (const name of ['userProfile', 'UserProfileController', 'user-profile', 'user_profile']) {
    const [ctrl, spec] = await planGenerate('controller', name, dir, dirs, now)
    assert.equal(ctrl.path, join(dir, 'app/controllers/UserProfileController.ts'), name)
    assert.equal(spec.path, join(dir, 'test/user-profile.controller.test.ts'), name)
    assert.match(ctrl.content, /^import \{ Controller \} from 'sd-framework'\n/)
    assert.match(ctrl.content, /export class UserProfileController extends Controller \{/)
    assert.match(spec.content, /fetch\(`http:\/\/127\.0\.0\.1:\$\{app\.address\('http'\)\?\.port\}\/userProfile\/index\?x=1`\)/)
    assert.match(spec.content, /\{ controller: 'userProfile', data: \{ x: '1' \} \}/)
    for (const f of [ctrl, spec]) assert.doesNotMatch(f.content, /<%|%>/)
  }
})

test('model: <Name>Model.ts over a plural table, and a test that builds its SQL without a database', async (t) => {
  const dir = await tempApp(t)
  const [model, spec] = await planGenerate('model', 'City', dir, dirs, now)
  assert.equal(model.path, join(dir, 'app/models/CityModel.ts'))
  assert.equal(spec.path, join(dir, 'test/city.model.test.ts'))
  assert.match(model.content, /export class CityModel extends Model \{/)
  assert.match(model.content, /this\.read\('cities'\)/)
  assert.match(spec.content, /import \{ CityModel \} from '\.\.\/app\/models\/CityModel\.js'/)
  assert.match(spec.content, /'select \* from `cities` where `id` = \? limit \?'/)
  assert.equal((await planGenerate('model', 'Message', dir, dirs, now))[0].content.includes("'messages'"), true)
  assert.equal((await planGenerate('model', 'Box', dir, dirs, now))[0].content.includes("'boxes'"), true)
})

test('task and timer: <Name>Task.ts / <Name>Timer.ts in their folders, each with a test that imports it', async (t) => {
  const dir = await tempApp(t)
  const [task, taskSpec] = await planGenerate('task', 'report', dir, dirs, now)
  assert.equal(task.path, join(dir, 'app/tasks/ReportTask.ts'))
  assert.match(task.content, /export class ReportTask extends Task \{/)
  assert.match(taskSpec.content, /import \{ ReportTask \} from '\.\.\/app\/tasks\/ReportTask\.js'/)
  assert.match(taskSpec.content, /app\.tasks\.proxy\(ReportTask\)\.run\(/)
  const [timer, timerSpec] = await planGenerate('timer', 'NightlyCleanupTimer', dir, dirs, now)
  assert.equal(timer.path, join(dir, 'app/timers/NightlyCleanupTimer.ts'))
  assert.equal(timerSpec.path, join(dir, 'test/nightly-cleanup.timer.test.ts'))
  assert.match(timer.content, /nightlyCleanup: \{ handler: 'NightlyCleanupTimer', method: 'run', every: '1m' \}/)
  assert.doesNotMatch(timer.content, /\*\/\d/, 'nothing in the doc comment closes it early')
  for (const f of [task, taskSpec, timer, timerSpec]) assert.doesNotMatch(f.content, /<%|%>/)
})

test('view: app/views/<path>.eta with eta tags kept, and a test that renders it', async (t) => {
  const dir = await tempApp(t)
  const [view, spec] = await planGenerate('view', 'room/list', dir, dirs, now)
  assert.equal(view.path, join(dir, 'app/views/room/list.eta'))
  assert.equal(spec.path, join(dir, 'test/room-list.view.test.ts'))
  assert.match(view.content, /<h1><%= it\.title %><\/h1>/)
  assert.match(view.content, /this\.view\('room\/list', \{ title \}\)/)
  assert.match(spec.content, /app\.views\.render\('room\/list', \{ title: 'Tom & <Jerry>' \}\)/)
  await assert.rejects(planGenerate('view', 'room/../x', dir, dirs, now), NameError)
  await assert.rejects(planGenerate('view', '/abs', dir, dirs, now), NameError)
})

test('names: empty, leading digit, paths and punctuation are refused with a clear message', async () => {
  for (const kind of ['migration', 'controller', 'model'] as const) {
    for (const bad of ['', '123', '../x', 'a/b', 'a b', 'x.ts', '-x']) {
      await assert.rejects(planGenerate(kind, bad, root, dirs, now), (err: Error) => {
        assert.ok(err instanceof NameError, bad)
        assert.match(err.message, bad === '' ? /empty/ : /not a valid name/)
        return true
      })
    }
  }
  assert.equal(pascalCase('user-profile'), 'UserProfile')
  assert.equal(kebabCase('UserProfile'), 'user-profile')
  assert.equal(snakeCase('AddIndexToUsers'), 'add_index_to_users')
  assert.equal(snakeCase('add-index'), 'add_index')
})

test('--dry-run writes nothing; an existing file is kept unless --force', async (t) => {
  const dir = await tempApp(t)
  const planned = await generate('migration', 'create_items', dir, dirs, { dryRun: true, now })
  assert.deepEqual(planned.map((f) => f.path), ['app/migrations/20260304050607_create_items.ts'])
  await assert.rejects(readdir(join(dir, 'app')), { code: 'ENOENT' })

  await generate('migration', 'create_items', dir, dirs, { now })
  const path = join(dir, planned[0].path)
  assert.equal(await readFile(path, 'utf8'), planned[0].content)
  await writeFile(path, '// edited by hand\n')
  await assert.rejects(generate('migration', 'create_items', dir, dirs, { now }), (err: Error) => err instanceof ExistsError && /--force/.test(err.message))
  assert.equal(await readFile(path, 'utf8'), '// edited by hand\n')
  await generate('migration', 'create_items', dir, dirs, { now, force: true })
  assert.equal(await readFile(path, 'utf8'), planned[0].content)
})
