/**
 * Congestion control behind a small interface: NewReno (RFC 5681, RFC 6582)
 * and CUBIC (RFC 9438, the default). The connection owns the loss-recovery
 * mechanics (dupack counting, SACK scoreboard, NewReno window inflation);
 * these classes own `cwnd` and `ssthresh` and how they move.
 *
 * CUBIC's initial slow start ends on a rise of the RTT with HyStart++ (RFC 9406, `hystart.ts`)
 * unless it is turned off.
 *
 * All windows are in bytes.
 *
 * @module
 */

import { HYSTART_CA_ENTERED, HYSTART_NONE, HyStartPlusPlus } from "./hystart.ts";

/** "Infinite" initial slow-start threshold (RFC 5681 §3.1: arbitrarily high). */
export const INITIAL_SSTHRESH = 0x7fffffff;
/** RFC 6928 §2: the initial window byte cap, 14600. */
const IW_BYTES_CAP = 14600;
/** RFC 6928 §2: at most 10 segments. */
const IW_MAX_SEGMENTS = 10;
/** RFC 9438 §4.1: C = 0.4 (segments / s^3). */
const CUBIC_C = 0.4;
/** RFC 9438 §4.6: beta_cubic = 0.7. */
const CUBIC_BETA = 0.7;
/** RFC 9438 §4.3: alpha_cubic = 3 * (1 - beta) / (1 + beta). */
const CUBIC_ALPHA = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA);

// Linux tcp_cubic.c's fixed-point constants (the `linuxGrowth` mode of Cubic).
/** A jiffy at CONFIG_HZ=250 (Debian's and most distributions' kernels), ms. */
export const LINUX_JIFFY_MS = 4;
/** CONFIG_HZ of {@link LINUX_JIFFY_MS}. */
const LINUX_HZ = 1000 / LINUX_JIFFY_MS;
/** BICTCP_BETA_SCALE and `beta` (717/1024 ≈ 0.7). */
const LINUX_BETA_SCALE = 1024;
const LINUX_BETA = 717;
/** BICTCP_HZ: time in 2^-10 s units. */
const LINUX_BICTCP_HZ = 10;
/** cube_rtt_scale = bic_scale (41) * 10: C ≈ 0.4 in Linux's units. */
const LINUX_CUBE_RTT_SCALE = 41 * 10;
/** cube_factor = 2^(10 + 3 * BICTCP_HZ) / cube_rtt_scale: K = cbrt(cube_factor * (W_max - cwnd)). */
const LINUX_CUBE_FACTOR = 2 ** (10 + 3 * LINUX_BICTCP_HZ) / LINUX_CUBE_RTT_SCALE;
/** beta_scale = 8 * (1024 + 717) / 3 / (1024 - 717), integer arithmetic as cubictcp_register. */
const LINUX_FRIENDLY_SCALE = Math.floor(
  Math.floor((8 * (LINUX_BETA_SCALE + LINUX_BETA)) / 3) / (LINUX_BETA_SCALE - LINUX_BETA),
);
/** bictcp_update recomputes `cnt` at least every HZ / 32 jiffies while cwnd stands still. */
const LINUX_RECOMPUTE_JIFFIES = Math.floor(LINUX_HZ / 32);
/** bictcp_update: `cnt` without a cubic target above cwnd (grow 1 segment per 100 windows). */
const LINUX_CNT_FLAT = 100;
/** bictcp_update: `cnt` bound before the first loss (last_max_cwnd 0). */
const LINUX_CNT_FIRST_EPOCH_MAX = 20;

/**
 * RFC 6928 §2 initial window: `min(10*MSS, max(2*MSS, 14600))`.
 *
 * @param mss the sender's maximum segment size in bytes
 * @returns the initial congestion window in bytes
 *
 * @example
 * ```ts
 * import { initialWindow } from "./congestion.ts";
 * console.assert(initialWindow(1460) === 14600);
 * console.assert(initialWindow(536) === 5360);
 * console.assert(initialWindow(9000) === 18000);
 * ```
 */
export function initialWindow(mss: number): number {
  return Math.min(IW_MAX_SEGMENTS * mss, Math.max(2 * mss, IW_BYTES_CAP));
}

