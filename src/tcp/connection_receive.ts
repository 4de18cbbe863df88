/**
 * The receive path of a connection (gVisor `rcv.go` and the ACK half of `snd.go`): "segment
 * arrives" in the order of RFC 9293 §3.10.7 ({@link inputSynSent}, {@link inputSynchronizing}:
 * sequence check and trimming, PAWS, RST and SYN with RFC 5961's challenge ACKs, the ACK field
 * with RTT samples, the send window, duplicate ACKs and the loss-recovery calls, the text into
 * the receive ring or the reassembly set, delayed and quick ACKs, the FIN). Functions over the
 * connection's {@link Tcb}; they own no state.
 *
 * @module
 */

import { frtoOnAck } from "./frto.ts";
import { TS_TICK_MS } from "./isn.ts";
import { RangeSet } from "../buffer/range_set.ts";
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type TcpRepr } from "../wire/tcp.ts";
import { Timer } from "../time/timer_wheel.ts";
import { DEFAULT_MSS } from "./config.ts";
import { armTlp, retransmitAt, sendBareReset, sendReset, sendSegment } from "./connection_send.ts";
import { ecnAcceptSyn, ecnAcceptSynAck } from "./ecn.ts";
import { ConnectionRefused, ConnectionReset } from "./errors.ts";
import {
  HYSTART_CA_ENTERED,
  HYSTART_CSS_ENTERED,
  HYSTART_NONE,
  HYSTART_SS_RESUMED,
} from "./hystart.ts";
import { SackBlocks } from "./sack_blocks.ts";
import { sackBlocksAscending, SEG_RETRANSMITTED, SEG_SACKED } from "./rack.ts";
import { DUP_THRESH, SackScoreboard } from "./sack_scoreboard.ts";
import { seqAdd, seqGe, seqGt, seqInWindow, seqLe, seqLt, seqMax, seqSub } from "./seq.ts";
import {
  EV_READABLE,
  EV_WRITABLE,
  isArmed,
  type Tcb,
  TCP_TIMER_DELAYED_ACK,
  TcpState,
} from "./tcb.ts";

/** RFC 7323 §5.5: timestamps older than 24 days are not trusted for PAWS. */
const PAWS_IDLE_MS = 24 * 24 * 3600 * 1000;
/** Window used for RFC 5961 §7 challenge ACK rate limiting, ms. */
const CHALLENGE_WINDOW_MS = 1000;
/** Linux TCP_MAX_QUICKACKS: most immediate ACKs in one quick-ACK episode. */
const MAX_QUICK_ACKS = 16;
/** Linux tcp_incr_quickack: the budget when the window holds less than two segments. */
const MIN_QUICK_ACKS = 2;

/** RFC 9293 §3.10.7.3: SEGMENT ARRIVES in SYN-SENT. */
export function inputSynSent(t: Tcb, nowMs: number, seg: TcpRepr): void {
  const flags = seg.flags;
  const hasAck = (flags & TCP_ACK) !== 0;
  // First, check the ACK bit.
  if (hasAck && (seqLe(seg.ack, t.iss) || seqGt(seg.ack, t.sndMax))) {
    if ((flags & TCP_RST) === 0) sendBareReset(t, nowMs, seg.ack);
    return;
  }
  // Second, check the RST bit (RFC 5961 §3.2 for SYN-SENT: the ACK must be acceptable).
  if ((flags & TCP_RST) !== 0) {
    if (hasAck) {
      t.ctx.stats.resetsReceived++;
      t.terminate(new ConnectionRefused());
    }
    return;
  }
  // Fourth, check the SYN bit.
  if ((flags & TCP_SYN) === 0) return;
  t.irs = seg.seq;
  t.rcvNxt = seqAdd(seg.seq, 1);
  const weOfferedWs = t.cfg.windowScaling;
  const weOfferedTs = t.cfg.timestamps;
  t.peerMss = seg.mss > 0 ? seg.mss : DEFAULT_MSS;
  t.wsOk = weOfferedWs && seg.windowScale >= 0;
  t.sndWScale = t.wsOk ? seg.windowScale : 0;
  if (!t.wsOk) t.rcvWScale = 0;
  t.tsOk = weOfferedTs && seg.hasTimestamp;
  if (t.tsOk) {
    t.tsRecent = seg.tsVal;
    t.tsRecentAgeMs = nowMs;
  }
  t.sackOk = t.cfg.sack && seg.sackPermitted;
  t.updateSndMss();
  t.rcvAdvRight = seqAdd(t.rcvNxt, t.synWindow());
  // RFC 3168 §6.1.1: an ECN-setup SYN-ACK answers ours; a simultaneous open's SYN asks.
  if (hasAck) ecnAcceptSynAck(t, seg);
  else ecnAcceptSyn(t, seg);
  if (hasAck) {
    ackAdvance(t, nowMs, seg);
  }
  if (seqGt(t.sndUna, t.iss)) {
    // Our SYN is acknowledged: ESTABLISHED, send ACK.
    t.establish(nowMs, seg.window, seg.seq, seg.ack);
    // RFC 7323 §2.2: the SYN-ACK's window is not scaled.
    t.sndWnd = seg.window;
    t.maxSndWnd = Math.max(t.maxSndWnd, t.sndWnd);
    t.ackNow = true;
    // RFC 9293 §3.10.7.3: "If there are other controls or text in the segment, then continue
    // processing at the sixth step" — text and FIN on the SYN-ACK are taken now.
    queueSynText(t, seg);
    deliverSynText(t, nowMs);
  } else {
    // Simultaneous open: SYN-RECEIVED, send <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>.
    t.state = TcpState.SYN_RECEIVED;
    t.sndWnd = seg.window;
    t.sndWl1 = seg.seq;
    t.sndNxt = t.iss;
    // RFC 9293 §3.10.7.3: text and controls wait until ESTABLISHED.
    queueSynText(t, seg);
  }
}

/**
 * Keeps the text (and FIN) a SYN or SYN-ACK carried, at most one receive window, for
 * delivery once ESTABLISHED (RFC 9293 §3.10.7.2: "any other control or text should be
 * queued for processing later"; §3.10.7.3). Beyond the window it is trimmed as any segment.
 *
 * @param t the connection (RCV.NXT = the SYN's sequence number + 1)
 * @param seg the SYN
 */
export function queueSynText(t: Tcb, seg: TcpRepr): void {
  const len = Math.min(seg.payloadLength, Math.max(0, seqSub(t.rcvAdvRight, t.rcvNxt)));
  if (len > 0) {
    t.synText = seg.payload.slice(seg.payloadOffset, seg.payloadOffset + len);
    t.ctx.stats.synTextQueued++;
  }
  t.synFin = (seg.flags & TCP_FIN) !== 0 && len === seg.payloadLength;
}

/** Delivers text queued by {@link queueSynText} now that the connection is ESTABLISHED. */
function deliverSynText(t: Tcb, nowMs: number): void {
  const text = t.synText;
  const fin = t.synFin;
  t.synText = null;
  t.synFin = false;
  if (text !== null) receiveData(t, nowMs, text, 0, text.length, t.rcvNxt, fin, -1);
  if (fin) {
    receiveFin(t, nowMs);
    t.ackNow = true;
  }
}

