/**
 * `sd new <name>`: renders `templates/app/**` into a new folder. `.eta` files are rendered
 * (suffix dropped), `.raw` files copied as they are (suffix dropped: the new app's own eta
 * views), everything else copied; `gitignore` becomes `.gitignore`.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { dirname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { checkName } from './generate.js'
import { renderTemplate, templatesDir } from './render.js'

const frameworkRoot = fileURLToPath(new URL('../../', import.meta.url))

/** One file of the new app. */
export interface AppFile {
  /** Path relative to the app folder, `/`-separated. */
  path: string
  content: string
}

/** What the templates get as `it`. */
export interface NewAppData {
  name: string
  packageName: string
  /** The `sd-framework` dependency: `file:<this checkout>`. */
  frameworkRef: string
  frameworkVersion: string
  frameworkDocs: string
  versions: { typescript: string, typesNode: string, tsx: string }
}

async function listFiles (dir: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...await listFiles(full))
    else out.push(full)
  }
  return out.sort()
}

/** `MyApp`, `my_app` → `my-app` (an npm package name). */
export function packageNameOf (name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').replace(/_/g, '-').toLowerCase()
}

/** The data for `name`, with this checkout as the framework and its tool versions. */
export async function newAppData (name: string): Promise<NewAppData> {
  checkName(name)
  const pkg = JSON.parse(await readFile(join(frameworkRoot, 'package.json'), 'utf8')) as {
    version: string, dependencies: Record<string, string>, devDependencies: Record<string, string>
  }
  return {
    name,
    packageName: packageNameOf(name),
    frameworkRef: `file:${frameworkRoot.replace(/\/$/, '')}`,
    frameworkVersion: pkg.version,
    frameworkDocs: join(frameworkRoot, 'README.md'),
    versions: { typescript: pkg.devDependencies.typescript, typesNode: pkg.devDependencies['@types/node'], tsx: pkg.dependencies.tsx },
  }
}

/** Every file of a new app, rendered, without writing anything. */
export async function planNewApp (data: NewAppData): Promise<AppFile[]> {
  const base = join(templatesDir, 'app')
  const files: AppFile[] = []
  for (const full of await listFiles(base)) {
    let path = relative(base, full).split(sep).join('/')
    let content: string
    if (path.endsWith('.eta')) {
      content = renderTemplate(`app/${path}`, data)
      path = path.slice(0, -'.eta'.length)
    } else {
      content = await readFile(full, 'utf8')
      if (path.endsWith('.raw')) path = path.slice(0, -'.raw'.length)
    }
    if (path === 'gitignore') path = '.gitignore'
    files.push({ path, content })
  }
  return files
}

/** Writes the files under `dir`. */
export async function writeApp (dir: string, files: AppFile[]): Promise<void> {
  for (const f of files) {
    const target = join(dir, f.path)
    await mkdir(dirname(target), { recursive: true })
    await writeFile(target, f.content)
  }
}
