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
