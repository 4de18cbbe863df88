/**
 * SYN cookies (RFC 4987 §3.6), the stateless SYN-ACK a listener sends when
 * its SYN queue is full. This module owns the cookie itself — our ISS made of
 * a 64 s counter, an MSS index and a keyed hash, and its validation — the SYN
 * options Linux carries in the low bits of the cookie SYN-ACK's TSval, and the
 * window after a listener last sent a cookie during which completing ACKs are
 * checked at all (Linux `tcp_synq_no_recent_overflow`). When to send a cookie
 * and what to do with a valid one is the listener's business (tcp_layer.ts).
 *
 * @module
 */

import type { TcpRepr } from "../wire/tcp.ts";
import type { TcpConfig } from "./config.ts";
import { type CookieOptions, MAX_WINDOW_SHIFT, NO_COOKIE_OPTIONS } from "./connection.ts";
import { hashFourTuple } from "./isn.ts";
import { seqAdd, seqGt } from "./seq.ts";

/** Period of the cookie's time counter (Linux: 64 s), ms. */
export const SYN_COOKIE_PERIOD_MS = 64_000;
/** Cookie counters accepted: the current and the previous one (RFC 4987 §3.6). */
export const SYN_COOKIE_MAX_AGE = 2;
/**
 * How long after a listener last sent a cookie it still checks ACKs for one (Linux
 * `TCP_SYNCOOKIE_VALID`, `MAX_SYNCOOKIE_AGE` periods): the longest a cookie can stay valid.
 * Outside this window an ACK to a listener is not a cookie, whatever its bits say.
 */
export const SYN_COOKIE_VALID_MS = SYN_COOKIE_MAX_AGE * SYN_COOKIE_PERIOD_MS;
/** MSS values a cookie can encode (3 bits, Linux-like table). */
export const SYN_COOKIE_MSS_TABLE: readonly number[] = Object.freeze([
  536,
  1300,
  1440,
  1460,
  4312,
  8960,
]);
/** Bits of the keyed hash in a cookie (the low 24). */
const COOKIE_HASH_MASK = 0xffffff;
/** Bit position of the counter's 5 bits in a cookie. */
const COOKIE_COUNTER_SHIFT = 27;
/** Counter bits kept in a cookie. */
const COOKIE_COUNTER_MASK = 0x1f;
/** Bit position of the MSS index's 3 bits in a cookie. */
const COOKIE_MSS_SHIFT = 24;
/** MSS index bits. */
const COOKIE_MSS_MASK = 0x7;
/** Golden-ratio multiplier that spreads the counter before it joins the hash input. */
const COOKIE_COUNTER_MIX = 0x9e3779b1;
/**
 * Low TSval bits of a cookie SYN-ACK that carry the SYN's options (Linux's
 * `cookie_init_timestamp`): the peer echoes them in TSecr, so window scaling
 * and SACK survive a stateless handshake when timestamps are on.
 */
export const COOKIE_TS_OPTION_MASK = 0x3f;
/** Window-shift field of those bits; all ones: no window scaling. */
const COOKIE_TS_WSCALE_MASK = 0x0f;
/** SACK-permitted bit of those bits. */
const COOKIE_TS_SACK = 0x10;
/** ECN-agreed bit of those bits (Linux `TS_OPT_ECN`, bit 5). */
const COOKIE_TS_ECN = 0x20;

/** What a valid cookie ACK carried: the MSS of the cookie and the options of its echo. */
export interface SynCookieAck {
  /** The MSS the cookie encodes. */
  mss: number;
  /** Window scaling, SACK, timestamps and ECN as agreed in the SYN and our cookie SYN-ACK. */
  options: CookieOptions;
}

/**
 * Whether a listener that last sent a cookie at `lastCookieMs` may still get a
 * valid cookie ACK at `nowMs` — the negation of Linux's
 * `tcp_synq_no_recent_overflow`. A listener that sent none recently treats an
 * ACK as a stray one (RFC 9293 §3.10.7.2: RST) without checking it, so a
 * blind attacker cannot open connections by guessing 24-bit MACs while the
 * listener is not under SYN pressure.
 *
 * @param lastCookieMs when the listener last answered with a cookie (-Infinity: never)
 * @param nowMs current time
 * @returns true inside the window
 *
 * @example
 * ```ts
 * import { SYN_COOKIE_VALID_MS, synCookieWindowOpen } from "./syn_cookies.ts";
 * console.assert(synCookieWindowOpen(1000, 1000 + SYN_COOKIE_VALID_MS - 1));
 * console.assert(!synCookieWindowOpen(1000, 1000 + SYN_COOKIE_VALID_MS));
 * console.assert(!synCookieWindowOpen(-Infinity, 0));
 * ```
 */
