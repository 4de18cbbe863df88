/**
 * RACK-TLP loss detection (RFC 8985) and the per-segment transmit record it needs.
 *
 * {@link SegmentLog} remembers, for every segment sent and not yet cumulatively acknowledged,
 * its sequence range, when it was (last) sent and whether it was SACKed, deemed lost or
 * retransmitted — in typed-array rings sized once per connection, so the hot path writes
 * numbers into preallocated slots and allocates nothing (design rule 1).
 *
 * {@link Rack} is RACK's state (RFC 8985 §6.1: RACK.xmit_ts, RACK.end_seq, RACK.rtt,
 * RACK.reo_wnd and its DSACK-driven multiplier, RACK.min_RTT) and TLP's (§7: TLP.end_seq,
 * TLP.is_retrans). A segment is lost when a segment sent after it was delivered more than
 * RACK.rtt + RACK.reo_wnd after it was sent (§6.2 step 5); what is not yet that old is
 * timed by the reordering timer. A tail loss, with no later segment to be delivered, is
 * found by the tail loss probe sent after PTO = 2·SRTT of silence (§7.2, §7.3).
 *
 * @module
 */

import { DUP_THRESH } from "./sack_scoreboard.ts";
import { seqGe, seqGt, seqLe, seqLt, seqSub } from "./seq.ts";

/** Segment flag: the peer SACKed the whole segment (RFC 2018). */
export const SEG_SACKED = 1;
/** Segment flag: RACK (or an RTO) deemed it lost; not yet retransmitted. */
export const SEG_LOST = 2;
/** Segment flag: retransmitted at least once. */
export const SEG_RETRANSMITTED = 4;
/**
 * Segment flag: counted in Linux's `lost_out` (its TCPCB_LOST bit) — deemed lost by RACK or
 * a timeout and kept across the retransmission (unlike {@link SEG_LOST}) until the segment
 * is SACKed or cumulatively acknowledged, or a timeout marks everything lost again.
 */
export const SEG_LOST_OUT = 8;

/** Linux sysctl tcp_reordering: the initial `tp->reordering`, segments. */
export const INITIAL_REORDERING = 3;
/** Linux sysctl tcp_max_reordering: the most `tp->reordering` grows to, segments. */
export const MAX_REORDERING = 300;

/** Bytes per slot of a segment log: xmitMs (8), start, end and order (4 each), flags (1). */
const LOG_SLOT_BYTES = 8 + 4 + 4 + 4 + 1;
/**
 * Default bound on the segment logs a {@link SegmentLogPool} keeps, bytes: a few hundred
 * connections' logs at the default send buffer (≈7.6 KiB each).
 */
export const DEFAULT_SEG_LOG_POOL_BYTES = 2 * 1024 * 1024;
/** Fewest slots of a segment log. */
const MIN_LOG_SLOTS = 64;
/** Most slots of a segment log (bounds a connection's record, design rule 4). */
const MAX_LOG_SLOTS = 8192;
/** RFC 8985 §7.2: WCDelAckT, the worst-case delayed-ACK time added with one segment in flight, ms. */
export const TLP_WC_DEL_ACK_MS = 200;
/** RFC 8985 §7.2: PTO before an RTT sample, ms. */
const TLP_INITIAL_PTO_MS = 1000;
/**
 * Linux tcp_schedule_loss_probe: the PTO is 2·SRTT plus TCP_TIMEOUT_MIN (2 jiffies, 2 ms at
 * HZ=1000), so a probe on a sub-millisecond path leaves after the delayed ACKs it waits for.
 */
const TLP_EXTRA_MS = 2;
/**
 * What RACK.min_RTT takes for an RTT sample of 0, ms: Linux's tcp_update_rtt_min counts it
 * as one jiffy (1 ms at HZ=1000), so min_RTT is never 0 (see {@link Rack.delivered}).
 */
