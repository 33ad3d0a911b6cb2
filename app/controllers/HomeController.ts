import { readFile } from 'node:fs/promises'
import { Controller } from '../../framework/index.js'

const page = new URL('../public/index.html', import.meta.url)
let cached: string | undefined

/** The chat web page (`GET /`). Views with eta replace the static file in a later version. */
export class HomeController extends Controller {
  static transports = { index: ['http' as const] }

  async index (): Promise<string> {
    cached ??= await readFile(page, 'utf8')
    this.reply.type('text/html; charset=utf-8')
    return cached
  }
}
