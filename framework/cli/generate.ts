/**
 * `sd generate <kind> <Name>`: plans the files a kind renders (path + content), then writes
 * them, refusing to overwrite unless forced. Nothing is registered by hand: controllers route
 * by convention, migrations are found by `sd migrate`.
 */
import { access, mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { renderTemplate } from './render.js'

/** This framework's package folder and name. */
const frameworkRoot = fileURLToPath(new URL('../../', import.meta.url))
export const frameworkPackage = 'sd-framework'

/** What `sd generate` can make. */
export const generateKinds = ['migration'] as const
export type GenerateKind = typeof generateKinds[number]

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

/** `create-messages`, `CreateMessages` → `create_messages`. */
export function snakeCase (name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/-/g, '_').toLowerCase()
}

/** knex's migration file prefix: UTC `YYYYMMDDHHmmss`. */
export function migrationStamp (now: Date): string {
  return now.toISOString().replace(/[-:T]/g, '').slice(0, 14)
}

/** Folders the generators write into, relative to the app root. */
export interface GenerateDirs {
  migrationsDir: string
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
  checkName(name)
  switch (kind) {
    case 'migration': {
      const snake = snakeCase(name)
      const dir = join(root, dirs.migrationsDir)
      return [{
        path: join(dir, `${migrationStamp(now)}_${snake}.ts`),
        content: renderTemplate('generate/migration.ts.eta', {
          name: snake,
          table: /^create_(\w+)$/.exec(snake)?.[1],
          framework: await frameworkImport(root, dir),
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
  const files = await planGenerate(kind, name, root, dirs, options.now)
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
