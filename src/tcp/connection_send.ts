/**
 * The send path of a connection (gVisor `snd.go`): building and sending segments
 * ({@link sendSegment}: header, options, data from the send ring, checksum or its offload,
 * TSO super-segments), the output decision ({@link output}: windows, Nagle, sender SWS, FIN,
 * retransmissions of loss recovery before new data, the persist timer), retransmission
 * ({@link retransmitAt}, {@link onRetransmitTimeout}, RFC 6298) and zero-window probes
 * ({@link onPersist}). Functions over the connection's {@link Tcb}; they own no state.
 *
 * @module
 */

import type { IpSendOptions, PacketBufferLike } from "../iface/types.ts";
import { Timer } from "../time/timer_wheel.ts";
import { pseudoHeaderSum } from "../wire/checksum.ts";
import { storeChecksum } from "../wire/view.ts";
import {
  fillTcpChecksum,
  TCP_ACK,
  TCP_FIN,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
  TcpRepr,
} from "../wire/tcp.ts";
import { RETRANSMIT_HOLD } from "./recovery.ts";
import { Rack, SEG_LOST, SEG_LOST_OUT, SEG_SACKED } from "./rack.ts";
import { fillSackBlocks, SACK_BLOCKS_WITH_TS, SACK_BLOCKS_WITHOUT_TS } from "./sack_blocks.ts";
import { seqAdd, seqGe, seqGt, seqLe, seqLt, seqMax, seqSub } from "./seq.ts";
import { isArmed, type Tcb, TCP_TIMER_PERSIST, TcpState } from "./tcb.ts";
import { ecnCodepoint, ecnOutputFlags } from "./ecn.ts";
import { TimedOut } from "./errors.ts";
import { IP_PROTO_TCP } from "../wire/ipv4.ts";
import { TCP_CHECKSUM_OFFSET, TCP_MAX_HEADER_LEN } from "../wire/tcp.ts";

/**
 * IpSender options of a segment with a partial checksum (transmit checksum
 * offload) and, with gsoSize set, of a super-segment (TCP segmentation
 * offload). Module scratch: a send reads it synchronously.
 */
const OFFLOAD_SEND: IpSendOptions = { partialChecksumOffset: TCP_CHECKSUM_OFFSET, gsoSize: 0 };
/** IpSender options of a segment with IP_TTL / IP_TOS / an ECN codepoint. Module scratch. */
const PLAIN_SEND: IpSendOptions = {};
/**
 * IP send options of a segment with nothing but its source: the connection's
 * own address, which with several interfaces may be another one than the
 * egress interface's (RFC 1122 §3.3.4.2).
 */
const SOURCE_SEND: IpSendOptions = { source: 0 };
/**
 * Most segments one {@link output} call sends. Every pass of its loop sends a segment or
 * stops, and the windows bound it long before this; the bound only makes sure a logic error
 * cannot spin the event loop forever (design rule 4). Data left over goes on the next ACK or
 * timer.
 */
const MAX_SEGMENTS_PER_OUTPUT = 4096;

/**
 * Builds and sends one segment: header via TcpRepr.emitHeader, data copied
 * from the send ring, checksum (or a partial one with transmit checksum
 * offload), IpSender.send. A super-segment (`dataLength` > MSS) comes in
 * `superBuf` from `allocateSegment` and goes out with gsoSize = MSS.
 * Returns false when no buffer.
 */
