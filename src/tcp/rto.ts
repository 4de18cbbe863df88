/**
 * Retransmission timeout computation per RFC 6298: SRTT/RTTVAR smoothing
 * (§2), Karn's rule (§3, enforced by the caller never sampling a
 * retransmitted segment), lower and upper bounds (§2.4, §2.5) and
 * exponential backoff (§5.5).
 *
 * @module
 */

/** RFC 6298 §2.1: RTO before any measurement, 1 s. */
export const INITIAL_RTO_MS = 1000;
/** Minimum RTO; RFC 6298 §2.4 says 1 s, Linux uses 200 ms, so do we by default. */
export const DEFAULT_MIN_RTO_MS = 200;
/** RFC 6298 §2.5 allows an upper bound of at least 60 s; Linux uses 120 s. */
export const DEFAULT_MAX_RTO_MS = 120_000;
/** RFC 6298 §2: alpha = 1/8. */
const RTT_ALPHA = 1 / 8;
/** RFC 6298 §2: beta = 1/4. */
const RTT_BETA = 1 / 4;
/** RFC 6298 §2: K = 4. */
const RTT_K = 4;
/** Clock granularity G in ms: the engine is driven at millisecond resolution. */
const CLOCK_GRANULARITY_MS = 1;

/** Options for {@link RttEstimator}. */
export interface RttEstimatorOptions {
  /** Lower bound on the RTO in ms (default 200). */
  minRtoMs?: number;
  /** Upper bound on the RTO in ms (default 120000). */
  maxRtoMs?: number;
  /** RTO before the first sample in ms (default 1000). */
  initialRtoMs?: number;
  /**
   * Bound the variance term by `minRtoMs` instead of the whole RTO (Linux: SRTT +
   * max(K·RTTVAR, minRtoMs)); default false (RFC 6298 §2.4).
   */
  minRtoOnVariance?: boolean;
}

/**
 * RFC 6298 round-trip estimator and retransmission timeout.
 *
 * @example
 * ```ts
 * import { RttEstimator } from "./rto.ts";
 * const e = new RttEstimator();
 * console.assert(e.rtoMs === 1000);
 * e.sample(100);                 // first sample: SRTT=100, RTTVAR=50
 * console.assert(e.srttMs === 100 && e.rttvarMs === 50 && e.rtoMs === 300);
 * e.backoff();
 * console.assert(e.rtoMs === 600);
 * ```
 */
export class RttEstimator {
  /** Smoothed RTT in ms (0 before the first sample). */
  srttMs = 0;
  /** RTT variation in ms (0 before the first sample). */
  rttvarMs = 0;
  /** Number of samples taken. */
  samples = 0;
  /** The smallest sample of the connection in ms (Linux tcpi_min_rtt; Infinity before the first). */
  minRttMs = Infinity;
  /** Consecutive backoffs since the last sample (RFC 6298 §5.5). */
  backoffCount = 0;
  readonly minRtoMs: number;
  readonly maxRtoMs: number;
  readonly #minOnVariance: boolean;
  #baseRtoMs: number;

  /**
   * @param opts bounds and initial value
   */
  constructor(opts: RttEstimatorOptions = {}) {
    this.minRtoMs = opts.minRtoMs ?? DEFAULT_MIN_RTO_MS;
    this.maxRtoMs = opts.maxRtoMs ?? DEFAULT_MAX_RTO_MS;
    this.#minOnVariance = opts.minRtoOnVariance ?? false;
    this.#baseRtoMs = this.#clamp(opts.initialRtoMs ?? INITIAL_RTO_MS);
  }

  #clamp(ms: number): number {
    return Math.min(this.maxRtoMs, Math.max(this.minRtoMs, ms));
  }

  /** The current RTO in ms, including backoff, within [minRtoMs, maxRtoMs]. */
  get rtoMs(): number {
    let rto = this.#baseRtoMs;
    for (let i = 0; i < this.backoffCount && rto < this.maxRtoMs; i++) rto *= 2;
    return Math.min(rto, this.maxRtoMs);
  }

  /**
   * Feeds one RTT measurement (RFC 6298 §2.2, §2.3) and clears the backoff.
   * Callers obey Karn's rule: never sample a retransmitted segment unless the
   * sample comes from a timestamp echo (RFC 7323 §4).
   *
   * @param rttMs the measured round-trip time in ms (negative values ignored)
   * @returns nothing
   */
  sample(rttMs: number): void {
    if (!(rttMs >= 0)) return;
    if (this.samples === 0) {
      // RFC 6298 §2.2
      this.srttMs = rttMs;
      this.rttvarMs = rttMs / 2;
    } else {
      // RFC 6298 §2.3: RTTVAR first, using the old SRTT.
      this.rttvarMs = (1 - RTT_BETA) * this.rttvarMs + RTT_BETA * Math.abs(this.srttMs - rttMs);
      this.srttMs = (1 - RTT_ALPHA) * this.srttMs + RTT_ALPHA * rttMs;
    }
    this.samples++;
    if (rttMs < this.minRttMs) this.minRttMs = rttMs;
    const variance = Math.max(CLOCK_GRANULARITY_MS, RTT_K * this.rttvarMs);
    this.#baseRtoMs = this.#clamp(
      this.srttMs + (this.#minOnVariance ? Math.max(variance, this.minRtoMs) : variance),
    );
    this.backoffCount = 0;
  }

  /**
   * RFC 6298 §5.5: doubles the RTO after a retransmission timeout (bounded by maxRtoMs).
   *
   * @returns nothing
   */
  backoff(): void {
    if (this.rtoMs < this.maxRtoMs) this.backoffCount++;
  }

  /**
   * Clears the backoff without a new sample (RFC 6298 §5.7 allows keeping it;
   * used when new data is acknowledged after a timeout, as Linux does).
   *
   * @returns nothing
   */
  resetBackoff(): void {
    this.backoffCount = 0;
  }
}
