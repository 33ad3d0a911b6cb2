/** Options of the view layer (`config/views.ts`), with their defaults. */

/** `config/views.ts`: eta templates. */
export interface ViewsConfig {
  /** Folder of templates, relative to the app root. @default 'app/views' */
  dir: string
  /** Keep compiled templates in memory. @default true when NODE_ENV is 'production', else false (re-read on every render) */
  cache: boolean
}

/** Defaults of `config.views`. */
export function viewsDefaults (): ViewsConfig {
  return { dir: 'app/views', cache: process.env.NODE_ENV === 'production' }
}
