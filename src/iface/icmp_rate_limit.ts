/**
 * The rate limit on the ICMP errors a host sends (RFC 1812 §4.3.2.8, RFC
 * 1122 §3.2.2), built the way Linux built it after the SAD DNS side channel
 * (CVE-2020-25705): {@link IcmpRateLimiter} owns a per-destination token
 * bucket table (Linux `inet_peer_xrlim_allow` with `icmp_ratelimit`, bounded
 * here as a least-recently-used table) and a global budget whose cost per
 * message is random (Linux `icmp_global_allow` / `icmp_global_consume`,
 * commit b38e7819cae9 "icmp: randomize the global rate limiter").
 *
 * Why both: with one global bucket of a known size, an off-path attacker
 * sends N probes spoofed from a DNS server to N guessed ports, then one probe
 * of its own to a closed port: it gets an answer exactly when one of the N
 * ports was open (that probe drew no error, so one token was left). Errors
 * to the spoofed server are now capped by that destination's own bucket
 * (burst 6), so the probes cannot drain the global budget, and how many
 * errors the global budget allows per interval is itself random.
 *
 * Randomness comes from an injected source so simulations replay.
 *
 * @module
 */

/** Default global ICMP error rate: tokens per second (Linux `icmp_msgs_per_sec` is 1000). */
export const ICMP_RATE_PER_SEC = 1000;
/** Default global ICMP error burst (Linux `icmp_msgs_burst` is 50). */
export const ICMP_RATE_BURST = 50;
/** Default per-destination interval: one error per second (Linux `icmp_ratelimit`, 1 s). */
export const ICMP_PEER_INTERVAL_MS = 1000;
/** Default per-destination burst in errors (Linux `XRLIM_BURST_FACTOR`, 6). */
export const ICMP_PEER_BURST = 6;
/** Default number of destinations with a bucket; the least recently used is forgotten beyond. */
export const ICMP_PEER_TABLE_MAX = 1024;
/** The global budget is refilled at most every 20 ms (Linux: `HZ / 50`). */
export const ICMP_GLOBAL_REFILL_MIN_MS = 20;
/** Longest time credited in one refill (Linux caps the delta at `HZ`, 1 s). */
const ICMP_GLOBAL_REFILL_MAX_MS = 1000;
/** A message costs 0, 1 or 2 global tokens (Linux `get_random_u32_below(3)`): 1 on average. */
const ICMP_GLOBAL_COST_CHOICES = 3;
/** Milliseconds per second. */
const MS_PER_SEC = 1000;

/** Verdict of {@link IcmpRateLimiter.allow}: send. */
export const ICMP_RATE_ALLOWED = 0;
/** Verdict of {@link IcmpRateLimiter.allow}: the global budget is spent (Linux `RateLimitGlobal`). */
export const ICMP_RATE_LIMITED_GLOBAL = 1;
/** Verdict of {@link IcmpRateLimiter.allow}: this destination's bucket is empty (Linux `RateLimitHost`). */
export const ICMP_RATE_LIMITED_PEER = 2;
/** What {@link IcmpRateLimiter.allow} decided. */
export type IcmpRateVerdict =
  | typeof ICMP_RATE_ALLOWED
  | typeof ICMP_RATE_LIMITED_GLOBAL
  | typeof ICMP_RATE_LIMITED_PEER;

/** Options of an {@link IcmpRateLimiter}. */
export interface IcmpRateLimitOptions {
  /** Global error rate (tokens per second); default 1000. */
  errorRatePerSec?: number;
  /** Global burst; default 50. */
  errorBurst?: number;
  /** Per-destination interval between errors (ms); default 1000. */
  errorPeerIntervalMs?: number;
  /** Per-destination burst (errors); default 6. */
  errorPeerBurst?: number;
  /** Destinations with a bucket at most; default 1024. */
  errorPeers?: number;
  /**
   * Uniform random number in [0, 1) for the global cost of each error; default
   * crypto-strong. Inject a seeded one for replayable simulations.
   */
  random?: () => number;
}

/** Peer slots allocated at first; the table doubles up to `errorPeers` as destinations come. */
const PEER_SLOTS_INITIAL = 64;
/** End of the recency list (no slot). */
const NO_SLOT = -1;

let cryptoWord: Uint32Array | null = null;
function cryptoRandom(): number {
  if (cryptoWord === null) cryptoWord = new Uint32Array(1);
  crypto.getRandomValues(cryptoWord);
  return cryptoWord[0] / 0x1_0000_0000;
}

