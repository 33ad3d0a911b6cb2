import { Controller } from '../../framework/index.js'

/**
 * The benchmark harness's `/bench/*` routes that act on other users, multiply work or show
 * internals: registered by `app/boot.ts` only when `SD_BENCH=1` (this folder is not
 * `app/controllers`, so the router does not load it by convention). Without it a server exposed
 * to the world offers only `/bench/echo` and `/bench/page`. `/bench/bind` + `/bench/push`,
 * `/bench/burst` and `/bench/join` + `/bench/group` push between connections (`recover`: the
 * send's option, for bench/recovery.ts); `/bench/where` names the process.
 */
export class BenchLoadController extends Controller {
  /** Which process answered: node name, pid and connection id (the multi-core tests and benchmarks use it). */
  where (): { node: string, pid: number, connectionId: string | undefined } {
    return { node: this.config.app.nodeName, pid: process.pid, connectionId: this.connectionId }
  }

  /** Binds the caller to `uid` (the push benchmark's receivers). */
  async bind (data: { uid: string }): Promise<boolean> {
    await this.bindUid(data.uid)
    return true
  }

  /** `sendToUid(to, data, {recover})`; answers how many connections it reached. */
  push (data: { to: string, data: unknown, recover?: boolean }): Promise<number> {
    return this.sendToUid(data.to, data.data, { recover: recoverOption(data.recover) })
  }

  /**
   * `sendToUid(to, data)` `n` times in one go (1..1000), as a server pushing a burst (a timer,
   * a game tick, a backlog); answers how many deliveries the sends reported in total.
   */
  async burst (data: { to: string, data: unknown, n: number }): Promise<number> {
    const n = Math.min(1000, Math.max(1, Math.trunc(Number(data.n)) || 1))
    const sends: Array<Promise<number>> = []
    for (let i = 0; i < n; i++) sends.push(this.sendToUid(data.to, data.data))
    let total = 0
    for (const reached of await Promise.all(sends)) total += reached
    return total
  }

  /** Joins `group` (the fan-out benchmark's members). */
  async join (data: { group: string }): Promise<boolean> {
    await this.joinGroup(data.group)
    return true
  }

  /** `sendToGroup(group, data, {recover})`; answers how many connections it reached. */
  group (data: { group: string, data: unknown, recover?: boolean }): Promise<number> {
    return this.sendToGroup(data.group, data.data, { recover: recoverOption(data.recover) })
  }
}

/** A send's `recover` option from the request: true or false, else undefined (the config decides). */
function recoverOption (value: unknown): boolean | undefined {
  return typeof value === 'boolean' ? value : undefined
}
