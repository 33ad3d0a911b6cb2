/**
 * `createApp`: configuration, then controllers, timers and tasks from their folders, the
 * custom routes, and `app/boot.ts` (hooks, middleware). The application it returns is ready to
 * `start`.
 */
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Logger } from 'pino'
import { Application } from './application.js'
import { loadConfig, type ConfigInput } from './config.js'
import type { ControllerClass } from '../core/controller.js'
import type { TimerClass } from '../timer/timer.js'

/** Options of `createApp`. */
export interface CreateAppOptions {
  /** Application root (holds `app/` and `config/`). @default process.cwd() */
  root?: string
  /** Config directory, or `false` to use defaults and overrides only. @default '<root>/config' */
  configDir?: string | false
  /** Applied over config files and env (tests use ports 0). */
  overrides?: ConfigInput
  /** Environment for overrides. @default process.env */
  env?: NodeJS.ProcessEnv
  /** Controllers to register instead of loading `app.controllersDir`. */
  controllers?: ControllerClass[]
  /** Timer classes to register instead of loading `app.timersDir`. */
  timers?: TimerClass[]
  /** Run instead of `app/boot.ts`: registers hooks and middleware. */
  boot?: (app: Application) => void | Promise<void>
  /** Logger to use instead of a new pino instance. */
  logger?: Logger
  /** Prefix of connection ids (each worker of `sd start --workers N` has its own). @default '' */
  connectionIdPrefix?: string
  /**
   * Run the admin listener when `admin.enabled`; a worker process of `sd start` passes false
   * (its primary runs the listener for the whole server). @default true
   */
  adminListener?: boolean
}

/** Loads config, controllers and `app/boot.ts`; the returned application is ready to `start`. */
export async function createApp (options: CreateAppOptions = {}): Promise<Application> {
  const root = resolve(options.root ?? process.cwd())
  const warnings: string[] = []
  const config = await loadConfig({ root, configDir: options.configDir, overrides: options.overrides, env: options.env, onWarning: (w) => warnings.push(w) })
  if (options.adminListener === false) config.admin.enabled = false
  const app = new Application(config, root, options.logger, options.connectionIdPrefix)
  for (const w of warnings) app.log.warn(w)
  // a gateway runs no application code (so it never needs reloading): config only
  if (config.gateway.role === 'gateway') return app
  if (options.controllers) {
    for (const c of options.controllers) app.addController(c)
  } else {
    await app.loadControllers()
  }
  if (options.timers) {
    for (const t of options.timers) app.timers.add(t)
  } else {
    await app.timers.load()
  }
  await app.tasks.load(resolve(root, config.tasks.dir))
  app.router.addRules(config.routes)
  if (options.boot) {
    await options.boot(app)
  } else if (!options.controllers) {
    for (const ext of ['.ts', '.js']) {
      const file = join(root, 'app', `boot${ext}`)
      let mod: { default?: (app: Application) => unknown }
      try {
        // eslint-disable-next-line layers/layer-order -- loads the application's app/boot by URL
        mod = await import(pathToFileURL(file).href) as typeof mod
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && String((err as Error).message).includes(file)) continue
        throw err
      }
      if (typeof mod.default === 'function') await mod.default(app)
      break
    }
  }
  return app
}
