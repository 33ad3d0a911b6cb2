/**
 * What a `config/<section>.ts` file may export, checked twice: by the compiler, through
 * `defineConfig('server', {...})` (each SD section has its type, so `tsc` and editors flag
 * `prot:` in config/server.ts), and at boot, where a file that is not an SD section and does
 * not declare itself (`config/sever.ts`) is reported instead of silently ignored.
 */
import type { Config, DeepPartial } from './config-types.js'

/** The type a config file of each SD section exports. */
export interface ConfigSections {
  app: DeepPartial<Config['app']>
  server: DeepPartial<Config['server']>
  mysql: DeepPartial<Config['mysql']>
  redis: DeepPartial<Config['redis']>
  tasks: DeepPartial<Config['tasks']>
  views: DeepPartial<Config['views']>
  cluster: DeepPartial<Config['cluster']>
  gateway: DeepPartial<Config['gateway']>
  recovery: DeepPartial<Config['recovery']>
  admin: DeepPartial<Config['admin']>
  auth: DeepPartial<Config['auth']>
  metrics: DeepPartial<Config['metrics']>
  routes: Config['routes']
  timers: Config['timers']
}

/** Names of the SD sections (the files SD reads itself). */
export const sdSections: ReadonlyArray<keyof ConfigSections> = ['app', 'server', 'mysql', 'redis', 'tasks', 'views', 'cluster', 'gateway', 'recovery', 'admin', 'auth', 'metrics', 'routes', 'timers']

/** `S` when it is not an SD section's name (an app's own section), else never. */
type AppSection<S extends string> = S extends keyof ConfigSections ? never : S

/** The section a `defineConfig(section, …)` export declared (a non-enumerable tag). */
const sectionTag = Symbol.for('sd.configSection')

/**
 * Marks a config file's export and returns it unchanged. Name the section to have its keys
 * checked by the compiler: `export default defineConfig('server', { tcp: { port: 9093 } })`.
 * An app's own section (`config/chat.ts`) declares its name too: `defineConfig('chat', {...})`.
 */
export function defineConfig<S extends keyof ConfigSections> (section: S, config: ConfigSections[S]): ConfigSections[S]
export function defineConfig<S extends string, T extends object> (section: S & AppSection<S>, config: T): T
/** The untyped form (kept for older files): nothing is checked before boot. */
export function defineConfig<T extends object> (config: T): T
export function defineConfig (section: string | object, config?: object): object {
  if (typeof section !== 'string') return section
  if (config !== undefined && Object.isExtensible(config)) Object.defineProperty(config, sectionTag, { value: section })
  return config as object
}

/** The section an export declared with `defineConfig(section, …)`, if any. */
export function declaredSection (exported: unknown): string | undefined {
  if (typeof exported !== 'object' || exported === null) return undefined
  const s = (exported as Record<symbol, unknown>)[sectionTag]
  return typeof s === 'string' ? s : undefined
}

/**
 * A warning for `config/<file>` whose name makes it section `name`, or undefined when it is
 * fine: an SD section whose export declares no other name, or an app section that declares
 * its own name.
 */
export function configFileWarning (file: string, name: string, exported: unknown): string | undefined {
  const declared = declaredSection(exported)
  const known = sdSections.join(', ')
  if (declared !== undefined && declared !== name) {
    return `config/${file} declares section '${declared}' but its file name makes it section '${name}', so it is not used as '${declared}': rename it to config/${declared}${file.slice(name.length)}`
  }
  if ((sdSections as readonly string[]).includes(name) || declared === name) return undefined
  return `config/${file} is not a known config file (SD reads ${known}); it is kept as the app's own section '${name}'. ` +
    `A misspelt name? Rename it. Your own section? Declare it: defineConfig('${name}', {...})`
}