export function synCookieWindowOpen(lastCookieMs: number, nowMs: number): boolean {
  return nowMs - lastCookieMs < SYN_COOKIE_VALID_MS;
}

/**
 * The index of the largest table MSS not above `mss` (0 when `mss` is below all).
 *
 * @param mss the MSS both ends can use
 * @returns an index into {@link SYN_COOKIE_MSS_TABLE}
 */
export function synCookieMssIndex(mss: number): number {
  let index = 0;
  for (let i = 0; i < SYN_COOKIE_MSS_TABLE.length; i++) {
    if (SYN_COOKIE_MSS_TABLE[i] <= mss) index = i;
  }
  return index;
}

function cookieHash(
  secret: Uint8Array,
  localAddr: number,
  localPort: number,
  remoteAddr: number,
  remotePort: number,
  irs: number,
  counter: number,
): number {
  const extra = irs ^ Math.imul(counter, COOKIE_COUNTER_MIX); // int32: the hash takes the bits
  return hashFourTuple(secret, localAddr, localPort, remoteAddr, remotePort, extra) &
    COOKIE_HASH_MASK;
}

/**
 * RFC 4987 §3.6 SYN cookie as our ISS: 5 bits of a 64 s counter, 3 bits of
 * MSS index, 24 bits of keyed hash over the 4-tuple, the peer's ISN and the
 * counter. Returned as a signed 32-bit integer like every sequence number in
 * the engine (the counter's top bit is the sign bit).
 *
 * @param secret the layer's 16-byte secret
 * @param nowMs current time
 * @param localAddr our address (int32)
 * @param localPort our port
 * @param remoteAddr the peer's address (int32)
 * @param remotePort the peer's port
 * @param irs the SYN's sequence number
 * @param mssIndex from {@link synCookieMssIndex}
 * @returns the cookie (our ISS), int32
 *
 * @example
 * ```ts
 * import { checkSynCookie, makeSynCookie } from "./syn_cookies.ts";
 * const secret = new Uint8Array(16).fill(1);
 * const iss = makeSynCookie(secret, 5000, 1, 80, 2, 4000, 77, 3);
 * console.assert(checkSynCookie(secret, 6000, 1, 80, 2, 4000, iss, 77) === 1460);
 * ```
 */
export function makeSynCookie(
  secret: Uint8Array,
  nowMs: number,
  localAddr: number,
  localPort: number,
  remoteAddr: number,
  remotePort: number,
  irs: number,
  mssIndex: number,
): number {
  const counter = Math.floor(nowMs / SYN_COOKIE_PERIOD_MS);
  const h = cookieHash(secret, localAddr, localPort, remoteAddr, remotePort, irs, counter);
  return ((counter & COOKIE_COUNTER_MASK) << COOKIE_COUNTER_SHIFT) |
    (mssIndex << COOKIE_MSS_SHIFT) | h;
}

/**
 * Checks a cookie: the MSS it encodes when its counter is the current or the
 * previous one and its hash matches, else 0.
 *
 * @param secret the layer's 16-byte secret
 * @param nowMs current time
 * @param localAddr our address (int32)
 * @param localPort our port
 * @param remoteAddr the peer's address (int32)
 * @param remotePort the peer's port
 * @param iss the cookie (the ACK's acknowledgment number − 1)
 * @param irs the peer's ISN (the ACK's sequence number − 1)
 * @returns the MSS, or 0 when the cookie is not valid
 */
export function checkSynCookie(
  secret: Uint8Array,
  nowMs: number,
  localAddr: number,
  localPort: number,
  remoteAddr: number,
  remotePort: number,
  iss: number,
  irs: number,
): number {
  const counterBits = iss >>> COOKIE_COUNTER_SHIFT;
  const mssIndex = (iss >>> COOKIE_MSS_SHIFT) & COOKIE_MSS_MASK;
  if (mssIndex >= SYN_COOKIE_MSS_TABLE.length) return 0;
  const now = Math.floor(nowMs / SYN_COOKIE_PERIOD_MS);
  for (let age = 0; age < SYN_COOKIE_MAX_AGE; age++) {
    const counter = now - age;
    if (counter < 0 || (counter & COOKIE_COUNTER_MASK) !== counterBits) continue;
    const h = cookieHash(secret, localAddr, localPort, remoteAddr, remotePort, irs, counter);
    if (h === (iss & COOKIE_HASH_MASK)) return SYN_COOKIE_MSS_TABLE[mssIndex];
  }
  return 0;
}

