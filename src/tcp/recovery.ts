/**
 * Loss recovery strategies (gVisor `reno_recovery.go`, `sack_recovery.go`): what the sender
 * does between detecting a loss by duplicate ACKs or SACK and the ACK that covers `recover`
 * (RFC 6582 §3.2, RFC 6675 §5) — when a loss is declared, how much may be sent, and what is
 * retransmitted. {@link RenoRecovery} is NewReno's window inflation (RFC 5681 §3.2, RFC 6582);
 * {@link SackRecovery} is RFC 6675's pipe and NextSeg over the {@link SackScoreboard}.
 *
 * The TCB keeps what every strategy shares — the duplicate-ACK count, `inRecovery`,
 * `recover` and HighRxt — and calls the strategy at five points: a duplicate ACK outside
 * recovery ({@link LossRecovery.lossDetected}), entering recovery, a further duplicate ACK,
 * a partial ACK, and on output ({@link LossRecovery.sendAllowance},
 * {@link LossRecovery.nextRetransmission}), with every ACK of the recovery
 * ({@link LossRecovery.onAck}) and every segment sent in it ({@link LossRecovery.onSent}).
 * {@link RackRecovery} is RACK-TLP's (RFC 8985): its loss detection runs on every ACK
 * (`rack.ts`), and recovery retransmits the segments it marked lost. Both SACK strategies
 * send what PRR (RFC 6937, `prr.ts`) allows.
 *
 * @module
 */

import type { Tcb } from "./tcb.ts";
import { Prr } from "./prr.ts";
import { SEG_LOST, SEG_SACKED } from "./rack.ts";
import { DUP_THRESH } from "./sack_scoreboard.ts";
import { seqLe, seqSub } from "./seq.ts";

/** {@link LossRecovery.nextRetransmission}: nothing to resend; new data may go. */
export const RETRANSMIT_NONE = -1;
/** {@link LossRecovery.nextRetransmission}: the window is full; send nothing now. */
export const RETRANSMIT_HOLD = -2;

/** One loss-recovery algorithm of a connection (made when first needed, kept for its life). */
export interface LossRecovery {
  /** The algorithm's name. */
  readonly name: string;
  /** Loss is found by time (RACK), not by DupThresh duplicate ACKs. */
  readonly timeBased: boolean;
  /**
   * An ACK during recovery (the one that began it included), after its SACK blocks and
   * cumulative acknowledgment were processed.
   *
   * @param t the TCB
   * @param deliveredData bytes this ACK newly acknowledged or SACKed (RFC 6937 DeliveredData)
   * @param safeAck it advanced SND.UNA and showed no new loss (PRR's reduction bound)
   * @returns nothing
   */
  onAck(t: Tcb, deliveredData: number, safeAck: boolean): void;
  /**
   * Bytes were sent (retransmitted or new) during recovery.
   *
   * @param bytes sequence space sent
   * @returns nothing
   */
  onSent(bytes: number): void;
  /**
   * A duplicate ACK outside recovery: whether it shows a loss before DupThresh duplicate
   * ACKs were counted (RFC 6675 §5 (a): IsLost(HighACK + 1)).
   *
   * @param t the TCB
   * @param sackNew whether the ACK SACKed new bytes
   * @returns true to start recovery now
   */
  lossDetected(t: Tcb, sackNew: boolean): boolean;
  /**
   * Recovery begins: the congestion controller has reacted (ssthresh is set) and the first
   * unacknowledged segment was retransmitted (RFC 5681 §3.2 steps 2–3, RFC 6675 §5 step 4).
   *
   * @param t the TCB
   * @returns nothing
   */
  enter(t: Tcb): void;
  /**
   * A further duplicate ACK during recovery.
   *
   * @param t the TCB
   * @returns nothing
   */
  onDuplicateAck(t: Tcb): void;
  /**
   * A partial ACK: new data acknowledged, but not `recover` (RFC 6582 §3.2 step 5).
   *
   * @param t the TCB (SND.UNA already advanced)
   * @param ackedBytes send-queue bytes the ACK acknowledged
   * @returns whether the segment at SND.UNA is to be retransmitted now
   */
  onPartialAck(t: Tcb, ackedBytes: number): boolean;
  /**
   * Bytes that may be sent now during recovery (the recovery window less what is thought
   * to be in the network).
   *
   * @param t the TCB
   * @returns bytes, possibly negative
   */
  sendAllowance(t: Tcb): number;
  /**
   * What output sends next during recovery, before new data: a range of the send queue to
   * retransmit (its start offset; its end in {@link retransmitEnd}), {@link RETRANSMIT_NONE}
   * or {@link RETRANSMIT_HOLD}.
   *
   * @param t the TCB
   * @returns an offset, or one of the two constants
   */
  nextRetransmission(t: Tcb): number;
  /** End offset (exclusive) of the range the last {@link nextRetransmission} returned. */
  readonly retransmitEnd: number;
  /**
   * RFC 6675 §4 SetPipe: bytes thought to be in the network (SND.MAX - SND.UNA without SACK).
   *
   * @param t the TCB
   * @returns bytes
   */
  pipe(t: Tcb): number;
}