export function sendSegment(
  t: Tcb,
  nowMs: number,
  seq: number,
  flags: number,
  dataOffset: number,
  dataLength: number,
  superBuf: PacketBufferLike | null = null,
): boolean {
  const ctx = t.ctx;
  const buf = superBuf ?? ctx.ip.allocate();
  if (buf === null) {
    ctx.stats.allocFailures++;
    return false;
  }
  const r = ctx.scratch;
  const cfg = t.cfg;
  const isSyn = (flags & TCP_SYN) !== 0;
  // RFC 3168 §6.1: ECE/CWR on this segment, and its ECN codepoint (ecn.ts).
  flags = ecnOutputFlags(t, flags, seq, dataLength);
  const ecn = ecnCodepoint(t, flags, seq, dataLength);
  r.srcPort = t.localPort;
  r.dstPort = t.remotePort;
  r.seq = seq;
  r.ack = (flags & TCP_ACK) !== 0 ? t.rcvNxt : 0;
  r.flags = flags;
  r.urgent = 0;
  r.payloadLength = 0;
  if (isSyn) {
    r.window = t.synWindow();
    r.mss = t.ourMss;
    const active = !t.passive && (flags & TCP_ACK) === 0;
    // FreeBSD net.inet.tcp.rexmit_drop_options: later SYN retransmissions carry the MSS only.
    const bare = active && cfg.synDropOptionsAfter > 0 && t.retries >= cfg.synDropOptionsAfter;
    r.windowScale = (active ? cfg.windowScaling && !bare : t.wsOk) ? t.rcvWScale : -1;
    r.sackPermitted = active ? cfg.sack && !bare : t.sackOk;
    r.hasTimestamp = active ? cfg.timestamps && !bare : t.tsOk;
    r.sackCount = 0;
  } else {
    r.window = (flags & TCP_RST) !== 0 && (flags & TCP_ACK) === 0 ? 0 : t.windowField();
    r.mss = 0;
    r.windowScale = -1;
    r.sackPermitted = false;
    r.hasTimestamp = t.tsOk;
    r.sackCount = 0;
    const ooo = t.ooo;
    // RFC 2018 §4: every ACK carries SACK blocks while out-of-order data is held; RFC 2883
    // §4: the first ACK after a duplicate segment reports it in a D-SACK block.
    const held = ooo !== null && !ooo.isEmpty();
    if ((flags & TCP_ACK) !== 0 && t.sackOk && (held || t.dsackPending)) {
      const dsack = t.dsackPending;
      fillSackBlocks(
        r,
        held ? ooo : null,
        t.sackBlocks,
        t.rcvNxt,
        t.tsOk ? SACK_BLOCKS_WITH_TS : SACK_BLOCKS_WITHOUT_TS,
        dsack ? t.dsackLeft : 0,
        dsack ? t.dsackRight : 0,
      );
      if (dsack) {
        t.dsackPending = false;
        t.dsacksOut++;
        ctx.stats.dsacksSent++;
      }
    }
  }
  r.tsVal = t.tsNow(nowMs);
  r.tsEcr = isSyn && (flags & TCP_ACK) === 0 ? 0 : t.tsRecent;
  const headerLength = TcpRepr.headerLength(r);
  const room = buf.bytes.length - buf.tail - headerLength;
  if (dataLength > room) dataLength = Math.max(0, room);
  const at = buf.append(headerLength + dataLength);
  if (at < 0) {
    ctx.stats.allocFailures++;
    // Hand the empty buffer back through send so it is freed by its owner.
    buf.tail = buf.head;
    ctx.ip.send(buf, t.remoteAddr, IP_PROTO_TCP);
    return false;
  }
  const bytes = buf.bytes;
  TcpRepr.emitHeader(r, bytes, at);
  const offloaded = ctx.ip.txOffloads?.checksum === true;
  // The payload's sum when the checksum is ours: taken while copying (issue 22, one pass).
  let dataSum = -1;
  if (dataLength > 0 && t.sendRing !== null) {
    if (offloaded) t.sendRing.peek(dataOffset, bytes, at + headerLength, dataLength);
    else dataSum = t.sendRing.peekSum(dataOffset, bytes, at + headerLength, dataLength);
  }
  const segmentLength = headerLength + dataLength;
  let sent: boolean;
  if (offloaded) {
    // Transmit checksum offload: the field holds the folded pseudo-header sum of the whole
    // (super-)segment; the device completes it (per segment after GSO).
    const ph = pseudoHeaderSum(t.localAddr, t.remoteAddr, IP_PROTO_TCP, segmentLength);
    bytes[at + TCP_CHECKSUM_OFFSET] = ph >>> 8;
    bytes[at + TCP_CHECKSUM_OFFSET + 1] = ph & 0xff;
    const mss = t.currentMss();
    OFFLOAD_SEND.gsoSize = dataLength > mss ? mss : 0;
    OFFLOAD_SEND.ttl = t.ipOptions?.ttl;
    OFFLOAD_SEND.tos = ((t.ipOptions?.tos ?? 0) | ecn) || undefined;
    OFFLOAD_SEND.source = t.localAddr;
    sent = ctx.ip.send(buf, t.remoteAddr, IP_PROTO_TCP, OFFLOAD_SEND);
  } else {
    if (dataSum >= 0) {
      // RFC 9293 §3.1 over pseudo-header + header + data, the data's part already summed (the
      // header's length is a multiple of 4, so the data's 16-bit words pair as in the segment).
      const initial = pseudoHeaderSum(t.localAddr, t.remoteAddr, IP_PROTO_TCP, segmentLength);
      storeChecksum(bytes, at, headerLength, at + TCP_CHECKSUM_OFFSET, initial + dataSum);
    } else fillTcpChecksum(bytes, at, segmentLength, t.localAddr, t.remoteAddr);
    if (t.ipOptions === null && ecn === 0) {
      SOURCE_SEND.source = t.localAddr;
      sent = ctx.ip.send(buf, t.remoteAddr, IP_PROTO_TCP, SOURCE_SEND);
    } else {
      PLAIN_SEND.source = t.localAddr;
      PLAIN_SEND.ttl = t.ipOptions?.ttl;
      PLAIN_SEND.tos = (t.ipOptions?.tos ?? 0) | ecn;
      sent = ctx.ip.send(buf, t.remoteAddr, IP_PROTO_TCP, PLAIN_SEND);
    }
  }
  if (!sent) ctx.stats.sendFailures++;
  ctx.stats.segmentsOut++;
  if (dataLength !== 0 || (flags & (TCP_SYN | TCP_FIN)) !== 0) ctx.stats.seqSegmentsOut++;
  if ((flags & TCP_RST) !== 0) ctx.stats.resetsSent++;
  if ((flags & TCP_ACK) !== 0) {
    t.lastAckSent = t.rcvNxt;
    t.ackNow = false;
    // Linux tcp_dec_quickack_mode: each ACK of new data spends one quick ACK.
    if (t.unackedBytes > 0 && t.quickAcks > 0) t.quickAcks--;
    t.unackedBytes = 0;
    if (isArmed(t.delackTimer)) ctx.wheel.cancel(t.delackTimer!);
  }
  return true;
}

