/**
 * {@link RangeSet}: the "assembler" that records which byte ranges of a
 * stream or datagram have arrived, for TCP out-of-order reassembly (RFC 9293
 * §3.10.7.4, SACK blocks per RFC 2018) and IPv4 fragment reassembly
 * (RFC 791 §3.2). The number of disjoint ranges is bounded so a hostile peer
 * cannot make it grow without limit (RFC 9293 §3.10.7.4 lets a receiver drop
 * out-of-order data it cannot hold).
 *
 * @module
 */

/**
 * Sorted, disjoint, non-adjacent half-open ranges `[start, end)` of
 * non-negative offsets, held in preallocated typed arrays of `maxRanges`
 * entries. No method allocates.
 *
 * @example
 * ```ts
 * import { RangeSet } from "./range_set.ts";
 * const set = new RangeSet(4);
 * set.add(10, 20);          // out of order
 * set.add(0, 10);           // fills the hole: merges into [0, 20)
 * console.assert(set.count === 1 && set.frontLength() === 20);
 * set.shift(20);            // delivered: renumber
 * console.assert(set.isEmpty());
 * ```
 */
export class RangeSet {
  /** The bound on the number of disjoint ranges. */
  readonly maxRanges: number;
  readonly #starts: Float64Array;
  readonly #ends: Float64Array;
  #count = 0;

  /**
   * Preallocates room for `maxRanges` ranges.
   *
   * @param maxRanges the bound, a positive integer
   * @throws RangeError when `maxRanges` is not a positive integer
   *
   * @example
   * ```ts
   * import { RangeSet } from "./range_set.ts";
   * console.assert(new RangeSet(8).maxRanges === 8);
   * ```
   */
  constructor(maxRanges: number) {
    if (!Number.isInteger(maxRanges) || maxRanges <= 0) {
      throw new RangeError(`RangeSet maxRanges must be a positive integer, got ${maxRanges}`);
    }
    this.maxRanges = maxRanges;
    this.#starts = new Float64Array(maxRanges);
    this.#ends = new Float64Array(maxRanges);
  }

  /**
   * Number of disjoint ranges.
   *
   * @returns the range count, `0..maxRanges`
   *
   * @example
   * ```ts
   * import { RangeSet } from "./range_set.ts";
   * const set = new RangeSet(4);
   * set.add(0, 1);
   * set.add(5, 6);
   * console.assert(set.count === 2);
   * ```
   */
  get count(): number {
    return this.#count;
  }

  /**
   * Start (inclusive) of range `i` in ascending order.
   *
   * @param i index, `0 <= i < count`
   * @returns the start offset (NaN when `i` is out of range)
   *
   * @example
   * ```ts
   * import { RangeSet } from "./range_set.ts";
   * const set = new RangeSet(4);
   * set.add(5, 9);
   * console.assert(set.start(0) === 5 && set.end(0) === 9);
   * ```
   */
  start(i: number): number {
    return i >= 0 && i < this.#count ? this.#starts[i] : NaN;
  }

  /**
   * End (exclusive) of range `i` in ascending order.
   *
   * @param i index, `0 <= i < count`
   * @returns the end offset (NaN when `i` is out of range)
   *
   * @example
   * ```ts
   * import { RangeSet } from "./range_set.ts";
   * const set = new RangeSet(4);
   * set.add(5, 9);
   * console.assert(set.end(0) === 9 && Number.isNaN(set.end(1)));
   * ```
   */
  end(i: number): number {
    return i >= 0 && i < this.#count ? this.#ends[i] : NaN;
  }

  /**
   * Whether no range is present.
   *
   * @returns `count === 0`
   *
   * @example
   * ```ts
   * import { RangeSet } from "./range_set.ts";
   * console.assert(new RangeSet(1).isEmpty());
   * ```
   */
  isEmpty(): boolean {
    return this.#count === 0;
  }

  /**
   * Removes every range.
   *
   * @example
   * ```ts
   * import { RangeSet } from "./range_set.ts";
   * const set = new RangeSet(2);
   * set.add(1, 2);
   * set.clear();
   * console.assert(set.isEmpty());
   * ```
   */
  clear(): void {
    this.#count = 0;
  }