/** What a connection needs from a congestion-control algorithm. */
export interface CongestionControl {
  /** Algorithm name, e.g. "cubic". */
  readonly name: string;
  /** Congestion window in bytes. */
  readonly cwnd: number;
  /** Slow-start threshold in bytes. */
  readonly ssthresh: number;
  /** HyStart++ of the initial slow start (RFC 9406); null when off or not used. */
  readonly hystart: HyStartPlusPlus | null;
  /** Changes the segment size (after MSS negotiation or PMTU change). */
  setMss(mss: number): void;
  /**
   * An ACK acknowledged or SACKed new data (outside recovery, before its {@link onAck}): the
   * delay-based slow-start exit (RFC 9406 §4.2) counts rounds by sequence number and takes
   * the ACK's RTT sample.
   *
   * @param sndUna SND.UNA after the ACK
   * @param sndNxt SND.NXT
   * @param rttMs the ACK's RTT sample, ms (negative: none)
   * @returns a HYSTART_* code of `hystart.ts` (what changed), for the layer's counters
   */
  onAckSample(sndUna: number, sndNxt: number, rttMs: number): number;
  /** New data acknowledged outside loss recovery. */
  onAck(nowMs: number, ackedBytes: number, flightBytes: number, srttMs: number): void;
  /** Loss detected by duplicate ACKs or SACK: entering fast recovery (RFC 5681 §3.2 step 2). */
  onCongestionEvent(nowMs: number, flightBytes: number): void;
  /** Recovery finished by a full ACK (RFC 6582 §3.2 step 3). */
  onRecoveryExit(nowMs: number, flightBytes: number): void;
  /** Retransmission timeout (RFC 5681 §3.1 eq. 4: cwnd = loss window). */
  onTimeout(nowMs: number, flightBytes: number): void;
  /**
   * A reduction proved spurious (RFC 3708 §2, RFC 5682 §3, Linux tcp_undo_cwnd_reduction):
   * cwnd and ssthresh go back to at least their values before it.
   */
  undo(priorCwnd: number, priorSsthresh: number): void;
}

/** Names of the built-in algorithms. */
export type CongestionAlgorithm = "cubic" | "newreno";

/**
 * How CUBIC's Reno-friendly estimate W_est grows between a reduction and cwnd_prior (RFC 9438
 * §4.3; TcpConfig `cubicRenoFriendly`): "aimd1" a segment per window, "rfc9438" α_cubic.
 */
export type CubicRenoFriendly = "aimd1" | "rfc9438";

/**
 * Makes a congestion controller by name.
 *
 * @param algorithm "cubic" (default) or "newreno"
 * @param mss the initial sender MSS in bytes
 * @param hystart CUBIC's initial slow start ends by HyStart++ (RFC 9406; default true)
 * @param cubicLinuxGrowth CUBIC grows as Linux's tcp_cubic.c (see {@link Cubic}; default false)
 * @param cubicRenoFriendly CUBIC's Reno-friendly growth (see {@link Cubic}; default "aimd1")
 * @returns a fresh controller
 *
 * @example
 * ```ts
 * import { createCongestionControl } from "./congestion.ts";
 * console.assert(createCongestionControl("newreno", 1460).cwnd === 14600);
 * ```
 */
export function createCongestionControl(
  algorithm: CongestionAlgorithm,
  mss: number,
  hystart = true,
  cubicLinuxGrowth = false,
  cubicRenoFriendly: CubicRenoFriendly = "aimd1",
): CongestionControl {
  return algorithm === "newreno"
    ? new NewReno(mss)
    : new Cubic(mss, hystart, cubicLinuxGrowth, cubicRenoFriendly);
}

/**
 * NewReno: slow start and congestion avoidance (RFC 5681 §3.1) with
 * appropriate byte counting; halving on loss.
 *
 * @example
 * ```ts
 * import { NewReno } from "./congestion.ts";
 * const cc = new NewReno(1000);
 * cc.onAck(0, 1000, 10000, 50);            // slow start: +1 MSS
 * console.assert(cc.cwnd === 11000);
 * cc.onCongestionEvent(0, 10000);          // ssthresh = flight / 2
 * console.assert(cc.ssthresh === 5000);
 * ```
 */
export class NewReno implements CongestionControl {
  readonly name: string = "newreno";
  cwnd: number;
  ssthresh: number = INITIAL_SSTHRESH;
  /** NewReno slow-starts as RFC 5681 §3.1 says, without HyStart++. */
  readonly hystart: HyStartPlusPlus | null = null;
  protected mss: number;
  #bytesAcked = 0;