/** RFC 9293 §3.10.7.4: SEGMENT ARRIVES in SYN-RECEIVED and the synchronized states. */
export function inputSynchronizing(t: Tcb, nowMs: number, seg: TcpRepr): void {
  const stats = t.ctx.stats;
  const flags = seg.flags;
  const rst = (flags & TCP_RST) !== 0;
  let syn = (flags & TCP_SYN) !== 0;
  let fin = (flags & TCP_FIN) !== 0;
  let seq = seg.seq;
  let dataOffset = seg.payloadOffset;
  let dataLength = seg.payloadLength;

  // A retransmitted SYN in SYN-RECEIVED: our SYN-ACK was lost; send it again.
  if (
    t.state === TcpState.SYN_RECEIVED && syn && (flags & TCP_ACK) === 0 && !rst &&
    seq === t.irs
  ) {
    t.sndNxt = t.iss;
    return;
  }

  // RFC 7323 §5.3 R1: PAWS. Not applied to RST segments.
  if (
    t.tsOk && seg.hasTimestamp && !rst && seqLt(seg.tsVal, t.tsRecent) &&
    nowMs - t.tsRecentAgeMs < PAWS_IDLE_MS
  ) {
    stats.pawsDrops++;
    t.ackNow = true;
    return;
  }

  // RFC 9293 §3.5 Figure 8 step 6 (simultaneous open): the peer's SYN-ACK
  // <SEQ=IRS><ACK=ISS+1><CTL=SYN,ACK> completes the handshake. Its SYN lies below RCV.NXT,
  // so the sequence check below would only acknowledge it; Linux makes the same exception
  // (tcp_validate_incoming, "simultaneous open SYN-ACK", before the RFC 5961 §4 SYN check)
  // for an active opener only, and acknowledges the SYN as a retransmission.
  if (
    t.state === TcpState.SYN_RECEIVED && !t.passive && syn && !rst && !fin &&
    (flags & TCP_ACK) !== 0 && dataLength === 0 && seq === t.irs &&
    seg.ack === seqAdd(t.iss, 1)
  ) {
    // RFC 7323 §4.3 (2): SEG.SEQ (IRS) =< Last.ACK.sent, so TS.Recent is updated.
    if (t.tsOk && seg.hasTimestamp && seqGe(seg.tsVal, t.tsRecent)) {
      t.tsRecent = seg.tsVal;
      t.tsRecentAgeMs = nowMs;
    }
    ackAdvance(t, nowMs, seg);
    t.establish(nowMs, seg.window, seq, seg.ack);
    // RFC 7323 §2.2: the window of a SYN is never scaled.
    t.sndWnd = seg.window;
    t.maxSndWnd = Math.max(t.maxSndWnd, t.sndWnd);
    t.ackNow = true;
    deliverSynText(t, nowMs);
    return;
  }

  // First, check the sequence number (§3.10.7.4 first). RCV.WND is the window last
  // advertised (Linux tcp_receive_window) or, with rcvWindowFromBuffer, at least the free
  // receive buffer (FreeBSD tcp_input: rcv_wnd = max(sbspace, rcv_adv - rcv_nxt)).
  let rcvWnd = Math.max(0, seqSub(t.rcvAdvRight, t.rcvNxt));
  if (t.cfg.rcvWindowFromBuffer && t.isSynchronized()) {
    rcvWnd = Math.max(rcvWnd, seqSub(t.openRight(), t.rcvNxt));
  }
  const segLen = dataLength + (syn ? 1 : 0) + (fin ? 1 : 0);
  let acceptable: boolean;
  if (segLen === 0) {
    acceptable = rcvWnd === 0 ? seq === t.rcvNxt : seqInWindow(seq, t.rcvNxt, rcvWnd);
  } else if (rcvWnd === 0) {
    acceptable = false;
  } else {
    acceptable = seqInWindow(seq, t.rcvNxt, rcvWnd) ||
      seqInWindow(seqAdd(seq, segLen - 1), t.rcvNxt, rcvWnd);
  }
  if (!acceptable) {
    if (rst) return;
    // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>
    t.ackNow = true;
    // RFC 2883 §4 (1): data already received is reported in a D-SACK block.
    if (dataLength > 0 && seqLe(seqAdd(seq, dataLength), t.rcvNxt)) {
      noteDsack(t, seq, seqAdd(seq, dataLength));
    }
    if (rcvWnd === 0 && seq === t.rcvNxt && !syn) {
      // §3.10.7.4: with a zero window, still process valid ACKs (strip the text: a probe).
      dataLength = 0;
      fin = false;
    } else {
      // TIME-WAIT: a retransmitted FIN is acknowledged and restarts the 2 MSL timeout.
      if (fin && t.state === TcpState.TIME_WAIT) t.scheduleTimeWait(nowMs);
      return;
    }
  }
  // Trim to the window: bytes before RCV.NXT (and a SYN there) are old.
  if (seqLt(seq, t.rcvNxt)) {
    // RFC 2883 §4 (1): the part already received is a duplicate: D-SACK it.
    if (dataLength > 0) {
      const dupEnd = seqLt(seqAdd(seq, dataLength), t.rcvNxt) ? seqAdd(seq, dataLength) : t.rcvNxt;
      noteDsack(t, syn ? seqAdd(seq, 1) : seq, dupEnd);
    }
    let d = seqSub(t.rcvNxt, seq);
    if (syn) {
      syn = false;
      seq = seqAdd(seq, 1);
      d--;
    }
    if (d > dataLength) d = dataLength;
    dataOffset += d;
    dataLength -= d;
    seq = seqAdd(seq, d);
  }
  const room = seqSub(seqAdd(t.rcvNxt, rcvWnd), seq);
  if (dataLength > room) {
    dataLength = Math.max(0, room);
    fin = false;
  }

  // Second, check the RST bit (RFC 5961 §3.2).
  if (rst) {
    if (seg.seq === t.rcvNxt) {
      stats.resetsReceived++;
      onReset(t);
    } else {
      challengeAck(t, nowMs);
    }
    return;
  }

  // RFC 7323 §4.3 (2): update TS.Recent from an acceptable segment — not from one whose
  // ACK acknowledges data never sent, which the fifth step drops (RFC 9293 §3.10.7.4; Linux
  // tcp_ack returns before tcp_replace_ts_recent), else a forged high TSval would make PAWS
  // discard every later segment.
  if (
    t.tsOk && seg.hasTimestamp && seqGe(seg.tsVal, t.tsRecent) &&
    seqLe(seg.seq, t.lastAckSent) &&
    ((flags & TCP_ACK) === 0 || t.state === TcpState.SYN_RECEIVED || seqLe(seg.ack, t.sndMax))
  ) {
    t.tsRecent = seg.tsVal;
    t.tsRecentAgeMs = nowMs;
  }

  // Fourth, check the SYN bit (RFC 5961 §4: challenge ACK, drop).
  if (syn) {
    challengeAck(t, nowMs);
    return;
  }

  // Fifth, check the ACK field.
  if ((flags & TCP_ACK) === 0) return;
  if (t.state === TcpState.SYN_RECEIVED) {
    if (seqGt(seg.ack, t.sndUna) && seqLe(seg.ack, t.sndMax)) {
      ackAdvance(t, nowMs, seg);
      t.establish(nowMs, seg.window, seg.seq, seg.ack);
      if (t.synText !== null || t.synFin) {
        // RFC 9293 §3.10.7.2: the SYN's queued text comes first; this segment's copy of
        // those bytes, if it repeats them, is old now.
        deliverSynText(t, nowMs);
        const old = seqSub(t.rcvNxt, seq);
        if (old > 0) {
          const d = Math.min(old, dataLength);
          dataOffset += d;
          dataLength -= d;
          seq = seqAdd(seq, d);
          if (old > d) fin = false;
        }
      }
    } else {
      sendBareReset(t, nowMs, seg.ack); // <SEQ=SEG.ACK><CTL=RST>
      return;
    }
  } else if (!processAck(t, nowMs, seg, seq, dataLength)) {
    return;
  }
  switch (t.state) {
    case TcpState.FIN_WAIT_1:
      if (t.finAcked()) {
        t.state = TcpState.FIN_WAIT_2;
        if (t.appClosed) {
          // Linux tcp_rcv_state_process: an orphan with linger2 < 0 is done here, and its
          // return of 1 makes tcp_v4_do_rcv answer the ACK with a reset (<SEQ=SEG.ACK><CTL=RST>).
          if (t.finTimeoutMs !== null && t.finTimeoutMs < 0) {
            sendBareReset(t, nowMs, seg.ack);
            t.terminate(null);
            return;
          }
          t.armOrphanTimeout(nowMs);
        }
      }
      break;
    case TcpState.CLOSING:
      if (t.finAcked()) t.enterTimeWait(nowMs);
      break;
    case TcpState.LAST_ACK:
      if (t.finAcked()) {
        t.terminate(null);
        return;
      }
      break;
  }

  // Sixth, check the URG bit: urgent data is delivered inline (RFC 6093 §5); nothing to do.

  // Seventh, process the segment text.
  if (dataLength > 0) {
    const s = t.state;
    if (s === TcpState.ESTABLISHED || s === TcpState.FIN_WAIT_1 || s === TcpState.FIN_WAIT_2) {
      if (t.appClosed) {
        // RFC 9293 §3.10.4 / RFC 2525 §2.17: nobody will read this: reset.
        sendReset(t, nowMs);
        t.terminate(null);
        return;
      }
      const tsEcr = t.tsOk && seg.hasTimestamp ? seg.tsEcr : -1;
      receiveData(t, nowMs, seg.payload, dataOffset, dataLength, seq, fin, tsEcr);
    } else if (s === TcpState.TIME_WAIT) {
      // CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: the FIN was received; ignore the text. In
      // TIME-WAIT the fifth step says "acknowledge it, and restart the 2 MSL timeout" (RFC
      // 9293 §3.10.7.4; Linux tcp_timewait_state_process ACKs such a segment too), whether
      // the socket was closed or only shut down.
      t.ackNow = true;
      t.scheduleTimeWait(nowMs);
    }
    // CLOSE-WAIT, CLOSING, LAST-ACK: ignore the text.
  }

  // Eighth, check the FIN bit.
  if (fin) {
    const finSeq = seqAdd(seq, dataLength);
    if (finSeq === t.rcvNxt) receiveFin(t, nowMs);
    else if (seqGt(finSeq, t.rcvNxt)) {
      t.rcvFinPending = true;
      t.rcvFinSeq = finSeq;
    }
  }
}