/** RST for this connection: <SEQ=SND.NXT><CTL=RST> (RFC 9293 §3.10.4/§3.10.5), SND.MAX after a rollback. */
export function sendReset(t: Tcb, nowMs: number): void {
  sendSegment(t, nowMs, t.sndMax, TCP_RST | TCP_ACK, 0, 0);
}

/** <SEQ=SEG.ACK><CTL=RST> for an unacceptable ACK (RFC 9293 §3.10.7.3/§3.10.7.4). */
export function sendBareReset(t: Tcb, nowMs: number, seq: number): void {
  sendSegment(t, nowMs, seq, TCP_RST, 0, 0);
}

/**
 * A pure ACK. Its sequence number is SND.MAX, not SND.NXT: after a timeout
 * rolled SND.NXT back, the peer's RCV.NXT may be beyond SND.NXT and would
 * find the ACK unacceptable (the BSD rule, tcp_output.c).
 */
function sendAck(t: Tcb, nowMs: number): void {
  const s = t.state;
  if (
    t.cfg.finOnEveryAck &&
    (s === TcpState.FIN_WAIT_1 || s === TcpState.CLOSING || s === TcpState.LAST_ACK) &&
    seqGt(t.sndMax, t.finSeq()) && !t.finAcked()
  ) {
    // FreeBSD tcp_output: tcp_outflags[] keeps TH_FIN in these states, and with the FIN
    // already sent snd_nxt steps back onto it, so the ACK is the FIN again.
    sendSegment(t, nowMs, t.finSeq(), TCP_ACK | TCP_FIN, 0, 0);
    return;
  }
  sendSegment(t, nowMs, t.sndMax, TCP_ACK, 0, 0);
}

/** Bytes the congestion window (during recovery: the recovery strategy) still allows. */
function cwndAvailable(t: Tcb): number {
  if (!t.inRecovery) {
    // RFC 3042 §2: the first two duplicate ACKs each let one new segment go, up to
    // cwnd + 2*SMSS in flight.
    let avail = t.cc.cwnd + t.limitedTransmit - seqSub(t.sndNxt, t.sndUna);
    // RFC 6675 §5 step (3): with SACK, what goes before recovery is governed by cwnd - pipe,
    // SACKed segments being out of the network (Linux's tcp_packets_in_flight, in every
    // state): new data takes their place, and the further SACKs it brings show a loss
    // sooner (RACK's DupThresh segments, RFC 8985 §6.2 step 4). Not after a timeout while
    // go-back-N still resends (SND.NXT < SND.MAX: the SACK information was dropped).
    if (t.sndNxt === t.sndMax && sackedOutstanding(t)) {
      const open = t.cc.cwnd - t.lossRecovery().pipe(t);
      if (open > avail) avail = open;
    }
    // RFC 5682 §2 step 2b: F-RTO sends up to two new segments whatever the window.
    return t.frtoBudget > avail ? t.frtoBudget : avail;
  }
  return t.recovery!.sendAllowance(t);
}

/**
 * Linux tcp_tso_should_defer (`tcp_tso_win_divisor`): new data may wait for the next ACK
 * while the congestion window is the limit and less than this fraction of it is open.
 */
const SEND_DEFER_WINDOW_DIVISOR = 3;
/**
 * Full segments unacknowledged for a deferral: the peer acknowledges at least every second
 * full-sized segment at once (RFC 9293 §3.8.6.3, RFC 5681 §4.2), so with this many in flight
 * an ACK is on its way unless they were lost (and then RACK, the probe timeout or the RTO,
 * all armed, take over).
 */
const SEND_DEFER_MIN_FLIGHT_SEGMENTS = 3;

/**
 * TcpConfig `sendDeferral` (Linux tcp_tso_should_defer, bounded without a timer): whether new
 * data waits for the next ACK rather than going as a small burst now. Only when cwnd is what
 * limits the burst (`cwndAvail` below what the data, the peer's window and one super-segment
 * allow), less than 1/{@link SEND_DEFER_WINDOW_DIVISOR} of cwnd is open, and at least
 * {@link SEND_DEFER_MIN_FLIGHT_SEGMENTS} full segments are in the network (sent, neither
 * acknowledged nor SACKed); never with an F-RTO
 * budget (RFC 5682 §2 step 2b sends at once).
 *
 * @param t the TCB
 * @param cwndAvail bytes the congestion window allows now
 * @param wanted bytes the data, the peer's window and one super-segment would allow
 * @returns true to send nothing now
 */
function shouldDefer(t: Tcb, cwndAvail: number, wanted: number): boolean {
  if (cwndAvail >= wanted || t.frtoBudget > 0) return false;
  if (cwndAvail * SEND_DEFER_WINDOW_DIVISOR >= t.cc.cwnd) return false;
  // In the network, not SACKed (RFC 6675 §4 SetPipe): what the peer already SACKed brings
  // no further ACK.
  const inNetwork = sackedOutstanding(t) ? t.lossRecovery().pipe(t) : seqSub(t.sndNxt, t.sndUna);
  return inNetwork >= SEND_DEFER_MIN_FLIGHT_SEGMENTS * t.sndMss;
}

