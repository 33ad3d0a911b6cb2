/**
 * `sd generate <kind> <Name>`: plans the files a kind renders (path + content), then writes
 * them, refusing to overwrite unless forced. Nothing is registered by hand: controllers route
 * by convention, migrations are found by `sd migrate`.
 */
import { access, mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { renderTemplate, templatesDir } from './render.js'
import { readFileSync } from 'node:fs'

/** This framework's package folder and name. */
const frameworkRoot = fileURLToPath(new URL('../../', import.meta.url))
export const frameworkPackage = 'sd-framework'

/** What `sd generate` can make. */
export const generateKinds = ['controller', 'model', 'task', 'timer', 'view', 'migration', 'deploy'] as const
/** The kinds that render one named thing (`deploy` takes no name: generate-deploy.ts). */
export type GenerateKind = Exclude<typeof generateKinds[number], 'deploy'>

/** One file a generator would write. */
export interface PlannedFile {
  /** Absolute path. */
  path: string
  content: string
}

/** A name a user typed that cannot become a file or class name. */
export class NameError extends Error {}

/** Checks a name typed on the command line: a letter, then letters, digits, `_` or `-`. */
export function checkName (name: string): string {
  if (name === '') throw new NameError('the name is empty')
  if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(name)) {
    throw new NameError(`'${name}' is not a valid name: start with a letter, then use letters, digits, _ or - (no paths)`)
  }
  return name
}

/** A view name: `/`-separated valid names (`room/list`), never `..`. */
export function checkViewName (name: string): string {
  if (name === '') throw new NameError('the name is empty')
  for (const part of name.split('/')) {
    if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(part)) {
      throw new NameError(`'${name}' is not a valid view name: folders and a file name, each starting with a letter (room/list)`)
    }
  }
  return name
}

/** `user-profile`, `user_profile`, `userProfile` → `UserProfile`. */
export function pascalCase (name: string): string {
  return name.split(/[-_]/).filter(Boolean).map((p) => p.charAt(0).toUpperCase() + p.slice(1)).join('')
}

/** `UserProfile` → `user-profile`. */
export function kebabCase (name: string): string {
  return snakeCase(name).replace(/_/g, '-')
}

/** `create-messages`, `CreateMessages` → `create_messages`. */
export function snakeCase (name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/-/g, '_').toLowerCase()
}

/** knex's migration file prefix: UTC `YYYYMMDDHHmmss`. */
export function migrationStamp (now: Date): string {
  return now.toISOString().replace(/[-:T]/g, '').slice(0, 14)
}

/** Folders the generators write into, relative to the app root (as in `Config`). */
export interface GenerateDirs {
  app: { controllersDir: string, timersDir: string }
  tasks: { dir: string }
  mysql: { migrationsDir: string }
  views: { dir: string }
}

/** The folder of generated tests, relative to the app root. */
const testDir = 'test'

/** `Name` with `suffix` once: `Room`, `RoomController` → `RoomController`. */
function withSuffix (name: string, suffix: string): { base: string, className: string } {
  const pascal = pascalCase(name)
  const base = pascal.endsWith(suffix) && pascal !== suffix ? pascal.slice(0, -suffix.length) : pascal
  return { base, className: base + suffix }
}

/** A naive English plural for table names: `message` → `messages`, `city` → `cities`. */
function plural (word: string): string {
  if (/[^aeiou]y$/.test(word)) return word.slice(0, -1) + 'ies'
  if (/(s|x|z|ch|sh)$/.test(word)) return word + 'es'
  return word + 's'
}

/** Import path of `file` from a file in `fromDir`, `/`-separated, `.ts` → `.js`. */
function importPath (fromDir: string, file: string): string {
  const rel = relative(fromDir, file).split(sep).join('/').replace(/\.ts$/, '.js')
  return rel.startsWith('.') ? rel : `./${rel}`
}

/**
 * How a file in `fromDir` imports the framework: the package name in an app, a relative path
 * inside the framework's own repository (its demo app).
 */
export async function frameworkImport (root: string, fromDir: string): Promise<string> {
  const pkg = await readFile(join(root, 'package.json'), 'utf8').then((s) => JSON.parse(s) as { name?: string }, () => ({ name: undefined }))
  if (pkg.name !== frameworkPackage || relative(frameworkRoot, root) !== '') return frameworkPackage
  const rel = relative(fromDir, join(frameworkRoot, 'framework', 'index.js')).split(sep).join('/')
  return rel.startsWith('.') ? rel : `./${rel}`
}

