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

  page (): Html {
    return this.view('bench/page', benchPage)
  }
}
