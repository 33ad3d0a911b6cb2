import { Controller, type Html } from '../../framework/index.js'
import { benchPage } from '../services/bench.js'

/**
 * Benchmark routes safe on an exposed server: `/bench/echo` answers with its data on every
 * transport; `/bench/page` renders a view. The routes that act on other users or multiply
 * work (`bind`, `push`, `burst`, `join`, `group`, `where`) are in app/bench/BenchLoadController.ts
 * and exist only with `SD_BENCH=1`.
 */
export class BenchController extends Controller {
  echo (data: unknown): unknown {
    return data
  }

  page (): Html {
    return this.view('bench/page', benchPage)
  }
}