/**
 * Decides whether an ICMP error may be sent now: the global budget must have
 * credit, then the destination's bucket must have a token; only then is the
 * random global cost paid (Linux `icmp_send`: `icmpv4_global_allow`, then
 * `icmpv4_xrlim_allow`, which calls `icmp_global_consume` when it allows).
 *
 * @example
 * ```ts
 * import { ICMP_RATE_ALLOWED, ICMP_RATE_LIMITED_PEER, IcmpRateLimiter } from "./icmp_rate_limit.ts";
 * const limiter = new IcmpRateLimiter({ errorPeerBurst: 2, random: () => 0.5 });
 * const peer = 0xc0000201 | 0; // 192.0.2.1
 * console.assert(limiter.allow(0, peer) === ICMP_RATE_ALLOWED);
 * console.assert(limiter.allow(0, peer) === ICMP_RATE_ALLOWED);
 * console.assert(limiter.allow(0, peer) === ICMP_RATE_LIMITED_PEER); // its burst is spent
 * console.assert(limiter.allow(0, 0xc0000202 | 0) === ICMP_RATE_ALLOWED); // another destination
 * console.assert(limiter.allow(1000, peer) === ICMP_RATE_ALLOWED); // one interval later
 * ```
 */
export class IcmpRateLimiter {
  /** Destinations forgotten because the table was full (least recently used first). */
  peerEvictions = 0;
  readonly #perMs: number;
  readonly #burst: number;
  readonly #peerIntervalMs: number;
  readonly #peerMaxTokensMs: number;
  readonly #peerMax: number;
  readonly #random: () => number;
  /** Global credit; may go below zero by one message's cost, as Linux's. */
  #credit: number;
  #stampMs = -Infinity;
  /**
   * Per-destination buckets (Linux `inet_peer.rate_tokens` / `rate_last`): a destination's slot,
   * and per slot its address, its credit in milliseconds (an error costs one interval), when the
   * credit was last brought up to date, and its neighbours in a least-recently-used list. Typed
   * arrays, so a verdict allocates nothing and an error to a known destination only moves its
   * slot to the list's tail (a Map kept in recency order by delete and re-insert churned its table).
   */
  readonly #slots = new Map<number, number>();
  #addr = new Int32Array(0);
  #tokensMs = new Float64Array(0);
  #lastMs = new Float64Array(0);
  #older = new Int32Array(0);
  #newer = new Int32Array(0);
  /** Least and most recently used slots. */
  #lru = NO_SLOT;
  #mru = NO_SLOT;

  /**
   * Creates the limiter.
   *
   * @param options rates, bursts, table size and random source
   * @throws {TypeError} on a non-positive rate, burst, interval or table size
   */
  constructor(options: IcmpRateLimitOptions = {}) {
    const rate = options.errorRatePerSec ?? ICMP_RATE_PER_SEC;
    const burst = options.errorBurst ?? ICMP_RATE_BURST;
    const interval = options.errorPeerIntervalMs ?? ICMP_PEER_INTERVAL_MS;
    const peerBurst = options.errorPeerBurst ?? ICMP_PEER_BURST;
    const peers = options.errorPeers ?? ICMP_PEER_TABLE_MAX;
    if (!(rate > 0) || !(burst >= 1) || !(interval > 0) || !(peerBurst >= 1) || !(peers >= 1)) {
      throw new TypeError(
        "ICMP rate limit needs errorRatePerSec > 0, errorBurst >= 1, errorPeerIntervalMs > 0, " +
          "errorPeerBurst >= 1 and errorPeers >= 1",
      );
    }
    this.#perMs = rate / MS_PER_SEC;
    this.#burst = Math.floor(burst);
    this.#peerIntervalMs = interval;
    this.#peerMaxTokensMs = Math.floor(peerBurst) * interval;
    this.#peerMax = Math.floor(peers);
    this.#random = options.random ?? cryptoRandom;
    this.#credit = this.#burst;
  }

  /** Destinations that currently have a bucket. */
  get peerCount(): number {
    return this.#slots.size;
  }

  /** The global credit left (it may be −1 after a costly last message). */
  get globalCredit(): number {
    return this.#credit;
  }

