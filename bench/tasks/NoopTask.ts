import { Task } from '../../framework/index.js'

/** The task of `bench/task.ts`: returns its argument, so a call measures only the round trip. */
export class NoopTask extends Task {
  noop<T> (value: T): T {
    return value
  }
}
