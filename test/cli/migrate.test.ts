/**
 * `sd generate migration`, `sd migrate`, `sd migrate:status`, `sd seed` and
 * `sd migrate:rollback`, run as real processes on an app folder of their own against the
 * real MariaDB (a database of this file's own).
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTestDatabase, type TestDatabase } from '../stores.js'
import { runSd } from './run-sd.js'

describe('sd migrate, migrate:status, seed, migrate:rollback', () => {
  let dir: string
  let db: TestDatabase
  let env: Record<string, string | undefined>

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sd-migrate-'))
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'migrate-app', type: 'module' }))
    db = await createTestDatabase('cli_migrate')
    env = { MYSQL_URL: db.url, SD_CONFIG_DIR: undefined }
  })
  after(async () => {
    await db?.drop()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  test('generate → status → migrate → seed → rollback, each printing what it did', async () => {
    const gen = await runSd(['generate', 'migration', 'CreateWidgets'], dir, env)
    assert.equal(gen.code, 0, gen.stderr)
    const [file] = await readdir(join(dir, 'app/migrations'))
    assert.match(file, /^\d{14}_create_widgets\.ts$/)
    assert.equal(gen.stdout.trim(), `created app/migrations/${file}`)
    assert.match(await readFile(join(dir, 'app/migrations', file), 'utf8'), /from 'sd-framework'/)

    await mkdir(join(dir, 'app/seeds'))
    await writeFile(join(dir, 'app/seeds/01_widgets.ts'),
      "export async function seed (knex: any): Promise<void> { const row = { created_at: knex.fn.now() }; await knex('widgets').insert([row, row, row]) }\n")

    const pending = await runSd(['migrate:status'], dir, env)
    assert.equal(pending.code, 0, pending.stderr)
    assert.match(pending.stdout, new RegExp(`pending  ${file}`))
    assert.match(pending.stdout, /0 ran, 1 pending/)

    const up = await runSd(['migrate'], dir, env)
    assert.equal(up.code, 0, up.stderr)
    assert.match(up.stdout, /^Batch 1: ran 1 migration\n {2}\d{14}_create_widgets\.ts\n$/)
    assert.equal(await db.knex.schema.hasTable('widgets'), true)
    assert.deepEqual(await db.knex('sd_migrations').pluck('name'), [file])

    assert.equal((await runSd(['migrate'], dir, env)).stdout, 'Already up to date.\n')

    const seeded = await runSd(['seed'], dir, env)
    assert.equal(seeded.code, 0, seeded.stderr)
    assert.match(seeded.stdout, /Ran 1 seed file/)
    assert.equal(Number((await db.knex('widgets').count({ n: '*' }).first())?.n), 3)

    const down = await runSd(['migrate:rollback'], dir, env)
    assert.equal(down.code, 0, down.stderr)
    assert.match(down.stdout, /Rolled back 1 migration/)
    assert.equal(await db.knex.schema.hasTable('widgets'), false)
    assert.equal((await runSd(['migrate:rollback'], dir, env)).stdout, 'Nothing to roll back.\n')
  })

  test('a failing migration is reported with its error, exits 1, and is not recorded as run', async () => {
    const bad = join(dir, 'app/migrations/29990101000000_broken.ts')
    await writeFile(bad, "export async function up (knex: any) { await knex.raw('CREATE TABLE broken (') }\nexport async function down () {}\n")
    try {
      const run = await runSd(['migrate'], dir, env)
      assert.equal(run.code, 1)
      assert.match(run.stderr, /SQL syntax/)
      assert.equal((await db.knex('sd_migrations').where({ name: '29990101000000_broken.ts' })).length, 0)
    } finally {
      await rm(bad)
    }
  })

  test('no MySQL configured, or unreachable: a clear SD error and exit 1, never a hang', async () => {
    const none = await runSd(['migrate'], dir, { MYSQL_URL: undefined })
    assert.equal(none.code, 1)
    assert.match(none.stderr, /SD_ERR_DB_UNAVAILABLE: .*MySQL is not configured/)
    const unreachable = await runSd(['migrate'], dir, { MYSQL_URL: 'mysql://root@127.0.0.1:1/x' })
    assert.equal(unreachable.code, 1)
    assert.match(unreachable.stderr, /SD_ERR_DB_UNAVAILABLE/)
  })
})
