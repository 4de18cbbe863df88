/**
 * Sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4, RFC 1982 style).
 *
 * TCP sequence numbers wrap; comparing them with `<` is wrong across the
 * wrap. Every comparison in the engine goes through these helpers: `a` is
 * "less than" `b` when the signed 32-bit difference `a - b` is negative.
 *
 * Inside the engine a sequence number (and an acknowledgment number, a SACK
 * block edge, an ISN, a timestamp) is held as a **signed** 32-bit integer,
 * `x | 0`, -2^31..2^31-1: V8 keeps such numbers as small integers, while an
 * unsigned value ≥ 2^31 would be a heap-allocated number each time it
 * crosses a call. The helpers accept either form (only the low 32 bits
 * count), but `===` and map keys need one form, so every producer yields
 * int32. Show a sequence number to a person with {@link seqUnsigned}.
 *
 * @module
 */

/** Number of distinct sequence numbers, 2^32. */
export const SEQ_MODULUS = 0x1_0000_0000;

/**
 * The engine's form of a sequence number: the signed 32-bit integer with the
 * same low 32 bits (`x | 0`).
 *
 * @param x a sequence number in either form (any integer; only its low 32 bits count)
 * @returns `x` as int32, -2^31..2^31-1
 *
 * @example
 * ```ts
 * import { seqFrom } from "./seq.ts";
 * console.assert(seqFrom(0xffffffff) === -1 && seqFrom(0x80000000) === -0x80000000);
 * console.assert(seqFrom(5) === 5);
 * ```
 */
export function seqFrom(x: number): number {
  return x | 0;
}

/**
 * A sequence number as people read it (tcpdump, Wireshark, Linux): unsigned,
 * 0..2^32-1. For display and user-facing fields only; the engine compares and
 * stores int32 ({@link seqFrom}).
 *
 * @param s a sequence number in either form
 * @returns `s >>> 0`
 *
 * @example
 * ```ts
 * import { seqUnsigned } from "./seq.ts";
 * console.assert(seqUnsigned(-1) === 0xffffffff && seqUnsigned(7) === 7);
 * ```
 */
export function seqUnsigned(s: number): number {
  return s >>> 0;
}

/**
 * Adds `n` (may be negative) to a sequence number, modulo 2^32.
 *
 * @param a a sequence number (int32, or unsigned: only the low 32 bits count)
 * @param n the distance to add, |n| < 2^31
 * @returns `(a + n) mod 2^32` as a signed 32-bit integer (the engine's form)
 *
 * @example
 * ```ts
 * import { seqAdd } from "./seq.ts";
 * console.assert(seqAdd(-1, 2) === 1); // 0xffffffff + 2 wraps to 1
 * console.assert(seqAdd(1, -2) === -1); // 0xffffffff as int32
 * console.assert(seqAdd(0x7fffffff, 1) === -0x80000000); // 2^31: crosses into the upper half
 * console.assert(seqAdd(0xffffffff, 2) === 1); // unsigned input is accepted
 * ```
 */
export function seqAdd(a: number, n: number): number {
  return (a + n) | 0;
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
 * console.assert(seqSub(1, -1) === 2); // 1 - 0xffffffff
 * console.assert(seqSub(-1, 1) === -2);
 * console.assert(seqSub(-0x80000000, 0x7fffffff) === 1); // across 2^31
 * console.assert(seqSub(1, 0xffffffff) === 2); // mixed forms agree
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
 * console.assert(seqLt(-16, 5)); // 0xfffffff0 precedes 5 across the wrap
 * console.assert(!seqLt(5, -16));
 * console.assert(seqLt(0x7fffffff, -0x80000000)); // 2^31-1 precedes 2^31
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
 * console.assert(seqLe(7, 7) && seqLe(-1, 0));
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
 * console.assert(seqGt(0, -1) && seqGt(-0x80000000, 0x7fffffff));
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
 * console.assert(seqGe(3, 3) && seqGe(2, -2));
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
 * console.assert(seqInWindow(2, -16, 100)); // window from 0xfffffff0 across the wrap
 * console.assert(!seqInWindow(-17, -16, 100));
 * console.assert(seqInWindow(-0x80000000, 0x7fffffff, 2)); // across 2^31
 * console.assert(!seqInWindow(5, 5, 0));
 * ```
 */
export function seqInWindow(s: number, start: number, size: number): boolean {
  // Signed distance: with size ≤ 2^31 a negative one is outside (no unsigned heap number).
  const d = (s - start) | 0;
  return d >= 0 && d < size;
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
 * console.assert(seqMax(-1, 3) === 3);
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
 * console.assert(seqMin(-1, 3) === -1);
 * ```
 */
export function seqMin(a: number, b: number): number {
  return seqLt(b, a) ? b : a;
}