/**
 * RFC 2883 §4: a duplicate [left, right) arrived; the next ACK's first SACK block reports it
 * (only the latest is kept: one D-SACK block per duplicate, §4 (3)).
 */
function noteDsack(t: Tcb, left: number, right: number): void {
  if (!t.sackOk || !seqLt(left, right)) return;
  t.dsackPending = true;
  t.dsackLeft = left;
  t.dsackRight = right;
  t.ackNow = true;
}

/** RST accepted (RFC 9293 §3.10.7.4 second). */
function onReset(t: Tcb): void {
  switch (t.state) {
    case TcpState.SYN_RECEIVED:
      // Passive: back to LISTEN (the embryonic connection disappears). Active: refused.
      t.terminate(t.passive ? null : new ConnectionRefused());
      break;
    case TcpState.ESTABLISHED:
    case TcpState.FIN_WAIT_1:
    case TcpState.FIN_WAIT_2:
    case TcpState.CLOSE_WAIT:
      t.recvRing = null; // RFC 9293: flush segment queues
      t.terminate(new ConnectionReset());
      break;
    case TcpState.CLOSING:
    case TcpState.LAST_ACK:
      // RFC 9293 §3.10.7.4 only says "enter CLOSED". A socket the application still holds
      // (it only shut down its side) reports the reset, as Linux's tcp_reset sets sk_err =
      // ECONNRESET in every state but SYN-SENT and CLOSE-WAIT: SO_ERROR reads ECONNRESET.
      // After close() nobody reads it (Linux: an orphan), so the connection just ends.
      t.terminate(t.appClosed ? null : new ConnectionReset());
      break;
    default:
      t.terminate(null);
      break;
  }
}

/** RFC 5961 §3.2, §4.2, §5.2: a rate-limited challenge ACK. */
function challengeAck(t: Tcb, nowMs: number): void {
  if (nowMs - t.challengeWindowStart >= CHALLENGE_WINDOW_MS) {
    t.challengeWindowStart = nowMs;
    t.challengeCount = 0;
  }
  // RFC 5961 §7: per connection, and layer-wide (Linux tcp_challenge_ack_limit).
  if (
    t.challengeCount >= t.cfg.challengeAckLimitPerSecond || !t.ctx.owner.challengeAckAllowed(nowMs)
  ) {
    t.ctx.stats.challengeAcksLimited++;
    return;
  }
  t.challengeCount++;
  t.ctx.stats.challengeAcks++;
  sendSegment(t, nowMs, t.sndMax, TCP_ACK, 0, 0);
}

/**
 * RFC 9293 §3.10.7.4 fifth (ESTABLISHED and later): returns false when the
 * segment must be dropped.
 */
