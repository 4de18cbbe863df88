/**
 * Proportional Rate Reduction (RFC 6937): how much may be sent on each ACK during fast
 * recovery, so that the window comes down to ssthresh smoothly over the recovery (in
 * proportion to what the peer delivered) rather than in one step; when losses took the pipe
 * below ssthresh it climbs back by what was delivered and not yet sent (PRR-CRB), one segment
 * more (PRR-SSRB) on an ACK that advances SND.UNA and shows no new loss — the "safe ACK" rule
 * of RFC 6937bis and Linux's tcp_cwnd_reduction.
 *
 * @module
 */

/**
 * PRR state of one recovery episode (RFC 6937 §3).
 *
 * @example
 * ```ts
 * import { Prr } from "./prr.ts";
 * // RFC 6937 §3.1's example (MSS 100): 20 segments in flight, ssthresh 10 segments.
 * const prr = new Prr();
 * prr.start(20 * 100);
 * prr.onAck(100, 1800, 1000, 100); // the first duplicate ACK: the fast retransmit
 * console.assert(prr.allowance === 100);
 * prr.onSent(100);
 * prr.onAck(100, 1700, 1000, 100); // then one segment for every two delivered
 * console.assert(prr.allowance === 0);
 * prr.onAck(100, 1600, 1000, 100);
 * console.assert(prr.allowance === 100);
 * ```
 */
export class Prr {
  /** RecoverFS: the flight when recovery began, bytes. */
  recoverFs = 0;
  /** prr_delivered: bytes delivered to the peer since recovery began. */
  delivered = 0;
  /** prr_out: bytes sent since recovery began. */
  out = 0;
  /** What this ACK still allows (sndcnt less what was sent since), bytes. */
  allowance = 0;

  /**
   * RFC 6937 §3: recovery begins.
   *
   * @param recoverFs FlightSize (SND.NXT - SND.UNA) at the start, bytes
   * @returns nothing
   */
  start(recoverFs: number): void {
    this.recoverFs = Math.max(1, recoverFs);
    this.delivered = 0;
    this.out = 0;
    this.allowance = 0;
  }

  /**
   * RFC 6937 §3: on every ACK during recovery, sndcnt (in bytes; the proportional share is
   * rounded up to whole segments).
   *
   * @param deliveredData DeliveredData: bytes newly acknowledged or SACKed by this ACK
   * @param pipe the pipe after the ACK (RFC 6675), bytes
   * @param ssthresh the target window, bytes
   * @param mss SMSS
   * @param safeAck the ACK advanced SND.UNA and marked no new loss (default true: SSRB)
   * @returns nothing
   */
  onAck(
    deliveredData: number,
    pipe: number,
    ssthresh: number,
    mss: number,
    safeAck = true,
  ): void {
    if (deliveredData < 0) deliveredData = 0;
    this.delivered += deliveredData;
    let sndcnt: number;
    if (pipe > ssthresh) {
      // Proportional Rate Reduction, rounded up to whole segments as the RFC's segment
      // arithmetic (and Linux's tcp_cwnd_reduction, in packets) does.
      const target = (this.delivered * ssthresh) / this.recoverFs;
      sndcnt = Math.ceil(target / mss) * mss - this.out;
    } else {
      // The reduction bound: catch up on what was delivered and not yet sent in this recovery
      // (RFC 6937 §3 PRR-CRB: prr_delivered - prr_out), at least this ACK's DeliveredData,
      // and on a safe ACK one segment more (PRR-SSRB) — RFC 6937bis, Linux tcp_cwnd_reduction.
      // Only this ACK's DeliveredData on an unsafe one would leave the pipe below ssthresh
      // with the proportional phase's unsent share never sent: after a lost retransmission,
      // the one segment that goes is that retransmission again, nothing follows it to show
      // whether it arrived, and the RTO has to.
      // Whole segments, as Linux counts them (a short segment delivered is one delivered):
      // a share left below one MSS by a short segment would hold everything back.
      let limit = Math.ceil(Math.max(this.delivered - this.out, deliveredData) / mss) * mss;
      if (safeAck) limit += mss;
      sndcnt = Math.min(ssthresh - pipe, limit);
    }
    // Linux tcp_cwnd_reduction: the fast retransmit goes whatever the proportion says.
    if (this.out === 0 && sndcnt < mss) sndcnt = mss;
    this.allowance = Math.max(0, sndcnt);
  }

  /**
   * Bytes were sent during recovery (retransmitted or new).
   *
   * @param bytes bytes sent
   * @returns nothing
   */
  onSent(bytes: number): void {
    this.out += bytes;
    this.allowance -= bytes;
  }
}