  /** @param mss sender MSS in bytes */
  constructor(mss: number) {
    this.mss = mss;
    this.cwnd = initialWindow(mss);
  }

  /** @param mss new sender MSS @returns nothing */
  setMss(mss: number): void {
    this.mss = mss;
    if (this.cwnd < mss) this.cwnd = mss;
  }

  /** No HyStart++: nothing to track. @returns HYSTART_NONE */
  onAckSample(_sndUna: number, _sndNxt: number, _rttMs: number): number {
    return HYSTART_NONE;
  }

  /**
   * @param _nowMs time
   * @param ackedBytes newly acknowledged bytes
   * @param _flightBytes bytes outstanding
   * @param _srttMs smoothed RTT
   * @returns nothing
   */
  onAck(_nowMs: number, ackedBytes: number, _flightBytes: number, _srttMs: number): void {
    if (this.cwnd < this.ssthresh) {
      // RFC 5681 §3.1 eq. 2: cwnd += min(N, SMSS)
      this.cwnd += Math.min(ackedBytes, this.mss);
      return;
    }
    // RFC 5681 §3.1: congestion avoidance, +1 SMSS per cwnd of data acknowledged.
    this.#bytesAcked += ackedBytes;
    if (this.#bytesAcked >= this.cwnd) {
      this.#bytesAcked -= this.cwnd;
      this.cwnd += this.mss;
    }
  }

  /** @param _nowMs time @param flightBytes bytes outstanding @returns nothing */
  onCongestionEvent(_nowMs: number, flightBytes: number): void {
    // RFC 5681 §3.2 eq. 4: ssthresh = max(FlightSize / 2, 2*SMSS)
    this.ssthresh = Math.max(Math.floor(flightBytes / 2), 2 * this.mss);
    this.cwnd = this.ssthresh;
    this.#bytesAcked = 0;
  }

  /** @param _nowMs time @param flightBytes bytes outstanding @returns nothing */
  onRecoveryExit(_nowMs: number, flightBytes: number): void {
    // RFC 6582 §3.2 step 3 (full ACK): cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS)
    this.cwnd = Math.min(this.ssthresh, Math.max(flightBytes, this.mss) + this.mss);
  }

  /** @param _nowMs time @param flightBytes bytes outstanding @returns nothing */
  onTimeout(_nowMs: number, flightBytes: number): void {
    // RFC 5681 §3.1 eq. 4 and: cwnd = LW = 1 SMSS
    this.ssthresh = Math.max(Math.floor(flightBytes / 2), 2 * this.mss);
    this.cwnd = this.mss;
    this.#bytesAcked = 0;
  }

  /** @param priorCwnd cwnd before the reduction @param priorSsthresh ssthresh before it @returns nothing */
  undo(priorCwnd: number, priorSsthresh: number): void {
    // Linux tcp_undo_cwnd_reduction: cwnd = max(cwnd, prior_cwnd), ssthresh = max(..).
    if (priorCwnd > this.cwnd) this.cwnd = priorCwnd;
    if (priorSsthresh > this.ssthresh) this.ssthresh = priorSsthresh;
    this.#bytesAcked = 0;
  }
}

