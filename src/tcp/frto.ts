/**
 * F-RTO (RFC 5682) and the Eifel detection (RFC 3522): after a retransmission timeout, the
 * ACKs that follow tell whether it was spurious; if so the reduction is undone and sending
 * resumes with new data. Called from the ACK processing in `connection_receive.ts`.
 *
 * @module
 */

import type { TcpRepr } from "../wire/tcp.ts";
import { seqAdd, seqGt, seqLt, seqSub } from "./seq.ts";
import type { Tcb } from "./tcb.ts";

/**
 * RFC 5682 §2 (basic) and §3 (SACK-enhanced) steps 2–3: the ACKs after a timeout's
 * retransmission tell whether it was spurious.
 *
 * @param t the TCB (SND.UNA already advanced)
 * @param nowMs time
 * @param seg the ACK
 * @param advanced whether it advanced SND.UNA
 * @param dsack whether its first SACK block is a D-SACK
 */
export function frtoOnAck(
  t: Tcb,
  nowMs: number,
  seg: TcpRepr,
  advanced: boolean,
  dsack: boolean,
): void {
  // RFC 3522 §3.2 (Eifel): the first ACK of new data echoes a timestamp older than the
  // retransmission: the original was delivered, the timeout was spurious.
  if (
    advanced && t.tsOk && seg.hasTimestamp && seg.tsEcr !== 0 && seqLt(seg.tsEcr, t.rtoTsVal)
  ) {
    spuriousRto(t, nowMs);
    return;
  }
  if (t.frtoState === 1) {
    if (!advanced || t.sndUna === t.sndMax) {
      // Step 2a: a duplicate ACK (or all acknowledged): conventional recovery goes on.
      t.frtoState = 0;
      return;
    }
    // Step 2b: new data acknowledged: send up to two new segments instead of
    // retransmitting, if there is new data and the peer's window allows it.
    const ring = t.sendRing;
    const unsent = ring === null ? 0 : ring.length - seqSub(t.sndMax, t.dataSeq);
    const wndAvail = seqSub(seqAdd(t.sndUna, t.sndWnd), t.sndMax);
    if (unsent <= 0 || wndAvail <= 0) {
      t.frtoState = 0;
      return;
    }
    // What the timeout retransmitted ends here; the rest of the window was not resent.
    t.frtoRetransmitEnd = t.sndNxt;
    t.sndNxt = t.sndMax;
    t.frtoState = 2;
    t.frtoBudget = 2 * t.sndMss;
    return;
  }
  t.frtoState = 0;
  t.frtoBudget = 0;
  if (advanced || sacksNeverRetransmitted(t, seg, dsack)) {
    // Step 3b: the ACK acknowledges data that was not retransmitted — cumulatively, or
    // (SACK-enhanced, RFC 5682 §4) in a SACK block between SND.UNA and RecoveryPoint: the
    // timeout was spurious.
    spuriousRto(t, nowMs);
  } else {
    // Step 3a: a duplicate ACK: the timeout was genuine; retransmit in slow start.
    t.sndNxt = t.sndUna;
  }
}

/**
 * RFC 5682 §4: whether a SACK block of the ACK covers data sent before the timeout
 * (below RecoveryPoint, the TCB's `recover`) that the timeout did not retransmit.
 */
function sacksNeverRetransmitted(t: Tcb, seg: TcpRepr, dsack: boolean): boolean {
  const blocks = seg.sackBlocks;
  for (let b = dsack ? 1 : 0; b < seg.sackCount; b++) {
    const left = blocks[2 * b];
    const right = blocks[2 * b + 1];
    if (seqLt(left, t.recoverPoint) && seqGt(right, t.frtoRetransmitEnd)) return true;
  }
  return false;
}

/** RFC 5682 §3 / RFC 4015: a spurious timeout: undo, resume with new data. */
function spuriousRto(t: Tcb, nowMs: number): void {
  t.frtoState = 0;
  t.frtoBudget = 0;
  t.spuriousRtoCount++;
  t.ctx.stats.spuriousRtos++;
  t.undo(nowMs);
  // Nothing more to retransmit: the rest was delivered (go-back-N stops here).
  if (seqLt(t.sndNxt, t.sndMax)) t.sndNxt = t.sndMax;
  // RFC 6582 §4's guard was set for a loss that did not happen.
  t.recoverPoint = t.sndUna;
}
