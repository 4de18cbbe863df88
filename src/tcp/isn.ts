/**
 * Initial sequence numbers per RFC 6528 §3: `ISN = M + F(localip, localport,
 * remoteip, remoteport, secretkey)`, where `M` is a timer ticking every 4 µs
 * and `F` is a keyed pseudo-random function. `F` is SipHash-2-4 (Aumasson &
 * Bernstein) under a per-stack 128-bit secret, computed in 32-bit halves.
 * The same function also keys SYN cookies and timestamp offsets.
 *
 * @module
 */

/** RFC 6528 §3: M ticks every 4 microseconds, i.e. 250 ticks per millisecond. */
export const ISN_TICKS_PER_MS = 250;
/** Bytes in a SipHash key. */
export const SIPHASH_KEY_BYTES = 16;

// Module scratch: SipHash state as 32-bit halves (hi, lo) of v0..v3. Zero allocation per call.
let v0h = 0, v0l = 0, v1h = 0, v1l = 0, v2h = 0, v2l = 0, v3h = 0, v3l = 0;
/** High half of the last {@link sipHash24} result. */
let resultHigh = 0;

function sipRound(): void {
  // v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32)
  let lo = v0l + v1l;
  v0h = (v0h + v1h + (lo > 0xffffffff ? 1 : 0)) >>> 0;
  v0l = lo >>> 0;
  let h = ((v1h << 13) | (v1l >>> 19)) >>> 0;
  let l = ((v1l << 13) | (v1h >>> 19)) >>> 0;
  v1h = (h ^ v0h) >>> 0;
  v1l = (l ^ v0l) >>> 0;
  let t = v0h;
  v0h = v0l;
  v0l = t;
  // v2 += v3; v3 = rotl(v3, 16); v3 ^= v2
  lo = v2l + v3l;
  v2h = (v2h + v3h + (lo > 0xffffffff ? 1 : 0)) >>> 0;
  v2l = lo >>> 0;
  h = ((v3h << 16) | (v3l >>> 16)) >>> 0;
  l = ((v3l << 16) | (v3h >>> 16)) >>> 0;
  v3h = (h ^ v2h) >>> 0;
  v3l = (l ^ v2l) >>> 0;
  // v0 += v3; v3 = rotl(v3, 21); v3 ^= v0
  lo = v0l + v3l;
  v0h = (v0h + v3h + (lo > 0xffffffff ? 1 : 0)) >>> 0;
  v0l = lo >>> 0;
  h = ((v3h << 21) | (v3l >>> 11)) >>> 0;
  l = ((v3l << 21) | (v3h >>> 11)) >>> 0;
  v3h = (h ^ v0h) >>> 0;
  v3l = (l ^ v0l) >>> 0;
  // v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32)
  lo = v2l + v1l;
  v2h = (v2h + v1h + (lo > 0xffffffff ? 1 : 0)) >>> 0;
  v2l = lo >>> 0;
  h = ((v1h << 17) | (v1l >>> 15)) >>> 0;
  l = ((v1l << 17) | (v1h >>> 15)) >>> 0;
  v1h = (h ^ v2h) >>> 0;
  v1l = (l ^ v2l) >>> 0;
  t = v2h;
  v2h = v2l;
  v2l = t;
}