/**
 * The TSval of a cookie SYN-ACK (Linux's `cookie_init_timestamp`): the
 * connection's timestamp clock with its low 6 bits replaced by the SYN's
 * window shift (all ones: none), SACK bit and ECN bit, moved one step back
 * when that would put it ahead of the clock.
 *
 * @param clockNow the connection's timestamp clock now (RFC 7323 §5.4)
 * @param peerWindowShift the SYN's window shift we agree to, or -1 for no scaling
 * @param sackOk whether we agree to the SYN's SACK-permitted
 * @param ecnOk whether we agree to the SYN's ECN request (RFC 3168 §6.1.1)
 * @returns the TSval, int32
 *
 * @example
 * ```ts
 * import { cookieTsVal } from "./syn_cookies.ts";
 * console.assert((cookieTsVal(1000, 7, true) & 0x3f) === (7 | 0x10));
 * console.assert((cookieTsVal(1000, 7, true, true) & 0x3f) === (7 | 0x10 | 0x20));
 * console.assert(cookieTsVal(1000, 7, true) <= 1000);
 * ```
 */
export function cookieTsVal(
  clockNow: number,
  peerWindowShift: number,
  sackOk: boolean,
  ecnOk = false,
): number {
  let bits = peerWindowShift >= 0
    ? Math.min(peerWindowShift, MAX_WINDOW_SHIFT)
    : COOKIE_TS_WSCALE_MASK;
  if (sackOk) bits |= COOKIE_TS_SACK;
  if (ecnOk) bits |= COOKIE_TS_ECN;
  let tsVal = (clockNow & ~COOKIE_TS_OPTION_MASK) | bits;
  if (seqGt(tsVal, clockNow)) tsVal = seqAdd(tsVal, -(COOKIE_TS_OPTION_MASK + 1));
  return tsVal;
}

/**
 * Reads the options our cookie SYN-ACK put in its TSval back from the ACK's
 * TSecr (Linux's `cookie_timestamp_decode`; the ECN bit as `cookie_ecn_ok`:
 * honoured while ECN is not off, never a reason to reject the ACK).
 *
 * @param seg the completing ACK
 * @param config what this layer offers
 * @returns the options, or null when they ask for what this stack does not do
 *   (the ACK cannot be ours)
 */
export function decodeCookieTimestamp(
  seg: TcpRepr,
  config: Pick<TcpConfig, "timestamps" | "sack" | "windowScaling" | "ecn">,
): CookieOptions | null {
  if (!seg.hasTimestamp) return NO_COOKIE_OPTIONS;
  if (!config.timestamps) return null;
  const bits = seg.tsEcr & COOKIE_TS_OPTION_MASK;
  const sackOk = (bits & COOKIE_TS_SACK) !== 0;
  if (sackOk && !config.sack) return null;
  let sndWScale = bits & COOKIE_TS_WSCALE_MASK;
  if (sndWScale === COOKIE_TS_WSCALE_MASK) sndWScale = -1;
  else if (!config.windowScaling || sndWScale > MAX_WINDOW_SHIFT) return null;
  const ecnOk = (bits & COOKIE_TS_ECN) !== 0 && config.ecn !== "off";
  return { sndWScale, sackOk, tsVal: seg.tsVal, ecnOk };
}

/**
 * Validates an ACK that may complete a cookie handshake: the cookie in its
 * acknowledgment number and the options echoed in its TSecr. The caller
 * checks {@link synCookieWindowOpen} first.
 *
 * @param secret the layer's 16-byte secret
 * @param config what this layer offers
 * @param nowMs current time
 * @param localAddr our address (int32)
 * @param localPort our port
 * @param remoteAddr the peer's address (int32)
 * @param remotePort the peer's port
 * @param seg the ACK
 * @returns what the cookie carried, or null when it is not valid
 */
export function validateSynCookieAck(
  secret: Uint8Array,
  config: Pick<TcpConfig, "timestamps" | "sack" | "windowScaling" | "ecn">,
  nowMs: number,
  localAddr: number,
  localPort: number,
  remoteAddr: number,
  remotePort: number,
  seg: TcpRepr,
): SynCookieAck | null {
  const mss = checkSynCookie(
    secret,
    nowMs,
    localAddr,
    localPort,
    remoteAddr,
    remotePort,
    seqAdd(seg.ack, -1),
    seqAdd(seg.seq, -1),
  );
  if (mss === 0) return null;
  const options = decodeCookieTimestamp(seg, config);
  return options === null ? null : { mss, options };
}
