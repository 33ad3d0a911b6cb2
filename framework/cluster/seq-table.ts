/**
 * Entries keyed by an increasing sequence number, in a ring of slots (slot `seq % size`, a
 * power of two, doubled when a live entry holds the slot). Stands in for a `Map` on the
 * messenger's hot path, where a `Map` with a high turnover keeps rehashing, and an outgrown
 * table in the old generation keeps removed entries alive (promoted) until a full collection;
 * here a removed entry's slot is cleared at once. Memory follows the span of live sequence
 * numbers (newest − oldest), which the caller keeps bounded; `compact()` shrinks the ring.
 */

/** An entry: `seq` is a safe integer ≥ 0, larger than the seq of any entry added before it. */
export interface Sequenced { readonly seq: number }

const MIN_SIZE = 1024

/** Live entries by seq, in a ring of slots (see the file's comment). */
export class SeqTable<T extends Sequenced> {
  #slots: Array<T | undefined> = new Array<T | undefined>(MIN_SIZE).fill(undefined)
  #size = 0
  /** No live entry has a lower seq (the entry at this seq may be gone: `oldest()` moves it on). */
  #low = 0
  /** One above the highest seq added (0 before the first: seqs start at 0 or above). */
  #high = 0

  /** Live entries. */
  get size (): number { return this.#size }

  /** Slots in the ring. */
  get capacity (): number { return this.#slots.length }

  /** Adds `entry`; seqs must increase from one `add` to the next. */
  add (entry: T): void {
    if (!Number.isSafeInteger(entry.seq) || entry.seq < this.#high) throw new RangeError(`seq ${entry.seq} is not an integer above ${this.#high - 1}`)
    if (this.#size === 0) this.#low = entry.seq
    let i = entry.seq % this.#slots.length
    if (this.#slots[i] !== undefined) {
      this.#resize(this.#slots.length * 2, entry.seq)
      i = entry.seq % this.#slots.length
    }
    this.#slots[i] = entry
    this.#high = entry.seq + 1
    this.#size++
  }

  /** The live entry with this seq (any other number: none). */
  get (seq: number): T | undefined {
    const entry = this.#slots[seq % this.#slots.length]
    return entry !== undefined && entry.seq === seq ? entry : undefined
  }

  /** Removes `entry` (no-op when it is not in the table). */
  delete (entry: T): boolean {
    const i = entry.seq % this.#slots.length
    if (this.#slots[i] !== entry) return false
    this.#slots[i] = undefined
    this.#size--
    return true
  }

  /** The live entry with the lowest seq. */
  oldest (): T | undefined {
    if (this.#size === 0) return undefined
    for (;;) {
      const entry = this.get(this.#low)
      if (entry !== undefined) return entry
      this.#low++
    }
  }

  /** Live entries, lowest seq first (a copy: the table may change while the caller walks it). */
  values (): T[] {
    const out: T[] = []
    if (this.#size === 0) return out
    for (const entry of this.#slots) if (entry !== undefined) out.push(entry)
    return out.sort((a, b) => a.seq - b.seq)
  }

  /** Removes every entry (seqs must still increase afterwards). */
  clear (): void {
    this.#slots = new Array<T | undefined>(MIN_SIZE).fill(undefined)
    this.#size = 0
  }

  /** Shrinks the ring when the live span fits a quarter of it (call it now and then, not per entry). */
  compact (): void {
    const oldest = this.oldest()
    const span = oldest === undefined ? 0 : this.#high - oldest.seq
    let size = this.#slots.length
    while (size > MIN_SIZE && span * 4 <= size) size /= 2
    if (size < this.#slots.length) this.#resize(size)
  }

  /**
   * Moves the live entries to the smallest ring of `size` slots or more (doubling) where they,
   * and `adding`, each have a slot of their own.
   */
  #resize (size: number, adding?: number): void {
    const live = this.#slots.filter((e): e is T => e !== undefined)
    let slots = place(live, size, adding)
    while (slots === undefined) slots = place(live, (size *= 2), adding)
    this.#slots = slots
  }
}

/** `entries` in a ring of `size` slots with `adding`'s slot left free; undefined when two need one slot. */
function place<T extends Sequenced> (entries: readonly T[], size: number, adding: number | undefined): Array<T | undefined> | undefined {
  const slots = new Array<T | undefined>(size).fill(undefined)
  for (const e of entries) {
    const i = e.seq % size
    if (slots[i] !== undefined) return undefined
    slots[i] = e
  }
  return adding !== undefined && slots[adding % size] !== undefined ? undefined : slots
}
