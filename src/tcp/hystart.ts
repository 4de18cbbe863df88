/**
 * HyStart++ (RFC 9406): a delay-based exit from the initial slow start. Slow start doubles
 * cwnd every round trip until a loss; by then a bottleneck queue has overflowed and a window's
 * worth of segments is lost. HyStart++ watches the minimum RTT of each round: when it rises by
 * more than a threshold (a queue is building) slow start gives way to Conservative Slow Start
 * (CSS), which grows cwnd at a quarter of the rate; should the RTT fall back below the level
 * that triggered it, the exit was spurious (jitter) and slow start resumes; after CSS_ROUNDS
 * rounds of CSS the sender enters congestion avoidance with ssthresh = cwnd.
 *
 * This object is the algorithm alone, driven by sequence numbers and RTT samples (design rule
 * 2: no clock of its own); the congestion controller applies {@link HyStartPlusPlus.growthDivisor}
 * to its slow-start growth and sets ssthresh when {@link HyStartPlusPlus.onAck} says so. As
 * RFC 9406 §4.2 recommends, it runs for the initial slow start only (while ssthresh is still
 * "arbitrarily high"); a loss or an ECN mark at any time ends it (§4.2: "enter congestion
 * avoidance"). FreeBSD runs HyStart++ in cc_newreno and cc_cubic; Linux's CUBIC runs the older
 * HyStart (delay increase and ACK trains, tcp_cubic.c hystart_update) with the same 4..16 ms
 * delay thresholds.
 *
 * @module
 */

import { seqGe } from "./seq.ts";

/** RFC 9406 §4.3: MIN_RTT_THRESH, the least RTT rise that ends slow start, ms. */
export const MIN_RTT_THRESH_MS = 4;
/** RFC 9406 §4.3: MAX_RTT_THRESH, the largest RTT rise needed to end slow start, ms. */
export const MAX_RTT_THRESH_MS = 16;
/** RFC 9406 §4.3: MIN_RTT_DIVISOR: the threshold is lastRoundMinRTT / 8 within the bounds. */
export const MIN_RTT_DIVISOR = 8;
/** RFC 9406 §4.3: N_RTT_SAMPLE, RTT samples a round needs before it is judged. */
export const N_RTT_SAMPLE = 8;
/** RFC 9406 §4.3: CSS_GROWTH_DIVISOR: CSS grows cwnd at 1/4 of slow start's rate. */
export const CSS_GROWTH_DIVISOR = 4;
/** RFC 9406 §4.3: CSS_ROUNDS, rounds of CSS before congestion avoidance. */
export const CSS_ROUNDS = 5;

/** {@link HyStartPlusPlus.onAck}: nothing changed. */
export const HYSTART_NONE = 0;
/** {@link HyStartPlusPlus.onAck}: the RTT rose: slow start left for CSS. */
export const HYSTART_CSS_ENTERED = 1;
/** {@link HyStartPlusPlus.onAck}: the RTT fell below the CSS baseline: back to slow start. */
export const HYSTART_SS_RESUMED = 2;
/** {@link HyStartPlusPlus.onAck}: CSS_ROUNDS rounds of CSS passed: congestion avoidance now. */
export const HYSTART_CA_ENTERED = 3;

/** Where HyStart++ is (see {@link HyStartPlusPlus.state}). */
export type HyStartState = "slow-start" | "css" | "done";

/** Phase codes (numbers on the hot path). */
const PHASE_SS = 0;
const PHASE_CSS = 1;
const PHASE_DONE = 2;

/**
 * RFC 9406 §4.2 for one connection.
 *
 * @example
 * ```ts
 * import { HYSTART_CSS_ENTERED, HyStartPlusPlus } from "./hystart.ts";
 * const h = new HyStartPlusPlus();
 * // Round 1 (SND.NXT 10000): eight samples of 40 ms.
 * for (let i = 1; i <= 8; i++) h.onAck(1000 * i, 10000, 40);
 * // Round 2 begins when 10000 is acknowledged; its minimum is 46 ms, 6 ms more: a queue.
 * let event = 0;
 * for (let i = 0; i < 8; i++) event = h.onAck(10000 + 1000 * i, 30000, 46);
 * console.assert(event === HYSTART_CSS_ENTERED && h.state === "css");
 * console.assert(h.growthDivisor === 4);
 * ```
 */
export class HyStartPlusPlus {
  #phase = PHASE_SS;
  /** windowEnd: the round ends when SND.UNA reaches it (valid once {@link #started}). */
  #windowEnd = 0;
  #started = false;
  /** lastRoundMinRTT, ms (Infinity: none). */
  #lastRoundMinRtt = Infinity;
  /** currentRoundMinRTT, ms (Infinity: none). */
  #currentRoundMinRtt = Infinity;
  /** rttSampleCount of the current round. */
  #rttSampleCount = 0;
  /** cssBaselineMinRtt, ms (Infinity outside CSS). */
  #cssBaselineMinRtt = Infinity;
  /** Rounds begun in CSS. */
  #cssRounds = 0;
  /** Times slow start left for CSS (on this connection). */
  cssEntries = 0;
  /** Times CSS went back to slow start: the RTT fell, the exit was spurious. */
  ssResumptions = 0;

