/**
 * Views: eta templates in `app/views` (`chat/index.eta`), HTML-escaped by default (`<%= %>`;
 * `<%~ %>` writes raw HTML), with eta's layouts (`<% layout('/layout') %>`, the page arrives
 * as `it.body`) and partials (`<%~ include('/partials/nav', it) %>`). A leading `/` starts at
 * the views folder; other paths are relative to the template. Compiled templates are cached
 * when `views.cache` is on (production) and re-read on every render otherwise.
 */
import { resolve } from 'node:path'
import { Eta } from 'eta'
import type { Logger } from 'pino'
import type { ViewsConfig } from './options.js'
import { SdError } from '../core/errors.js'
import { Html } from '../core/html.js'

export { Html } from '../core/html.js'

/** The templates of one app. */
export class Views {
  readonly #eta: Eta
  readonly #log: Logger

  constructor (config: ViewsConfig, root: string, log: Logger) {
    this.#eta = new Eta({ views: resolve(root, config.dir), cache: config.cache, cacheFilepaths: config.cache, autoEscape: true, defaultExtension: '.eta' })
    this.#log = log
  }

  /**
   * Renders `name` (relative to the views folder, extension optional) with `data` as `it`.
   * A missing template or one that throws → `SD_ERR_VIEW_RENDER` naming the view; the cause
   * (template line, message) goes to the log, never to the client.
   */
  render (name: string, data: object = {}): Html {
    try {
      return new Html(this.#eta.render(name, data))
    } catch (err) {
      this.#log.error({ err, view: name }, 'view failed')
      throw new SdError('SD_ERR_VIEW_RENDER', name, { cause: err })
    }
  }
}