/**
 * CUBIC (RFC 9438): window growth as a cubic function of time since the last
 * congestion event, with a Reno-friendly region (§4.3) and fast convergence
 * (§4.7). Its initial slow start ends early, into Conservative Slow Start and then congestion
 * avoidance, when HyStart++ (RFC 9406) sees the RTT rise.
 *
 * Known difference from Linux (issue 19): when losses come every fraction of a millisecond
 * (a short-RTT path with random loss), each epoch lasts less than a jiffy and Linux's
 * cubictcp_cong_avoid computes `ca->cnt` once, at the epoch's first ACK; later ACKs of the
 * same jiffy only lower it (the tcp_friendliness step), so once the Reno estimate has passed
 * cwnd, cwnd grows by about one segment per window until the next loss — AIMD(1, 0.7) rather
 * than RFC 9438's AIMD(0.53, 0.7). Its mean window under 1 % random loss is then ≈1.6× the
 * RFC's (≈22 against ≈13–15 segments in the lab). By default (`renoFriendly` "aimd1") W_est
 * grows a segment per window from the reduction on — that AIMD(1, 0.7) within RFC 9438's
 * framework (14–16 segments in the lab; +13–19 % goodput through 1–2 % loss); "rfc9438" keeps
 * §4.3's α_cubic until cwnd_prior. With `linuxGrowth`
 * (TcpConfig `cubicLinuxGrowth`) congestion avoidance is Linux's instead: its fixed-point
 * `bictcp_update` in whole segments and jiffies ({@link LINUX_JIFFY_MS}), `cnt` recomputed
 * at most once per jiffy, its tcp_friendliness and `tcp_cong_avoid_ai`, and ssthresh and
 * fast convergence as `cubictcp_recalc_ssthresh`. Measured beside the kernel (issue 19, 3 s
 * samples, 5 pairs): +16 % goodput at 1 % random loss, −25 % at 2 %, where windows that
 * collapsed to 2–4 segments regrow slowly (W_max at or below cwnd after fast convergence
 * gives `cnt` = 100·cwnd, kept HZ / 32 while cwnd stands still) and more retransmission
 * timeouts follow.
 *
 * @example
 * ```ts
 * import { Cubic } from "./congestion.ts";
 * const cc = new Cubic(1000);
 * cc.onCongestionEvent(0, 20000);       // cwnd 10000 -> 7000
 * console.assert(cc.cwnd === 7000 && cc.ssthresh === 7000);
 * for (let t = 0; t < 10000; t += 10) cc.onAck(t, 1000, 7000, 10);
 * console.assert(cc.cwnd > 10000);       // grew back past W_max
 * ```
 */
export class Cubic implements CongestionControl {
  readonly name: string = "cubic";
  cwnd: number;
  ssthresh: number = INITIAL_SSTHRESH;
  #mss: number;
  /** W_max in segments. */
  #wMax = 0;
  /** Previous W_max for fast convergence. */
  #wLastMax = 0;
  /** Time the current congestion-avoidance epoch started, ms; -1 = not started. */
  #epochStartMs = -1;
  /** K in seconds. */
  #k = 0;
  /** W_est (Reno-friendly estimate) in segments. */
  #wEst = 0;
  /** HyStart++ of the initial slow start (RFC 9406); null when off. */
  readonly hystart: HyStartPlusPlus | null;
  /** cwnd_prior: cwnd when ssthresh was last set (RFC 9438 §4.6), segments; 0 = never. */
  #cwndPrior = 0;
  /** Congestion avoidance as Linux's tcp_cubic.c instead of RFC 9438 (see the class notes). */
  readonly linuxGrowth: boolean;
  /** W_est's growth below cwnd_prior (RFC 9438 §4.3; see {@link CubicRenoFriendly}). */
  readonly renoFriendly: CubicRenoFriendly;
  // Linux's struct bictcp (linuxGrowth), windows in whole segments, times in jiffies.
  /** cnt: segments acknowledged per segment of growth. */
  #lxCnt = 0;
  /** last_max_cwnd (W_max after fast convergence). */
  #lxLastMax = 0;
  /** last_cwnd and last_time: the cwnd and jiffy of the last full recomputation. */
  #lxLastCwnd = 0;
  #lxLastTime = 0;
  /** bic_origin_point and bic_K (2^-10 s units). */
  #lxOrigin = 0;
  #lxK = 0;
  /** delay_min: the least RTT seen, ms (0: none yet). */
  #lxDelayMinMs = 0;
  /** epoch_start, jiffies; -1: no epoch (Linux's 0). */
  #lxEpoch = -1;
  /** ack_cnt: segments acknowledged in this epoch, for tcp_friendliness. */
  #lxAckCnt = 0;
  /** tcp_cwnd: the Reno-friendly estimate, segments. */
  #lxTcpCwnd = 0;
  /** snd_cwnd_cnt of tcp_cong_avoid_ai: segments acknowledged towards the next increase. */
  #lxCwndCnt = 0;

  /**
   * @param mss sender MSS in bytes
   * @param hystart end the initial slow start by HyStart++ (RFC 9406; default true)
   * @param linuxGrowth congestion avoidance as Linux's tcp_cubic.c (default false: RFC 9438)
   * @param renoFriendly W_est's growth below cwnd_prior: "aimd1" (default) a segment per
   *   window, "rfc9438" α_cubic (see the class notes)
   */
  constructor(
    mss: number,
    hystart = true,
    linuxGrowth = false,
    renoFriendly: CubicRenoFriendly = "aimd1",
  ) {
    this.#mss = mss;
    this.cwnd = initialWindow(mss);
    this.hystart = hystart ? new HyStartPlusPlus() : null;
    this.linuxGrowth = linuxGrowth;
    this.renoFriendly = renoFriendly;
  }