/** Whether the peer SACKed data above SND.UNA that is not yet cumulatively acknowledged. */
function sackedOutstanding(t: Tcb): boolean {
  const rack = t.rack;
  if (rack !== null) return rack.sackedSegments > 0;
  const sb = t.scoreboard;
  return sb !== null && sb.count > 0;
}

/** Retransmits one segment (at most `maxLength` bytes) at `seq` without moving SND.NXT. */
export function retransmitAt(t: Tcb, nowMs: number, seq: number, maxLength = t.sndMss): boolean {
  const ring = t.sendRing;
  if (ring === null) return false;
  const offset = seqSub(seq, t.dataSeq);
  if (offset < 0) return false;
  // Only what was sent before goes again (RFC 5681 §3.2, RFC 6675 §5): bytes past SND.MAX
  // are new data, for output and the peer's window to decide on. Sent beyond SND.MAX here,
  // their ACK would be dropped as acknowledging something not yet sent.
  let len = Math.min(
    t.currentMss(),
    maxLength,
    ring.length - offset,
    seqSub(t.sndMax, seq),
  );
  if (len < 0) len = 0;
  let flags = TCP_ACK;
  let fin = false;
  if (t.finQueued && offset + len === ring.length && seqLt(seqAdd(seq, len), t.sndMax)) {
    fin = true;
    flags |= TCP_FIN;
  }
  if (len === 0 && !fin) return false;
  if (offset + len === ring.length && len > 0) flags |= TCP_PSH;
  if (!sendSegment(t, nowMs, seq, flags, offset, len)) return false;
  t.noteRetransmit(nowMs);
  const sent = len + (fin ? 1 : 0);
  t.segLog?.retransmitted(seq, sent, nowMs);
  if (t.inRecovery) t.recovery!.onSent(sent);
  const end = seqAdd(seq, sent);
  if (seqGt(end, t.highRxt)) t.highRxt = end;
  if (!isArmed(t.rtxTimer)) t.armRetransmit(nowMs);
  return true;
}

/**
 * Sends whatever the state, windows, Nagle and SWS rules allow, then an
 * ACK if one is owed. `force` sends one segment even if cwnd is exhausted
 * (after a retransmission timeout).
 */
