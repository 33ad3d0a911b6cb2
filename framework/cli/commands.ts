/** Every `sd` command, by id (oclif's explicit discovery: no globbing at startup). */
import Build from './commands/build.js'
import Dev from './commands/dev.js'
import Generate from './commands/generate.js'
import Migrate from './commands/migrate.js'
import MigrateRollback from './commands/migrate-rollback.js'
import MigrateStatus from './commands/migrate-status.js'
import New from './commands/new.js'
import Reload from './commands/reload.js'
import Seed from './commands/seed.js'
import Start from './commands/start.js'
import Status from './commands/status.js'
import Stop from './commands/stop.js'
import Token from './commands/token.js'

export default {
  build: Build,
  dev: Dev,
  generate: Generate,
  migrate: Migrate,
  'migrate:rollback': MigrateRollback,
  'migrate:status': MigrateStatus,
  new: New,
  reload: Reload,
  seed: Seed,
  start: Start,
  status: Status,
  stop: Stop,
  token: Token,
}
