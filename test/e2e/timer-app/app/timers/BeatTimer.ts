import { Timer } from '../../../../../framework/index.js'

/** Records each run in Redis: a counter and the list of `tick:fence:node`, in one transaction. */
export class BeatTimer extends Timer {
  async run (): Promise<void> {
    await this.redis.multi().incr('beats').rpush('ticks', `${this.tick}:${this.fence}:${this.node}`).exec()
  }
}