export function output(t: Tcb, nowMs: number, force = false): void {
  const s = t.state;
  if (s === TcpState.SYN_SENT || s === TcpState.SYN_RECEIVED) {
    if (t.sndNxt === t.iss) {
      const flags = s === TcpState.SYN_SENT ? TCP_SYN : TCP_SYN | TCP_ACK;
      const retransmission = seqGt(t.sndMax, t.iss);
      if (sendSegment(t, nowMs, t.iss, flags, 0, 0)) {
        if (retransmission) t.countRetransmit();
        else if (!t.rttTiming) {
          t.rttTiming = true;
          t.rttSeq = seqAdd(t.iss, 1);
          t.rttStartMs = nowMs;
        }
      }
      t.sndNxt = seqAdd(t.iss, 1);
      t.sndMax = seqMax(t.sndMax, t.sndNxt);
      if (!isArmed(t.rtxTimer)) t.armRetransmit(nowMs);
    } else if (t.ackNow && s === TcpState.SYN_RECEIVED) {
      sendAck(t, nowMs);
    }
    return;
  }
  if (s === TcpState.CLOSED || s === TcpState.LISTEN) return;
  let sent = false;
  let sentNew = false;
  // A partial segment held by the cork (TCP_CORK or this write's MSG_MORE).
  let corkHeld = false;
  const ring = t.sendRing;
  const sendsData = s === TcpState.ESTABLISHED || s === TcpState.CLOSE_WAIT ||
    s === TcpState.FIN_WAIT_1 || s === TcpState.CLOSING || s === TcpState.LAST_ACK;
  if (ring !== null && sendsData) {
    const finState = s === TcpState.FIN_WAIT_1 || s === TcpState.CLOSING ||
      s === TcpState.LAST_ACK;
    for (let segments = 0; segments < MAX_SEGMENTS_PER_OUTPUT; segments++) {
      // Loss recovery: what the strategy retransmits goes before new data (RFC 6675 §5 (C)).
      if (t.inRecovery) {
        const recovery = t.recovery!;
        const hole = recovery.nextRetransmission(t);
        if (hole === RETRANSMIT_HOLD) break;
        if (hole >= 0) {
          if (!retransmitAt(t, nowMs, seqAdd(t.dataSeq, hole), recovery.retransmitEnd - hole)) {
            break;
          }
          sent = true;
          continue;
        }
      }
      const seq = t.sndNxt;
      const offset = seqSub(seq, t.dataSeq);
      if (offset < 0 || offset > ring.length) break;
      const unsent = ring.length - offset;
      let wndAvail = seqSub(seqAdd(t.sndUna, t.sndWnd), seq);
      // A timeout retransmits the first unacknowledged segment even if the window shrank
      // (as Linux does): the peer's window may have reopened in an ACK we never saw.
      if (force && seq === t.sndUna && wndAvail < t.sndMss) wndAvail = t.sndMss;
      let cwndAvail = cwndAvailable(t);
      if (force && cwndAvail < t.sndMss) cwndAvail = t.sndMss;
      // New data may go as one super-segment the link cuts into MSS-sized ones (TSO/GSO);
      // retransmissions go as ordinary segments.
      // A cork probe is one segment (tcp_write_wakeup).
      const gsoMax = seqLt(seq, t.sndMax) || t.corkProbe ? 0 : gsoMaxData(t);
      const mss = t.currentMss();
      let len = Math.min(unsent, gsoMax > 0 ? gsoMax : mss, wndAvail, cwndAvail);
      if (len < 0) len = 0;
      // Linux corking (tcp_nagle_check with TCP_NAGLE_CORK, tcp_mss_split_point): the
      // partial segment at the end of the queue waits; full segments go. The FIN is never
      // corked (tcp_nagle_test), so neither is the data it closes.
      if (
        len === unsent && len > 0 && !finState && !seqLt(seq, t.sndMax) && corked(t)
      ) {
        const partial = len % mss;
        if (partial > 0) {
          len -= partial;
          corkHeld = true;
          if (len === 0) break;
        }
      }
      if (
        gsoMax > mss && !force && !t.inRecovery && t.cfg.sendDeferral &&
        shouldDefer(t, cwndAvail, Math.min(unsent, gsoMax, wndAvail))
      ) break;
      let superBuf: PacketBufferLike | null = null;
      if (len > mss) {
        // Whole segments only, unless this empties the send queue (the last one may be short).
        if (len < unsent) len -= len % mss;
        superBuf = t.ctx.ip.allocateSegment?.() ?? null;
        if (superBuf === null) len = mss;
      }
      // A bare FIN (len 0, all data sent) is not held back by the congestion window: it
      // carries no data and holding it only delays the close by an RTT (Linux tcp_cwnd_test:
      // "Don't be strict about the congestion window for the final FIN frame").
      const fin = finState && offset + len === ring.length &&
        seqLe(seqAdd(seq, len), t.finSeq());
      if (len === 0 && !fin) break;
      const inFlight = seqSub(t.sndNxt, t.sndUna) > 0;
      // Nagle and SWS avoidance apply to new data only, never to retransmissions.
      if (len > 0 && len < mss && !fin && !seqLt(seq, t.sndMax)) {
        if (len < unsent) {
          // RFC 9293 §3.8.6.2.1 sender SWS: wait for a full segment or half the max window.
          if (inFlight && len < (t.maxSndWnd >>> 1)) break;
        } else if (!t.noDelay && seqGt(t.sndSml, t.sndUna)) {
          // RFC 896 / RFC 9293 §3.7.4 Nagle, with Minshall's refinement (as Linux): hold a
          // small segment while an earlier small segment is unacknowledged.
          break;
        }
      }
      let flags = TCP_ACK;
      // PSH at a push point: the end of what a write without MSG_MORE queued (Linux
      // tcp_mark_push), and on a cork probe (tcp_write_wakeup).
      if ((len > 0 && offset + len === ring.length && !t.tailUnpushed) || t.corkProbe) {
        flags |= TCP_PSH;
      }
      if (fin) flags |= TCP_FIN;
      if (!sendSegment(t, nowMs, seq, flags, offset, len, superBuf)) {
        // No packet buffer: try again after an RTO (RFC 6298 timer doubles as the retry).
        if (!isArmed(t.rtxTimer)) t.armRetransmit(nowMs);
        break;
      }
      sent = true;
      force = false;
      const end = seqAdd(seq, len + (fin ? 1 : 0));
      if (t.inRecovery) t.recovery!.onSent(len + (fin ? 1 : 0));
      if (seqLt(seq, t.sndMax)) {
        t.noteRetransmit(nowMs);
        if (t.rttTiming && seqLe(seq, t.rttSeq)) t.rttTiming = false; // Karn
        const log = t.segLog;
        if (log !== null) {
          // Go-back-N after a timeout: the record learns the new transmit times.
          const old = seqLt(end, t.sndMax) ? end : t.sndMax;
          log.retransmitted(seq, seqSub(old, seq), nowMs);
          if (seqGt(end, t.sndMax)) log.sent(t.sndMax, end, mss, nowMs);
        }
      } else {
        if (!t.rttTiming && !t.tsOk) {
          t.rttTiming = true;
          t.rttSeq = end;
          t.rttStartMs = nowMs;
        }
        // RFC 8985 §6.1: each new segment's transmit time.
        if (t.ensureRack()) t.segLog!.sent(seq, end, mss, nowMs);
        sentNew = true;
      }
      if (t.frtoBudget > 0) t.frtoBudget = Math.max(0, t.frtoBudget - len);
      t.sndNxt = end;
      if (len < mss) t.sndSml = end;
      // Linux tcp_event_data_sent: data sent less than the delayed-ACK timeout (icsk_ack.ato)
      // after data arrived is a reply: an interactive flow (tcp_pingpong_thresh 1). Since
      // the revert of "tcp: change pingpong threshold to 3" (4d8f24eeedc5) no test that our
      // last send came before that arrival: at a coarse clock both share a tick. ato is 0
      // until the first data segment arrives (tcp_event_data_recv starts the delayed-ACK
      // engine), so data sent right after the handshake is no reply.
      if (len > 0) {
        if (
          t.lastDataRecvMs !== -Infinity &&
          nowMs - t.lastRecvActivityMs < t.cfg.delayedAckMs
        ) t.pingpong = true;
        t.lastDataSentMs = nowMs;
      }
      if (seqGt(end, t.sndMax)) t.sndMax = end;
      if (t.probing && seqGe(t.sndMax, t.probeEnd)) t.probing = false;
      if (!isArmed(t.rtxTimer)) t.armRetransmit(nowMs);
      if (fin || t.corkProbe) break;
    }
    // RFC 8985 §7.2: after new data is sent, the probe timeout is (re)armed.
    if (sentNew) armTlp(t, nowMs);
    // RFC 9293 §3.8.6.1: data waiting behind a zero window and nothing to time it: persist.
    // Corked data with nothing in flight is timed the same way (Linux tcp_check_probe_timer
    // after tcp_write_xmit sent nothing: ICSK_TIME_PROBE0 at max(RTO, 200 ms)), which is
    // the cork's ceiling: the probe sends it (see onPersist).
    const offset = seqSub(t.sndNxt, t.dataSeq);
    const unsent = ring.length - offset;
    const wndAvail = seqSub(seqAdd(t.sndUna, t.sndWnd), t.sndNxt);
    if (unsent > 0 && (wndAvail <= 0 || corkHeld) && !isArmed(t.rtxTimer)) {
      if (!isArmed(t.persistTimer)) {
        t.persistTimer ??= new Timer(t.conn, TCP_TIMER_PERSIST);
        t.ctx.wheel.schedule(t.persistTimer, nowMs + t.persistIntervalMs());
      }
    } else if (isArmed(t.persistTimer) && !corkHeld && (wndAvail > 0 || unsent <= 0)) {
      t.ctx.wheel.cancel(t.persistTimer!);
    }
  }
  if (!sent && t.ackNow) sendAck(t, nowMs);
  if (t.keepAlive && !isArmed(t.keepaliveTimer)) t.armKeepAlive(nowMs);
}

