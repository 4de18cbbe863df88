/**
 * Explicit Congestion Notification for TCP (RFC 3168 §6.1): negotiation on the
 * handshake, ECT(0) on new data, CE echoed with ECE until the sender's CWR, and
 * the sender's reaction to ECE — the congestion window halved at most once per
 * window of data, and CWR on the next new data segment.
 *
 * Functions over a connection's {@link Tcb}, called from the send path
 * (`ecnOutputFlags`, `ecnTos`) and from segment arrival (`ecnInput`); the
 * ECN codepoint of the arriving datagram is in {@link TcpContext.rxEcn}.
 *
 * @module
 */

import { TCP_ACK, TCP_CWR, TCP_ECE, TCP_RST, TCP_SYN, type TcpRepr } from "../wire/tcp.ts";
import { seqGt, seqLt, seqSub } from "./seq.ts";
import type { Tcb } from "./tcb.ts";

/** The ECN field of the IPv4 TOS byte (RFC 3168 §5). */
export const ECN_MASK = 0x03;
/** Not-ECT (RFC 3168 §5). */
export const ECN_NOT_ECT = 0x00;
/** ECT(1). */
export const ECN_ECT1 = 0x01;
/** ECT(0): what an ECN-capable sender marks (RFC 3168 §6.1.2; Linux uses ECT(0)). */
export const ECN_ECT0 = 0x02;
/** Congestion Experienced. */
export const ECN_CE = 0x03;

/** ECN modes of {@link TcpConfig.ecn}, as Linux `net.ipv4.tcp_ecn` 0 / 1 / 2. */
export type EcnMode = "off" | "on" | "passive";

/**
 * Whether a SYN asks for ECN: ECE and CWR both set (RFC 3168 §6.1.1, "ECN-setup SYN").
 *
 * @param flags the SYN's flags
 * @returns true for an ECN-setup SYN
 *
 * @example
 * ```ts
 * import { isEcnSetupSyn } from "./ecn.ts";
 * import { TCP_CWR, TCP_ECE, TCP_SYN } from "../wire/tcp.ts";
 * console.assert(isEcnSetupSyn(TCP_SYN | TCP_ECE | TCP_CWR));
 * console.assert(!isEcnSetupSyn(TCP_SYN | TCP_ECE));
 * ```
 */
export function isEcnSetupSyn(flags: number): boolean {
  return (flags & (TCP_SYN | TCP_ECE | TCP_CWR)) === (TCP_SYN | TCP_ECE | TCP_CWR);
}

/**
 * RFC 3168 §6.1.1: a passive opener (or a simultaneous opener answering the peer's
 * SYN) agrees to ECN when the SYN is an ECN-setup SYN and ECN is not off.
 *
 * @param t the connection
 * @param syn the peer's SYN
 */
export function ecnAcceptSyn(t: Tcb, syn: TcpRepr): void {
  if (t.cfg.ecn !== "off" && isEcnSetupSyn(syn.flags)) enableEcn(t);
}

/**
 * RFC 3168 §6.1.1: our ECN-setup SYN is answered by an ECN-setup SYN-ACK (ECE set,
 * CWR clear) — ECN is in use.
 *
 * @param t the connection (SYN-SENT)
 * @param synAck the SYN-ACK
 */
export function ecnAcceptSynAck(t: Tcb, synAck: TcpRepr): void {
  if (!t.ecnSynSent) return;
  if ((synAck.flags & (TCP_ECE | TCP_CWR)) === TCP_ECE) enableEcn(t);
}

/**
 * RFC 3168 §6.1.1 through a SYN cookie: the peer's ECN-setup SYN was answered by our
 * ECN-setup cookie SYN-ACK, which recorded the agreement in its TSval (syn_cookies.ts, as
 * Linux's `cookie_ecn_ok`). ECN is in use unless it has been turned off since.
 *
 * @param t the connection opened from the cookie
 */
export function ecnAcceptCookie(t: Tcb): void {
  if (t.cfg.ecn !== "off") enableEcn(t);
}

function enableEcn(t: Tcb): void {
  if (t.ecnOk) return;
  t.ecnOk = true;
  t.ecnRecover = t.iss;
  t.ctx.stats.ecnNegotiated++;
}