export const ZERO_RTT_AS_MS = 1;
/** RFC 8985 §6.2 step 4: recoveries a raised reordering window persists (RACK.reo_wnd_persist). */
const REO_WND_PERSIST = 16;
/** Upper bound on RACK.reo_wnd_mult (the window is also capped at SRTT). */
const MAX_REO_WND_MULT = 255;

/** Most SACK blocks one ACK carries (RFC 2018 §3: at most 4 fit in the option space). */
const MAX_SACK_BLOCKS = 4;
/** {@link sackBlocksAscending}'s answer (module scratch: read it before the next call). */
const SACK_ORDER = new Uint8Array(MAX_SACK_BLOCKS);

/**
 * The indices of an ACK's SACK blocks in ascending order of their left edges (relative to
 * `base`, so sequence wrap does not matter). A receiver lists the most recent block first
 * (RFC 2018 §4), not the lowest; RACK takes the segments an ACK delivered "in ascending order
 * of Segment.xmit_ts" (RFC 8985 §6.2), and for segments sent once that is ascending sequence
 * order (Linux's tcp_sacktag_write_queue sorts the blocks the same way). Taken in the
 * receiver's order, a segment newly SACKed in an older block would look delivered after the
 * newer block's segments — reordering that did not happen.
 *
 * @param blocks edges `[left0, right0, left1, right1, …]`
 * @param first the first block to take (1 skips a D-SACK block)
 * @param count blocks in `blocks` (at most 4)
 * @param base a sequence number at or below every left edge (SND.UNA)
 * @returns the block indices, in {@link SACK_ORDER}'s first `count - first` slots
 *
 * @example
 * ```ts
 * import { sackBlocksAscending } from "./rack.ts";
 * const order = sackBlocksAscending([5000, 7000, 1000, 4000], 0, 2, 0);
 * console.assert(order[0] === 1 && order[1] === 0);
 * ```
 */
export function sackBlocksAscending(
  blocks: readonly number[],
  first: number,
  count: number,
  base: number,
): Uint8Array {
  const order = SACK_ORDER;
  const n = Math.min(count, MAX_SACK_BLOCKS) - first;
  for (let k = 0; k < n; k++) {
    const b = first + k;
    const left = seqSub(blocks[2 * b], base);
    // Insertion sort of at most four.
    let j = k;
    while (j > 0 && seqSub(blocks[2 * order[j - 1]], base) > left) {
      order[j] = order[j - 1];
      j--;
    }
    order[j] = b;
  }
  return order;
}

/**
 * Segments sent and not yet cumulatively acknowledged, oldest first, in a fixed ring of
 * typed arrays. A full ring merges a new segment into the newest slot (coarser, never
 * unbounded).
 *
 * @example
 * ```ts
 * import { SegmentLog } from "./rack.ts";
 * const log = new SegmentLog(64);
 * log.sent(1000, 4000, 1000, 5);   // three 1000-byte segments at t=5 ms
 * console.assert(log.count === 3 && log.end(2) === 4000);
 * log.ackTo(2000);
 * console.assert(log.count === 2 && log.start(0) === 2000);
 * ```
 */
export class SegmentLog {
  readonly #start: Int32Array;
  readonly #end: Int32Array;
  readonly #xmitMs: Float64Array;
  readonly #flags: Uint8Array;
  readonly #cap: number;
  /** Bytes of the one buffer behind every array (what a {@link SegmentLogPool} keeps). */
  readonly bytes: number;
  /**
   * Send order of each segment (int32, wrapping): RACK's "sent after" (RFC 8985 §6.2) breaks
   * a tie of transmit times by it rather than by sequence number, since a retransmission is
   * sent after segments above it (Linux's microsecond stamps rarely tie; our times may).
   */
  readonly #order: Int32Array;
  #nextOrder = 0;
  #head = 0;
  #count = 0;