/**
 * Whether a partial segment of new data is corked now: this write's MSG_MORE (Linux tcp_push
 * passes TCP_NAGLE_CORK, overriding TCP_NODELAY and a pending push), or TCP_CORK without a
 * pending TCP_NAGLE_PUSH; never on a cork probe.
 */
function corked(t: Tcb): boolean {
  if (t.corkProbe) return false;
  return t.callCork || (t.cork && !t.naglePush);
}

/**
 * RFC 9293 §3.8.6.1: zero-window probe — one byte beyond the window. With the window open,
 * the timer timed corked data with nothing in flight (Linux tcp_probe_timer →
 * tcp_write_wakeup): one segment of it goes, with PSH, past the cork.
 */
export function onPersist(t: Tcb, nowMs: number): void {
  const ring = t.sendRing;
  if (ring === null || !t.isSynchronized()) return;
  const offset = seqSub(t.sndNxt, t.dataSeq);
  const unsent = ring.length - offset;
  if (
    unsent <= 0 ||
    t.sndWnd > 0 && seqSub(seqAdd(t.sndUna, t.sndWnd), t.sndNxt) > 0
  ) {
    if (unsent > 0 && t.sndNxt === t.sndUna) {
      // Linux tcp_send_probe0: data in flight after the probe clears the backoff.
      t.corkProbe = true;
      output(t, nowMs);
      t.corkProbe = false;
      t.persistBackoff = 0;
    } else {
      output(t, nowMs);
    }
    return;
  }
  sendSegment(t, nowMs, t.sndNxt, TCP_ACK, offset, 1);
  t.probing = true;
  t.probeEnd = seqAdd(t.sndNxt, 1);
  t.persistBackoff++;
  t.persistTimer ??= new Timer(t.conn, TCP_TIMER_PERSIST);
  t.ctx.wheel.schedule(t.persistTimer, nowMs + t.persistIntervalMs());
}

