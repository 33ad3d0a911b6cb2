/**
 * Migrations and seeds through knex's migrator: files in `app/migrations` and `app/seeds`
 * (TypeScript or JavaScript), run by `sd migrate`, `sd migrate:rollback` and `sd seed`, always
 * on the primary. knex keeps the record of what ran in `mysql.migrationsTable` and takes a lock
 * table beside it, so two processes migrating at once do not both run a file.
 */
import { access, readdir } from 'node:fs/promises'
import { resolve } from 'node:path'
import type { Knex } from 'knex'
import type { MysqlConfig } from './mysql.js'

/** What one migrate or rollback step did. */
export interface MigrationRun {
  /** Batch number knex gave the run (0 when nothing ran). */
  batch: number
  /** Files run, in order. */
  files: string[]
}

/** Which migrations have run and which have not. */
export interface MigrationStatus {
  completed: string[]
  pending: string[]
}

const extensions = ['.ts', '.js', '.mjs']

async function exists (path: string): Promise<boolean> {
  return access(path).then(() => true, () => false)
}

/** Migrations and seeds of one app, on one knex (the primary). */
export class Migrations {
  readonly #knex: Knex
  readonly #migrations: Knex.MigratorConfig
  readonly #seedsDir: string

  constructor (knex: Knex, config: Pick<MysqlConfig, 'migrationsDir' | 'seedsDir' | 'migrationsTable'>, root: string) {
    this.#knex = knex
    this.#migrations = {
      directory: resolve(root, config.migrationsDir),
      tableName: config.migrationsTable,
      loadExtensions: extensions,
    }
    this.#seedsDir = resolve(root, config.seedsDir)
  }

  /** Folder of migration files. */
  get directory (): string {
    return this.#migrations.directory as string
  }

  /** True when the migrations folder exists. */
  hasDirectory (): Promise<boolean> {
    return exists(this.directory)
  }

  /** Runs every pending migration as one batch. */
  async latest (): Promise<MigrationRun> {
    if (!(await exists(this.directory))) return { batch: 0, files: [] }
    const [batch, files] = await this.#knex.migrate.latest(this.#migrations) as [number, string[]]
    return { batch: files.length > 0 ? batch : 0, files }
  }

  /** Undoes the last batch, or every batch with `all`. */
  async rollback (all = false): Promise<MigrationRun> {
    if (!(await exists(this.directory))) return { batch: 0, files: [] }
    const [batch, files] = await this.#knex.migrate.rollback(this.#migrations, all) as [number, string[]]
    return { batch: files.length > 0 ? batch : 0, files }
  }

  /**
   * Completed and pending migration names. Reads only: before the first `sd migrate` (no
   * migrations table yet) every file is pending.
   */
  async status (): Promise<MigrationStatus> {
    if (!(await exists(this.directory))) return { completed: [], pending: [] }
    if (!(await this.#knex.schema.hasTable(this.#migrations.tableName as string))) {
      const files = (await readdir(this.directory)).filter((f) => extensions.some((e) => f.endsWith(e)) && !f.endsWith('.d.ts')).sort()
      return { completed: [], pending: files }
    }
    const [completed, pending] = await this.#knex.migrate.list(this.#migrations) as [Array<{ name: string }>, Array<{ file: string }>]
    return { completed: completed.map((m) => m.name), pending: pending.map((m) => m.file) }
  }

  /** Runs every seed file in name order; resolves to the files run. */
  async seed (): Promise<string[]> {
    if (!(await exists(this.#seedsDir))) return []
    const [files] = await this.#knex.seed.run({ directory: this.#seedsDir, loadExtensions: extensions }) as [string[]]
    return files
  }
}