function le32(b: Uint8Array, i: number): number {
  return (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;
}

function compress(mh: number, ml: number): void {
  v3h = (v3h ^ mh) >>> 0;
  v3l = (v3l ^ ml) >>> 0;
  sipRound();
  sipRound();
  v0h = (v0h ^ mh) >>> 0;
  v0l = (v0l ^ ml) >>> 0;
}

/**
 * SipHash-2-4 of `data[offset, offset+length)` under a 16-byte key. Returns
 * the low 32 bits of the 64-bit result; the high 32 bits are available from
 * {@link sipHashHigh} until the next call. Allocates nothing.
 *
 * @param key 16 key bytes (only the first 16 are used)
 * @param data the message
 * @param offset where the message starts
 * @param length message length in bytes
 * @returns the low 32 bits of SipHash-2-4, unsigned
 *
 * @example
 * ```ts
 * import { sipHash24, sipHashHigh } from "./isn.ts";
 * // Test vector from the SipHash paper (appendix A): key 00..0f, message 00..0e.
 * const key = Uint8Array.from({ length: 16 }, (_, i) => i);
 * const msg = Uint8Array.from({ length: 15 }, (_, i) => i);
 * const lo = sipHash24(key, msg, 0, 15);
 * console.assert(lo === 0x49be45e5 && sipHashHigh() === 0xa129ca61);
 * ```
 */
export function sipHash24(
  key: Uint8Array,
  data: Uint8Array,
  offset: number,
  length: number,
): number {
  const k0l = le32(key, 0), k0h = le32(key, 4), k1l = le32(key, 8), k1h = le32(key, 12);
  v0h = (k0h ^ 0x736f6d65) >>> 0;
  v0l = (k0l ^ 0x70736575) >>> 0;
  v1h = (k1h ^ 0x646f7261) >>> 0;
  v1l = (k1l ^ 0x6e646f6d) >>> 0;
  v2h = (k0h ^ 0x6c796765) >>> 0;
  v2l = (k0l ^ 0x6e657261) >>> 0;
  v3h = (k1h ^ 0x74656462) >>> 0;
  v3l = (k1l ^ 0x79746573) >>> 0;
  const end = offset + length;
  const fullEnd = offset + (length & ~7);
  let i = offset;
  for (; i < fullEnd; i += 8) compress(le32(data, i + 4), le32(data, i));
  // Last block: remaining bytes, length mod 256 in the top byte.
  let ml = 0, mh = (length & 0xff) << 24;
  for (let j = 0; i + j < end; j++) {
    const byte = data[i + j];
    if (j < 4) ml |= byte << (8 * j);
    else mh |= byte << (8 * (j - 4));
  }
  compress(mh >>> 0, ml >>> 0);
  v2l = (v2l ^ 0xff) >>> 0;
  sipRound();
  sipRound();
  sipRound();
  sipRound();
  resultHigh = (v0h ^ v1h ^ v2h ^ v3h) >>> 0;
  return (v0l ^ v1l ^ v2l ^ v3l) >>> 0;
}

/**
 * The high 32 bits of the most recent {@link sipHash24} result.
 *
 * @returns unsigned 32-bit value
 *
 * @example
 * ```ts
 * import { sipHash24, sipHashHigh } from "./isn.ts";
 * sipHash24(new Uint8Array(16), new Uint8Array(0), 0, 0);
 * console.assert(sipHashHigh() === 0x1e924b9d); // SipHash-2-4(k=0, "") = 0x1e924b9d737700d7
 * ```
 */
export function sipHashHigh(): number {
  return resultHigh;
}

const tupleScratch = new Uint8Array(20);

function writeBe32(b: Uint8Array, i: number, v: number): void {
  b[i] = v >>> 24;
  b[i + 1] = v >>> 16;
  b[i + 2] = v >>> 8;
  b[i + 3] = v;
}

/**
 * Keyed hash of a TCP 4-tuple plus one extra 32-bit word (0 for ISNs; a
 * time counter or peer sequence for SYN cookies).
 *
 * @param secret the stack's 16-byte secret
 * @param localAddr local IPv4 address (u32)
 * @param localPort local port
 * @param remoteAddr remote IPv4 address (u32)
 * @param remotePort remote port
 * @param extra an extra word mixed in
 * @returns 32 pseudo-random bits
 *
 * @example
 * ```ts
 * import { hashFourTuple } from "./isn.ts";
 * const s = new Uint8Array(16);
 * console.assert(hashFourTuple(s, 1, 2, 3, 4, 0) !== hashFourTuple(s, 1, 2, 3, 5, 0));
 * ```
 */
export function hashFourTuple(
  secret: Uint8Array,
  localAddr: number,
  localPort: number,
  remoteAddr: number,
  remotePort: number,
  extra: number,
): number {
  const b = tupleScratch;
  writeBe32(b, 0, localAddr);
  writeBe32(b, 4, remoteAddr);
  writeBe32(b, 8, ((localPort & 0xffff) << 16) | (remotePort & 0xffff));
  writeBe32(b, 12, extra);
  writeBe32(b, 16, 0);
  return sipHash24(secret, b, 0, 16);
}

/**
 * RFC 6528 §3 initial sequence number: a 4 µs clock plus a keyed hash of the
 * connection's 4-tuple, so ISNs of different connections are unpredictable
 * while those of one 4-tuple still advance with time.
 *
 * @param secret the stack's 16-byte secret (random per stack; tests inject one)
 * @param nowMs the current time in milliseconds (may be fractional)
 * @param localAddr local IPv4 address (u32)
 * @param localPort local port
 * @param remoteAddr remote IPv4 address (u32)
 * @param remotePort remote port
 * @returns the ISN, 0..2^32-1
 *
 * @example
 * ```ts
 * import { initialSequenceNumber } from "./isn.ts";
 * const s = new Uint8Array(16);
 * const a = initialSequenceNumber(s, 0, 1, 80, 2, 5000);
 * const b = initialSequenceNumber(s, 1, 1, 80, 2, 5000); // 1 ms later: +250 ticks
 * console.assert(((b - a) >>> 0) === 250);
 * ```
 */
export function initialSequenceNumber(
  secret: Uint8Array,
  nowMs: number,
  localAddr: number,
  localPort: number,
  remoteAddr: number,
  remotePort: number,
): number {
  const m = Math.floor(nowMs * ISN_TICKS_PER_MS) % 0x1_0000_0000;
  return (m + hashFourTuple(secret, localAddr, localPort, remoteAddr, remotePort, 0)) >>> 0;
}

/**
 * Makes a fresh random 128-bit secret with `crypto.getRandomValues`.
 *
 * @returns 16 random bytes
 *
 * @example
 * ```ts
 * import { randomSecret } from "./isn.ts";
 * console.assert(randomSecret().length === 16);
 * ```
 */
export function randomSecret(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(SIPHASH_KEY_BYTES));
}