export function onRetransmitTimeout(t: Tcb, nowMs: number): void {
  const rack = t.rack;
  if (rack !== null && rack.tlpDueMs <= nowMs) {
    // RFC 8985 §7.2: the PTO was clamped to this RTO's expiry (armTlp): the probe is sent in
    // place of the timeout (Linux arms one timer, ICSK_TIME_LOSS_PROBE instead of the RTO), and
    // it re-arms the RTO (§7.3). Should no probe go (one is out already, or no buffer), the
    // timeout proceeds.
    rack.tlpDueMs = Infinity;
    const probes = t.tlpProbeCount;
    sendTailLossProbe(t, nowMs);
    if (t.tlpProbeCount !== probes) return;
  }
  const s = t.state;
  const cfg = t.cfg;
  t.ctx.stats.timeouts++;
  t.timeoutCount++;
  t.retries++;
  if (s === TcpState.SYN_SENT || s === TcpState.SYN_RECEIVED) {
    const limit = s === TcpState.SYN_SENT ? cfg.synRetries : cfg.synAckRetries;
    if (t.retries > limit) {
      t.terminate(
        new TimedOut(s === TcpState.SYN_SENT ? "connect timed out" : "handshake timed out"),
      );
      return;
    }
    t.rtt.backoff();
    t.rttTiming = false; // Karn
    t.sndNxt = t.iss;
    output(t, nowMs);
    return;
  }
  if (t.sndUna === t.sndMax) {
    // Nothing outstanding: the timer was a retry after a buffer shortage.
    t.retries--;
    output(t, nowMs);
    return;
  }
  if (t.retries > cfg.dataRetries) {
    t.terminate(new TimedOut("retransmission limit reached"));
    return;
  }
  const flight = seqSub(t.sndMax, t.sndUna);
  // RFC 5682 §2 step 1: F-RTO watches the ACKs after the first timeout of an episode (not
  // during fast recovery, nor after a backed-off timeout).
  t.frtoState = t.cfg.frto && t.retries === 1 && !t.inRecovery ? 1 : 0;
  t.frtoBudget = 0;
  // RFC 5681 §3.1 / RFC 9438 §4.8: on the first timeout of an episode only.
  if (t.retries === 1) {
    // Linux tcp_enter_loss: what an undo restores (a recovery's own marker is kept).
    if (!t.inRecovery || !t.undoActive) t.beginUndo();
    t.cc.onTimeout(nowMs, flight);
  }
  if (rack !== null) {
    // RFC 8985 §6.3 / §7: the timeout ends any probe episode; go-back-N below resends
    // every segment, and the record takes the new transmit times.
    rack.tlpActive = false;
    rack.tlpDueMs = Infinity;
    rack.reoDueMs = Infinity;
    rack.onTimeout(t.caState === "open" || t.caState === "disorder");
    rack.sackedSegments = 0;
    if (t.inRecovery) rack.onRecoveryExit();
    t.segLog!.clearAll(SEG_SACKED | SEG_LOST);
    // Linux tcp_timeout_mark_lost: every segment not SACKed (here: every one) is lost.
    t.segLog!.setAll(SEG_LOST_OUT);
    t.lastRtoMs = nowMs;
  }
  // RFC 6298 §5.5: back off.
  t.rtt.backoff();
  // RFC 6298 §5.4 + Karn: retransmit from SND.UNA, no RTT sample from it.
  t.rttTiming = false;
  t.rtoSinceTs = true;
  t.rtoTsVal = t.tsNow(nowMs);
  t.inRecovery = false;
  t.inLoss = true;
  t.dupAcks = 0;
  t.limitedTransmit = 0;
  // RFC 6582 §4: after a timeout, recover = highest sequence sent.
  t.recoverPoint = t.sndMax;
  // RFC 6675 §5.1: after an RTO, SACK information is not trusted.
  t.scoreboard?.clear();
  t.highRxt = t.sndUna;
  t.sndNxt = t.sndUna;
  output(t, nowMs, true);
  if (!isArmed(t.rtxTimer) && t.sndUna !== t.sndMax) t.armRetransmit(nowMs);
}

/**
 * Data bytes of the largest super-segment the link can segment (a multiple
 * of the MSS), 0 without TCP segmentation offload.
 */
function gsoMaxData(t: Tcb): number {
  const max = t.ctx.ip.txOffloads?.gsoMaxBytes ?? 0;
  if (max <= 0) return 0;
  const mss = t.sndMss;
  const n = Math.floor((max - TCP_MAX_HEADER_LEN) / mss);
  return n > 1 ? n * mss : 0;
}

/** RFC 9293 §3.8.4 / RFC 1122 §4.2.3.6: keep-alive probe <SEQ=SND.UNA-1> with no data. */
export function onKeepAlive(t: Tcb, nowMs: number): void {
  const s = t.state;
  if ((s === TcpState.SYN_SENT || s === TcpState.SYN_RECEIVED) && t.keepAliveInitMs > 0) {
    // FreeBSD tcp_timer_keep: TCP_KEEPINIT bounds the handshake.
    t.ctx.stats.keepInitTimeouts++;
    t.terminate(
      new TimedOut(s === TcpState.SYN_SENT ? "connect timed out" : "handshake timed out"),
    );
    return;
  }
  if (!t.keepAlive) return;
  if (s !== TcpState.ESTABLISHED && s !== TcpState.CLOSE_WAIT) return;
  if (t.keepAliveProbesSent === 0 && nowMs - t.lastRecvMs < t.keepAliveIdleMs) {
    t.armKeepAlive(nowMs);
    return;
  }
  if (t.keepAliveProbesSent >= t.keepAliveProbes) {
    t.terminate(new TimedOut("keep-alive timed out"));
    return;
  }
  t.keepAliveProbesSent++;
  sendSegment(t, nowMs, seqAdd(t.sndUna, -1), TCP_ACK, 0, 0);
  t.ctx.wheel.schedule(t.keepaliveTimer!, nowMs + t.keepAliveIntervalMs);
}

/**
 * RFC 8985 §7.2: (re)arms the probe timeout after new data was sent or an ACK arrived:
 * PTO = 2·SRTT (+ WCDelAckT with one segment in flight), unless the RTO would fire first.
 * Lazily, as the retransmission timer: an armed timer due earlier is pushed back when it
 * fires, so a bulk flow's ACKs cost a compare.
 *
 * @param t the TCB
 * @param nowMs time
 * @returns nothing
 */