/** The files `sd generate <kind> <name>` renders, without writing anything. */
export async function planGenerate (kind: GenerateKind, name: string, root: string, dirs: GenerateDirs, now = new Date()): Promise<PlannedFile[]> {
  if (kind === 'view') checkViewName(name)
  else checkName(name)
  const tests = join(root, testDir)
  const framework = async (dir: string): Promise<string> => frameworkImport(root, dir)
  switch (kind) {
    case 'controller': {
      const { base, className } = withSuffix(name, 'Controller')
      const route = base.charAt(0).toLowerCase() + base.slice(1)
      const dir = join(root, dirs.app.controllersDir)
      return [
        { path: join(dir, `${className}.ts`), content: renderTemplate('generate/controller.ts.eta', { className, route, framework: await framework(dir) }) },
        { path: join(tests, `${kebabCase(base)}.controller.test.ts`), content: renderTemplate('generate/controller.test.ts.eta', { className, route, framework: await framework(tests) }) },
      ]
    }
    case 'model': {
      const { base, className } = withSuffix(name, 'Model')
      const dir = join(root, 'app/models')
      const file = join(dir, `${className}.ts`)
      const data = { className, table: plural(snakeCase(base)), modelImport: importPath(tests, file) }
      return [
        { path: file, content: renderTemplate('generate/model.ts.eta', { ...data, framework: await framework(dir) }) },
        { path: join(tests, `${kebabCase(base)}.model.test.ts`), content: renderTemplate('generate/model.test.ts.eta', { ...data, framework: await framework(tests) }) },
      ]
    }
    case 'task':
    case 'timer': {
      const { base, className } = withSuffix(name, kind === 'task' ? 'Task' : 'Timer')
      const dir = join(root, kind === 'task' ? dirs.tasks.dir : dirs.app.timersDir)
      const file = join(dir, `${className}.ts`)
      const data = { className, classImport: importPath(tests, file), configKey: base.charAt(0).toLowerCase() + base.slice(1) }
      return [
        { path: file, content: renderTemplate(`generate/${kind}.ts.eta`, { ...data, framework: await framework(dir) }) },
        { path: join(tests, `${kebabCase(base)}.${kind}.test.ts`), content: renderTemplate(`generate/${kind}.test.ts.eta`, { ...data, framework: await framework(tests) }) },
      ]
    }
    case 'view': {
      const raw = readFileSync(join(templatesDir, 'generate/view.eta.raw'), 'utf8')
      return [
        { path: join(root, dirs.views.dir, `${name}.eta`), content: raw.replaceAll('__VIEW__', name) },
        { path: join(tests, `${name.replaceAll('/', '-')}.view.test.ts`), content: renderTemplate('generate/view.test.ts.eta', { view: name, framework: await framework(tests) }) },
      ]
    }
    case 'migration': {
      const snake = snakeCase(name)
      const dir = join(root, dirs.mysql.migrationsDir)
      return [{
        path: join(dir, `${migrationStamp(now)}_${snake}.ts`),
        content: renderTemplate('generate/migration.ts.eta', {
          name: snake,
          table: /^create_(\w+)$/.exec(snake)?.[1],
          framework: await framework(dir),
        }),
      }]
    }
  }
}

/** Files that exist already, refused without `force`. */
export class ExistsError extends Error {}

/** Options of `generate`. */
export interface GenerateOptions {
  /** Plan only, write nothing. @default false */
  dryRun?: boolean
  /** Overwrite files that exist. @default false */
  force?: boolean
  /** Time for migration names. @default new Date() */
  now?: Date
}

/** Plans and (unless `dryRun`) writes; resolves to the files, paths relative to `root`. */
export async function generate (kind: GenerateKind, name: string, root: string, dirs: GenerateDirs, options: GenerateOptions = {}): Promise<PlannedFile[]> {
  return writePlanned(await planGenerate(kind, name, root, dirs, options.now), root, options)
}

/** Writes planned files (unless `dryRun`), refusing to overwrite unless `force`; paths relative to `root`. */
export async function writePlanned (files: PlannedFile[], root: string, options: Pick<GenerateOptions, 'dryRun' | 'force'> = {}): Promise<PlannedFile[]> {
  const rel = files.map((f) => ({ path: relative(root, f.path), content: f.content }))
  if (options.dryRun) return rel
  const found = await Promise.all(files.map((f) => access(f.path).then(() => relative(root, f.path), () => undefined)))
  const clash = found.filter((p): p is string => p !== undefined)
  if (clash.length > 0 && !options.force) throw new ExistsError(`not overwriting ${clash.join(', ')} (use --force)`)
  for (const f of files) {
    await mkdir(dirname(f.path), { recursive: true })
    await writeFile(f.path, f.content)
  }
  return rel
}
