/**
 * What every `sd` command shares: the app folder it runs in, its configuration, and a quiet
 * logger (warnings and errors only) for commands that are not the server.
 */
import { resolve } from 'node:path'
import { Flags, type Command } from '@oclif/core'
import { pino, destination, type Logger } from 'pino'
import { loadConfig, type Config } from '../server/config.js'
import { Mysql } from '../data/mysql.js'
import { Migrations } from '../data/migrations.js'
import { failWith } from './fail.js'

/** The application folder: `--root`, or the current folder. */
export function appRoot (root?: string): string {
  return resolve(root ?? process.cwd())
}

/** A logger for one-shot commands: warnings and errors to stderr. */
export function cliLogger (): Logger {
  return pino({ level: 'warn' }, destination(2))
}

/** The app's configuration, as `sd start` would load it. */
export function appConfig (root: string): Promise<Config> {
  return loadConfig({ root })
}

/** Runs `fn` with the app's migrations on its MySQL primary, then closes the pool. */
export async function withMigrations<T> (root: string, fn: (m: Migrations) => Promise<T>): Promise<T> {
  const config = await appConfig(root)
  const mysql = new Mysql(config.mysql, cliLogger())
  try {
    return await fn(new Migrations(mysql.primary, config.mysql, root))
  } catch (err) {
    throw mysql.mapError(err)
  } finally {
    await mysql.close()
  }
}

/** The `--root` flag every app command takes. */
export const rootFlag = Flags.directory({ description: 'application folder', default: '.', exists: true })

/**
 * Runs `fn` on the app's migrations for a command: a missing migrations folder or any failure
 * ends the command with a clear message and exit 1.
 */
export async function migrationsCommand<T> (cmd: Command, root: string, fn: (m: Migrations) => Promise<T>): Promise<T> {
  return withMigrations(root, async (m) => {
    if (!(await m.hasDirectory())) throw new Error(`no migrations folder: ${m.directory}`)
    return fn(m)
  }).catch((err: unknown) => failWith(cmd, err))
}
