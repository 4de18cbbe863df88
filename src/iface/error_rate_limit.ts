/**
 * The ICMP error rate limit (RFC 4443 §2.4 (f), RFC 1812 §4.3.2.8) as Linux
 * applies it to both families: a global token bucket
 * (`icmp_msgs_per_sec` 1000, `icmp_msgs_burst` 50) whose cost per message
 * is randomized (Linux icmp_global_consume, after CVE-2024-46865's side
 * channel: an attacker must not learn the bucket's state by counting
 * errors), and a per-destination bucket (Linux inet_peer `xrlim_allow`:
 * one message per `icmp_ratelimit` = 1 s, bursts of 6), kept for a bounded
 * number of destinations (LRU). Written for IPv6 (keys are `ipv6Hash`es)
 * and usable for IPv4 (the address itself is the key).
 *
 * @module
 */

import { TokenBucket } from "./icmp.ts";

/** Global error rate (Linux `icmp_msgs_per_sec`). */
export const ERROR_RATE_PER_SEC = 1000;
/** Global burst (Linux `icmp_msgs_burst`). */
export const ERROR_RATE_BURST = 50;
/** Per-destination interval between errors (Linux `icmp_ratelimit`, `icmpv6 ratelimit`: 1 s). */
export const ERROR_PER_DEST_INTERVAL_MS = 1000;
/** Per-destination burst (Linux XRLIM_BURST_FACTOR). */
export const ERROR_PER_DEST_BURST = 6;
/** Destinations tracked at once (least recently used evicted). */
export const ERROR_PER_DEST_MAX = 256;
/** Extra tokens a message may cost at random (Linux: 0..2 extra credit per message). */
const RANDOM_EXTRA_COST = 3;

/** Options of an {@link ErrorRateLimiter}. */
export interface ErrorRateLimitOptions {
  /** Global messages per second; default 1000. */
  errorRatePerSec?: number;
  /** Global burst; default 50. */
  errorBurst?: number;
  /** Per-destination interval (ms); default 1000; 0 turns the per-destination limit off. */
  perDestinationIntervalMs?: number;
  /** Per-destination burst; default 6. */
  perDestinationBurst?: number;
  /** Destinations tracked; default 256. */
  maxDestinations?: number;
  /** Randomness in [0, 1) for the global cost (default Math.random; simulations seed it). */
  random?: () => number;
}

/** Why {@link ErrorRateLimiter.allow} refused, or "ok". */
export type RateVerdict = "ok" | "global" | "destination";

/**
 * Global + per-destination ICMP error limiter.
 *
 * @example
 * ```ts
 * import { ErrorRateLimiter } from "./error_rate_limit.ts";
 * const l = new ErrorRateLimiter({ perDestinationBurst: 1, random: () => 0 });
 * console.assert(l.allow(0, 7) === "ok" && l.allow(0, 7) === "destination");
 * console.assert(l.allow(0, 8) === "ok");          // another destination
 * console.assert(l.allow(1000, 7) === "ok");       // 1 s later
 * ```
 */
export class ErrorRateLimiter {
  readonly #global: TokenBucket;
  readonly #intervalMs: number;
  readonly #burst: number;
  readonly #max: number;
  readonly #random: () => number;
  /** Destination key → time at which its bucket is empty again (ms); Map order = LRU. */
  readonly #dest = new Map<number, number>();

  /**
   * Creates a limiter with full buckets.
   *
   * @param options rates, bursts, bounds
   * @throws {TypeError} on invalid values
   */
  constructor(options: ErrorRateLimitOptions = {}) {
    this.#global = new TokenBucket(
      options.errorRatePerSec ?? ERROR_RATE_PER_SEC,
      options.errorBurst ?? ERROR_RATE_BURST,
    );
    this.#intervalMs = options.perDestinationIntervalMs ?? ERROR_PER_DEST_INTERVAL_MS;
    this.#burst = options.perDestinationBurst ?? ERROR_PER_DEST_BURST;
    this.#max = options.maxDestinations ?? ERROR_PER_DEST_MAX;
    if (!(this.#intervalMs >= 0) || !(this.#burst >= 1) || !(this.#max >= 1)) {
      throw new TypeError("error rate limit: interval ≥ 0, burst ≥ 1, maxDestinations ≥ 1");
    }
    this.#random = options.random ?? Math.random;
  }

  /**
   * May an error go to `key` now? Consumes tokens when it may.
   *
   * @param nowMs current time
   * @param key the destination (IPv4 address or `ipv6Hash`)
   * @returns "ok", or which limit refused
   */
  allow(nowMs: number, key: number): RateVerdict {
    if (this.#intervalMs > 0) {
      // Linux xrlim_allow: a token per interval, up to burst × interval banked.
      const map = this.#dest;
      const banked = this.#burst * this.#intervalMs;
      let emptyAt = map.get(key);
      if (emptyAt === undefined) {
        if (map.size >= this.#max) map.delete(map.keys().next().value!);
        emptyAt = nowMs - banked;
      } else {
        map.delete(key); // re-inserted below: most recently used last
      }
      if (emptyAt < nowMs - banked) emptyAt = nowMs - banked;
      if (emptyAt + this.#intervalMs > nowMs) {
        map.set(key, emptyAt);
        return "destination";
      }
      map.set(key, emptyAt + this.#intervalMs);
    }
    // Linux icmp_global_allow/consume: a random extra cost hides the bucket's level.
    const extra = Math.floor(this.#random() * RANDOM_EXTRA_COST);
    if (!this.#global.take(nowMs)) return "global";
    for (let i = 0; i < extra; i++) this.#global.take(nowMs);
    return "ok";
  }
}
