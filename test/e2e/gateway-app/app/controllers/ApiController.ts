import { Controller } from '../../../../../framework/index.js'

/** What the tests check answers come from; test/e2e/gateway.test.ts edits it in a copy of this app before `sd reload`. */
export const VERSION = 'v1'

/** Routes of the gateway tests: echo with the code version, a slow action, where it ran, uid sends. */
export class ApiController extends Controller {
  /** `{version, pid, data}`: which code and which process answered. */
  echo (data: unknown): { version: string, pid: number, data: unknown } {
    return { version: VERSION, pid: process.pid, data }
  }

  /** Every line of the text port: `<version> <line>`. */
  text (line: string): string {
    return `${VERSION} ${line.trim()}`
  }

  /** Answers `{n, pid}` after `ms` (at most 2 s): requests that are in flight for a while. */
  async slow (data: { n: number, ms: number }): Promise<{ n: number, pid: number }> {
    await new Promise((resolve) => setTimeout(resolve, Math.min(2000, Math.max(0, data.ms))))
    return { n: data.n, pid: process.pid }
  }

  /** The worker: pid and node name. */
  where (): { pid: number, node: string } {
    return { pid: process.pid, node: this.config.app.nodeName }
  }

  async bind (data: { uid: string }): Promise<boolean> {
    await this.bindUid(data.uid)
    return true
  }

  toUid (data: { uid: string, data: unknown }): Promise<number> {
    return this.sendToUid(data.uid, data.data)
  }
}
