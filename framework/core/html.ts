/**
 * A rendered page as an action's result: HTTP sends it as `text/html`, other transports send the
 * HTML string. Views (view/views.ts) make them; core only needs to recognise one.
 */

/** A rendered page: HTTP sends it as `text/html`; other transports send the HTML string. */
export class Html {
  readonly html: string
  constructor (html: string) {
    this.html = html
  }

  toJSON (): string {
    return this.html
  }

  toString (): string {
    return this.html
  }
}