/**
 * Adds the ECN flags to a segment about to be sent: ECE+CWR on our SYN (active open,
 * `ecn: "on"`, not after `ecnSynRetries` retransmissions — Linux falls back at once,
 * FreeBSD after ecn.maxretries), ECE on the SYN-ACK that agrees to ECN, ECE on every ACK
 * while a CE mark is unanswered (§6.1.3), CWR on the first new data after a reduction
 * (§6.1.2).
 *
 * @param t the connection
 * @param flags the segment's flags
 * @param seq its sequence number
 * @param dataLength its data bytes
 * @returns the flags to send
 */
export function ecnOutputFlags(t: Tcb, flags: number, seq: number, dataLength: number): number {
  if ((flags & TCP_RST) !== 0) return flags;
  if ((flags & TCP_SYN) !== 0) {
    if ((flags & TCP_ACK) === 0) {
      const ask = !t.passive && t.cfg.ecn === "on" && t.retries <= t.cfg.ecnSynRetries;
      t.ecnSynSent = ask;
      return ask ? flags | TCP_ECE | TCP_CWR : flags;
    }
    return t.ecnOk ? flags | TCP_ECE : flags;
  }
  if (!t.ecnOk) return flags;
  if (t.ecnEceEcho && (flags & TCP_ACK) !== 0) flags |= TCP_ECE;
  if (t.ecnCwrPending && dataLength > 0 && !seqLt(seq, t.sndMax)) {
    flags |= TCP_CWR;
    t.ecnCwrPending = false;
    t.ecnCwrSent++;
    t.ctx.stats.ecnCwrSent++;
  }
  return flags;
}

/**
 * The ECN codepoint of a segment's datagram: ECT(0) on new data of an ECN connection;
 * not-ECT on SYNs, pure ACKs, retransmissions and RSTs (RFC 3168 §6.1.1, §6.1.5, §6.1.4).
 *
 * @param t the connection
 * @param flags the segment's flags (after {@link ecnOutputFlags})
 * @param seq its sequence number
 * @param dataLength its data bytes
 * @returns ECN_ECT0 or ECN_NOT_ECT
 */
export function ecnCodepoint(t: Tcb, flags: number, seq: number, dataLength: number): number {
  if (!t.ecnOk || dataLength === 0 || (flags & (TCP_SYN | TCP_RST)) !== 0) return ECN_NOT_ECT;
  return seqLt(seq, t.sndMax) ? ECN_NOT_ECT : ECN_ECT0;
}

/**
 * ECN on segment arrival (synchronized states), before the segment is processed:
 * - receiver (§6.1.3): CWR stops the ECE echo; a CE mark starts it (and is ACKed at once);
 * - sender (§6.1.2): ECE on an ACK halves the congestion window (`onCongestionEvent`,
 *   RFC 5681 eq. 4 / CUBIC β) once per window of data — not again until data sent after
 *   the reduction is acknowledged, not during loss recovery — and arms CWR.
 *
 * @param t the connection
 * @param nowMs current time
 * @param seg the segment
 */
export function ecnInput(t: Tcb, nowMs: number, seg: TcpRepr): void {
  if (!t.ecnOk) return;
  const flags = seg.flags;
  if ((flags & (TCP_SYN | TCP_RST)) !== 0) return;
  if ((flags & TCP_CWR) !== 0) t.ecnEceEcho = false;
  if ((t.ctx.rxEcn & ECN_MASK) === ECN_CE) {
    t.ctx.stats.ecnCeReceived++;
    t.ecnCeReceived++;
    if (!t.ecnEceEcho) t.ackNow = true;
    t.ecnEceEcho = true;
  }
  if ((flags & (TCP_ECE | TCP_ACK)) !== (TCP_ECE | TCP_ACK)) return;
  t.ctx.stats.ecnEceReceived++;
  // Once per window: the ACK must cover data sent after the last reduction.
  if (t.inRecovery || !seqGt(seg.ack, t.ecnRecover) || seqLt(seg.ack, t.sndUna)) return;
  if (t.sndUna === t.sndMax) return; // nothing in flight: no window to reduce
  t.cc.onCongestionEvent(nowMs, seqSub(t.sndMax, t.sndUna));
  t.ecnRecover = t.sndMax;
  t.ecnCwrPending = true;
  t.ecnReductions++;
  t.ctx.stats.ecnReductions++;
}
