/**
 * Initial sequence numbers per RFC 6528 §3: `ISN = M + F(localip, localport,
 * remoteip, remoteport, secretkey)`, where `M` is a timer ticking every 4 µs
 * and `F` is a keyed pseudo-random function. `F` is SipHash-2-4 (Aumasson &
 * Bernstein, src/wire/siphash.ts) under a 128-bit secret (one per process by
 * default, see {@link processSecret}).
 * The same function also keys SYN cookies and timestamp offsets.
 *
 * @module
 */

import { sipHash24, SIPHASH_KEY_BYTES, sipHashHigh } from "../wire/siphash.ts";

/** SipHash-2-4 moved to src/wire/siphash.ts (shared with IPv4 identification); re-exported. */
export { sipHash24, SIPHASH_KEY_BYTES, sipHashHigh };

/** RFC 6528 §3: M ticks every 4 microseconds, i.e. 250 ticks per millisecond. */
export const ISN_TICKS_PER_MS = 250;
/** The M clock wraps with the sequence space, 2^32 ticks. */
const ISN_CLOCK_MODULUS = 0x1_0000_0000;

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

/** One tick of the TSval clock ({@link timestampClock}), ms. */
export const TS_TICK_MS = 1;

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
  return (Math.floor(nowMs / TS_TICK_MS) + offset) | 0;
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