function processAck(t: Tcb, nowMs: number, seg: TcpRepr, seq: number, dataLength: number): boolean {
  const ack = seg.ack;
  const limit = t.probing ? seqMax(t.sndMax, t.probeEnd) : t.sndMax;
  if (seqGt(ack, limit)) {
    // Acknowledges something not yet sent: send an ACK, drop the segment.
    t.ackNow = true;
    return false;
  }
  // RFC 5961 §5.2: too old to be plausible: challenge ACK, drop.
  if (seqLt(ack, seqAdd(t.sndUna, -Math.max(t.maxSndWnd, 1)))) {
    challengeAck(t, nowMs);
    return false;
  }
  const oldWnd = t.sndWnd;
  const una0 = t.sndUna;
  const wasInRecovery = t.inRecovery;
  const sb0 = t.scoreboard;
  const sacked0 = sb0 === null || sb0.count === 0 ? 0 : sb0.sackedBytes();
  // RFC 2883 §4: a first block below the cumulative ACK, or inside the second, is a D-SACK.
  const dsack = t.sackOk && seg.sackCount > 0 && isDsack(seg, ack);
  if (dsack) onDsack(t, nowMs, seg.sackBlocks[0], seg.sackBlocks[1]);
  const sackNew = t.sackOk && seg.sackCount > 0 ? updateScoreboard(t, seg) : false;
  const rack = t.rack;
  const lost0 = rack === null ? 0 : rack.lostMarked;
  if (rack !== null) rackDelivered(t, nowMs, seg, ack, dsack);
  const advanced = seqGt(ack, t.sndUna);
  if (advanced) {
    ackAdvance(t, nowMs, seg, sacked0);
  } else if (t.ackRttMs >= 0) {
    // An ACK that only SACKs new segments: RFC 8985 §6.2 takes RACK.rtt from the most
    // recently sent of them, and Linux's tcp_sacktag_one/tcp_ack_update_rtt an RTT sample
    // (sack_rtt_us) from the oldest never-retransmitted one (rackDelivered picked it, Karn's
    // rule kept): SRTT and the RTO follow a recovery's RTT, and HyStart++ sees it.
    const rttMs = t.ackRttMs;
    t.ackRttMs = -1;
    t.rtt.sample(rttMs);
    if (!t.inRecovery && t.state >= TcpState.ESTABLISHED) hystartSample(t, rttMs);
  }
  // Window update (§3.10.7.4: if SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK)).
  let windowChanged = false;
  if (
    seqLe(t.sndUna, ack) &&
    (seqLt(t.sndWl1, seq) || (t.sndWl1 === seq && seqLe(t.sndWl2, ack)))
  ) {
    const wnd = seg.window << t.sndWScale;
    windowChanged = wnd !== oldWnd;
    t.sndWnd = wnd;
    if (wnd > t.maxSndWnd) t.maxSndWnd = wnd;
    t.sndWl1 = seq;
    t.sndWl2 = ack;
    if (wnd > 0) t.persistBackoff = 0;
  }
  // RFC 5681 §2: duplicate ACK — (e) "the acknowledgment number is equal to the greatest
  // acknowledgment received": SND.UNA before this ACK, so an ACK that advanced it is not one.
  if (
    !advanced && ack === t.sndUna && t.sndUna !== t.sndMax && dataLength === 0 &&
    (seg.flags & (TCP_SYN | TCP_FIN)) === 0 && (!windowChanged || sackNew)
  ) {
    onDuplicateAck(t, nowMs, sackNew);
  }
  // RFC 8985 §6.2 step 5: RACK's loss detection; a loss starts recovery.
  if (rack !== null) {
    rackDetectLoss(t, nowMs);
    // Linux tcp_fastretrans_alert (tcp_time_to_recover: lost_out): the ACK that ended a
    // recovery left segments RACK marked lost in it but PRR had not let go yet (sent after
    // `recover`, lost in the episode's last round): a new episode starts at once. Outside
    // recovery nothing retransmits them, and RACK never marks a segment twice: they would
    // wait for the RTO.
    if (
      wasInRecovery && !t.inRecovery && !seqLt(t.sndUna, t.recoverPoint) &&
      t.segLog!.firstLost() >= 0
    ) enterRecovery(t, nowMs);
  }
  if (t.inRecovery) {
    // RFC 6937 §3: DeliveredData = delta(SND.UNA) + delta(SACKed).
    const sb = t.scoreboard;
    const sacked = sb === null || sb.count === 0 ? 0 : sb.sackedBytes();
    // RFC 6937bis / Linux tcp_cwnd_reduction: a "safe" ACK advances SND.UNA and shows no
    // new loss (RACK marked none; with RFC 6675, SACKed nothing new).
    const newLoss = rack !== null ? rack.lostMarked !== lost0 : sackNew;
    const safe = advanced && !newLoss;
    t.recovery!.onAck(t, seqSub(t.sndUna, una0) + sacked - sacked0, safe);
  }
  if (t.frtoState !== 0) frtoOnAck(t, nowMs, seg, advanced, dsack);
  if (rack !== null) {
    if (rack.tlpActive) tlpOnAck(t, nowMs, advanced || sackNew || dataLength > 0 || windowChanged);
    if (advanced || dsack) armTlp(t, nowMs);
  }
  return true;
}

/** RFC 2883 §4: whether the ACK's first SACK block reports a duplicate (D-SACK). */
function isDsack(seg: TcpRepr, ack: number): boolean {
  const b = seg.sackBlocks;
  if (seqLe(b[1], ack)) return true;
  return seg.sackCount > 1 && seqGe(b[0], b[2]) && seqLe(b[1], b[3]);
}

/**
 * A D-SACK for [left, right) arrived: RACK widens its reordering window (RFC 8985 §6.2 step
 * 4), a probe reported duplicate ends its episode without loss (§7.4), and a retransmission
 * of the current episode reported duplicate counts towards undoing it (RFC 3708 §3, Linux
 * tcp_check_dsack/undo_retrans).
 */
function onDsack(t: Tcb, nowMs: number, left: number, right: number): void {
  t.dsacksIn++;
  t.ctx.stats.dsacksReceived++;
  const rack = t.rack;
  if (rack !== null) {
    rack.onDsack(t.sndUna, t.sndNxt);
    if (
      rack.tlpActive && rack.tlpIsRetrans && seqLe(right, rack.tlpEndSeq) &&
      seqGt(right, seqAdd(rack.tlpEndSeq, -t.sndMss))
    ) rack.tlpDsacked = true;
  }
  if (
    t.undoActive && t.undoRetrans > 0 && seqGe(left, t.undoStartSeq) &&
    seqLe(right, t.undoEndSeq)
  ) {
    t.undoRetrans -= Math.max(1, Math.ceil(seqSub(right, left) / t.sndMss));
    // RFC 3708 §3: every retransmission of the episode reached the peer twice: spurious.
    if (t.undoRetrans <= 0) t.undo(nowMs);
  }
}

/**
 * RFC 8985 §6.2 steps 1–3: the segments this ACK delivered — cumulatively acknowledged or
 * SACKed whole — update RACK; the cumulatively acknowledged leave the record.
 */
