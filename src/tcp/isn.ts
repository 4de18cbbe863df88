/**
 * Initial sequence numbers per RFC 6528 §3: `ISN = M + F(localip, localport,
 * remoteip, remoteport, secretkey)`, where `M` is a timer ticking every 4 µs
 * and `F` is a keyed pseudo-random function. `F` is SipHash-2-4 (Aumasson &
 * Bernstein) under a 128-bit secret (one per process by default, see
 * {@link processSecret}), computed in 32-bit halves.
 * The same function also keys SYN cookies and timestamp offsets.
 *
 * @module
 */

/** RFC 6528 §3: M ticks every 4 microseconds, i.e. 250 ticks per millisecond. */
export const ISN_TICKS_PER_MS = 250;
/** The M clock wraps with the sequence space, 2^32 ticks. */
const ISN_CLOCK_MODULUS = 0x1_0000_0000;
/** Bytes in a SipHash key. */
export const SIPHASH_KEY_BYTES = 16;

/** High half of the last {@link sipHash24} result. */
let resultHigh = 0;

function le32(b: Uint8Array, i: number): number {
  return b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24);
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
  // The 64-bit words v0..v3 as int32 halves in locals: no heap numbers, no context slots
  // (≈0.2 µs per 16-byte message instead of ≈2 µs with module-level uint32 state).
  const k0l = le32(key, 0), k0h = le32(key, 4), k1l = le32(key, 8), k1h = le32(key, 12);
  let v0h = k0h ^ 0x736f6d65, v0l = k0l ^ 0x70736575;
  let v1h = k1h ^ 0x646f7261, v1l = k1l ^ 0x6e646f6d;
  let v2h = k0h ^ 0x6c796765, v2l = k0l ^ 0x6e657261;
  let v3h = k1h ^ 0x74656462, v3l = k1l ^ 0x79746573;
  const end = offset + length;
  const fullEnd = offset + (length & ~7);
  let i = offset;
  let lo = 0, t = 0;
  // Message blocks, then the final block (remaining bytes, length mod 256 in the top byte),
  // each with 2 SipRounds; then 4 finalization rounds.
  for (let phase = 0; phase < 2; phase++) {
    let mh = 0, ml = 0;
    let rounds = 2;
    if (phase === 0) {
      if (i < fullEnd) {
        ml = le32(data, i);
        mh = le32(data, i + 4);
        i += 8;
        phase = -1; // more blocks may follow: stay in phase 0
      } else {
        mh = (length & 0xff) << 24;
        for (let j = 0; i + j < end; j++) {
          const byte = data[i + j];
          if (j < 4) ml |= byte << (8 * j);
          else mh |= byte << (8 * (j - 4));
        }
      }
      v3h ^= mh;
      v3l ^= ml;
    } else {
      v2l ^= 0xff;
      rounds = 4;
    }
    for (let r = 0; r < rounds; r++) {
      // v0 += v1; v1 = rotl(v1, 13) ^ v0; v0 = rotl(v0, 32)
      lo = (v0l + v1l) | 0;
      v0h = (v0h + v1h + ((lo >>> 0) < (v0l >>> 0) ? 1 : 0)) | 0;
      v0l = lo;
      t = (v1h << 13) | (v1l >>> 19);
      v1l = ((v1l << 13) | (v1h >>> 19)) ^ v0l;
      v1h = t ^ v0h;
      t = v0h;
      v0h = v0l;
      v0l = t;
      // v2 += v3; v3 = rotl(v3, 16) ^ v2
      lo = (v2l + v3l) | 0;
      v2h = (v2h + v3h + ((lo >>> 0) < (v2l >>> 0) ? 1 : 0)) | 0;
      v2l = lo;
      t = (v3h << 16) | (v3l >>> 16);
      v3l = ((v3l << 16) | (v3h >>> 16)) ^ v2l;
      v3h = t ^ v2h;
      // v0 += v3; v3 = rotl(v3, 21) ^ v0
      lo = (v0l + v3l) | 0;
      v0h = (v0h + v3h + ((lo >>> 0) < (v0l >>> 0) ? 1 : 0)) | 0;
      v0l = lo;
      t = (v3h << 21) | (v3l >>> 11);
      v3l = ((v3l << 21) | (v3h >>> 11)) ^ v0l;
      v3h = t ^ v0h;
      // v2 += v1; v1 = rotl(v1, 17) ^ v2; v2 = rotl(v2, 32)
      lo = (v2l + v1l) | 0;
      v2h = (v2h + v1h + ((lo >>> 0) < (v2l >>> 0) ? 1 : 0)) | 0;
      v2l = lo;
      t = (v1h << 17) | (v1l >>> 15);
      v1l = ((v1l << 17) | (v1h >>> 15)) ^ v2l;
      v1h = t ^ v2h;
      t = v2h;
      v2h = v2l;
      v2l = t;
    }
    if (phase <= 0) {
      v0h ^= mh;
      v0l ^= ml;
    }
  }
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
 * @param localAddr local IPv4 address (int32 or u32: only the bits count)
 * @param localPort local port
 * @param remoteAddr remote IPv4 address (int32 or u32)
 * @param remotePort remote port
 * @param extra an extra word mixed in (int32 or u32)
 * @returns 32 pseudo-random bits, unsigned (non-negative, so `% n` stays in range)
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