/**
 * NewReno (RFC 5681 §3.2, RFC 6582 §3.2): loss after DupThresh duplicate ACKs; during
 * recovery a window inflated by one MSS per duplicate ACK and deflated by partial ACKs, and
 * one retransmission per partial ACK.
 */
export class RenoRecovery implements LossRecovery {
  /** The algorithm's name. */
  readonly name = "newreno";
  /** DupThresh-based. */
  readonly timeBased = false;
  /** The inflated window of RFC 6582 §3.2 (cwnd during recovery), bytes. */
  #cwnd = 0;

  /** The window is inflated per duplicate ACK instead. */
  onAck(_t: Tcb, _deliveredData: number, _safeAck: boolean): void {}

  /** Nothing: SND.NXT - SND.UNA counts it. */
  onSent(_bytes: number): void {}

  /** Never before DupThresh duplicate ACKs. */
  lossDetected(_t: Tcb, _sackNew: boolean): boolean {
    return false;
  }

  /** RFC 6582 §3.2 step 2: cwnd = ssthresh + 3*SMSS. */
  enter(t: Tcb): void {
    this.#cwnd = t.cc.ssthresh + DUP_THRESH * t.sndMss;
  }

  /** RFC 6582 §3.2 step 4: inflate by one SMSS. */
  onDuplicateAck(t: Tcb): void {
    this.#cwnd += t.sndMss;
  }

  /** RFC 6582 §3.2 step 5: retransmit the next segment, deflate the window. */
  onPartialAck(t: Tcb, ackedBytes: number): boolean {
    this.#cwnd -= ackedBytes;
    if (ackedBytes >= t.sndMss) this.#cwnd += t.sndMss;
    if (this.#cwnd < t.sndMss) this.#cwnd = t.sndMss;
    return true;
  }

  /** The inflated window less SND.NXT - SND.UNA. */
  sendAllowance(t: Tcb): number {
    return this.#cwnd - seqSub(t.sndNxt, t.sndUna);
  }

  /** Retransmissions go on partial ACKs only. */
  nextRetransmission(_t: Tcb): number {
    return RETRANSMIT_NONE;
  }

  /** Unused: {@link nextRetransmission} never returns a range. */
  get retransmitEnd(): number {
    return 0;
  }

  /** Without SACK the pipe is the flight. */
  pipe(t: Tcb): number {
    return seqSub(t.sndMax, t.sndUna);
  }
}

/**
 * RFC 6675 conservative SACK-based recovery: loss by IsLost as soon as SACKs show it, the
 * lost holes retransmitted before new data (NextSeg rule 1), and what may be sent set by PRR
 * (RFC 6937) from the pipe (RFC 6675 §4 SetPipe).
 */
export class SackRecovery implements LossRecovery {
  /** The algorithm's name. */
  readonly name: string = "sack";
  /** DupThresh-based. */
  readonly timeBased: boolean = false;
  /** Proportional Rate Reduction of this recovery. */
  readonly prr: Prr = new Prr();
  #retransmitEnd = 0;

  /** RFC 6675 §5 (a): new SACK information makes the first hole lost. */
  lossDetected(t: Tcb, sackNew: boolean): boolean {
    return sackNew && t.scoreboard !== null && t.scoreboard.lostBoundary(t.sndMss) > 0;
  }

  /** RFC 6937 §3: PRR starts from the flight; cwnd is ssthresh (RFC 6675 §5 step 4.2). */
  enter(t: Tcb): void {
    this.prr.start(seqSub(t.sndMax, t.sndUna));
  }

  /** The pipe accounts for it (RFC 6675 §5 step (C)). */
  onDuplicateAck(_t: Tcb): void {}

  /** RFC 6937 §3: sndcnt from DeliveredData and the pipe. */
  onAck(t: Tcb, deliveredData: number, safeAck: boolean): void {
    this.prr.onAck(deliveredData, this.pipe(t), t.cc.ssthresh, t.sndMss, safeAck);
  }

  /** RFC 6937 §3: prr_out. */
  onSent(bytes: number): void {
    this.prr.onSent(bytes);
  }

