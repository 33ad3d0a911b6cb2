/**
 * Renders the files of `templates/` (eta) for `sd new` and `sd generate`. Templates are
 * source code, so nothing is HTML-escaped and whitespace is kept as written.
 */
import { fileURLToPath } from 'node:url'
import { Eta } from 'eta'

/** The framework's `templates/` folder. */
export const templatesDir = fileURLToPath(new URL('../../templates/', import.meta.url))

const eta = new Eta({ views: templatesDir, autoEscape: false, autoTrim: false, cache: true })

/** Renders `templates/<name>` (a path relative to it) with `data`. */
export function renderTemplate (name: string, data: object): string {
  return eta.render(name, data)
}