/** `extra` word of {@link hashFourTuple} for timestamp offsets (apart from ISNs and cookies). */
const TIMESTAMP_OFFSET_EXTRA = 1;

/**
 * RFC 7323 §5.4 per-connection timestamp offset: a keyed hash of the
 * 4-tuple, so a connection's TSval = ms clock + offset reveals no host-wide
 * clock. The same for a connection and for the SYN cookie answering its SYN.
 *
 * @param secret the stack's 16-byte secret
 * @param localAddr local IPv4 address
 * @param localPort local port
 * @param remoteAddr remote IPv4 address
 * @param remotePort remote port
 * @returns the offset as a signed 32-bit integer
 *
 * @example
 * ```ts
 * import { timestampOffset } from "./isn.ts";
 * const s = new Uint8Array(16);
 * console.assert(timestampOffset(s, 1, 2, 3, 4) === timestampOffset(s, 1, 2, 3, 4));
 * ```
 */
export function timestampOffset(
  secret: Uint8Array,
  localAddr: number,
  localPort: number,
  remoteAddr: number,
  remotePort: number,
): number {
  return hashFourTuple(
    secret,
    localAddr,
    localPort,
    remoteAddr,
    remotePort,
    TIMESTAMP_OFFSET_EXTRA,
  ) | 0;
}

/**
 * RFC 7323 §5.4 TSval: a 1 ms clock plus the connection's
 * {@link timestampOffset}, as a signed 32-bit integer.
 *
 * @param nowMs the current time in milliseconds (may be fractional)
 * @param offset the connection's timestamp offset
 * @returns the TSval (int32)
 *
 * @example
 * ```ts
 * import { timestampClock } from "./isn.ts";
 * console.assert(timestampClock(10.7, 5) === 15);
 * ```
 */
export function timestampClock(nowMs: number, offset: number): number {
  return (Math.floor(nowMs) + offset) | 0;
}

/**
 * RFC 6528 §3 initial sequence number: a 4 µs clock plus a keyed hash of the
 * connection's 4-tuple, so ISNs of different connections are unpredictable
 * while those of one 4-tuple still advance with time.
 *
 * @param secret the stack's 16-byte secret (random per stack; tests inject one)
 * @param nowMs the current time in milliseconds (may be fractional)
 * @param localAddr local IPv4 address (int32 or u32)
 * @param localPort local port
 * @param remoteAddr remote IPv4 address (int32 or u32)
 * @param remotePort remote port
 * @returns the ISN as a signed 32-bit integer (the engine's form of a sequence
 *   number, see `seq.ts`; `>>> 0` gives 0..2^32-1)
 *
 * @example
 * ```ts
 * import { initialSequenceNumber } from "./isn.ts";
 * const s = new Uint8Array(16);
 * const a = initialSequenceNumber(s, 0, 1, 80, 2, 5000);
 * const b = initialSequenceNumber(s, 1, 1, 80, 2, 5000); // 1 ms later: +250 ticks
 * console.assert(((b - a) | 0) === 250);
 * console.assert((a | 0) === a && (b | 0) === b); // int32
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
  // M mod 2^32 (the tick count exceeds 2^32 after ~4.8 h), then M + F as int32.
  const m = Math.floor(nowMs * ISN_TICKS_PER_MS) % ISN_CLOCK_MODULUS;
  return (m + hashFourTuple(secret, localAddr, localPort, remoteAddr, remotePort, 0)) | 0;
}

let processSecretBytes: Uint8Array | null = null;

/**
 * The process-wide RFC 6528 secret: made once with `crypto.getRandomValues`
 * and shared by every stack of the process. RFC 6528 §3 asks for one secret
 * per host, and sharing it matters: a new stack that reuses a 4-tuple still
 * in TIME-WAIT at the peer then continues the same ISN and timestamp clock,
 * so the peer accepts its SYN (RFC 6191 §2) instead of answering with an
 * ACK of the old connection, and port selection (RFC 6056) keyed by it
 * continues where the last stack left off.
 *
 * @returns the same 16 bytes on every call in this process (treat as read-only)
 *
 * @example
 * ```ts
 * import { processSecret } from "./isn.ts";
 * console.assert(processSecret() === processSecret() && processSecret().length === 16);
 * ```
 */
export function processSecret(): Uint8Array {
  return processSecretBytes ??= randomSecret();
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
