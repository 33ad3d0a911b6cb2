import { Controller, type Html } from '../../framework/index.js'
import { benchPage } from '../services/bench.js'

/** Benchmark routes: `/bench/echo` answers with its data on every transport; `/bench/page` renders a view; `/bench/where` names the process. */
export class BenchController extends Controller {
  echo (data: unknown): unknown {
    return data
  }

  /** Which process answered: node name, pid and connection id (the multi-core tests and benchmarks use it). */
  where (): { node: string, pid: number, connectionId: string | undefined } {
    return { node: this.config.app.nodeName, pid: process.pid, connectionId: this.connectionId }
  }

  /** Binds the caller to `uid` (the push benchmark's receivers). */
  async bind (data: { uid: string }): Promise<boolean> {
    await this.bindUid(data.uid)
    return true
  }

  /** `sendToUid(to, data)`; answers how many connections it reached. */
  push (data: { to: string, data: unknown }): Promise<number> {
    return this.sendToUid(data.to, data.data)
  }

  page (): Html {
    return this.view('bench/page', benchPage)
  }
}