  /**
   * Asks to send one ICMP error to `dst`; when allowed, the tokens are spent.
   *
   * @param nowMs current time (ms)
   * @param dst the error's destination (int32 IPv4 address)
   * @returns {@link ICMP_RATE_ALLOWED}, or which limit refused it
   */
  allow(nowMs: number, dst: number): IcmpRateVerdict {
    // The budget starts full at the first error; refills are counted from then.
    if (this.#stampMs === -Infinity) this.#stampMs = nowMs;
    if (!this.#globalAllow(nowMs)) return ICMP_RATE_LIMITED_GLOBAL;
    if (!this.#peerAllow(nowMs, dst)) return ICMP_RATE_LIMITED_PEER;
    // Linux icmp_global_consume: a random cost of 0, 1 or 2 credits, so the number of errors an
    // interval allows is not a constant an attacker can count down.
    const cost = Math.floor(this.#random() * ICMP_GLOBAL_COST_CHOICES);
    this.#credit -= Math.min(Math.max(cost, 0), ICMP_GLOBAL_COST_CHOICES - 1);
    return ICMP_RATE_ALLOWED;
  }

  /** Linux icmp_global_allow: credit left, or a refill after at least 20 ms. */
  #globalAllow(nowMs: number): boolean {
    if (this.#credit > 0) return true;
    const deltaMs = Math.min(nowMs - this.#stampMs, ICMP_GLOBAL_REFILL_MAX_MS);
    if (!(deltaMs >= ICMP_GLOBAL_REFILL_MIN_MS)) return false;
    const increment = Math.floor(this.#perMs * deltaMs);
    if (increment === 0) return false;
    this.#stampMs = nowMs;
    this.#credit = Math.min(this.#credit + increment, this.#burst);
    return this.#credit > 0;
  }

  /** Linux inet_peer_xrlim_allow: credit in ms, one interval per error, up to burst intervals. */
  #peerAllow(nowMs: number, dst: number): boolean {
    let slot = this.#slots.get(dst);
    if (slot === undefined) {
      slot = this.#newSlot(dst);
      // A new destination starts with a full burst (Linux sets rate_last 60 s in the past).
      this.#tokensMs[slot] = this.#peerMaxTokensMs;
      this.#lastMs[slot] = nowMs;
    } else {
      this.#touch(slot); // most recently used last
      const lastMs = this.#lastMs[slot];
      if (nowMs > lastMs) {
        this.#tokensMs[slot] = Math.min(
          this.#tokensMs[slot] + (nowMs - lastMs),
          this.#peerMaxTokensMs,
        );
        this.#lastMs[slot] = nowMs;
      }
    }
    if (this.#tokensMs[slot] < this.#peerIntervalMs) return false;
    this.#tokensMs[slot] -= this.#peerIntervalMs;
    return true;
  }

  /** A slot for a destination not in the table, at the recency list's tail. */
  #newSlot(dst: number): number {
    const used = this.#slots.size;
    let slot: number;
    if (used >= this.#peerMax) {
      // Bounded table: forget the least recently used destination (it starts afresh when seen
      // again, as a Linux inet_peer that was garbage-collected does).
      slot = this.#lru;
      this.#unlink(slot);
      this.#slots.delete(this.#addr[slot]);
      this.peerEvictions++;
    } else {
      if (used === this.#addr.length) this.#grow(used);
      slot = used;
    }
    this.#addr[slot] = dst;
    this.#slots.set(dst, slot);
    this.#append(slot);
    return slot;
  }

  /** Moves `slot` to the tail of the recency list (most recently used). */
  #touch(slot: number): void {
    if (slot === this.#mru) return;
    this.#unlink(slot);
    this.#append(slot);
  }

  #append(slot: number): void {
    this.#older[slot] = this.#mru;
    this.#newer[slot] = NO_SLOT;
    if (this.#mru === NO_SLOT) this.#lru = slot;
    else this.#newer[this.#mru] = slot;
    this.#mru = slot;
  }

  #unlink(slot: number): void {
    const older = this.#older[slot];
    const newer = this.#newer[slot];
    if (older === NO_SLOT) this.#lru = newer;
    else this.#newer[older] = newer;
    if (newer === NO_SLOT) this.#mru = older;
    else this.#older[newer] = older;
  }

  /** Doubles the slot arrays (up to the table's bound); `used` slots are kept. */
  #grow(used: number): void {
    const size = Math.min(Math.max(PEER_SLOTS_INITIAL, used * 2), this.#peerMax);
    const grow = <T extends Int32Array | Float64Array>(old: T, fresh: T): T => {
      fresh.set(old.subarray(0, used));
      return fresh;
    };
    this.#addr = grow(this.#addr, new Int32Array(size));
    this.#tokensMs = grow(this.#tokensMs, new Float64Array(size));
    this.#lastMs = grow(this.#lastMs, new Float64Array(size));
    this.#older = grow(this.#older, new Int32Array(size));
    this.#newer = grow(this.#newer, new Int32Array(size));
  }
}
