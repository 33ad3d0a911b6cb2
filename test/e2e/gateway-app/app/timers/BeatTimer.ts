import { Timer } from '../../../../../framework/index.js'

/** Counts its ticks in the worker that runs it (config/timers.ts). */
export class BeatTimer extends Timer {
  static ticks = 0

  beat (): void {
    BeatTimer.ticks++
  }
}