  /** Index of the first range whose end is >= `offset` (count when none). */
  #firstEndingAtOrAfter(offset: number): number {
    let lo = 0;
    let hi = this.#count;
    const ends = this.#ends;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ends[mid] < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Adds `[start, end)`, merging with every range it overlaps or touches
   * (duplicates are absorbed). An empty range (`end <= start`) changes
   * nothing and returns true.
   *
   * @param start first offset (inclusive), a finite number `>= 0`
   * @param end last offset (exclusive)
   * @returns false — and the set is unchanged — when the range would need a
   *   new slot beyond {@link maxRanges} (it neither overlaps nor touches any
   *   present range) or when the arguments are not finite / start < 0
   *
   * @example
   * ```ts
   * import { RangeSet } from "./range_set.ts";
   * const set = new RangeSet(2);
   * console.assert(set.add(0, 4) && set.add(10, 14));
   * console.assert(!set.add(6, 8));          // would be a third range
   * console.assert(set.add(4, 10));          // bridges both: one range
   * console.assert(set.count === 1 && set.end(0) === 14);
   * ```
   */
  add(start: number, end: number): boolean {
    if (!(start >= 0) || !Number.isFinite(end)) return false;
    if (end <= start) return true;
    const starts = this.#starts;
    const ends = this.#ends;
    const count = this.#count;
    // First range that overlaps or is adjacent on the left (its end >= start).
    const i = this.#firstEndingAtOrAfter(start);
    if (i === count || starts[i] > end) {
      // Disjoint and not adjacent to anything: insert at i.
      if (count === this.maxRanges) return false;
      for (let k = count; k > i; k--) {
        starts[k] = starts[k - 1];
        ends[k] = ends[k - 1];
      }
      starts[i] = start;
      ends[i] = end;
      this.#count = count + 1;
      return true;
    }
    // Ranges i..j all overlap or touch [start, end): merge them into slot i.
    let j = i;
    while (j + 1 < count && starts[j + 1] <= end) j++;
    if (starts[i] < start) start = starts[i];
    if (ends[j] > end) end = ends[j];
    starts[i] = start;
    ends[i] = end;
    const removed = j - i;
    if (removed > 0) {
      for (let k = j + 1; k < count; k++) {
        starts[k - removed] = starts[k];
        ends[k - removed] = ends[k];
      }
      this.#count = count - removed;
    }
    return true;
  }

  /**
   * Whether any offset of `[start, end)` is already present.
   *
   * @param start first offset (inclusive)
   * @param end last offset (exclusive)
   * @returns true when at least one byte overlaps (false for an empty range)
   *
   * @example
   * ```ts
   * import { RangeSet } from "./range_set.ts";
   * const set = new RangeSet(2);
   * set.add(10, 20);
   * console.assert(set.overlaps(19, 30) && !set.overlaps(20, 30) && !set.overlaps(0, 10));
   * ```
   */
  overlaps(start: number, end: number): boolean {
    if (!(end > start)) return false;
    // First range whose end is > start, i.e. >= start + epsilon: search for
    // end >= start then skip a range that ends exactly at start.
    let i = this.#firstEndingAtOrAfter(start);
    if (i < this.#count && this.#ends[i] === start) i++;
    return i < this.#count && this.#starts[i] < end;
  }

  /**
   * Whether every offset of `[start, end)` is present.
   *
   * @param start first offset (inclusive)
   * @param end last offset (exclusive)
   * @returns true when the whole range is covered (true for an empty range)
   *
   * @example
   * ```ts
   * import { RangeSet } from "./range_set.ts";
   * const set = new RangeSet(2);
   * set.add(10, 20);
   * console.assert(set.covers(12, 20) && !set.covers(9, 12));
   * ```
   */
  covers(start: number, end: number): boolean {
    if (!(end > start)) return true;
    const i = this.#firstEndingAtOrAfter(end);
    return i < this.#count && this.#starts[i] <= start;
  }

  /**
   * Length of the range that starts at offset 0 (the bytes that can be
   * delivered in order).
   *
   * @returns its length, or 0 when offset 0 is absent
   *
   * @example
   * ```ts
   * import { RangeSet } from "./range_set.ts";
   * const set = new RangeSet(2);
   * set.add(1, 5);
   * console.assert(set.frontLength() === 0);
   * set.add(0, 1);
   * console.assert(set.frontLength() === 5);
   * ```
   */
  frontLength(): number {
    return this.#count > 0 && this.#starts[0] === 0 ? this.#ends[0] : 0;
  }

  /**
   * Drops offsets `[0, n)` and renumbers the rest (`offset -= n`), e.g. after
   * delivering `n` in-order bytes. A range straddling `n` keeps its tail.
   *
   * @param n how far to shift, `n >= 0` (others are ignored)
   *
   * @example
   * ```ts
   * import { RangeSet } from "./range_set.ts";
   * const set = new RangeSet(4);
   * set.add(0, 4);
   * set.add(6, 10);
   * set.shift(8);
   * console.assert(set.count === 1 && set.start(0) === 0 && set.end(0) === 2);
   * ```
   */
  shift(n: number): void {
    if (!(n > 0) || !Number.isFinite(n)) return;
    const starts = this.#starts;
    const ends = this.#ends;
    const count = this.#count;
    let drop = 0;
    while (drop < count && ends[drop] <= n) drop++;
    for (let k = drop; k < count; k++) {
      const s = starts[k] - n;
      starts[k - drop] = s > 0 ? s : 0;
      ends[k - drop] = ends[k] - n;
    }
    this.#count = count - drop;
  }
}
