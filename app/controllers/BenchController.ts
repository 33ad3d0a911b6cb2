import { Controller } from '../../framework/index.js'

/** The benchmark route: `/bench/echo` answers with its data, on every transport. */
export class BenchController extends Controller {
  echo (data: unknown): unknown {
    return data
  }
}
