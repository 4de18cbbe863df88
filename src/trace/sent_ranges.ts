/**
 * Which segment last carried each byte of a TCP sender's relative sequence
 * space: the index behind the trace's "lost" and "fills a gap" marks. Each
 * segment paints its range with its index; a paint first reports the latest
 * earlier segment that overlapped the range — the transmission a
 * retransmission presumes lost (RFC 9293 §3.8.1), or, when there is none, a
 * range never sent before.
 *
 * The map is a list of disjoint painted pieces in a treap (a binary search
 * tree balanced by random priorities, Seidel & Aragon) ordered by start, so a
 * paint costs O(log n) expected plus the pieces it covers, each of which it
 * removes: O(n log n) for a capture of n segments, where scanning every
 * earlier segment made retransmissions and gap fills quadratic.
 *
 * Sequence space is modular (RFC 9293 §3.4): a range that runs past 2^32 is
 * painted as two, so overlaps are the same as modular comparisons give for
 * ranges shorter than 2^31.
 *
 * @module
 */

/** 2^32, the TCP sequence space (RFC 9293 §3.4). */
const SEQ_SPACE = 0x1_0000_0000;
/** Seed of the priority generator (any nonzero value; fixed so runs repeat). */
const PRIORITY_SEED = 0x2545f491;

/** One painted piece: [start, end) last carried by segment `segment`. */
class Piece {
  left: Piece | null = null;
  right: Piece | null = null;
  constructor(
    readonly start: number,
    public end: number,
    readonly segment: number,
    readonly priority: number,
  ) {}
}

let workSteps = 0;

/**
 * Tree nodes visited by every {@link SentRanges} so far: a deterministic
 * measure of the trace analysis' cost (tests assert it grows as n log n).
 *
 * @returns the count since the module was loaded
 *
 * @example
 * ```ts
 * import { SentRanges, sentRangeSteps } from "./sent_ranges.ts";
 * const before = sentRangeSteps();
 * new SentRanges().paint(0, 10, 0);
 * console.assert(sentRangeSteps() >= before);
 * ```
 */
export function sentRangeSteps(): number {
  return workSteps;
}

/**
 * A painted map of relative sequence ranges. See the module documentation.
 *
 * @example
 * ```ts
 * import { SentRanges } from "./sent_ranges.ts";
 * const r = new SentRanges();
 * console.assert(r.paint(0, 100, 0) === -1);    // new data
 * console.assert(r.paint(100, 200, 1) === -1);
 * console.assert(r.paint(50, 150, 2) === 1);    // overlaps segments 0 and 1: the latest is 1
 * console.assert(r.paint(60, 70, 3) === 2);
 * ```
 */
export class SentRanges {
  #root: Piece | null = null;
  #random = PRIORITY_SEED;

  /**
   * Records that segment `segment` carried [start, end) and reports the
   * latest earlier segment that overlapped it.
   *
   * @param start relative sequence number, 0 ≤ start < 2^32
   * @param end start + length (may pass 2^32: it wraps), end > start
   * @param segment the segment's index (larger than every earlier one)
   * @returns the largest index of an earlier overlapping segment, or -1
   */
  paint(start: number, end: number, segment: number): number {
    if (end <= SEQ_SPACE) return this.#paint(start, end, segment);
    const high = this.#paint(start, SEQ_SPACE, segment);
    const low = this.#paint(0, end - SEQ_SPACE, segment);
    return Math.max(high, low);
  }

  #paint(a: number, b: number, segment: number): number {
    // Pieces starting before a | from a on.
    let [left, rest] = split(this.#root, a);
    const before = rightmost(left);
    if (before !== null && before.end > a) {
      // It runs into [a, ...): keep [start, a) on the left, move [a, end) right.
      rest = merge(this.#piece(a, before.end, before.segment), rest);
      before.end = a;
    }
    // Pieces starting in [a, b) | from b on.
    let [inside, after] = split(rest, b);
    const last = rightmost(inside);
    if (last !== null && last.end > b) {
      after = merge(this.#piece(b, last.end, last.segment), after);
      last.end = b;
    }
    const latest = maxSegment(inside);
    this.#root = merge(merge(left, this.#piece(a, b, segment)), after);
    return latest;
  }

  #piece(start: number, end: number, segment: number): Piece {
    // xorshift32 (Marsaglia): priorities only shape the tree, never the answers.
    let x = this.#random;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#random = x;
    return new Piece(start, end, segment, x);
  }
}

/** Splits a treap into pieces starting before `key` and pieces starting at or after it. */
function split(t: Piece | null, key: number): [Piece | null, Piece | null] {
  if (t === null) return [null, null];
  workSteps++;
  if (t.start < key) {
    const [l, r] = split(t.right, key);
    t.right = l;
    return [t, r];
  }
  const [l, r] = split(t.left, key);
  t.left = r;
  return [l, t];
}

/** Joins two treaps, every piece of `a` before every piece of `b`. */
function merge(a: Piece | null, b: Piece | null): Piece | null {
  if (a === null) return b;
  if (b === null) return a;
  workSteps++;
  if (a.priority > b.priority) {
    a.right = merge(a.right, b);
    return a;
  }
  b.left = merge(a, b.left);
  return b;
}

function rightmost(t: Piece | null): Piece | null {
  if (t === null) return null;
  while (t.right !== null) {
    workSteps++;
    t = t.right;
  }
  return t;
}

/** The largest segment index in a treap (every piece is visited: they are then dropped). */
function maxSegment(t: Piece | null): number {
  if (t === null) return -1;
  workSteps++;
  return Math.max(t.segment, maxSegment(t.left), maxSegment(t.right));
}