  /**
   * @param slots segments remembered (clamped to 64..8192)
   */
  constructor(slots: number) {
    const cap = SegmentLog.capacityFor(slots);
    this.#cap = cap;
    // One buffer for the five arrays (one allocation per connection, not five): the 8-byte
    // times first, then the 4-byte fields, then the flags, each at its own alignment.
    const buffer = new ArrayBuffer(cap * LOG_SLOT_BYTES);
    this.bytes = buffer.byteLength;
    this.#xmitMs = new Float64Array(buffer, 0, cap);
    this.#start = new Int32Array(buffer, cap * Float64Array.BYTES_PER_ELEMENT, cap);
    this.#end = new Int32Array(buffer, cap * (Float64Array.BYTES_PER_ELEMENT + 4), cap);
    this.#order = new Int32Array(buffer, cap * (Float64Array.BYTES_PER_ELEMENT + 8), cap);
    this.#flags = new Uint8Array(buffer, cap * (Float64Array.BYTES_PER_ELEMENT + 12), cap);
  }

  /**
   * The slots a log asked for `slots` has (clamped to 64..8192).
   *
   * @param slots slots asked for
   * @returns the capacity
   */
  static capacityFor(slots: number): number {
    return Math.max(MIN_LOG_SLOTS, Math.min(MAX_LOG_SLOTS, slots | 0));
  }

  /** Slots of this log. */
  get capacity(): number {
    return this.#cap;
  }

  /** Forgets every segment, as a new log (for reuse from a {@link SegmentLogPool}). */
  reset(): void {
    this.#head = 0;
    this.#count = 0;
    this.#nextOrder = 0;
  }

  /**
   * Slots for a connection: twice the send buffer in segments (small segments fill it
   * faster; a full log only coarsens).
   *
   * @param sendBufferBytes the send buffer
   * @param mss the sender's MSS
   * @returns slots, 64..8192
   */
  static slotsFor(sendBufferBytes: number, mss: number): number {
    return Math.ceil((2 * sendBufferBytes) / Math.max(1, mss)) + 1;
  }

  /** Segments held. */
  get count(): number {
    return this.#count;
  }

