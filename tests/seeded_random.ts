/**
 * The tests' seeded pseudo-random generator (mulberry32): small, fast and
 * deterministic, so a failing seed replays exactly.
 *
 * @module
 */

/**
 * A mulberry32 generator.
 *
 * @param seed any 32-bit seed
 * @returns a function giving numbers in [0, 1)
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `n` pseudo-random bytes from {@link mulberry32}.
 *
 * @param n how many
 * @param seed the generator's seed
 * @returns the bytes
 */
export function bytesOf(n: number, seed = 1): Uint8Array {
  const r = mulberry32(seed);
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (r() * 256) | 0;
  return b;
}

/** 2^32: scales {@link mulberry32}'s [0, 1) back to its 32-bit word. */
const WORD_RANGE = 4294967296;

/**
 * `n` pseudo-random bytes from {@link mulberry32}, four per call (one 32-bit
 * word each): the fast form for megabyte-sized payloads (bulk transfers of
 * 100 MB). Not the same stream as {@link bytesOf}.
 *
 * @param n how many
 * @param seed the generator's seed
 * @returns the bytes
 */
export function wordBytesOf(n: number, seed = 1): Uint8Array {
  const r = mulberry32(seed);
  const out = new Uint8Array(n);
  const words = new Uint32Array(out.buffer, 0, n >>> 2);
  for (let i = 0; i < words.length; i++) words[i] = r() * WORD_RANGE;
  const tailStart = words.length * 4;
  if (tailStart < n) {
    const tail = r() * WORD_RANGE;
    for (let i = tailStart; i < n; i++) out[i] = tail >>> (8 * (i - tailStart));
  }
  return out;
}