function rackDelivered(t: Tcb, nowMs: number, seg: TcpRepr, ack: number, dsack: boolean): void {
  const rack = t.rack!;
  const log = t.segLog!;
  // The ACK's RTT sample, as Linux's tcp_clean_rtx_queue takes it: from the oldest segment
  // it newly acknowledges, unless it acknowledges a retransmission (Karn, RFC 6298 §3);
  // failing that, from the oldest never-retransmitted segment it newly SACKs (sack_rtt_us).
  // The send times are the engine clock's (sub-millisecond), so a 0.1 ms path measures
  // 0.1 ms, not the 0 or 1 ms of a millisecond timestamp echo (RFC 7323 §4.1).
  let firstAckedMs = -1;
  let retransAcked = false;
  let firstSackedMs = -1;
  let delivered = 0;
  // Linux tcp_clean_rtx_queue's and tcp_sacktag_write_queue's `reord`: the lowest start of
  // a never-retransmitted segment newly delivered below the fack (has: whether one was).
  let ackReordSeq = 0;
  let ackReord = false;
  let sackReordSeq = 0;
  let sackReord = false;
  const sackedBefore = rack.sackedSegments;
  if (seqGt(ack, t.sndUna)) {
    for (let i = 0; i < log.count && seqLe(log.end(i), ack); i++) {
      const flags = log.flags(i);
      if ((flags & SEG_SACKED) === 0) delivered += seqSub(log.end(i), log.start(i));
      if ((flags & SEG_RETRANSMITTED) !== 0) retransAcked = true;
      else if ((flags & SEG_SACKED) === 0) {
        if (firstAckedMs < 0) firstAckedMs = log.xmitMs(i);
        if (!ackReord) {
          ackReord = true;
          ackReordSeq = log.start(i);
        }
      }
      rack.delivered(log, i, nowMs, true);
    }
  }
  const blocks = seg.sackBlocks;
  // RFC 8985 §6.2: in ascending order, not the receiver's most-recent-first order.
  const first = dsack ? 1 : 0;
  const order = sackBlocksAscending(blocks, first, seg.sackCount, t.sndUna);
  for (let k = 0; k < seg.sackCount - first; k++) {
    const b = order[k];
    const left = blocks[2 * b];
    const right = blocks[2 * b + 1];
    if (seqLe(right, ack) || seqGt(right, t.sndMax)) continue;
    for (let i = log.firstEndingAfter(left); i < log.count && seqLe(log.end(i), right); i++) {
      if (!seqGe(log.start(i), left)) continue;
      const flags = log.flags(i);
      if ((flags & SEG_SACKED) === 0) delivered += seqSub(log.end(i), log.start(i));
      if ((flags & (SEG_SACKED | SEG_RETRANSMITTED)) === 0) {
        // Linux tcp_sacktag_one: "new sack for not retransmitted frame, which was in hole.
        // It is reordering."
        const start = log.start(i);
        if (
          rack.sackedSegments > 0 && seqLt(start, rack.highestSackEnd) &&
          (!sackReord || seqLt(start, sackReordSeq))
        ) {
          sackReord = true;
          sackReordSeq = start;
        }
        // Not one sent before a timeout cleared the SACK marks: it may have been SACKed
        // (delivered) before it (Linux keeps its SACKED_ACKED marks across tcp_enter_loss).
        const xmit = log.xmitMs(i);
        if (xmit > t.lastRtoMs && (firstSackedMs < 0 || xmit < firstSackedMs)) {
          firstSackedMs = xmit;
        }
      }
      rack.delivered(log, i, nowMs, false);
    }
  }
  // Linux tcp_ack: the SACK blocks' reordering, then the cumulative ACK's ("non-retransmitted
  // hole got filled? That's reordering"), each against the fack after it.
  // tcp_clean_rtx_queue's prior_fack: the highest SACKed end, this ACK's blocks included.
  const priorFack = sackedBefore > 0 || rack.sackedSegments > 0 ? rack.highestSackEnd : t.sndUna;
  const newUna = seqGt(ack, t.sndUna) ? ack : t.sndUna;
  if (sackReord) rack.checkReordering(sackReordSeq, newUna, t.sndMss);
  if (ackReord && seqLt(ackReordSeq, priorFack)) {
    rack.checkReordering(ackReordSeq, newUna, t.sndMss);
  }
  const sampleFrom = firstAckedMs >= 0 && !retransAcked ? firstAckedMs : firstSackedMs;
  t.ackRttMs = sampleFrom >= 0 && nowMs >= sampleFrom ? nowMs - sampleFrom : -1;
  t.ackDeliveredBytes = delivered;
  if (seqGt(ack, t.sndUna)) log.ackTo(ack);
}

/**
 * RFC 8985 §6.2 step 5 (RACK_detect_loss) after an ACK or on the reordering timer: marks
 * the lost segments, starts recovery on a loss (RFC 8985 §8), arms the reordering timer for
 * the segments not yet old enough.
 *
 * @param t the TCB
 * @param nowMs time
 * @returns nothing
 */
export function rackDetectLoss(t: Tcb, nowMs: number): void {
  const rack = t.rack;
  const log = t.segLog;
  if (rack === null || log === null || log.count === 0) return;
  // Nothing was delivered out of order and no recovery is on: nothing can be lost yet.
  if (rack.sackedSegments === 0 && !t.inRecovery && rack.reoDueMs === Infinity) return;
  const before = rack.lostMarked;
  const timeout = rack.detectLoss(log, nowMs, rack.reoWndMs(t.inRecovery, t.rtt.srttMs));
  const lost = rack.lostMarked - before;
  if (lost > 0) {
    t.rackLostCount += lost;
    t.ctx.stats.rackLosses += lost;
    // RFC 6582 §4: not while data sent before the last timeout is unacknowledged.
    if (!t.inRecovery && !seqLt(t.sndUna, t.recoverPoint)) enterRecovery(t, nowMs);
  }
  rack.reoDueMs = timeout > 0 ? nowMs + timeout : Infinity;
  if (timeout > 0) t.scheduleRackTimer();
}

/**
 * Fast recovery begins (RFC 5681 §3.2 step 2, RFC 6675 §5 step 4, RFC 8985 §8): the
 * congestion controller reduces ssthresh, `recover` is SND.MAX, the reduction may be undone.
 */
function enterRecovery(t: Tcb, nowMs: number): void {
  const flight = seqSub(t.sndMax, t.sndUna);
  t.limitedTransmit = 0;
  t.beginUndo();
  t.cc.onCongestionEvent(nowMs, flight);
  t.inRecovery = true;
  t.recoverPoint = t.sndMax;
  t.rttTiming = false;
  t.highRxt = t.sndUna;
  t.recoveryCount++;
  t.ctx.stats.recoveries++;
  t.lossRecovery().enter(t);
  const rack = t.rack;
  if (rack !== null) {
    // RFC 8985 §7.4: recovery takes over from a probe episode.
    rack.tlpActive = false;
    rack.tlpDueMs = Infinity;
  }
}

/**
 * RFC 8985 §7.4.2 (TLP_process_ack), as Linux's tcp_process_tlp_ack: the ACKs after a tail
 * loss probe. The episode ends without a reduction when the probe was new data, or the peer
 * reported the probe's retransmission duplicate (a D-SACK), or a pure duplicate ACK of
 * TLP.end_seq shows both copies arrived; it ends with one reduction (§7.4.2: the probe
 * repaired a loss) only when an ACK goes beyond TLP.end_seq with neither seen. An ACK of
 * exactly TLP.end_seq decides nothing: it may be the original's, and the probe's D-SACK then
 * comes next.
 *
 * @param t the TCB (SND.UNA already advanced)
 * @param nowMs time
 * @param notDuplicate the ACK advanced SND.UNA, SACKed new data, carried data or changed the
 *   window (Linux FLAG_NOT_DUP)
 */
