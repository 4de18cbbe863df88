/**
 * The layer-wide rate limits on what TCP sends in answer to unsolicited or suspicious
 * segments: {@link WindowRateLimit}, a budget of answers per one-second window, which the
 * layer keeps one of for RSTs to segments for no connection (Linux's ICMP-style limit in
 * `tcp_v4_send_reset`, FreeBSD `badport_bandlim`) and one for challenge ACKs (RFC 5961 §7,
 * Linux `tcp_challenge_ack_limit`). The limits themselves are configuration (config.ts).
 *
 * @module
 */

/** Window of the RST and challenge-ACK rate limits, ms. */
export const RATE_WINDOW_MS = 1000;

/**
 * At most `limit` events per {@link RATE_WINDOW_MS} window; the window restarts at the
 * first event a full window after the last start (or when the clock went back).
 *
 * @example
 * ```ts
 * import { WindowRateLimit } from "./rate_limit.ts";
 * const rl = new WindowRateLimit();
 * console.assert(rl.allow(0, 1) && !rl.allow(10, 1) && rl.allow(1000, 1));
 * ```
 */
export class WindowRateLimit {
  #windowStartMs = -Infinity;
  #inWindow = 0;

  /**
   * Whether one more event may happen now (and counts it when it may).
   *
   * @param nowMs current time
   * @param limit events per window; 0 or less: no limit
   * @returns true when allowed
   */
  allow(nowMs: number, limit: number): boolean {
    if (limit <= 0) return true;
    if (nowMs - this.#windowStartMs >= RATE_WINDOW_MS || nowMs < this.#windowStartMs) {
      this.#windowStartMs = nowMs;
      this.#inWindow = 0;
    }
    if (this.#inWindow >= limit) return false;
    this.#inWindow++;
    return true;
  }
}
