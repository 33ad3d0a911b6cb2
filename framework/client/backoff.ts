/** Jittered capped backoff: waits double from `firstMs` up to `maxMs`, each drawn in [d/2, d). */
export class Backoff {
  readonly #firstMs: number
  readonly #maxMs: number
  #next: number

  constructor (firstMs = 250, maxMs = 10000) {
    this.#firstMs = Math.max(1, firstMs)
    this.#maxMs = Math.max(this.#firstMs, maxMs)
    this.#next = this.#firstMs
  }

  /** The next wait in ms (and doubles the one after). */
  next (): number {
    const d = this.#next
    this.#next = Math.min(this.#maxMs, d * 2)
    return d / 2 + Math.random() * (d / 2)
  }

  /** Back to `firstMs` (after a successful open). */
  reset (): void {
    this.#next = this.#firstMs
  }
}