  /** RFC 6675 §5: the hole at SND.UNA goes now unless it was retransmitted in this episode. */
  onPartialAck(t: Tcb, _ackedBytes: number): boolean {
    return seqLe(t.highRxt, t.sndUna);
  }

  /** RFC 6675 §4 SetPipe. */
  pipe(t: Tcb): number {
    const flight = seqSub(t.sndMax, t.sndUna);
    const sb = t.scoreboard;
    return sb === null ? flight : sb.pipe(flight, seqSub(t.highRxt, t.dataSeq), t.sndMss);
  }

  /** RFC 6937: what this ACK's sndcnt still allows. */
  sendAllowance(_t: Tcb): number {
    return this.prr.allowance;
  }

  /** RFC 6675 §5 step (C): while PRR allows a segment, NextSeg rule 1. */
  nextRetransmission(t: Tcb): number {
    if (this.sendAllowance(t) < t.sndMss) return RETRANSMIT_HOLD;
    const sb = t.scoreboard;
    if (sb === null) return RETRANSMIT_NONE;
    const hole = sb.nextLostHole(Math.max(0, seqSub(t.highRxt, t.dataSeq)), t.sndMss);
    if (hole < 0) return RETRANSMIT_NONE;
    this.#retransmitEnd = sb.holeEnd;
    return hole;
  }

  /** End offset of the hole the last {@link nextRetransmission} returned. */
  get retransmitEnd(): number {
    return this.#retransmitEnd;
  }
}

/**
 * RACK-TLP's recovery (RFC 8985 §6.2, §8): loss is what RACK marked in the segment log
 * (the TCB's `segLog`, by time, on every ACK and on the reordering timer); recovery
 * retransmits the lost segments first, oldest first, as PRR (RFC 6937) allows.
 */
export class RackRecovery implements LossRecovery {
  /** The algorithm's name. */
  readonly name: string = "rack-tlp";
  /** Time-based. */
  readonly timeBased: boolean = true;
  /** Proportional Rate Reduction of this recovery. */
  readonly prr: Prr = new Prr();
  #retransmitEnd = 0;

  /** RACK marks losses itself (`rack.ts`); duplicate ACKs alone never start recovery. */
  lossDetected(_t: Tcb, _sackNew: boolean): boolean {
    return false;
  }

  /** RFC 6937 §3: PRR starts from the flight. */
  enter(t: Tcb): void {
    this.prr.start(seqSub(t.sndMax, t.sndUna));
  }

  /** Nothing: RACK looks at the SACK blocks. */
  onDuplicateAck(_t: Tcb): void {}

  /** RFC 6937 §3: sndcnt from DeliveredData and the pipe. */
  onAck(t: Tcb, deliveredData: number, safeAck: boolean): void {
    this.prr.onAck(deliveredData, this.pipe(t), t.cc.ssthresh, t.sndMss, safeAck);
  }

  /** RFC 6937 §3: prr_out. */
  onSent(bytes: number): void {
    this.prr.onSent(bytes);
  }

  /** RACK retransmits what it marked lost; a partial ACK forces nothing (RFC 8985 §8). */
  onPartialAck(_t: Tcb, _ackedBytes: number): boolean {
    return false;
  }

  /**
   * RFC 6675 §4 SetPipe over the segment log: the flight less what was SACKed and what is
   * marked lost and not yet retransmitted.
   */
  pipe(t: Tcb): number {
    let pipe = seqSub(t.sndMax, t.sndUna);
    const log = t.segLog;
    if (log === null) return pipe;
    for (let i = 0; i < log.count; i++) {
      if ((log.flags(i) & (SEG_SACKED | SEG_LOST)) !== 0) pipe -= seqSub(log.end(i), log.start(i));
    }
    return Math.max(0, pipe);
  }

  /** RFC 6937: what this ACK's sndcnt still allows. */
  sendAllowance(_t: Tcb): number {
    return this.prr.allowance;
  }

  /** The oldest segment RACK marked lost, while PRR allows a segment. */
  nextRetransmission(t: Tcb): number {
    if (this.sendAllowance(t) < t.sndMss) return RETRANSMIT_HOLD;
    const log = t.segLog;
    if (log === null) return RETRANSMIT_NONE;
    for (let i = 0; i < log.count; i++) {
      if ((log.flags(i) & (SEG_SACKED | SEG_LOST)) === SEG_LOST) {
        const start = seqSub(log.start(i), t.dataSeq);
        if (start < 0) continue;
        this.#retransmitEnd = seqSub(log.end(i), t.dataSeq);
        return start;
      }
    }
    return RETRANSMIT_NONE;
  }

  /** End offset of the segment the last {@link nextRetransmission} returned. */
  get retransmitEnd(): number {
    return this.#retransmitEnd;
  }
}
