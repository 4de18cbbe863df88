/**
 * The receiver's SACK blocks (RFC 2018 §3, §4; gVisor `rcv.go`/`sack.go`): which
 * out-of-order segments arrived most recently, and the SACK option our ACKs carry, built from
 * them and from the reassembly ranges — the block holding the newest segment first, then the
 * others in order. Also the option's size, which comes off the MSS while blocks are sent.
 * It owns the most-recent list only; the reassembly ranges stay in the TCB.
 *
 * @module
 */

import type { RangeSet } from "../buffer/range_set.ts";
import { TCP_MAX_SACK_BLOCKS, TCP_SACK_BLOCK_LEN, type TcpRepr } from "../wire/tcp.ts";
import { seqAdd, seqGt, seqSub } from "./seq.ts";

/** SACK blocks that fit beside timestamps (RFC 2018 §3). */
export const SACK_BLOCKS_WITH_TS = 3;
/** SACK blocks that fit without timestamps (the wire codec's {@link TCP_MAX_SACK_BLOCKS}). */
export const SACK_BLOCKS_WITHOUT_TS = TCP_MAX_SACK_BLOCKS;
/** SACK option bytes besides its blocks, as laid out (NOP NOP kind length). */
const SACK_OPTION_OVERHEAD_BYTES = 4;
/** Remembered most-recent SACK blocks (RFC 2018 §4). */
const SACK_RECENT_MAX = 4;

/**
 * Bytes of a SACK option carrying `blocks` blocks, as our segments lay it out.
 *
 * @param blocks blocks in the option (1..4)
 * @returns option bytes, padding included
 */
export function sackOptionBytes(blocks: number): number {
  return SACK_OPTION_OVERHEAD_BYTES + blocks * TCP_SACK_BLOCK_LEN;
}

/**
 * The most recently received out-of-order segments (RFC 2018 §4), as sequence numbers of
 * their first byte, newest first, at most four.
 *
 * @example
 * ```ts
 * import { SackBlocks } from "./sack_blocks.ts";
 * const recent = new SackBlocks();
 * recent.note(3000);
 * recent.note(5000);
 * console.assert(recent.count === 2 && recent.at(0) === 5000);
 * ```
 */
export class SackBlocks {
  readonly #recent = [0, 0, 0, 0];
  #count = 0;

  /** Segments remembered. */
  get count(): number {
    return this.#count;
  }

  /** The `i`-th most recent segment's first sequence number. */
  at(i: number): number {
    return this.#recent[i];
  }

  /**
   * An out-of-order segment starting at `seq` was queued: it goes first (RFC 2018 §4).
   *
   * @param seq its first sequence number
   * @returns nothing
   */
  note(seq: number): void {
    const recent = this.#recent;
    let count = this.#count;
    for (let i = 0; i < count; i++) {
      if (recent[i] === seq) {
        for (let k = i; k < count - 1; k++) recent[k] = recent[k + 1];
        count--;
        break;
      }
    }
    if (count === SACK_RECENT_MAX) count--;
    for (let k = count; k > 0; k--) recent[k] = recent[k - 1];
    recent[0] = seq;
    this.#count = count + 1;
  }

  /**
   * RCV.NXT advanced: forget segments now in order.
   *
   * @param rcvNxt the new RCV.NXT
   * @returns nothing
   */
  prune(rcvNxt: number): void {
    const recent = this.#recent;
    let w = 0;
    for (let i = 0; i < this.#count; i++) {
      if (seqGt(recent[i], rcvNxt)) recent[w++] = recent[i];
    }
    this.#count = w;
  }
}

/**
 * Fills `r.sackBlocks`/`r.sackCount` (RFC 2018 §4): a D-SACK block first when one is given
 * (RFC 2883 §4: the duplicate segment's range), then the blocks holding the most recent
 * segments, then the other reassembly ranges in order, at most `max` blocks.
 *
 * @param r the segment being built
 * @param ooo the reassembly ranges (offsets from RCV.NXT), or null when none are held
 * @param recent the most recent segments, or null when none was noted
 * @param rcvNxt RCV.NXT
 * @param max most blocks the option may carry
 * @param dsackLeft left edge of the D-SACK block
 * @param dsackRight right edge of the D-SACK block (equal to `dsackLeft`: no D-SACK)
 * @returns nothing
 */
export function fillSackBlocks(
  r: TcpRepr,
  ooo: RangeSet | null,
  recent: SackBlocks | null,
  rcvNxt: number,
  max: number,
  dsackLeft = 0,
  dsackRight = 0,
): void {
  let n = 0;
  if (dsackLeft !== dsackRight && max > 0) {
    r.sackBlocks[0] = dsackLeft;
    r.sackBlocks[1] = dsackRight;
    n = 1;
  }
  const first = n;
  if (ooo !== null) {
    for (let j = 0; recent !== null && j < recent.count && n < max; j++) {
      const off = seqSub(recent.at(j), rcvNxt);
      for (let i = 0; i < ooo.count; i++) {
        if (ooo.start(i) <= off && off < ooo.end(i)) {
          n = addSackBlock(r, n, first, ooo, i, rcvNxt);
          break;
        }
      }
    }
    for (let i = 0; i < ooo.count && n < max; i++) n = addSackBlock(r, n, first, ooo, i, rcvNxt);
  }
  r.sackCount = n;
}

/**
 * Appends reassembly range `i` as a SACK block unless already present (from block `first`
 * on: a D-SACK block before it may repeat it, RFC 2883 §4 (2)); returns the count.
 */
function addSackBlock(
  r: TcpRepr,
  n: number,
  first: number,
  ooo: RangeSet,
  i: number,
  rcvNxt: number,
): number {
  const blocks = r.sackBlocks;
  const left = seqAdd(rcvNxt, ooo.start(i));
  for (let k = first; k < n; k++) if (blocks[2 * k] === left) return n;
  blocks[2 * n] = left;
  blocks[2 * n + 1] = seqAdd(rcvNxt, ooo.end(i));
  return n + 1;
}
