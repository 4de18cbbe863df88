/**
 * The sender's SACK scoreboard (RFC 6675 §3, §4; gVisor `sack_scoreboard.go`): which bytes of
 * the send queue the peer reported as received out of order (RFC 2018 §3 blocks), and the
 * questions loss recovery asks of them — IsLost (as one boundary), the bytes SACKed, SetPipe
 * and NextSeg rule 1. It owns the SACKed ranges only; sequence state stays in the TCB.
 *
 * Offsets are relative to the first byte of the send queue (the TCB's `dataSeq`), so the
 * ranges shift down as the queue is acknowledged ({@link SackScoreboard.shift}).
 *
 * @module
 */

import { RangeSet } from "../buffer/range_set.ts";
import { seqSub } from "./seq.ts";

/** RFC 5681 §3.2 / RFC 6675 §2: DupThresh. */
export const DUP_THRESH = 3;

/**
 * SACKed ranges of the send queue, bounded by `maxRanges` (a peer cannot make it grow: a block
 * that would need more ranges is not recorded, as {@link RangeSet.add} refuses it).
 *
 * @example
 * ```ts
 * import { SackScoreboard } from "./sack_scoreboard.ts";
 * const sb = new SackScoreboard(8);
 * // Send queue from sequence 1000, 10000 bytes sent; the peer SACKs 4000..5000 and 6000..7000.
 * sb.update([4000, 5000, 6000, 7000], 2, 1000, 11000);
 * console.assert(sb.sackedBytes() === 2000);
 * ```
 */
export class SackScoreboard {
  readonly #ranges: RangeSet;
  #holeEnd = 0;

  /**
   * @param maxRanges most disjoint SACKed ranges remembered (TcpConfig.maxScoreboardRanges)
   */
  constructor(maxRanges: number) {
    this.#ranges = new RangeSet(maxRanges);
  }

  /** Disjoint SACKed ranges held. */
  get count(): number {
    return this.#ranges.count;
  }

  /** Start offset of range `i` (0-based, ascending). */
  start(i: number): number {
    return this.#ranges.start(i);
  }

  /** End offset (exclusive) of range `i`. */
  end(i: number): number {
    return this.#ranges.end(i);
  }

  /**
   * RFC 2018 §3 / RFC 6675 §4 (Update): records the SACK blocks of an ACK.
   *
   * @param blocks edges as sequence numbers, `[left0, right0, left1, right1, …]`
   * @param count blocks in `blocks`
   * @param dataSeq sequence number of send-queue offset 0
   * @param sndMax highest sequence number sent + 1: blocks beyond it are clipped
   * @returns whether any byte was newly SACKed
   */
  update(blocks: readonly number[], count: number, dataSeq: number, sndMax: number): boolean {
    const sb = this.#ranges;
    let fresh = false;
    const limit = seqSub(sndMax, dataSeq);
    for (let i = 0; i < count; i++) {
      let start = seqSub(blocks[2 * i], dataSeq);
      let end = seqSub(blocks[2 * i + 1], dataSeq);
      // Ignore blocks that are below SND.UNA (D-SACK) or beyond what was sent.
      if (start < 0) start = 0;
      if (end > limit) end = limit;
      if (end <= start) continue;
      if (!sb.covers(start, end)) {
        if (sb.add(start, end)) fresh = true;
      }
    }
    return fresh;
  }

  /**
   * The first `n` bytes of the send queue were acknowledged: offsets move down by `n`.
   *
   * @param n bytes acknowledged
   * @returns nothing
   */
  shift(n: number): void {
    this.#ranges.shift(n);
  }

  /**
   * RFC 6675 §5.1: forget everything (after a retransmission timeout).
   *
   * @returns nothing
   */
  clear(): void {
    this.#ranges.clear();
  }

  /**
   * Bytes SACKed.
   *
   * @returns the sum of the ranges' lengths
   */
  sackedBytes(): number {
    const sb = this.#ranges;
    let n = 0;
    for (let i = 0; i < sb.count; i++) n += sb.end(i) - sb.start(i);
    return n;
  }

  /**
   * RFC 6675 §4 IsLost, as one boundary: offsets below it that are not SACKed have
   * DupThresh SACKed segments (or more than (DupThresh-1)*MSS SACKed bytes) above them and
   * are deemed lost.
   *
   * @param mss the sender's MSS (SMSS)
   * @returns the boundary offset (0: nothing is lost)
   */
  lostBoundary(mss: number): number {
    const sb = this.#ranges;
    const n = sb.count;
    let sackedAbove = 0;
    for (let i = n - 1; i >= 0; i--) {
      sackedAbove += sb.end(i) - sb.start(i);
      if (sackedAbove > (DUP_THRESH - 1) * mss || n - i >= DUP_THRESH) return sb.start(i);
    }
    return 0;
  }

  /**
   * Bytes in [0, end) that are not SACKed.
   *
   * @param end end offset (exclusive)
   * @returns unSACKed bytes below `end`, 0 when `end` <= 0
   */
  unsackedBelow(end: number): number {
    const sb = this.#ranges;
    if (end <= 0) return Math.max(0, end);
    let sacked = 0;
    for (let i = 0; i < sb.count; i++) {
      const s = sb.start(i);
      if (s >= end) break;
      sacked += Math.min(sb.end(i), end) - s;
    }
    return end - sacked;
  }

  /**
   * RFC 6675 §4 SetPipe: bytes thought to be in the network — the flight, less what was
   * SACKed and what is deemed lost, plus what of the lost was retransmitted (below HighRxt).
   *
   * @param flight SND.MAX - SND.UNA, bytes
   * @param highRxtOffset HighRxt as an offset in the send queue (negative: below it)
   * @param mss the sender's MSS
   * @returns the pipe, bytes (never negative)
   */
  pipe(flight: number, highRxtOffset: number, mss: number): number {
    const lostEnd = this.lostBoundary(mss);
    const lost = this.unsackedBelow(lostEnd);
    const hr = Math.min(Math.max(0, highRxtOffset), lostEnd);
    const retransmitted = this.unsackedBelow(hr);
    return Math.max(0, flight - this.sackedBytes() - lost + retransmitted);
  }

  /**
   * RFC 6675 §4 NextSeg rule 1: the first lost, not yet retransmitted, unSACKed hole at or
   * above `from`. Its end is then {@link holeEnd}.
   *
   * @param from the first offset not yet retransmitted (HighRxt as an offset, at least 0)
   * @param mss the sender's MSS
   * @returns the hole's start offset, or -1 when there is none
   */
  nextLostHole(from: number, mss: number): number {
    const sb = this.#ranges;
    const lostEnd = this.lostBoundary(mss);
    for (let i = 0; i < sb.count && from < lostEnd; i++) {
      const s = sb.start(i);
      if (from < s) {
        this.#holeEnd = Math.min(s, lostEnd);
        return from;
      }
      if (from < sb.end(i)) from = sb.end(i);
    }
    return -1;
  }

  /** End offset (exclusive) of the hole the last {@link nextLostHole} found. */
  get holeEnd(): number {
    return this.#holeEnd;
  }
}
