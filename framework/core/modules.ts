/**
 * Loading a folder of app modules (controllers, tasks, timers): every `.ts`, `.js` or `.mjs`
 * file (not `.d.ts`, not `.test.`), in name order, and the classes each one exports.
 */
import { readdir } from 'node:fs/promises'
import { basename, extname, join } from 'node:path'
import { pathToFileURL } from 'node:url'

/** A class found in a module of the folder. */
export interface FoundClass<C> {
  cls: C
  /** The export's name (`default` for a default export). */
  exportName: string
  /** The name to register it by: the export's, or for a default export the class's (or file's). */
  name: string
  /** `file:` URL of its module. */
  url: string
}

const extensions = new Set(['.ts', '.js', '.mjs'])

/**
 * Imports every module of `dir` and returns the exports `accept` recognises. A module that
 * exports none fails with `onEmpty(file)`; a missing folder holds nothing.
 */
export async function loadClasses<C> (dir: string, accept: (value: unknown) => value is C, onEmpty: (file: string) => Error): Promise<Array<FoundClass<C>>> {
  let files: string[]
  try {
    files = (await readdir(dir)).sort()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  const out: Array<FoundClass<C>> = []
  for (const file of files) {
    const ext = extname(file)
    if (!extensions.has(ext) || file.endsWith('.d.ts') || file.includes('.test.')) continue
    const url = pathToFileURL(join(dir, file)).href
    // eslint-disable-next-line layers/layer-order -- loads application code by URL
    const mod = await import(url) as Record<string, unknown>
    const found = Object.entries(mod).filter(([, v]) => accept(v))
    if (found.length === 0) throw onEmpty(file)
    for (const [exportName, value] of found) {
      const cls = value as C
      const clsName = (cls as { name?: string }).name
      out.push({ cls, exportName, url, name: exportName === 'default' ? (clsName || basename(file, ext)) : exportName })
    }
  }
  return out
}