export function armTlp(t: Tcb, nowMs: number): void {
  const rack = t.rack;
  if (rack === null) return;
  const s = t.state;
  const flight = seqSub(t.sndMax, t.sndUna);
  // §7.2: only with data outstanding, outside recovery and RTO recovery (a backed-off timer,
  // or go-back-N still resending: SND.NXT < SND.MAX), one probe at a time.
  if (
    flight <= 0 || t.inRecovery || rack.tlpActive || t.retries > 0 || t.frtoState !== 0 ||
    seqLt(t.sndNxt, t.sndMax) ||
    !(s === TcpState.ESTABLISHED || s === TcpState.CLOSE_WAIT || s === TcpState.FIN_WAIT_1 ||
      s === TcpState.CLOSING || s === TcpState.LAST_ACK)
  ) {
    rack.tlpDueMs = Infinity;
    return;
  }
  let due = nowMs + Rack.probeTimeoutMs(t.rtt.srttMs, flight <= t.sndMss, t.rtt.samples > 0);
  // §7.2 TLP_calc_PTO: "If Now() + PTO > TCP_RTO_expiration(): PTO = TCP_RTO_expiration() -
  // Now()" (Linux tcp_schedule_loss_probe: timeout = min(timeout, rto_delta_us)): the probe
  // goes when the RTO would have fired, in its place (see onRetransmitTimeout), so a short
  // path whose PTO with one segment in flight (2·SRTT + WCDelAckT) exceeds the 200 ms RTO
  // still probes instead of collapsing cwnd to one segment.
  if (isArmed(t.rtxTimer) && t.rtxDueMs > nowMs && t.rtxDueMs < due) due = t.rtxDueMs;
  rack.tlpDueMs = due;
  t.scheduleRackTimer();
}

/**
 * The RACK timer fired: the reordering timer (RFC 8985 §6.2 step 5: segments now older than
 * RACK.rtt + reo_wnd are lost) and/or the probe timeout (§7.3).
 *
 * @param t the TCB
 * @param nowMs time
 * @param detectLoss runs RACK's loss detection and starts recovery on a loss
 * @returns nothing
 */
export function onRackTimer(
  t: Tcb,
  nowMs: number,
  detectLoss: (t: Tcb, nowMs: number) => void,
): void {
  const rack = t.rack;
  if (rack === null) return;
  if (rack.reoDueMs <= nowMs) {
    rack.reoDueMs = Infinity;
    detectLoss(t, nowMs);
    // No ACK came with this loss: PRR's allowance is figured with nothing delivered (at
    // least the first retransmission, as Linux's tcp_rack_reo_timeout).
    if (t.inRecovery) t.recovery!.onAck(t, 0, false);
    output(t, nowMs);
  }
  if (rack.tlpDueMs <= nowMs) {
    rack.tlpDueMs = Infinity;
    sendTailLossProbe(t, nowMs);
  }
  t.scheduleRackTimer();
}

/**
 * RFC 8985 §7.3: the tail loss probe — one new segment if the peer's window allows,
 * else the last segment sent again; then the RTO (not the PTO) is armed.
 *
 * @param t the TCB
 * @param nowMs time
 * @returns nothing
 */
export function sendTailLossProbe(t: Tcb, nowMs: number): void {
  const rack = t.rack;
  const ring = t.sendRing;
  if (rack === null || ring === null) return;
  if (t.sndUna === t.sndMax || t.inRecovery || rack.tlpActive) return;
  const before = t.sndMax;
  const unsent = ring.length - seqSub(t.sndNxt, t.dataSeq);
  const wndAvail = seqSub(seqAdd(t.sndUna, t.sndWnd), t.sndNxt);
  let isRetrans = false;
  if (unsent > 0 && wndAvail >= Math.min(unsent, t.sndMss) && t.sndNxt === t.sndMax) {
    // §7.3: "If a previously unsent segment exists AND the receive window allows, send it."
    output(t, nowMs, true);
  }
  if (t.sndMax === before) {
    // §7.3: else retransmit the highest-sequence segment sent.
    const log = t.segLog!;
    let start: number;
    let end = t.sndMax;
    if (log.count > 0) {
      start = log.start(log.count - 1);
      end = log.end(log.count - 1);
    } else start = seqAdd(t.sndMax, -Math.min(t.sndMss, seqSub(t.sndMax, t.sndUna)));
    if (seqLt(start, t.sndUna)) start = t.sndUna;
    if (!retransmitAt(t, nowMs, start, seqSub(end, start))) return;
    isRetrans = true;
  }
  rack.tlpActive = true;
  rack.tlpEndSeq = t.sndMax;
  rack.tlpIsRetrans = isRetrans;
  rack.tlpDsacked = false;
  t.tlpProbeCount++;
  t.ctx.stats.tlpProbes++;
  // §7.3: "the sender MUST arm the RTO timer, not the PTO timer" after the probe (a new
  // segment sent as the probe went through output, which armed a PTO: disarmed).
  rack.tlpDueMs = Infinity;
  t.armRetransmit(nowMs);
}