function tlpOnAck(t: Tcb, nowMs: number, notDuplicate: boolean): void {
  const rack = t.rack!;
  if (t.inRecovery) {
    rack.tlpActive = false;
    return;
  }
  if (seqLt(t.sndUna, rack.tlpEndSeq)) return;
  if (!rack.tlpIsRetrans || rack.tlpDsacked) {
    rack.tlpActive = false;
    return;
  }
  if (seqGt(t.sndUna, rack.tlpEndSeq)) {
    rack.tlpActive = false;
    t.beginUndo();
    t.cc.onCongestionEvent(nowMs, seqSub(t.sndMax, t.sndUna));
    t.cc.onRecoveryExit(nowMs, seqSub(t.sndMax, t.sndUna));
    t.ctx.stats.tlpRecoveries++;
    return;
  }
  // Linux: "Pure dupack: original and TLP probe arrived; no loss".
  if (!notDuplicate) rack.tlpActive = false;
}

/** New data acknowledged (SND.UNA < SEG.ACK =< SND.MAX). */
/** RFC 2018 §3 / RFC 6675 §4: record SACK blocks; returns whether new bytes were SACKed. */
function updateScoreboard(t: Tcb, seg: TcpRepr): boolean {
  if (t.sendRing === null) return false;
  const sb = t.scoreboard ??= new SackScoreboard(t.cfg.maxScoreboardRanges);
  return sb.update(seg.sackBlocks, seg.sackCount, t.dataSeq, t.sndMax);
}

/**
 * @param sackedBefore bytes SACKed above SND.UNA before this ACK (its scoreboard update), -1
 *   when SACK is not in play: what the ACK newly delivered excludes what was SACKed earlier
 */
function ackAdvance(t: Tcb, nowMs: number, seg: TcpRepr, sackedBefore = -1): void {
  const ack = seg.ack;
  // RTT measurement: the segment log's send times (Linux seq_rtt_us, see rackDelivered),
  // else RFC 7323 §4.1 (TSecr) or one timed segment (RFC 6298 §3, Karn).
  const ackRtt = t.ackRttMs;
  t.ackRttMs = -1;
  const ackDelivered = t.ackDeliveredBytes;
  t.ackDeliveredBytes = -1;
  const dupAcks = t.dupAcks;
  let rttSample = -1;
  if (ackRtt >= 0) {
    t.rtt.sample(ackRtt);
    rttSample = ackRtt;
    t.rttTiming = false;
  } else if (t.tsOk && seg.hasTimestamp && seg.tsEcr !== 0) {
    // Karn's rule for timestamps: an echo older than our last timeout retransmission may
    // be the echo of the original transmission (the ACK for it was lost), not of the
    // retransmission: the sample would include the whole RTO. Skip it.
    if (!t.rtoSinceTs || seqGe(seg.tsEcr, t.rtoTsVal)) {
      const ticks = seqSub(t.tsNow(nowMs), seg.tsEcr);
      if (ticks >= 0) {
        // Linux tcp_rtt_tsopt_us: a round trip within one tick of the timestamp clock is
        // one tick, not 0 (a real RTT never is; a 0 would drag SRTT and the RTO down).
        const rtt = ticks === 0 ? TS_TICK_MS : ticks * TS_TICK_MS;
        t.rtt.sample(rtt);
        rttSample = rtt;
      }
      t.rtoSinceTs = false;
    }
    t.rttTiming = false;
  } else if (t.rttTiming && seqGe(ack, t.rttSeq)) {
    rttSample = nowMs - t.rttStartMs;
    t.rtt.sample(rttSample);
    t.rttTiming = false;
  }
  t.rtt.resetBackoff();
  t.retries = 0;
  if (t.inLoss && seqGe(ack, t.recoverPoint)) t.inLoss = false;
  // Drop acknowledged bytes from the send buffer.
  const ring = t.sendRing;
  let ackedData = 0;
  if (ring !== null) {
    ackedData = seqSub(ack, t.dataSeq);
    if (ackedData > ring.length) ackedData = ring.length;
    if (ackedData > 0) {
      ring.discard(ackedData);
      if (ring.length === 0) ring.release();
      t.dataSeq = seqAdd(t.dataSeq, ackedData);
      t.scoreboard?.shift(ackedData);
      t.bytesOut += ackedData;
      if (t.wantWritable) {
        t.wantWritable = false;
        t.pendingEvents |= EV_WRITABLE;
      }
    } else ackedData = 0;
  }
  const flightBefore = seqSub(t.sndMax, t.sndUna);
  t.sndUna = ack;
  if (seqGt(ack, t.sndMax)) t.sndMax = ack; // a zero-window probe was accepted
  if (seqLt(t.sndNxt, ack)) t.sndNxt = ack;
  if (t.probing && seqGe(ack, t.probeEnd)) t.probing = false;
  t.dupAcks = 0;
  t.limitedTransmit = 0;
  // RFC 9406 §4.2: HyStart++'s rounds and RTT samples, before the growth of this ACK.
  if (!t.inRecovery && t.state >= TcpState.ESTABLISHED) hystartSample(t, rttSample);
  // Congestion control.
  if (t.inRecovery) {
    if (seqGe(ack, t.recoverPoint)) {
      // RFC 6582 §3.2 step 3 / RFC 6675 §5: full acknowledgment ends recovery.
      t.inRecovery = false;
      t.rack?.onRecoveryExit();
      t.cc.onRecoveryExit(nowMs, seqSub(t.sndMax, t.sndUna));
      // RFC 3522 §3.2 (Eifel), Linux tcp_try_undo_recovery: the full ACK echoes a
      // timestamp older than the first retransmission: the originals arrived, the
      // reduction was spurious.
      if (
        t.undoActive && t.undoTsSet && seg.hasTimestamp && seg.tsEcr !== 0 &&
        seqLt(seg.tsEcr, t.undoTsVal)
      ) t.undo(nowMs);
    } else {
      onPartialAck(t, nowMs, ackedData);
    }
  } else if (
    ackedData > 0 && t.state >= TcpState.ESTABLISHED && 2 * flightBefore >= t.cc.cwnd
  ) {
    // RFC 7661 §4.1 / RFC 5681 §3.1: grow cwnd only while it is actually used (as Linux's
    // tcp_is_cwnd_limited), so an application- or receiver-limited flow does not inflate it.
    // By what the ACK newly delivered (RFC 6937's DeliveredData, Linux's acked_sacked for
    // tcp_cong_avoid): bytes newly acknowledged or SACKed, not the SACKed bytes the
    // cumulative ACK now covers, which counted when they were delivered.
    // With RACK the segment log counts whole segments; else the scoreboard's bytes.
    let delivered = ackedData;
    const sb = t.scoreboard;
    if (!t.sackOk) {
      // Without SACK each duplicate ACK stood for a segment delivered (Linux
      // tcp_add_reno_sack); the cumulative ACK that follows delivers the hole and what the
      // duplicates did not count, at least one segment (tcp_remove_reno_sacks).
      delivered = Math.max(ackedData - dupAcks * t.sndMss, Math.min(ackedData, t.sndMss));
    } else if (ackDelivered >= 0) delivered = ackDelivered;
    else if (sackedBefore >= 0) {
      delivered += (sb === null || sb.count === 0 ? 0 : sb.sackedBytes()) - sackedBefore;
    }
    if (delivered > 0) t.cc.onAck(nowMs, delivered, flightBefore, t.rtt.srttMs);
  }
  // RFC 6298 §5.2/§5.3: stop the timer when all is acknowledged, else restart it.
  if (t.sndUna === t.sndMax) {
    if (t.rtxTimer !== null) t.ctx.wheel.cancel(t.rtxTimer);
  } else t.armRetransmit(nowMs);
}

