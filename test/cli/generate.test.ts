/** `sd generate`: rendering, names, dry run and overwrite rules, without a child process. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ExistsError, generate, NameError, planGenerate, snakeCase } from '../../framework/cli/generate.js'
import { root } from '../helpers.js'

const now = new Date('2026-03-04T05:06:07Z')
const dirs = { migrationsDir: 'app/migrations' }

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

test('names: empty, leading digit, paths and punctuation are refused with a clear message', async () => {
  for (const bad of ['', '123', '../x', 'a/b', 'a b', 'x.ts', '-x']) {
    await assert.rejects(planGenerate('migration', bad, root, dirs, now), (err: Error) => {
      assert.ok(err instanceof NameError, bad)
      assert.match(err.message, bad === '' ? /empty/ : /not a valid name/)
      return true
    })
  }
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
