/** Every `sd` command, by id (oclif's explicit discovery: no globbing at startup). */
import Generate from './commands/generate.js'
import Migrate from './commands/migrate.js'
import MigrateRollback from './commands/migrate-rollback.js'
import MigrateStatus from './commands/migrate-status.js'
import Seed from './commands/seed.js'
import Start from './commands/start.js'

export default {
  generate: Generate,
  migrate: Migrate,
  'migrate:rollback': MigrateRollback,
  'migrate:status': MigrateStatus,
  seed: Seed,
  start: Start,
}