/**
 * RFC 9406 §4.2: an ACK that acknowledged or SACKed new data goes to HyStart++ with its RTT
 * sample; what it changed is counted.
 */
function hystartSample(t: Tcb, rttMs: number): void {
  const event = t.cc.onAckSample(t.sndUna, t.sndNxt, rttMs);
  if (event === HYSTART_NONE) return;
  const stats = t.ctx.stats;
  if (event === HYSTART_CSS_ENTERED) stats.hystartCssEntries++;
  else if (event === HYSTART_SS_RESUMED) stats.hystartSlowStartResumptions++;
  else if (event === HYSTART_CA_ENTERED) stats.hystartCaEntries++;
}

/** RFC 5681 §3.2, RFC 6582 §3.2, RFC 6675 §5: a duplicate ACK; loss recovery may begin. */
function onDuplicateAck(t: Tcb, nowMs: number, sackNew: boolean): void {
  t.dupAcks++;
  const recovery = t.lossRecovery();
  if (t.inRecovery) {
    recovery.onDuplicateAck(t);
    return;
  }
  // RFC 3042 §2 (Limited Transmit): on the first and second duplicate ACK, one previously
  // unsent segment may go if the peer's window allows (output checks it); cwnd is unchanged.
  if (t.dupAcks < DUP_THRESH) t.limitedTransmit = t.dupAcks * t.sndMss;
  // RACK (RFC 8985 §6.2) decides by time, not by counting duplicate ACKs.
  if (recovery.timeBased) return;
  if (t.dupAcks < DUP_THRESH && !recovery.lossDetected(t, sackNew)) return;
  // RFC 6582 §3.2 step 1 / §4: no new recovery while data sent before the last
  // retransmission timeout (`recover`) is still unacknowledged.
  if (seqLt(t.sndUna, t.recoverPoint)) return;
  enterRecovery(t, nowMs);
  // RFC 5681 §3.2 step 2-3 / RFC 6675 §5 step 4.1: retransmit the first unacknowledged segment.
  retransmitAt(t, nowMs, t.sndUna);
}

/** RFC 6582 §3.2 step 5 / RFC 6675 §5: a partial ACK during recovery. */
function onPartialAck(t: Tcb, nowMs: number, ackedData: number): void {
  if (t.recovery!.onPartialAck(t, ackedData)) retransmitAt(t, nowMs, t.sndUna);
}

/**
 * In-order and out-of-order data into the receive ring (RFC 9293 §3.10.7.4 seventh).
 * `tsEcr` is the segment's TSecr when timestamps are in use, else -1 (the receiver RTT
 * sample of autotuning, {@link Tcb.noteDataReceived}).
 */
function receiveData(
  t: Tcb,
  nowMs: number,
  src: Uint8Array,
  srcOffset: number,
  length: number,
  seq: number,
  fin: boolean,
  tsEcr: number,
): void {
  const ring = t.recvRing;
  if (ring === null) return;
  const ooo = t.ooo;
  if (length > t.rcvMssEstimate) t.rcvMssEstimate = Math.min(length, t.ourMss);
  const offset = seqSub(seq, t.rcvNxt);
  const n = ring.writeAt(offset, src, srcOffset, length);
  if (offset === 0) {
    // Quick-ACK mode (Linux tcp_event_data_recv): the first data of a connection, and data
    // after an idle gap longer than the RTO, is ACKed at once so that the sender's slow
    // start (RFC 5681 §3.1) is not held back by delayed ACKs (RFC 5681 §4.2 allows both).
    if (nowMs - t.lastDataRecvMs > t.rtt.rtoMs) enterQuickAck(t);
    t.lastDataRecvMs = nowMs;
    t.lastRecvActivityMs = nowMs;
    const hadGap = ooo !== null && !ooo.isEmpty();
    const queueEmpty = ring.length === 0;
    ring.commit(n);
    let front = 0;
    if (hadGap) {
      ooo.shift(n);
      front = ooo.frontLength();
      if (front > 0) {
        ring.commit(front);
        ooo.shift(front);
      }
      if (ooo.isEmpty()) t.ooo = null; // the gap closed: an idle connection keeps no set
    }
    const advanced = n + front;
    t.rcvNxt = seqAdd(t.rcvNxt, advanced);
    t.bytesIn += advanced;
    if (n > 0) t.noteDataReceived(nowMs, n, tsEcr, queueEmpty);
    if (advanced > 0) t.pendingEvents |= EV_READABLE;
    t.sackBlocks?.prune(t.rcvNxt);
    if (t.rcvFinPending && t.rcvFinSeq === t.rcvNxt) {
      t.rcvFinPending = false;
      receiveFin(t, nowMs);
    }
    t.unackedBytes += advanced;
    ackDecision(t, nowMs, hadGap || fin);
  } else {
    // Out of order: hold it (bounded) and ACK at once (RFC 5681 §4.2) with SACK blocks.
    t.ctx.stats.outOfOrder++;
    const set = ooo ?? (t.ooo = new RangeSet(t.cfg.maxReassemblyRanges));
    // RFC 2883 §4 (1): a segment held already is a duplicate: D-SACK it.
    if (n > 0 && set.covers(offset, offset + n)) noteDsack(t, seq, seqAdd(seq, n));
    else if (n > 0 && set.add(offset, offset + n)) (t.sackBlocks ??= new SackBlocks()).note(seq);
    t.ackNow = true;
  }
}

/**
 * RFC 5681 §4.2: the ACK decision after in-order data: ACK at once when filling a gap (or with a
 * FIN) or in quick-ACK mode; else every second full-sized segment (`unackedBytes`), or when the
 * delayed-ACK timer fires. A coalesced run (see {@link appendCoalesced}) makes it once for the run,
 * as Linux does for a GRO super-segment (one `__tcp_ack_snd_check` per skb).
 *
 * @param t the connection
 * @param nowMs current time
 * @param now the data filled a gap or ended with a FIN: ACK at once
 */
function ackDecision(t: Tcb, nowMs: number, now: boolean): void {
  if (now || (t.quickAcks > 0 && !t.pingpong)) t.ackNow = true;
  else if (t.unackedBytes >= 2 * t.rcvMssEstimate) {
    if (!t.cfg.ackBatching || t.unackedBytes >= batchAckLimit(t)) {
      t.ackNow = true;
    } else {
      // ACK batching (see TcpConfig.ackBatching): due now, sent when the wheel next
      // advances, after the rest of this receive batch — one ACK for the batch.
      const due = Math.floor(nowMs);
      const timer = t.delackTimer ??= new Timer(t.conn, TCP_TIMER_DELAYED_ACK);
      if (!timer.armed || timer.deadline > due) t.ctx.wheel.schedule(timer, due);
    }
  } else if (!isArmed(t.delackTimer)) {
    t.delackTimer ??= new Timer(t.conn, TCP_TIMER_DELAYED_ACK);
    t.ctx.wheel.schedule(t.delackTimer, nowMs + t.cfg.delayedAckMs);
  }
}

