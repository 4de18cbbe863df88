/**
 * Sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4, RFC 1982 style).
 *
 * TCP sequence numbers wrap; comparing them with `<` is wrong across the
 * wrap. Every comparison in the engine goes through these helpers: `a` is
 * "less than" `b` when the signed 32-bit difference `a - b` is negative.
 *
 * @module
 */

/** Number of distinct sequence numbers, 2^32. */
export const SEQ_MODULUS = 0x1_0000_0000;

/**
 * Adds `n` (may be negative) to a sequence number, modulo 2^32.
 *
 * @param a a sequence number, 0..2^32-1
 * @param n the distance to add
 * @returns `(a + n) mod 2^32`, unsigned
 *
 * @example
 * ```ts
 * import { seqAdd } from "./seq.ts";
 * console.assert(seqAdd(0xffffffff, 2) === 1);
 * console.assert(seqAdd(1, -2) === 0xffffffff);
 * ```
 */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}

/**
 * Signed distance `a - b` between two sequence numbers, in -2^31..2^31-1.
 *
 * @param a a sequence number
 * @param b a sequence number
 * @returns the signed difference modulo 2^32
 *
 * @example
 * ```ts
 * import { seqSub } from "./seq.ts";
 * console.assert(seqSub(1, 0xffffffff) === 2);
 * console.assert(seqSub(0xffffffff, 1) === -2);
 * ```
 */
export function seqSub(a: number, b: number): number {
  return (a - b) | 0;
}

/**
 * `a < b` modulo 2^32.
 *
 * @param a a sequence number
 * @param b a sequence number
 * @returns whether `a` precedes `b`
 *
 * @example
 * ```ts
 * import { seqLt } from "./seq.ts";
 * console.assert(seqLt(0xfffffff0, 5));
 * console.assert(!seqLt(5, 0xfffffff0));
 * ```
 */
export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

/**
 * `a <= b` modulo 2^32.
 *
 * @param a a sequence number
 * @param b a sequence number
 * @returns whether `a` precedes or equals `b`
 *
 * @example
 * ```ts
 * import { seqLe } from "./seq.ts";
 * console.assert(seqLe(7, 7) && seqLe(0xffffffff, 0));
 * ```
 */
export function seqLe(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}

/**
 * `a > b` modulo 2^32.
 *
 * @param a a sequence number
 * @param b a sequence number
 * @returns whether `a` follows `b`
 *
 * @example
 * ```ts
 * import { seqGt } from "./seq.ts";
 * console.assert(seqGt(0, 0xffffffff));
 * ```
 */
export function seqGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

/**
 * `a >= b` modulo 2^32.
 *
 * @param a a sequence number
 * @param b a sequence number
 * @returns whether `a` follows or equals `b`
 *
 * @example
 * ```ts
 * import { seqGe } from "./seq.ts";
 * console.assert(seqGe(3, 3) && seqGe(2, 0xfffffffe));
 * ```
 */
export function seqGe(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}

/**
 * Whether `s` lies in the window `[start, start + size)` modulo 2^32.
 * An empty window (`size <= 0`) contains nothing.
 *
 * @param s the sequence number tested
 * @param start the left edge of the window
 * @param size the window length in sequence numbers, 0..2^31
 * @returns `start <= s < start + size`, modulo 2^32
 *
 * @example
 * ```ts
 * import { seqInWindow } from "./seq.ts";
 * console.assert(seqInWindow(2, 0xfffffff0, 100));
 * console.assert(!seqInWindow(0xffffffef, 0xfffffff0, 100));
 * console.assert(!seqInWindow(5, 5, 0));
 * ```
 */
export function seqInWindow(s: number, start: number, size: number): boolean {
  const d = (s - start) >>> 0;
  return size > 0 && d < size;
}

/**
 * The later of two sequence numbers (modulo 2^32).
 *
 * @param a a sequence number
 * @param b a sequence number
 * @returns `b` when `b > a`, else `a`
 *
 * @example
 * ```ts
 * import { seqMax } from "./seq.ts";
 * console.assert(seqMax(0xffffffff, 3) === 3);
 * ```
 */
export function seqMax(a: number, b: number): number {
  return seqGt(b, a) ? b : a;
}

/**
 * The earlier of two sequence numbers (modulo 2^32).
 *
 * @param a a sequence number
 * @param b a sequence number
 * @returns `b` when `b < a`, else `a`
 *
 * @example
 * ```ts
 * import { seqMin } from "./seq.ts";
 * console.assert(seqMin(0xffffffff, 3) === 0xffffffff);
 * ```
 */
export function seqMin(a: number, b: number): number {
  return seqLt(b, a) ? b : a;
}