  #slot(i: number): number {
    const s = this.#head + i;
    return s >= this.#cap ? s - this.#cap : s;
  }

  /** First sequence number of segment `i` (0: the oldest). */
  start(i: number): number {
    return this.#start[this.#slot(i)];
  }

  /** Sequence number after segment `i`. */
  end(i: number): number {
    return this.#end[this.#slot(i)];
  }

  /** When segment `i` was last sent, ms. */
  xmitMs(i: number): number {
    return this.#xmitMs[this.#slot(i)];
  }

  /** Send order of segment `i` (int32, wrapping; later sends are greater modulo 2^32). */
  order(i: number): number {
    return this.#order[this.#slot(i)];
  }

  /** SEG_* flags of segment `i`. */
  flags(i: number): number {
    return this.#flags[this.#slot(i)];
  }

  /** Sets SEG_* bits of segment `i`. */
  setFlags(i: number, bits: number): void {
    this.#flags[this.#slot(i)] |= bits;
  }

  /** Clears SEG_* bits of segment `i`. */
  clearFlags(i: number, bits: number): void {
    this.#flags[this.#slot(i)] &= ~bits;
  }

  /**
   * New data [startSeq, endSeq) was sent at `nowMs`: recorded in segments of at most `mss`
   * bytes (a TSO super-segment is cut as the link will cut it).
   *
   * @param startSeq first sequence number
   * @param endSeq sequence number after the data (a FIN counts one)
   * @param mss segment size
   * @param nowMs time sent
   * @returns nothing
   */
  sent(startSeq: number, endSeq: number, mss: number, nowMs: number): void {
    let seq = startSeq;
    while (seqLt(seq, endSeq)) {
      let end = seq + Math.min(mss, seqSub(endSeq, seq));
      end |= 0;
      if (this.#count === this.#cap) {
        // Full: the newest slot grows (coarser, bounded).
        const last = this.#slot(this.#count - 1);
        this.#end[last] = endSeq;
        this.#xmitMs[last] = nowMs;
        this.#order[last] = this.#nextOrder = (this.#nextOrder + 1) | 0;
        return;
      }
      const s = this.#slot(this.#count++);
      this.#start[s] = seq;
      this.#end[s] = end;
      this.#xmitMs[s] = nowMs;
      this.#flags[s] = 0;
      this.#order[s] = this.#nextOrder = (this.#nextOrder + 1) | 0;
      seq = end;
    }
  }

  /**
   * Index of the segment holding `seq`, or -1.
   *
   * @param seq a sequence number
   * @returns the index
   */
  find(seq: number): number {
    let lo = 0;
    let hi = this.#count - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (seqLt(seq, this.start(mid))) hi = mid - 1;
      else if (seqGe(seq, this.end(mid))) lo = mid + 1;
      else return mid;
    }
    return -1;
  }

  /**
   * Index of the first segment that ends after `seq` (count: none).
   *
   * @param seq a sequence number
   * @returns the index
   */
  firstEndingAfter(seq: number): number {
    let lo = 0;
    let hi = this.#count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (seqLe(this.end(mid), seq)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * [seq, seq + len) was retransmitted at `nowMs`: segments it covers whole are sent again
   * (new transmit time, not lost, retransmitted); one it covers in part keeps its rest.
   *
   * @param seq first sequence number retransmitted
   * @param len sequence space retransmitted
   * @param nowMs time sent
   * @returns nothing
   */
  retransmitted(seq: number, len: number, nowMs: number): void {
    const endSeq = (seq + len) | 0;
    let i = this.find(seq);
    if (i < 0) return;
    for (; i < this.#count; i++) {
      const s = this.#slot(i);
      if (seqGe(this.#start[s], endSeq)) break;
      if (seqLe(this.#end[s], endSeq)) {
        this.#xmitMs[s] = nowMs;
        this.#flags[s] = (this.#flags[s] & ~SEG_LOST) | SEG_RETRANSMITTED;
        this.#order[s] = this.#nextOrder = (this.#nextOrder + 1) | 0;
      } else {
        // Only its front went: the rest keeps its state; the front leaves the record.
        this.#start[s] = endSeq;
        break;
      }
    }
  }

  /**
   * Forgets segments that end at or below `ack` (cumulatively acknowledged).
   *
   * @param ack SND.UNA
   * @returns nothing
   */
  ackTo(ack: number): void {
    while (this.#count > 0 && seqLe(this.#end[this.#head], ack)) {
      this.#head = this.#head + 1 === this.#cap ? 0 : this.#head + 1;
      this.#count--;
    }
    if (this.#count > 0 && seqLt(this.#start[this.#head], ack)) this.#start[this.#head] = ack;
  }

  /**
   * Index of the first segment deemed lost and not yet retransmitted (nor SACKed since), or
   * -1 (Linux's lost_out, as a question).
   *
   * @returns the index
   */
  firstLost(): number {
    for (let i = 0; i < this.#count; i++) {
      if ((this.#flags[this.#slot(i)] & (SEG_SACKED | SEG_LOST)) === SEG_LOST) return i;
    }
    return -1;
  }

  /**
   * Segments counted in Linux's `lost_out` (TCP_INFO `tcpi_lost`): marked lost
   * ({@link SEG_LOST_OUT}), retransmitted or not, and not SACKed. A scan: for snapshots, not
   * the per-ACK path.
   *
   * @returns the count
   */
  lostOut(): number {
    let n = 0;
    for (let i = 0; i < this.#count; i++) {
      if ((this.#flags[this.#slot(i)] & (SEG_SACKED | SEG_LOST_OUT)) === SEG_LOST_OUT) n++;
    }
    return n;
  }

  /**
   * Segments counted in Linux's `retrans_out` (TCP_INFO `tcpi_retrans`): retransmitted and
   * neither SACKed, acknowledged nor deemed lost again since. A scan, for snapshots.
   *
   * @returns the count
   */
  retransOut(): number {
    let n = 0;
    for (let i = 0; i < this.#count; i++) {
      const f = this.#flags[this.#slot(i)] & (SEG_SACKED | SEG_LOST | SEG_RETRANSMITTED);
      if (f === SEG_RETRANSMITTED) n++;
    }
    return n;
  }

  /**
   * Sets a bit on every segment (an RTO marks every segment lost, Linux tcp_timeout_mark_lost).
   *
   * @param bits SEG_* bits
   * @returns nothing
   */
  setAll(bits: number): void {
    for (let i = 0; i < this.#count; i++) this.setFlags(i, bits);
  }

  /**
   * Clears a bit on every segment (after an RTO: RFC 6675 §5.1 distrusts SACK information).
   *
   * @param bits SEG_* bits
   * @returns nothing
   */
  clearAll(bits: number): void {
    for (let i = 0; i < this.#count; i++) this.clearFlags(i, bits);
  }

  /** Forgets everything. */
  clear(): void {
    this.#count = 0;
    this.#head = 0;
  }
}

/**
 * Segment logs of finished connections, kept for the next connections of the layer: a log is
 * five typed arrays in one buffer of a few KiB, and allocating (and collecting) one per
 * connection was a measurable share of a short connection's cost (1.5 % of a profile of the
 * HTTP rows, most of it in `Connection: close` runs). Bounded by `maxRetainedBytes`.
 *
 * @example
 * ```ts
 * import { SegmentLogPool } from "./rack.ts";
 * const pool = new SegmentLogPool();
 * const log = pool.take(100);
 * log.sent(0, 3000, 1000, 1);
 * pool.give(log);
 * const again = pool.take(100);
 * console.assert(again === log && again.count === 0);
 * ```
 */
export class SegmentLogPool {
  /** Most bytes of logs kept. */
  readonly maxRetainedBytes: number;
  readonly #free = new Map<number, SegmentLog[]>();
  #retained = 0;

  /**
   * @param maxRetainedBytes the bound on the logs kept, bytes (default
   *   {@link DEFAULT_SEG_LOG_POOL_BYTES})
   */
  constructor(maxRetainedBytes = DEFAULT_SEG_LOG_POOL_BYTES) {
    this.maxRetainedBytes = Math.max(0, maxRetainedBytes);
  }

  /** Bytes of the logs kept. */
  get retainedBytes(): number {
    return this.#retained;
  }

  /**
   * An empty log of `SegmentLog.capacityFor(slots)` slots: a kept one, else a new one.
   *
   * @param slots slots asked for
   * @returns the log
   */
  take(slots: number): SegmentLog {
    const kept = this.#free.get(SegmentLog.capacityFor(slots))?.pop();
    if (kept === undefined) return new SegmentLog(slots);
    this.#retained -= kept.bytes;
    kept.reset();
    return kept;
  }

  /**
   * Keeps `log` for reuse, unless that would pass the bound (the caller must not use it again).
   *
   * @param log a log no connection holds any more
   * @returns nothing
   */
  give(log: SegmentLog): void {
    if (this.#retained + log.bytes > this.maxRetainedBytes) return;
    let list = this.#free.get(log.capacity);
    if (list === undefined) this.#free.set(log.capacity, list = []);
    list.push(log);
    this.#retained += log.bytes;
  }
}

/**
 * RACK-TLP state of one connection (RFC 8985 §6.1, §7). The caller feeds it the segments
 * an ACK delivered ({@link Rack.delivered}), asks it which segments are lost
 * ({@link Rack.detectLoss}) and when to probe ({@link Rack.probeTimeoutMs}).
 *
 * @example
 * ```ts
 * import { Rack, SegmentLog } from "./rack.ts";
 * // RFC 8985 §3.1's example: P1 and P2 sent at t=0 and t=10, P2 SACKed at t=110 (RTT 100).
 * const log = new SegmentLog(64);
 * log.sent(0, 1000, 1000, 0);
 * log.sent(1000, 2000, 1000, 10);
 * const rack = new Rack();
 * rack.delivered(log, 1, 110, false);
 * // No reordering window: P1, sent before P2 and older than RACK.rtt, is lost at once.
 * console.assert(rack.detectLoss(log, 110, 0) === 0 && (log.flags(0) & 2) !== 0);
 * ```
 */
export class Rack {
  /** RACK.xmit_ts: transmit time of the most recently sent segment delivered, ms (-1: none). */
  xmitMs = -1;
  /** RACK.end_seq: its end. */
  endSeq = 0;
  /** Its send order (the tie-break of equal transmit times, see {@link SegmentLog.order}). */
  order = 0;
  /** RACK.rtt: its RTT, ms. */
  rttMs = 0;
  /** RACK.min_RTT, ms (Infinity before a sample). */
  minRttMs = Infinity;
  /** RACK.fack: the highest end of a delivered segment. */
  fack = 0;
  /** RACK.reordering_seen. */
  reorderingSeen = false;
  /** RACK.reo_wnd_mult. */
  reoWndMult = 1;
  /** RACK.reo_wnd_persist. */
  reoWndPersist = 0;
  /** RACK.dsack_round (valid while {@link dsackRoundSet}). */
  dsackRound = 0;
  /** Whether a DSACK round is open. */
  dsackRoundSet = false;
  /**
   * Segments the peer SACKed and not yet cumulatively acknowledged (Linux's `sacked_out`,
   * TCP_INFO `tcpi_sacked`).
   */
  sackedSegments = 0;
  /**
   * The end of the highest SACKed segment (Linux's tcp_highest_sack_seq, the "fack"); valid
   * while {@link sackedSegments} is positive.
   */
  highestSackEnd = 0;
  /**
   * Linux's `tp->reordering` (TCP_INFO `tcpi_reordering`): the largest reordering distance
   * seen, in segments, from {@link INITIAL_REORDERING}, raised by
   * {@link Rack.checkReordering} up to {@link MAX_REORDERING}, lowered only by a timeout
   * (Linux tcp_enter_loss), not reset by a recovery.
   */
  reordering = INITIAL_REORDERING;
  /** TLP.end_seq (valid while {@link tlpActive}). */
  tlpEndSeq = 0;
  /** A tail loss probe is outstanding (TLP.end_seq is not None). */
  tlpActive = false;
  /** TLP.is_retrans. */
  tlpIsRetrans = false;
  /** A DSACK reported the probe's retransmission as a duplicate. */
  tlpDsacked = false;
  /** When the probe timeout expires, ms (Infinity: not armed). */
  tlpDueMs = Infinity;
  /** When the reordering timer expires, ms (Infinity: not armed). */
  reoDueMs = Infinity;
  /** Segments {@link detectLoss} marked lost, ever (the caller takes differences). */
  lostMarked = 0;

  /**
   * RFC 8985 §6.2 step 2 (RACK_sent_after): whether a segment sent at `t1` (send order
   * `order1`) was sent after one sent at `t2` (`order2`). The RFC breaks ties by sequence
   * number; the send order is what that tie-break stands for.
   */
  static sentAfter(t1: number, order1: number, t2: number, order2: number): boolean {
    return t1 > t2 || (t1 === t2 && ((order1 - order2) | 0) > 0);
  }

  /**
   * RFC 8985 §6.2 steps 2–3: segment `i` of the log was delivered (SACKed or cumulatively
   * acknowledged) at `nowMs`: RACK.min_RTT, RACK.xmit_ts/end_seq/rtt and reordering.
   *
   * @param log the segment log
   * @param i the segment's index
   * @param nowMs time now
   * @param cumulative whether it was delivered by the cumulative ACK (not a SACK)
   * @returns nothing
   */
  delivered(log: SegmentLog, i: number, nowMs: number, cumulative: boolean): void {
    const flags = log.flags(i);
    if ((flags & SEG_SACKED) !== 0) {
      // Already counted when SACKed.
      if (cumulative) this.sackedSegments--;
      return;
    }
    if (!cumulative) {
      log.setFlags(i, SEG_SACKED);
      const sackEnd = log.end(i);
      if (this.sackedSegments++ === 0 || seqGt(sackEnd, this.highestSackEnd)) {
        this.highestSackEnd = sackEnd;
      }
    }
    const xmit = log.xmitMs(i);
    const end = log.end(i);
    const rtt = nowMs > xmit ? nowMs - xmit : 0;
    const retransmitted = (flags & SEG_RETRANSMITTED) !== 0;
    // Step 2: a retransmitted segment whose ACK came sooner than the minimum RTT was
    // probably acknowledged for its original transmission: ambiguous, skipped. Not the tail
    // loss probe: it exists to make RACK see the losses before it (§7.4; were its original
    // only late, the peer D-SACKs the probe and the episode ends without a reduction), and
    // a lone probe's RTT can be below a min_RTT measured on bursts.
    const probe = this.tlpActive && this.tlpIsRetrans && end === this.tlpEndSeq;
    if (retransmitted && rtt < this.minRttMs && !probe) return;
    // RACK.min_RTT as Linux's tcp_update_rtt_min keeps it: a sample of 0 counts as one
    // jiffy (`rtt_us ? : jiffies_to_usecs(1)`), never 0. An ACK processed in the receive
    // batch that sent the segment shares that batch's time and measures 0; a min_RTT of 0
    // would switch off the ambiguity test above (no RTT is below 0, so the original's ACK
    // of a retransmitted segment would feed RACK.rtt and RACK.xmit_ts) and the reordering
    // window (min_RTT / 4). In the lab at 2 % loss 70-80 % of the samples measured 0.
    if (!retransmitted) {
      if (rtt > 0) {
        if (rtt < this.minRttMs) this.minRttMs = rtt;
      } else if (ZERO_RTT_AS_MS < this.minRttMs) this.minRttMs = ZERO_RTT_AS_MS;
    }
    // Step 3: delivered below the highest delivered end without having been retransmitted:
    // the network reordered it.
    const first = this.xmitMs < 0;
    if (!first && !retransmitted && seqLt(end, this.fack)) this.reorderingSeen = true;
    if (first || seqGt(end, this.fack)) this.fack = end;
    const order = log.order(i);
    if (this.xmitMs < 0 || Rack.sentAfter(xmit, order, this.xmitMs, this.order)) {
      this.rttMs = rtt;
      this.xmitMs = xmit;
      this.endSeq = end;
      this.order = order;
    }
  }

  /**
   * Linux tcp_check_sack_reordering: never-retransmitted data from `lowSeq` was delivered
   * below the highest SACKed sequence (the fack): the network reordered it by
   * fack − lowSeq; above {@link reordering} segments, that distance (rounded up to segments,
   * at most {@link MAX_REORDERING}) becomes the new degree of reordering.
   *
   * @param lowSeq the lowest start of the never-retransmitted segments newly delivered
   * @param sndUna SND.UNA (the fack when nothing is SACKed)
   * @param mss the sender's MSS
   * @returns nothing
   */
  checkReordering(lowSeq: number, sndUna: number, mss: number): void {
    const fack = this.sackedSegments > 0 ? this.highestSackEnd : sndUna;
    if (!seqLt(lowSeq, fack) || mss <= 0) return;
    const metric = seqSub(fack, lowSeq);
    if (metric > this.reordering * mss) {
      this.reordering = Math.min(Math.ceil(metric / mss), MAX_REORDERING);
    }
  }

  /**
   * Linux tcp_enter_loss: a timeout in the "open" or "disorder" state with at least
   * {@link INITIAL_REORDERING} segments SACKed suggests the reordering degree is
   * overestimated: it falls back to at most the initial one.
   *
   * @param openOrDisorder whether the connection was in neither recovery nor loss nor CWR
   * @returns nothing
   */
  onTimeout(openOrDisorder: boolean): void {
    if (openOrDisorder && this.sackedSegments >= INITIAL_REORDERING) {
      this.reordering = Math.min(this.reordering, INITIAL_REORDERING);
    }
  }

  /**
   * RFC 8985 §6.2 step 4: a DSACK arrived: widen the reordering window once per round.
   *
   * @param sndUna SND.UNA
   * @param sndNxt SND.NXT (the round ends when it is acknowledged)
   * @returns nothing
   */
  onDsack(sndUna: number, sndNxt: number): void {
    if (this.dsackRoundSet && seqGe(sndUna, this.dsackRound)) this.dsackRoundSet = false;
    if (!this.dsackRoundSet) {
      if (this.reoWndMult < MAX_REO_WND_MULT) this.reoWndMult++;
      this.dsackRoundSet = true;
      this.dsackRound = sndNxt;
      this.reoWndPersist = REO_WND_PERSIST;
    }
  }

  /**
   * RFC 8985 §6.2 step 4: a recovery ended; after 16 without a DSACK the window shrinks back.
   *
   * @returns nothing
   */
  onRecoveryExit(): void {
    if (this.reoWndPersist > 0 && --this.reoWndPersist === 0) this.reoWndMult = 1;
  }

  /**
   * RFC 8985 §6.2 step 4: RACK.reo_wnd.
   *
   * @param inRecovery whether fast recovery is on
   * @param srttMs SRTT
   * @returns the reordering window, ms
   */
  reoWndMs(inRecovery: boolean, srttMs: number): number {
    if (!this.reorderingSeen && (inRecovery || this.sackedSegments >= DUP_THRESH)) return 0;
    const minRtt = this.minRttMs === Infinity ? 0 : this.minRttMs;
    return Math.min((this.reoWndMult * minRtt) / 4, srttMs);
  }

  /**
   * RFC 8985 §6.2 step 5 (RACK_detect_loss): marks lost every unSACKed segment sent before
   * RACK.xmit_ts that is older than RACK.rtt + reo_wnd.
   *
   * @param log the segment log
   * @param nowMs time now
   * @param reoWndMs the reordering window
   * @returns ms until the next segment would be lost (for the reordering timer), 0: none
   */
  detectLoss(log: SegmentLog, nowMs: number, reoWndMs: number): number {
    let timeout = 0;
    if (this.xmitMs < 0) return 0;
    const n = log.count;
    for (let i = 0; i < n; i++) {
      const flags = log.flags(i);
      if ((flags & (SEG_SACKED | SEG_LOST)) !== 0) continue;
      const xmit = log.xmitMs(i);
      if (!Rack.sentAfter(this.xmitMs, this.order, xmit, log.order(i))) continue;
      const remaining = xmit + this.rttMs + reoWndMs - nowMs;
      if (remaining <= 0) {
        log.setFlags(i, SEG_LOST | SEG_LOST_OUT);
        this.lostMarked++;
      } else if (remaining > timeout) timeout = remaining;
    }
    return timeout;
  }

  /**
   * RFC 8985 §7.2: the probe timeout, 2·SRTT plus WCDelAckT with one segment in flight,
   * else plus Linux's 2 ms.
   *
   * @param srttMs SRTT
   * @param oneSegment whether one segment is in flight
   * @param measured whether SRTT comes from a sample (RFC 8985 §7.2 "If SRTT is available");
   *   an SRTT of 0 is a measurement on a fast path (a coarse clock), not its absence, and
   *   must not give the 1 s initial PTO, which left the tail loss to the RTO
   * @returns PTO, ms
   */
  static probeTimeoutMs(srttMs: number, oneSegment: boolean, measured = srttMs > 0): number {
    if (!measured) return TLP_INITIAL_PTO_MS;
    return 2 * srttMs + (oneSegment ? TLP_WC_DEL_ACK_MS : TLP_EXTRA_MS);
  }
}