  /** @param mss new sender MSS @returns nothing */
  setMss(mss: number): void {
    this.#mss = mss;
    if (this.cwnd < mss) this.cwnd = mss;
  }

  /**
   * RFC 9406 §4.2: rounds and RTT samples of the initial slow start; when CSS_ROUNDS rounds
   * of Conservative Slow Start have passed, congestion avoidance begins at ssthresh = cwnd.
   *
   * @param sndUna SND.UNA after the ACK
   * @param sndNxt SND.NXT
   * @param rttMs the ACK's RTT sample (negative: none)
   * @returns a HYSTART_* code
   */
  onAckSample(sndUna: number, sndNxt: number, rttMs: number): number {
    // Linux cubictcp_acked: delay_min, the least RTT sample (at least 1 µs).
    if (rttMs >= 0 && (this.#lxDelayMinMs === 0 || rttMs < this.#lxDelayMinMs)) {
      this.#lxDelayMinMs = Math.max(rttMs, 0.001);
    }
    const h = this.hystart;
    if (h === null || !h.active) return HYSTART_NONE;
    if (this.ssthresh !== INITIAL_SSTHRESH) {
      // Not the initial slow start (RFC 9406 §4.2 runs HyStart++ for that one only).
      h.stop();
      return HYSTART_NONE;
    }
    const event = h.onAck(sndUna, sndNxt, rttMs);
    if (event === HYSTART_CA_ENTERED) {
      this.ssthresh = Math.max(this.cwnd, 2 * this.#mss);
    }
    return event;
  }

  /**
   * @param nowMs time
   * @param ackedBytes newly acknowledged bytes
   * @param _flightBytes bytes outstanding
   * @param srttMs smoothed RTT (0 if unknown)
   * @returns nothing
   */
  onAck(nowMs: number, ackedBytes: number, _flightBytes: number, srttMs: number): void {
    const mss = this.#mss;
    if (this.cwnd < this.ssthresh) {
      const h = this.hystart;
      if (h !== null && h.growthDivisor > 1) {
        // RFC 9406 §4.2 Conservative Slow Start: cwnd += N / CSS_GROWTH_DIVISOR (ssthresh
        // is still the initial one: nothing is left over for congestion avoidance).
        this.cwnd += Math.floor(ackedBytes / h.growthDivisor);
        return;
      }
      // RFC 9438 §4.10 slow start, with byte counting as Linux's tcp_slow_start (RFC 3465
      // §2.2 without the L limit): cwnd grows by everything the ACK acknowledged, up to
      // ssthresh, so a stretch ACK (a delayed ACK of two segments, a GRO receiver's ACK of
      // many) grows it as much as one ACK per segment would. RFC 5681's min(N, SMSS) halved
      // the growth against a receiver that ACKs every other segment. What is left beyond
      // ssthresh goes to congestion avoidance, as cubictcp_cong_avoid passes it on.
      const grown = Math.min(this.cwnd + ackedBytes, this.ssthresh);
      ackedBytes -= grown - this.cwnd;
      this.cwnd = grown;
      if (ackedBytes <= 0) return;
    }
    if (this.linuxGrowth) {
      this.#linuxAvoid(nowMs, ackedBytes / mss);
      return;
    }
    const cwndSeg = this.cwnd / mss;
    if (this.#epochStartMs < 0) {
      // RFC 9438 §4.2: a new epoch begins with the first ACK in congestion avoidance.
      this.#epochStartMs = nowMs;
      if (this.#wMax < cwndSeg) {
        this.#k = 0;
        this.#wMax = cwndSeg;
      } else {
        // RFC 9438 §4.2 eq. 2
        this.#k = Math.cbrt((this.#wMax - cwndSeg) / CUBIC_C);
      }
      this.#wEst = cwndSeg;
    }
    const segsAcked = ackedBytes / mss;
    // RFC 9438 §4.3: W_est += alpha_cubic * segments_acked / cwnd, where "once W_est has grown
    // to reach the cwnd at the time of most recently setting ssthresh -- that is, W_est >=
    // cwnd_prior -- the sender SHOULD set alpha_cubic to 1" (Reno's AIMD(1, 0.5) increase).
    // "aimd1" uses 1 from the reduction on (Linux's effective AIMD(1, 0.7): see the class notes).
    const alpha = this.renoFriendly === "aimd1" || this.#wEst >= this.#cwndPrior ? 1 : CUBIC_ALPHA;
    this.#wEst += (alpha * segsAcked) / cwndSeg;
    const tSec = (nowMs - this.#epochStartMs + srttMs) / 1000;
    const d = tSec - this.#k;
    // RFC 9438 §4.2 eq. 1: W_cubic(t) = C (t - K)^3 + W_max
    const wCubic = CUBIC_C * d * d * d + this.#wMax;
    if (wCubic < this.#wEst) {
      // RFC 9438 §4.3: Reno-friendly region.
      this.cwnd = Math.max(this.cwnd, Math.floor(this.#wEst * mss));
      return;
    }
    // RFC 9438 §4.4/§4.5: target clamped to [cwnd, 1.5 cwnd]; grow (target - cwnd)/cwnd per segment.
    const target = Math.min(Math.max(wCubic, cwndSeg), 1.5 * cwndSeg);
    const incSeg = ((target - cwndSeg) / cwndSeg) * segsAcked;
    this.cwnd = Math.floor(this.cwnd + incSeg * mss);
  }

  /**
   * Linux cubictcp_cong_avoid after slow start: bictcp_update, then tcp_cong_avoid_ai.
   *
   * @param nowMs time
   * @param acked segments newly delivered (Linux's acked_sacked)
   */
  #linuxAvoid(nowMs: number, acked: number): void {
    const mss = this.#mss;
    const cwnd = Math.max(1, Math.round(this.cwnd / mss));
    this.#linuxUpdate(Math.floor(nowMs / LINUX_JIFFY_MS), cwnd, acked);
    // tcp_cong_avoid_ai(tp, ca->cnt, acked).
    const w = this.#lxCnt;
    let grow = 0;
    if (this.#lxCwndCnt >= w) {
      this.#lxCwndCnt = 0;
      grow++;
    }
    this.#lxCwndCnt += acked;
    if (this.#lxCwndCnt >= w) {
      const delta = Math.floor(this.#lxCwndCnt / w);
      this.#lxCwndCnt -= delta * w;
      grow += delta;
    }
    if (grow > 0) this.cwnd = (cwnd + grow) * mss;
  }

  /**
   * Linux bictcp_update: `cnt` from the cubic curve, at most once per jiffy (on all ACKs of
   * that jiffy only tcp_friendliness may lower it), not at all while cwnd stands still for
   * HZ / 32.
   *
   * @param now jiffies
   * @param cwnd segments
   * @param acked segments
   */
  #linuxUpdate(now: number, cwnd: number, acked: number): void {
    this.#lxAckCnt += acked;
    if (this.#lxLastCwnd === cwnd && now - this.#lxLastTime <= LINUX_RECOMPUTE_JIFFIES) return;
    if (!(this.#lxEpoch >= 0 && now === this.#lxLastTime)) {
      this.#lxLastCwnd = cwnd;
      this.#lxLastTime = now;
      if (this.#lxEpoch < 0) {
        this.#lxEpoch = now;
        this.#lxAckCnt = acked;
        this.#lxTcpCwnd = cwnd;
        if (this.#lxLastMax <= cwnd) {
          this.#lxK = 0;
          this.#lxOrigin = cwnd;
        } else {
          this.#lxK = Math.floor(Math.cbrt(LINUX_CUBE_FACTOR * (this.#lxLastMax - cwnd)));
          this.#lxOrigin = this.#lxLastMax;
        }
      }
      // t = (now - epoch_start + usecs_to_jiffies(delay_min)) in 2^-10 s.
      const jiffies = now - this.#lxEpoch + Math.ceil(this.#lxDelayMinMs / LINUX_JIFFY_MS);
      const t = Math.floor((jiffies * 2 ** LINUX_BICTCP_HZ) / LINUX_HZ);
      const offs = t < this.#lxK ? this.#lxK - t : t - this.#lxK;
      const delta = Math.floor(
        (LINUX_CUBE_RTT_SCALE * offs * offs * offs) / 2 ** (10 + 3 * LINUX_BICTCP_HZ),
      );
      const target = t < this.#lxK ? this.#lxOrigin - delta : this.#lxOrigin + delta;
      this.#lxCnt = target > cwnd ? Math.floor(cwnd / (target - cwnd)) : LINUX_CNT_FLAT * cwnd;
      if (this.#lxLastMax === 0 && this.#lxCnt > LINUX_CNT_FIRST_EPOCH_MAX) {
        this.#lxCnt = LINUX_CNT_FIRST_EPOCH_MAX;
      }
    }
    // tcp_friendliness: the Reno estimate grows one segment per beta_scale/8 windows acked.
    const per = Math.max(1, Math.floor((cwnd * LINUX_FRIENDLY_SCALE) / 8));
    if (this.#lxAckCnt > per) {
      // `while (ack_cnt > delta) { ack_cnt -= delta; tcp_cwnd++; }`
      const n = Math.ceil(this.#lxAckCnt / per) - 1;
      this.#lxAckCnt -= n * per;
      this.#lxTcpCwnd += n;
    }
    if (this.#lxTcpCwnd > cwnd) {
      const maxCnt = Math.floor(cwnd / (this.#lxTcpCwnd - cwnd));
      if (this.#lxCnt > maxCnt) this.#lxCnt = maxCnt;
    }
    if (this.#lxCnt < 2) this.#lxCnt = 2;
  }

  #reduce(): void {
    const mss = this.#mss;
    if (this.linuxGrowth) {
      // Linux cubictcp_recalc_ssthresh: fast convergence and ssthresh in whole segments.
      const seg = Math.max(1, Math.round(this.cwnd / mss));
      this.#lxEpoch = -1;
      this.#lxCwndCnt = 0; // tcp_init_cwnd_reduction, tcp_enter_loss
      this.#lxLastMax = seg < this.#lxLastMax
        ? Math.floor((seg * (LINUX_BETA_SCALE + LINUX_BETA)) / (2 * LINUX_BETA_SCALE))
        : seg;
      this.ssthresh = Math.max(Math.floor((seg * LINUX_BETA) / LINUX_BETA_SCALE), 2) * mss;
      this.hystart?.stop();
      return;
    }
    const cwndSeg = this.cwnd / mss;
    // RFC 9438 §4.7: fast convergence.
    if (cwndSeg < this.#wLastMax) {
      this.#wLastMax = cwndSeg;
      this.#wMax = (cwndSeg * (1 + CUBIC_BETA)) / 2;
    } else {
      this.#wLastMax = cwndSeg;
      this.#wMax = cwndSeg;
    }
    this.#cwndPrior = cwndSeg;
    // RFC 9438 §4.6: ssthresh = cwnd * beta_cubic, at least 2 segments.
    this.ssthresh = Math.max(Math.floor(this.cwnd * CUBIC_BETA), 2 * mss);
    this.#epochStartMs = -1;
    // RFC 9406 §4.2: loss or an ECN mark in slow start or CSS: congestion avoidance.
    this.hystart?.stop();
  }

  /** @param _nowMs time @param _flightBytes bytes outstanding @returns nothing */
  onCongestionEvent(_nowMs: number, _flightBytes: number): void {
    this.#reduce();
    this.cwnd = this.ssthresh;
  }

  /** @param _nowMs time @param _flightBytes bytes outstanding @returns nothing */
  onRecoveryExit(_nowMs: number, _flightBytes: number): void {
    this.cwnd = this.ssthresh;
  }

  /** @param _nowMs time @param _flightBytes bytes outstanding @returns nothing */
  onTimeout(_nowMs: number, _flightBytes: number): void {
    // RFC 9438 §4.8: ssthresh as for a congestion event, cwnd = 1 segment.
    this.#reduce();
    this.cwnd = this.#mss;
  }

  /** @param priorCwnd cwnd before the reduction @param priorSsthresh ssthresh before it @returns nothing */
  undo(priorCwnd: number, priorSsthresh: number): void {
    // Linux cubictcp_undo_cwnd / tcp_undo_cwnd_reduction: back to the window before the
    // reduction; W_max returns to the previous one so the curve is not pulled down.
    if (priorCwnd > this.cwnd) this.cwnd = priorCwnd;
    if (priorSsthresh > this.ssthresh) this.ssthresh = priorSsthresh;
    const seg = this.cwnd / this.#mss;
    if (this.#wMax < seg) this.#wMax = seg;
    this.#epochStartMs = -1;
    this.#lxEpoch = -1;
  }
}