  /** The phase: "slow-start" (watching), "css", or "done" (congestion avoidance or a loss). */
  get state(): HyStartState {
    return this.#phase === PHASE_SS ? "slow-start" : this.#phase === PHASE_CSS ? "css" : "done";
  }

  /** Whether HyStart++ still watches this slow start (slow start or CSS). */
  get active(): boolean {
    return this.#phase !== PHASE_DONE;
  }

  /**
   * RFC 9406 §4.2: what slow start's growth is divided by — 1 in slow start,
   * CSS_GROWTH_DIVISOR in CSS.
   */
  get growthDivisor(): number {
    return this.#phase === PHASE_CSS ? CSS_GROWTH_DIVISOR : 1;
  }

  /** The minimum RTT of the round in progress, ms (Infinity: no sample yet). */
  get currentRoundMinRttMs(): number {
    return this.#currentRoundMinRtt;
  }

  /** The minimum RTT of the last complete round, ms (Infinity: none). */
  get lastRoundMinRttMs(): number {
    return this.#lastRoundMinRtt;
  }

  /**
   * RFC 9406 §4.2: an ACK that acknowledged or SACKed new data, in slow start or CSS. Ends the
   * round when SND.UNA reaches windowEnd ("When windowEnd is ACKed, the current round ends
   * and windowEnd is set to SND.NXT"), takes the ACK's RTT sample into the round's minimum,
   * and judges the round once it has N_RTT_SAMPLE samples.
   *
   * @param sndUna SND.UNA after the ACK
   * @param sndNxt SND.NXT (the highest sequence number sent: the next round's end)
   * @param rttMs the ACK's RTT sample, ms; negative: none
   * @returns one of the HYSTART_* codes; on {@link HYSTART_CA_ENTERED} the caller sets
   *   ssthresh = cwnd
   */
  onAck(sndUna: number, sndNxt: number, rttMs: number): number {
    if (this.#phase === PHASE_DONE) return HYSTART_NONE;
    if (!this.#started) {
      this.#started = true;
      this.#windowEnd = sndNxt;
    } else if (seqGe(sndUna, this.#windowEnd)) {
      // RFC 9406 §4.2: "At the start of each round during standard slow start and CSS".
      this.#lastRoundMinRtt = this.#currentRoundMinRtt;
      this.#currentRoundMinRtt = Infinity;
      this.#rttSampleCount = 0;
      this.#windowEnd = sndNxt;
      if (this.#phase === PHASE_CSS && ++this.#cssRounds >= CSS_ROUNDS) {
        // RFC 9406 §4.2: "If CSS_ROUNDS rounds are complete, enter congestion avoidance by
        // setting the ssthresh to the current cwnd."
        this.#phase = PHASE_DONE;
        return HYSTART_CA_ENTERED;
      }
    }
    if (!(rttMs >= 0)) return HYSTART_NONE;
    if (rttMs < this.#currentRoundMinRtt) this.#currentRoundMinRtt = rttMs;
    this.#rttSampleCount++;
    if (this.#rttSampleCount < N_RTT_SAMPLE) return HYSTART_NONE;
    if (this.#phase === PHASE_SS) {
      if (this.#currentRoundMinRtt === Infinity || this.#lastRoundMinRtt === Infinity) {
        return HYSTART_NONE;
      }
      // RFC 9406 §4.2: RttThresh = max(MIN_RTT_THRESH, min(lastRoundMinRTT /
      // MIN_RTT_DIVISOR, MAX_RTT_THRESH)).
      const thresh = Math.max(
        MIN_RTT_THRESH_MS,
        Math.min(this.#lastRoundMinRtt / MIN_RTT_DIVISOR, MAX_RTT_THRESH_MS),
      );
      if (this.#currentRoundMinRtt >= this.#lastRoundMinRtt + thresh) {
        this.#cssBaselineMinRtt = this.#currentRoundMinRtt;
        this.#phase = PHASE_CSS;
        this.#cssRounds = 0;
        this.cssEntries++;
        return HYSTART_CSS_ENTERED;
      }
      return HYSTART_NONE;
    }
    // CSS: "if (currentRoundMinRTT < cssBaselineMinRtt)": the exit was spurious; resume slow
    // start, HyStart++ included.
    if (this.#currentRoundMinRtt < this.#cssBaselineMinRtt) {
      this.#cssBaselineMinRtt = Infinity;
      this.#phase = PHASE_SS;
      this.ssResumptions++;
      return HYSTART_SS_RESUMED;
    }
    return HYSTART_NONE;
  }

  /**
   * RFC 9406 §4.2: loss or an ECN mark during slow start or CSS (the congestion controller
   * set ssthresh), or the slow start was not the initial one: HyStart++ is over for this
   * connection.
   *
   * @returns nothing
   */
  stop(): void {
    this.#phase = PHASE_DONE;
    this.#cssBaselineMinRtt = Infinity;
  }
}