/**
 * Whether the segment just processed by {@link inputSynchronizing} may start a coalesced run:
 * the connection is ESTABLISHED, the whole payload `[seq, seq + length)` went in order into
 * the receive ring (RCV.NXT is its end), nothing is held out of order, no FIN is pending and
 * the application still reads.
 *
 * @param t the connection
 * @param seq the segment's sequence number
 * @param length its payload length
 * @returns true when later segments may be appended with {@link appendCoalesced}
 */
export function canStartRun(t: Tcb, seq: number, length: number): boolean {
  return t.state === TcpState.ESTABLISHED && t.rcvNxt === seqAdd(seq, length) &&
    t.ooo === null && !t.rcvFinPending && !t.finReceived && !t.appClosed && t.recvRing !== null;
}

/**
 * Receive coalescing (GRO, Linux `tcp_gro_receive`): appends the payload of a segment whose
 * header equals the run's first segment's but for the sequence number (the same ACK, window,
 * flags bar PSH, and option bytes: the same TSval and TSecr, no SACK blocks) and whose
 * sequence number is RCV.NXT. RFC 9293 §3.10.7.4's steps then reduce to this: PAWS and
 * TS.Recent (RFC 7323 §5.3, §4.3) see the TSval they already saw; the ACK acknowledges
 * nothing new, carries data so it is no duplicate ACK (RFC 5681 §2), and the window it
 * advertises is the one already taken (SND.WL1/SND.WL2 move to this segment, §3.10.7.4
 * fifth); the text goes into the ring in order (seventh). The ACK decision, output and the
 * reader's wake-up wait for the run's end ({@link ackDecision} once, then output).
 *
 * @param t the connection
 * @param nowMs current time
 * @param seq the segment's sequence number
 * @param ack its acknowledgment number (the run's)
 * @param src payload bytes
 * @param srcOffset payload start
 * @param length payload length (> 0)
 * @returns false when the segment does not continue the run in order or does not fit the
 *   window or the ring: the caller ends the run and processes it in full
 */
export function appendCoalesced(
  t: Tcb,
  nowMs: number,
  seq: number,
  ack: number,
  src: Uint8Array,
  srcOffset: number,
  length: number,
): boolean {
  if (seq !== t.rcvNxt || t.state !== TcpState.ESTABLISHED || t.ooo !== null) return false;
  const ring = t.recvRing;
  if (ring === null || ring.free < length) return false;
  // The window test of §3.10.7.4 first, as inputSynchronizing computes RCV.WND.
  let rcvWnd = seqSub(t.rcvAdvRight, seq);
  if (t.cfg.rcvWindowFromBuffer) {
    const open = seqSub(t.openRight(), seq);
    if (open > rcvWnd) rcvWnd = open;
  }
  if (length > rcvWnd) return false;
  ring.writeAt(0, src, srcOffset, length);
  ring.commit(length);
  t.rcvNxt = seqAdd(seq, length);
  t.bytesIn += length;
  t.unackedBytes += length;
  t.pendingEvents |= EV_READABLE;
  t.lastRecvMs = nowMs;
  t.lastDataRecvMs = nowMs;
  t.lastRecvActivityMs = nowMs;
  t.keepAliveProbesSent = 0;
  // §3.10.7.4 fifth: SND.WL1 < SEG.SEQ, so the (unchanged) window is taken from this segment.
  if (seqLe(t.sndUna, ack) && seqLt(t.sndWl1, seq)) {
    t.sndWl1 = seq;
    t.sndWl2 = ack;
  }
  return true;
}

/**
 * The end of a coalesced run that appended data: the run's one ACK decision.
 *
 * @param t the connection
 * @param nowMs current time
 */
export function endCoalescedRun(t: Tcb, nowMs: number): void {
  if (t.state === TcpState.ESTABLISHED) ackDecision(t, nowMs, false);
}

/**
 * Most unacknowledged bytes a batch may gather before an ACK goes at once: a quarter of the
 * initial 256 KiB window. A window that autotuning grew does not space ACKs further apart,
 * so the sender's clock (RTT samples, the tail loss probe's PTO) keeps its pace.
 */
export const MAX_BATCH_ACK_BYTES = 64 * 1024;

/**
 * Unacknowledged bytes that force an ACK even while batching: a quarter of the window
 * advertised in our last ACK (at least two segments, at most {@link MAX_BATCH_ACK_BYTES}),
 * so the sender never stalls on a window it cannot see reopen.
 */
function batchAckLimit(t: Tcb): number {
  const advertised = seqSub(t.rcvAdvRight, t.lastAckSent);
  return Math.max(2 * t.rcvMssEstimate, Math.min(advertised >>> 2, MAX_BATCH_ACK_BYTES));
}

/**
 * Linux tcp_incr_quickack: allow min(16, RCV.WND / (2 * receive MSS)) immediate ACKs (2
 * when the window holds less than two segments) — about one ACK per segment until the
 * sender's window could have filled ours; never lowers a budget already granted.
 */
function enterQuickAck(t: Tcb): void {
  // TcpConfig.quickAck off (FreeBSD, RFC 9293 §3.8.6.3): the first data waits like any other.
  if (!t.cfg.quickAck) return;
  const rcvWnd = Math.max(0, seqSub(t.rcvAdvRight, t.rcvNxt));
  let budget = Math.floor(rcvWnd / (2 * t.rcvMssEstimate));
  if (budget === 0) budget = MIN_QUICK_ACKS;
  if (budget > MAX_QUICK_ACKS) budget = MAX_QUICK_ACKS;
  if (budget > t.quickAcks) t.quickAcks = budget;
}

/** RFC 9293 §3.10.7.4 eighth: the FIN is in order. */
function receiveFin(t: Tcb, nowMs: number): void {
  if (t.finReceived) {
    // A retransmitted FIN: in TIME-WAIT restart the 2 MSL timeout (§3.10.7.4).
    if (t.state === TcpState.TIME_WAIT) t.scheduleTimeWait(nowMs);
    t.ackNow = true;
    return;
  }
  t.finReceived = true;
  t.rcvNxt = seqAdd(t.rcvNxt, 1);
  t.ackNow = true;
  t.pendingEvents |= EV_READABLE;
  switch (t.state) {
    case TcpState.SYN_RECEIVED:
    case TcpState.ESTABLISHED:
      t.state = TcpState.CLOSE_WAIT;
      break;
    case TcpState.FIN_WAIT_1:
      // Our FIN not yet acknowledged: simultaneous close.
      if (t.finAcked()) t.enterTimeWait(nowMs);
      else t.state = TcpState.CLOSING;
      break;
    case TcpState.FIN_WAIT_2:
      t.enterTimeWait(nowMs);
      break;
    default:
      break;
  }
}
