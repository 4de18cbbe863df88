/**
 * The transmission control block's state (RFC 9293 §3.3.1) and what every part of a
 * connection shares: sequence and window variables, negotiated options, buffers, timers and
 * the connection's life cycle (establish, TIME-WAIT, terminate, events to the application).
 * The send path (`connection_send.ts`) and the receive path (`connection_receive.ts`) are
 * functions over one {@link Tcb}; {@link TcpConnection} (`connection.ts`) owns it and is the
 * API. The fields are public so that those modules can share them (as gVisor's `endpoint`
 * is shared by `snd.go` and `rcv.go`); outside `src/tcp` only unit tests import this file,
 * and `TcpConnection` keeps its `Tcb` private.
 *
 * No clock is read here: time comes in as `nowMs`, or from {@link TcpContext.clock} for the
 * application-side calls of `connection.ts`; timers go through the shared {@link TimerWheel}.
 *
 * @module
 */

import type { ByteRing as ByteRingType, ByteRingStoragePool } from "../buffer/byte_ring.ts";
import { ByteRing } from "../buffer/byte_ring.ts";
import type { RangeSet } from "../buffer/range_set.ts";
import type { IpSender, IpSendOptions } from "../iface/types.ts";
import type { Clock } from "../time/clock.ts";
import { Timer, type TimerWheel } from "../time/timer_wheel.ts";
import { TCP_MAX_WINDOW_SCALE, type TcpRepr } from "../wire/tcp.ts";
import type { TcpConfig, TcpStats } from "./config.ts";
import { DEFAULT_MSS, IPV4_TCP_HEADERS_LEN, MIN_MSS } from "./config.ts";
import { type CongestionControl, createCongestionControl } from "./congestion.ts";
import type { TcpConnection } from "./connection.ts";
import type { TcpError } from "./errors.ts";
import { initialSequenceNumber, timestampClock, timestampOffset } from "./isn.ts";
import { type LossRecovery, RackRecovery, RenoRecovery, SackRecovery } from "./recovery.ts";
import { Rack, SegmentLog, type SegmentLogPool } from "./rack.ts";
import { RttEstimator } from "./rto.ts";
import { bufferSizeFor, INITIAL_SPACE_SEGMENTS, ReceiveSpace } from "./rcv_space.ts";
import {
  SACK_BLOCKS_WITH_TS,
  SACK_BLOCKS_WITHOUT_TS,
  type SackBlocks,
  sackOptionBytes,
} from "./sack_blocks.ts";
import type { SackScoreboard } from "./sack_scoreboard.ts";
import { seqAdd, seqLt, seqSub } from "./seq.ts";

/** Linux tcp_fin_time: an orphan's FIN-WAIT-2 timeout is at least 3.5 RTO. */
const FIN_TIMEOUT_RTO_FLOOR = 3.5;

/** RFC 9293 §3.3.2 connection states. */
export const TcpState = {
  CLOSED: 0,
  LISTEN: 1,
  SYN_SENT: 2,
  SYN_RECEIVED: 3,
  ESTABLISHED: 4,
  FIN_WAIT_1: 5,
  FIN_WAIT_2: 6,
  CLOSE_WAIT: 7,
  CLOSING: 8,
  LAST_ACK: 9,
  TIME_WAIT: 10,
} as const;
/** One of the {@link TcpState} values. */
export type TcpState = typeof TcpState[keyof typeof TcpState];

/** State names as RFC 9293 spells them, indexed by {@link TcpState}. */
export const TCP_STATE_NAMES: readonly string[] = [
  "CLOSED",
  "LISTEN",
  "SYN-SENT",
  "SYN-RECEIVED",
  "ESTABLISHED",
  "FIN-WAIT-1",
  "FIN-WAIT-2",
  "CLOSE-WAIT",
  "CLOSING",
  "LAST-ACK",
  "TIME-WAIT",
];

/** Timer kinds (the `kind` of each {@link Timer} a connection owns). */
export const TCP_TIMER_RETRANSMIT = 1;
/** Delayed-ACK timer kind. */
export const TCP_TIMER_DELAYED_ACK = 2;
/** Zero-window persist timer kind. */
export const TCP_TIMER_PERSIST = 3;
/** Keep-alive timer kind. */
export const TCP_TIMER_KEEPALIVE = 4;
/** TIME-WAIT (and orphaned FIN-WAIT-2) timer kind. */
export const TCP_TIMER_TIME_WAIT = 5;
/** RACK reordering timer and TLP probe timeout (RFC 8985 §6.2, §7.2) timer kind. */
export const TCP_TIMER_RACK = 6;

/** Largest unscaled window field. */
export const MAX_WINDOW_FIELD = 0xffff;
/** RFC 7323 §2.3: largest shift (the wire codec's {@link TCP_MAX_WINDOW_SCALE}). */
export const MAX_WINDOW_SHIFT = TCP_MAX_WINDOW_SCALE;

/**
 * RFC 7323 §2.3: the window shift we announce: the smallest that lets the
 * window field cover the whole receive buffer (at most 14).
 *
 * @param receiveBufferBytes the receive buffer
 * @returns the shift, 0..14
 */
export function windowShiftFor(receiveBufferBytes: number): number {
  let shift = 0;
  while (shift < MAX_WINDOW_SHIFT && (receiveBufferBytes >>> shift) > MAX_WINDOW_FIELD) shift++;
  return shift;
}

/**
 * The largest receive buffer a connection may grow to: {@link TcpConfig.receiveBufferMaxBytes}
 * when above the initial buffer, else the initial buffer (autotuning off).
 *
 * @param cfg the engine config
 * @returns bytes
 *
 * @example
 * ```ts
 * import { receiveBufferLimit } from "./tcb.ts";
 * import { resolveTcpConfig } from "./config.ts";
 * const off = resolveTcpConfig({ receiveBufferBytes: 65536, receiveBufferMaxBytes: 0 });
 * console.assert(receiveBufferLimit(off) === 65536);
 * ```
 */
export function receiveBufferLimit(cfg: TcpConfig): number {
  return Math.max(cfg.receiveBufferBytes, cfg.receiveBufferMaxBytes);
}

/**
 * RFC 7323 §2.3: the window shift our SYN announces, chosen for the largest buffer the
 * connection may grow to (the shift cannot change after the handshake).
 *
 * @param cfg the engine config
 * @returns the shift, 0..14
 *
 * @example
 * ```ts
 * import { announcedWindowShift } from "./tcb.ts";
 * import { resolveTcpConfig } from "./config.ts";
 * const c = resolveTcpConfig({ receiveBufferBytes: 262144, receiveBufferMaxBytes: 4194304 });
 * console.assert(announcedWindowShift(c) === 7);
 * ```
 */
export function announcedWindowShift(cfg: TcpConfig): number {
  return windowShiftFor(receiveBufferLimit(cfg));
}

/** Timestamps option bytes as laid out (NOP NOP TS), subtracted from the MSS. */
const TIMESTAMP_OPTION_BYTES = 12;
/** RFC 9293 §3.8.6.2.2: receiver SWS fraction of the buffer (1/2). */
const RECEIVER_SWS_FRACTION_SHIFT = 1;
/** Lower bound on the persist interval, ms. */
const MIN_PERSIST_MS = 200;

/** Event bits collected while an input is processed, delivered by {@link Tcb.leave}. */
export const EV_ESTABLISHED = 1;
/** Data, end of stream or an error to read. */
export const EV_READABLE = 2;
/** Send-buffer space after a short write. */
export const EV_WRITABLE = 4;
/** CLOSED or TIME-WAIT reached. */
export const EV_CLOSED = 8;
/** Internal: tell the owner (listener) that a passive open completed. */
export const EV_ACCEPT = 16;

/** What the layer that owns connections is told. */
export interface TcpConnectionOwner {
  /** A passively opened connection reached ESTABLISHED (goes to the accept queue). */
  onConnectionEstablished(conn: TcpConnection): void;
  /** The connection entered CLOSED: forget it (remove from demux tables). */
  onConnectionReleased(conn: TcpConnection): void;
  /** RFC 5961 §7: whether the layer-wide challenge-ACK budget allows one more now. */
  challengeAckAllowed(nowMs: number): boolean;
}

/** Everything the connections of one layer share. */
export interface TcpContext {
  /** Where segments go. */
  readonly ip: IpSender;
  /** Drives every timer. */
  readonly wheel: TimerWheel;
  /** Time for application-side calls (read/write/close); inputs carry their own time. */
  readonly clock: Clock;
  /** Tunables. */
  readonly config: TcpConfig;
  /** RFC 6528 secret (16 bytes). */
  readonly secret: Uint8Array;
  /** Shared counters. */
  readonly stats: TcpStats;
  /**
   * ECN codepoint (RFC 3168 §5) of the datagram being processed, set by the layer before
   * each segment is dispatched (0 when the network layer did not say).
   */
  rxEcn: number;
  /** The layer. */
  readonly owner: TcpConnectionOwner;
  /** Scratch repr for building segments (one per layer: zero allocation per segment). */
  readonly scratch: TcpRepr;
  /**
   * Spare send/receive ring storage shared by the layer's connections: rings are backed
   * lazily (first data) and give their storage back here when drained, so an idle
   * connection holds no buffer. Null: every ring allocates its own storage lazily.
   */
  readonly ringPool?: ByteRingStoragePool | null;
  /** Segment logs of finished connections, for the next ones (null: each makes its own). */
  readonly segLogPool?: SegmentLogPool | null;
}

/**
 * `t` exists and is armed (timers are made on first use).
 *
 * @param t a timer or null
 * @returns whether it is armed
 */
export function isArmed(t: Timer | null): boolean {
  return t !== null && t.armed;
}

/** Linux's `tcp_ca_state` names (include/net/tcp.h TCP_CA_Open … TCP_CA_Loss), lower case. */
export type CaState = "open" | "disorder" | "cwr" | "recovery" | "loss";

/**
 * One connection's state. Made by {@link TcpConnection}'s constructor; its fields are the
 * TCB of RFC 9293 §3.3.1 and what this implementation adds, read and written by the
 * connection's modules only.
 */
export class Tcb {
  /** The connection this TCB belongs to: the timers' target, what the owner is told about. */
  readonly conn: TcpConnection;
  /** Local IPv4 address, int32. */
  readonly localAddr: number;
  /** Local port. */
  readonly localPort: number;
  /** Remote IPv4 address, int32. */
  readonly remoteAddr: number;
  /** Remote port. */
  readonly remotePort: number;

  readonly ctx: TcpContext;
  readonly cfg: TcpConfig;
  state: TcpState = TcpState.CLOSED;
  error: TcpError | null = null;
  passive = false;

  // --- send sequence space (RFC 9293 §3.3.1) ---
  iss = 0;
  sndUna = 0;
  sndNxt = 0;
  /** Highest sequence number sent + 1 (BSD snd_max). */
  sndMax = 0;
  sndWnd = 0;
  sndWl1 = 0;
  sndWl2 = 0;
  maxSndWnd = 0;
  /** Sequence number of send-ring offset 0. */
  dataSeq = 0;
  /** The application asked for a FIN after the queued data. */
  finQueued = false;
  appClosed = false;
  /** Zero-window probe outstanding: ACKs up to here are acceptable. */
  probeEnd = 0;
  /** End of the last small segment sent (Minshall's Nagle variant). */
  sndSml = 0;
  probing = false;
  persistBackoff = 0;

  // --- receive sequence space ---
  irs = 0;
  rcvNxt = 0;
  /** Right edge of the window we advertised. */
  rcvAdvRight = 0;
  finReceived = false;
  /** Sequence number of a FIN that arrived out of order. */
  rcvFinSeq = 0;
  rcvFinPending = false;

  // --- options ---
  ourMss = DEFAULT_MSS;
  peerMss = DEFAULT_MSS;
  sndMss = DEFAULT_MSS;
  rcvMssEstimate = DEFAULT_MSS;
  /**
   * Receive-buffer autotuning state (src/tcp/rcv_space.ts), made with the first in-order
   * data when {@link TcpConfig.receiveBufferMaxBytes} allows growth; null otherwise.
   */
  rcvSpace: ReceiveSpace | null = null;
  /** What this connection's receive buffer grew (counted in the layer's budget until it ends). */
  rcvBufferGrownBytes = 0;
  wsOk = false;
  sndWScale = 0;
  rcvWScale = 0;
  tsOk = false;
  tsRecent = 0;
  tsRecentAgeMs = 0;
  tsOffset = 0;
  lastAckSent = 0;
  sackOk = false;

  // --- buffers ---
  sendRing: ByteRingType | null = null;
  recvRing: ByteRingType | null = null;
  ooo: RangeSet | null = null;
  /** The sender's SACK scoreboard, made with the first SACK block (RFC 6675). */
  scoreboard: SackScoreboard | null = null;
  /** Made with the first out-of-order segment (RFC 2018 §4 most-recent blocks). */
  sackBlocks: SackBlocks | null = null;

  // --- retransmission / congestion ---
  rtt: RttEstimator;
  cc: CongestionControl;
  retries = 0;
  rttTiming = false;
  rttSeq = 0;
  rttStartMs = 0;
  /**
   * The RTT this ACK measured from the segment log's send times (ms, at the engine clock's
   * resolution), -1 if none: Linux's seq_rtt_us / sack_rtt_us (tcp_clean_rtx_queue,
   * tcp_ack_update_rtt), preferred to the timestamp echo's whole milliseconds.
   */
  ackRttMs = -1;
  /**
   * Bytes of the whole segments this ACK newly delivered (cumulatively acknowledged and not
   * SACKed before, or newly SACKed), from the segment log; -1 without one. Linux's
   * acked_sacked, counted in segments as its SACK tagging does (a SACK of part of a segment
   * delivers nothing).
   */
  ackDeliveredBytes = -1;
  /**
   * When the last retransmission timeout fired, ms (-Infinity: never). It cleared the
   * segment log's SACK marks (RFC 6675 §5.1), so a segment sent before it and SACKed again
   * may have been delivered long ago: it gives no SACK RTT sample.
   */
  lastRtoMs = -Infinity;
  rtoSinceTs = false;
  rtoTsVal = 0;
  dupAcks = 0;
  inRecovery = false;
  /**
   * After a retransmission timeout, until SND.UNA reaches the {@link recoverPoint} it set (or
   * an undo): Linux's TCP_CA_Loss (tcp_enter_loss … tcp_try_undo_recovery).
   */
  inLoss = false;
  recoverPoint = 0;
  highRxt = 0;
  /** The loss-recovery strategy, made at the first duplicate ACK (see {@link lossRecovery}). */
  recovery: LossRecovery | null = null;
  retransmitCount = 0;
  /** Per-segment transmit record of RACK-TLP (made with the first data sent; null: RFC 6675). */
  segLog: SegmentLog | null = null;
  /** RACK-TLP state (RFC 8985), with {@link segLog}. */
  rack: Rack | null = null;
  /** RACK reordering timer / TLP probe timeout (one timer, the earlier of the two). */
  rackTimer: Timer | null = null;
  /** Recovery episodes entered. */
  recoveryCount = 0;
  /** Tail loss probes sent. */
  tlpProbeCount = 0;
  /** Segments RACK marked lost. */
  rackLostCount = 0;
  /** D-SACKs received and sent (RFC 2883). */
  dsacksIn = 0;
  dsacksOut = 0;
  /** Reductions undone as spurious. */
  undoCount = 0;
  /** Retransmission timeouts found spurious (F-RTO, Eifel). */
  spuriousRtoCount = 0;
  /** Retransmission timeouts of this connection (RFC 6298 §5.4; a TLP sent in place of one excluded). */
  timeoutCount = 0;

  // --- undo of spurious reductions (RFC 3708, RFC 3522, Linux undo_marker) ---
  /** A reduction may still be undone. */
  undoActive = false;
  /** cwnd and ssthresh before the reduction. */
  undoCwnd = 0;
  undoSsthresh = 0;
  /** The episode's sequence range: retransmissions in it count towards D-SACK undo. */
  undoStartSeq = 0;
  undoEndSeq = 0;
  /** Retransmissions of the episode not yet reported duplicate by a D-SACK (Linux undo_retrans). */
  undoRetrans = 0;
  /** TSval of the episode's first retransmission (Eifel, RFC 3522 §3.2), valid with undoTsSet. */
  undoTsVal = 0;
  undoTsSet = false;
  /** F-RTO (RFC 5682 §2): 0 off, 1 after the RTO retransmission, 2 after new data was sent. */
  frtoState = 0;
  /** Bytes of new data F-RTO step 2b may still send beyond cwnd. */
  frtoBudget = 0;
  /** F-RTO: end of what the timeout retransmitted (data above it was sent once). */
  frtoRetransmitEnd = 0;
  /** RFC 3042 Limited Transmit: bytes beyond cwnd the first two duplicate ACKs allow. */
  limitedTransmit = 0;

  // --- D-SACK generation (RFC 2883 §4) ---
  /** A duplicate segment was received: the next ACK reports it first. */
  dsackPending = false;
  dsackLeft = 0;
  dsackRight = 0;

  // --- ACK generation ---
  ackNow = false;
  unackedBytes = 0;
  /** Quick-ACK budget: in-order data segments still to be acknowledged at once. */
  quickAcks = 0;
  /** When in-order data last arrived (-Infinity: never, so the first data is quick-ACKed). */
  lastDataRecvMs = -Infinity;
  /**
   * Interactive ("ping-pong") mode, Linux inet_csk pingpong: we sent data less than a
   * delayed-ACK interval after data (or the handshake) arrived, so the application answers
   * what it receives: received data is not quick-ACKed, the reply carries the ACK
   * (RFC 9293 §3.8.6.3, RFC 1122 §4.2.3.2). Left when the delayed-ACK timer fires.
   */
  pingpong = false;
  /**
   * Linux icsk_ack.lrcvtime: when data last arrived, or the peer's SYN (passive open) or
   * SYN-ACK (active open) did — the reference of pingpong.
   */
  lastRecvActivityMs = -Infinity;
  /** Linux lsndtime: when we last sent data. */
  lastDataSentMs = -Infinity;

  // --- misc ---
  noDelay: boolean;
  /**
   * TCP_CORK (Linux TCP_NAGLE_CORK in tp->nonagle): a partial (< MSS) segment of new data
   * is held until uncorked, completed by a later write, or the FIN joins it.
   */
  cork = false;
  /**
   * Linux TCP_NAGLE_PUSH: one push past the cork, set by TCP_NODELAY (and by uncorking
   * with TCP_NODELAY on); cleared by the next write that starts a new segment (skb_entail).
   */
  naglePush = false;
  /** MSG_MORE on the write being queued: its push corks (Linux tcp_push: TCP_NAGLE_CORK). */
  callCork = false;
  /**
   * The last write came with MSG_MORE: the end of the send queue is not a push point, so
   * the segment that reaches it carries no PSH (Linux tcp_push marks PSH only without it).
   */
  tailUnpushed = false;
  /** A cork probe (Linux tcp_write_wakeup) is going: one segment past the cork, with PSH. */
  corkProbe = false;
  keepAlive: boolean;
  keepAliveIdleMs: number;
  /** TCP_KEEPINTVL: between unanswered keep-alive probes, ms. */
  keepAliveIntervalMs: number;
  /** TCP_KEEPCNT: unanswered probes before the connection fails. */
  keepAliveProbes: number;
  /** TCP_KEEPINIT: the handshake's time limit, ms (0: none). */
  keepAliveInitMs: number;
  /**
   * TCP_LINGER2: how long this connection, once the application closed it, waits in
   * FIN-WAIT-2 for the peer's FIN, ms; null: the layer's `timeWaitMs`; negative: not at all
   * (Linux linger2 < 0: close() in FIN-WAIT-2 resets, an orphan reaching it is reset and dropped).
   */
  finTimeoutMs: number | null = null;
  /**
   * Text that arrived on a SYN or SYN-ACK while we were not yet ESTABLISHED, queued until we
   * are (RFC 9293 §3.10.7.2, §3.10.7.3); at most one receive window, and `synFin` its FIN.
   */
  synText: Uint8Array | null = null;
  synFin = false;
  // --- ECN (RFC 3168 §6.1, ecn.ts) ---
  /** ECN agreed on the handshake. */
  ecnOk = false;
  /** We sent an ECN-setup SYN (ECE+CWR). */
  ecnSynSent = false;
  /** Receiver: a CE mark arrived and no CWR since: ACKs carry ECE. */
  ecnEceEcho = false;
  /** Sender: the window was reduced for ECE; the next new data segment carries CWR. */
  ecnCwrPending = false;
  /** Sender: SND.MAX at the last reduction (once per window). */
  ecnRecover = 0;
  /** Per-connection ECN counts for info(). */
  ecnCeReceived = 0;
  ecnCwrSent = 0;
  ecnReductions = 0;
  /** IP_TTL / IP_TOS of this connection's datagrams (null: the interface's defaults). */
  ipOptions: IpSendOptions | null = null;
  keepAliveProbesSent = 0;
  lastRecvMs = 0;
  challengeWindowStart = -Infinity;
  challengeCount = 0;
  bytesIn = 0;
  bytesOut = 0;
  wantWritable = false;
  /** EV_* bits to deliver when the outermost call leaves. */
  pendingEvents = 0;
  closedSignalled = false;
  released = false;
  depth = 0;

  // Timers are made on first use: an idle connection that never needed one holds none.
  rtxTimer: Timer | null = null;
  /** When the retransmission timer really expires (the wheel may hold an earlier deadline). */
  rtxDueMs = Infinity;
  delackTimer: Timer | null = null;
  persistTimer: Timer | null = null;
  keepaliveTimer: Timer | null = null;
  timeWaitTimer: Timer | null = null;

  /**
   * @param conn the connection
   * @param ctx shared context
   * @param localAddr local address (int32 or the unsigned form; stored as int32)
   * @param localPort local port
   * @param remoteAddr remote address (int32 or the unsigned form)
   * @param remotePort remote port
   */
  constructor(
    conn: TcpConnection,
    ctx: TcpContext,
    localAddr: number,
    localPort: number,
    remoteAddr: number,
    remotePort: number,
  ) {
    this.conn = conn;
    this.ctx = ctx;
    this.cfg = ctx.config;
    this.localAddr = localAddr | 0;
    this.localPort = localPort;
    this.remoteAddr = remoteAddr | 0;
    this.remotePort = remotePort;
    const cfg = ctx.config;
    this.rtt = new RttEstimator({
      minRtoMs: cfg.minRtoMs,
      maxRtoMs: cfg.maxRtoMs,
      initialRtoMs: cfg.initialRtoMs,
      minRtoOnVariance: cfg.minRtoOnVariance,
    });
    this.cc = this.newCongestionControl(DEFAULT_MSS);
    this.noDelay = cfg.noDelay;
    this.keepAlive = cfg.keepAlive;
    this.keepAliveIdleMs = cfg.keepAliveIdleMs;
    this.keepAliveIntervalMs = cfg.keepAliveIntervalMs;
    this.keepAliveProbes = cfg.keepAliveProbes;
    this.keepAliveInitMs = cfg.keepAliveInitMs;
    if (cfg.ipTtl > 0 || cfg.ipTos !== 0) this.setIpOptions(cfg.ipTtl, cfg.ipTos);
    // RFC 7323 §5.4: a per-connection random timestamp offset.
    this.tsOffset = timestampOffset(ctx.secret, localAddr, localPort, remoteAddr, remotePort);
    const mtu = ctx.ip.mtuFor(remoteAddr);
    this.ourMss = Math.max(MIN_MSS, Math.min(MAX_WINDOW_FIELD, mtu - IPV4_TCP_HEADERS_LEN));
  }

  /**
   * The loss-recovery strategy: RFC 6675 with SACK, else NewReno. Made on first use (a
   * connection that never sees a duplicate ACK holds none); SACK is agreed by then.
   *
   * @returns the strategy
   */
  lossRecovery(): LossRecovery {
    return this.recovery ??= !this.sackOk
      ? new RenoRecovery()
      : this.cfg.lossDetection === "rack-tlp"
      ? new RackRecovery()
      : new SackRecovery();
  }

  /**
   * RACK-TLP's record, made with the first data sent on a SACK connection when
   * `lossDetection` is "rack-tlp" (RFC 8985 §5: RACK needs SACK).
   *
   * @returns whether RACK-TLP is on
   */
  ensureRack(): boolean {
    if (this.rack !== null) return true;
    if (!this.sackOk || this.cfg.lossDetection !== "rack-tlp") return false;
    const slots = SegmentLog.slotsFor(this.cfg.sendBufferBytes, this.sndMss);
    this.segLog = this.ctx.segLogPool?.take(slots) ?? new SegmentLog(slots);
    this.rack = new Rack();
    return true;
  }

  /** (Re)arms the RACK timer for the earlier of the reordering timer and the PTO. */
  scheduleRackTimer(): void {
    const rack = this.rack;
    if (rack === null) return;
    const due = Math.min(rack.reoDueMs, rack.tlpDueMs);
    if (due === Infinity) return; // lazily: an armed timer finds nothing due and stops
    const timer = this.rackTimer ??= new Timer(this.conn, TCP_TIMER_RACK);
    if (!timer.armed || timer.deadline > due) this.ctx.wheel.schedule(timer, due);
  }

  /**
   * A loss episode or timeout reduces the window: remember what to restore should it prove
   * spurious (Linux tcp_init_undo).
   *
   * @returns nothing
   */
  beginUndo(): void {
    this.undoActive = true;
    this.undoCwnd = this.cc.cwnd;
    this.undoSsthresh = this.cc.ssthresh;
    this.undoStartSeq = this.sndUna;
    this.undoEndSeq = this.sndMax;
    // Linux tcp_init_undo (commit 0ec986ed, "fix incorrect undo caused by DSACK of TLP
    // retransmit"): a tail loss probe's retransmission still in flight counts too, so its
    // D-SACK alone cannot undo a reduction for a loss that was real.
    const rack = this.rack;
    this.undoRetrans = rack !== null && rack.tlpActive && rack.tlpIsRetrans ? 1 : 0;
    this.undoTsSet = false;
  }

  /**
   * The reduction was spurious (RFC 3708 §3, RFC 3522 §3.2, RFC 5682 §3): restore the window
   * and leave recovery.
   *
   * @param nowMs time
   * @returns nothing
   */
  undo(nowMs: number): void {
    if (!this.undoActive) return;
    this.undoActive = false;
    this.cc.undo(this.undoCwnd, this.undoSsthresh);
    if (this.inRecovery) {
      this.inRecovery = false;
      this.rack?.onRecoveryExit();
    }
    this.inLoss = false;
    this.undoCount++;
    this.ctx.stats.undos++;
    void nowMs;
  }

  /**
   * A data segment was retransmitted at `nowMs` (counts towards undo).
   *
   * @param nowMs time
   * @returns nothing
   */
  noteRetransmit(nowMs: number): void {
    this.countRetransmit();
    if (!this.undoActive) return;
    this.undoRetrans++;
    if (!this.undoTsSet && this.tsOk) {
      this.undoTsSet = true;
      this.undoTsVal = this.tsNow(nowMs);
    }
  }

  /**
   * Linux's congestion-avoidance state (`tcp_ca_state`, TCP_INFO `tcpi_ca_state`): "loss"
   * after a retransmission timeout until its data is acknowledged, "recovery" in fast
   * recovery, "cwr" while an ECN reduction's window is acknowledged (RFC 3168 §6.1.2),
   * "disorder" with duplicate ACKs or SACKed data and no reduction, else "open".
   */
  get caState(): CaState {
    if (this.inLoss) return "loss";
    if (this.inRecovery) return "recovery";
    if (this.ecnReductions > 0 && seqLt(this.sndUna, this.ecnRecover)) return "cwr";
    const sacked = this.rack !== null
      ? this.rack.sackedSegments > 0
      : (this.scoreboard?.sackedBytes() ?? 0) > 0;
    if (this.dupAcks > 0 || sacked) return "disorder";
    return "open";
  }

  /** RFC 6528: the initial sequence number for this 4-tuple at `nowMs`. */
  isn(nowMs: number): number {
    return initialSequenceNumber(
      this.ctx.secret,
      nowMs,
      this.localAddr,
      this.localPort,
      this.remoteAddr,
      this.remotePort,
    );
  }

  /** Sets the send sequence variables from the ISS (RFC 9293 §3.3.1). */
  initSend(): void {
    this.sndUna = this.iss;
    this.sndNxt = this.iss;
    this.sndMax = this.iss;
    this.dataSeq = seqAdd(this.iss, 1);
    this.sndSml = this.iss;
    this.recoverPoint = this.iss;
    this.highRxt = this.iss;
  }

  /**
   * Makes the send and receive rings. Their storage is attached on first data (from the
   * layer's ring pool) and given back when they drain, so an idle connection holds no
   * buffer; the reassembly set and the SACK scoreboard are made when first needed.
   */
  allocateBuffers(): void {
    const cfg = this.cfg;
    const ringOpts = { lazy: true, pool: this.ctx.ringPool ?? null };
    if (this.sendRing === null) this.sendRing = new ByteRing(cfg.sendBufferBytes, ringOpts);
    if (this.recvRing === null) this.recvRing = new ByteRing(cfg.receiveBufferBytes, ringOpts);
  }

  /**
   * FreeBSD tcp_mss_update: once the MSS is agreed, the receive buffer becomes a whole
   * number of segments (rounded up), so the window never ends in a partial segment. Only
   * with `receiveBufferRoundToMss`, and only while the ring holds nothing (at ESTABLISHED).
   */
  roundReceiveBuffer(): void {
    const cfg = this.cfg;
    const ring = this.recvRing;
    if (!cfg.receiveBufferRoundToMss || ring === null || ring.length !== 0) return;
    const mss = Math.min(this.peerMss, this.ourMss);
    if (mss <= 0 || cfg.receiveBufferBytes <= mss) return;
    const size = Math.ceil(cfg.receiveBufferBytes / mss) * mss;
    if (size === ring.capacity) return;
    ring.release();
    this.recvRing = new ByteRing(size, { lazy: true, pool: this.ctx.ringPool ?? null });
  }

  /** Gives the receive ring's storage back when it is drained and holds no out-of-order data. */
  releaseRecvStorage(): void {
    const ring = this.recvRing;
    if (ring !== null && ring.length === 0 && (this.ooo === null || this.ooo.isEmpty())) {
      ring.release();
    }
  }

  /**
   * RFC 7323 §2.3: the smallest shift that lets the largest buffer be advertised (the
   * buffer autotuning may grow to, {@link announcedWindowShift}).
   */
  chooseWindowShift(): number {
    return announcedWindowShift(this.cfg);
  }

  /** The receive buffer's size now, bytes: the initial one until autotuning grows it. */
  receiveBufferBytes(): number {
    const ring = this.recvRing;
    return ring === null ? this.cfg.receiveBufferBytes : ring.capacity;
  }

  /**
   * Linux tcp_data_queue → tcp_event_data_recv / tcp_rcv_established: in-order data arrived;
   * feed the receiver RTT estimate of autotuning (made here, on the first data, so an idle
   * connection carries none).
   *
   * @param nowMs current time
   * @param length the segment's payload bytes
   * @param tsEcr its TSecr when it carries timestamps (RFC 7323 §3.2), else -1
   * @param queueEmpty whether the application had read everything before it
   */
  noteDataReceived(nowMs: number, length: number, tsEcr: number, queueEmpty: boolean): void {
    let space = this.rcvSpace;
    if (space === null) {
      if (this.receiveBufferGrowthLimit() <= this.receiveBufferBytes()) return;
      // Linux tcp_init_buffer_space: rcvq_space.space = min(rcv_wnd, TCP_INIT_CWND × advmss).
      const window = seqSub(this.rcvAdvRight, this.rcvNxt) + length;
      space = this.rcvSpace = new ReceiveSpace(
        Math.max(1, Math.min(window, INITIAL_SPACE_SEGMENTS * this.ourMss)),
        nowMs,
      );
    }
    // Linux tcp_rcv_rtt_measure_ts: a segment of at least the receive MSS whose TSecr is set.
    if (tsEcr !== -1 && tsEcr !== 0 && length >= this.rcvMssEstimate) {
      space.sampleTimestampRtt(tsEcr, seqSub(this.tsNow(nowMs), tsEcr), queueEmpty);
    }
    space.sampleWindowRtt(nowMs, this.rcvNxt, this.rcvAdvRight);
  }

  /**
   * Linux tcp_rcv_space_adjust, after the application read `n` bytes: grows the receive
   * buffer (and so the window {@link openRight} offers) when the bytes read per RTT ask for
   * more. The buffer never shrinks, so the right edge never moves left (RFC 9293 §3.8.6).
   *
   * @param nowMs current time
   * @param n bytes just read
   */
  adjustReceiveBuffer(nowMs: number, n: number): void {
    const space = this.rcvSpace;
    const ring = this.recvRing;
    if (space === null || ring === null) return;
    const want = space.onRead(nowMs, n, this.ourMss);
    const capacity = ring.capacity;
    if (want <= capacity) return;
    let size = bufferSizeFor(this.cfg.receiveBufferBytes, want, this.receiveBufferGrowthLimit());
    // The layer's budget (Linux tcp_mem): the largest doubling that still fits, or none.
    const stats = this.ctx.stats;
    const budget = this.cfg.receiveBufferGrowthTotalBytes - stats.rcvBufferGrownBytes;
    if (size - capacity > budget) {
      stats.rcvBufferGrowthRefused++;
      while (size > capacity && size - capacity > budget) size /= 2;
    }
    if (size <= capacity) return;
    ring.grow(size);
    stats.rcvBufferGrownBytes += size - capacity;
    this.rcvBufferGrownBytes += size - capacity;
  }

  /**
   * The largest receive buffer this connection may grow to: the configured limit, and no
   * more than the window field can offer with the agreed shift (without window scaling,
   * RFC 7323 §2.2, 64 KiB: a larger buffer could never be advertised).
   */
  receiveBufferGrowthLimit(): number {
    return Math.min(receiveBufferLimit(this.cfg), this.maxRcvWindow());
  }

  /** The window of our SYN or SYN-ACK (never scaled, RFC 7323 §2.2). */
  synWindow(): number {
    return Math.min(this.cfg.receiveBufferBytes, MAX_WINDOW_FIELD);
  }

  /** Records the options of the peer's SYN (RFC 9293 §3.7.1, RFC 7323 §2.2/§3.2, RFC 2018 §2). */
  negotiate(syn: TcpRepr): void {
    const cfg = this.cfg;
    this.peerMss = syn.mss > 0 ? syn.mss : DEFAULT_MSS;
    // RFC 7323 §2.2: scaling only when both SYNs carry the option.
    this.wsOk = cfg.windowScaling && syn.windowScale >= 0;
    this.sndWScale = this.wsOk ? syn.windowScale : 0;
    this.rcvWScale = this.wsOk ? this.chooseWindowShift() : 0;
    this.tsOk = cfg.timestamps && syn.hasTimestamp;
    if (this.tsOk) {
      this.tsRecent = syn.tsVal;
      this.tsRecentAgeMs = this.lastRecvMs;
    }
    this.sackOk = cfg.sack && syn.sackPermitted;
    this.updateSndMss();
  }

  /** Recomputes the send MSS from the peer's and ours, less the timestamp option. */
  updateSndMss(): void {
    let mss = Math.min(this.peerMss, this.ourMss);
    if (this.tsOk) mss -= TIMESTAMP_OPTION_BYTES;
    this.sndMss = Math.max(MIN_MSS, mss);
    this.rcvMssEstimate = Math.min(this.ourMss, DEFAULT_MSS);
    this.cc.setMss(this.sndMss);
    if (this.state <= TcpState.SYN_RECEIVED) {
      // RFC 6928: the initial window follows the negotiated MSS.
      this.cc = this.newCongestionControl(this.sndMss);
    }
  }

  /**
   * Data bytes per segment right now: RFC 9293 §3.7.1 takes every TCP option out of the
   * effective send MSS (Eff.snd.MSS = min(SendMSS+20, MMS_S) - TCPhdrsize - IPoptionsize).
   * The timestamp option is already out of sndMss; the SACK blocks our segments carry
   * while out-of-order data is held come off here (as Linux's tcp_current_mss).
   */
  currentMss(): number {
    const ooo = this.ooo;
    const held = ooo === null ? 0 : ooo.count;
    // RFC 2883 §4: a pending D-SACK block rides first.
    const wanted = held + (this.dsackPending ? 1 : 0);
    if (!this.sackOk || wanted === 0) return this.sndMss;
    const max = this.tsOk ? SACK_BLOCKS_WITH_TS : SACK_BLOCKS_WITHOUT_TS;
    const blocks = wanted < max ? wanted : max;
    return this.sndMss - sackOptionBytes(blocks);
  }

  /** Whether the application may still queue data (RFC 9293 §3.10.2). */
  canWrite(): boolean {
    const s = this.state;
    return !this.finQueued && this.error === null &&
      (s === TcpState.SYN_SENT || s === TcpState.SYN_RECEIVED || s === TcpState.ESTABLISHED ||
        s === TcpState.CLOSE_WAIT);
  }

  /** An outer call begins: events wait until the matching {@link leave}. */
  enter(): void {
    this.depth++;
  }

  /** An outer call ends: the outermost delivers the collected events (owner first). */
  leave(): void {
    if (--this.depth > 0) return;
    while (this.pendingEvents !== 0) {
      const e = this.pendingEvents;
      this.pendingEvents = 0;
      // The owner first: accepting may install `events`.
      if (e & EV_ACCEPT) this.ctx.owner.onConnectionEstablished(this.conn);
      const ev = this.conn.events;
      if (ev === null) continue;
      if (e & EV_ESTABLISHED) ev.onEstablished?.(this.conn);
      if (e & EV_READABLE) ev.onReadable?.(this.conn);
      if (e & EV_WRITABLE) ev.onWritable?.(this.conn);
      if (e & EV_CLOSED) ev.onClosed?.(this.conn, this.error);
    }
  }

  /** State is CLOSED. */
  isClosed(): boolean {
    return this.state === TcpState.CLOSED;
  }

  /** State is ESTABLISHED or later (RFC 9293 §3.3.2 "synchronized"). */
  isSynchronized(): boolean {
    return this.state >= TcpState.ESTABLISHED;
  }

  /**
   * RFC 6298 §5.1/§5.3: (re)start the retransmission timer to expire RTO from now. Lazily:
   * an armed timer due earlier is left in the wheel and pushed back when it fires (see
   * onTimer), so the ACK after ACK of a bulk flow costs a compare, not a wheel operation.
   */
  /**
   * IP_TTL / IP_TOS for this connection's datagrams.
   *
   * @param ttl time to live, 0 for the interface's default
   * @param tos TOS byte (DSCP; the ECN bits are left to TCP)
   */
  setIpOptions(ttl: number, tos: number): void {
    const o: IpSendOptions = {};
    if (ttl > 0) o.ttl = ttl;
    if (tos !== 0) o.tos = tos;
    this.ipOptions = ttl > 0 || tos !== 0 ? o : null;
  }

  /** TCP_KEEPINIT (FreeBSD): arms the handshake's time limit on the keep-alive timer. */
  armKeepInit(nowMs: number): void {
    if (this.keepAliveInitMs <= 0) return;
    this.keepaliveTimer ??= new Timer(this.conn, TCP_TIMER_KEEPALIVE);
    this.ctx.wheel.schedule(this.keepaliveTimer, nowMs + this.keepAliveInitMs);
  }

  armRetransmit(nowMs: number): void {
    let rtoMs = this.rtt.rtoMs;
    // FreeBSD TCPT_RANGESET adds rexmit_slop to a backed-off SYN timeout.
    if (this.state <= TcpState.SYN_RECEIVED && this.rtt.backoffCount > 0) {
      rtoMs += this.cfg.synRtoSlopMs;
    }
    const due = nowMs + rtoMs;
    this.rtxDueMs = due;
    const timer = this.rtxTimer ??= new Timer(this.conn, TCP_TIMER_RETRANSMIT);
    if (!timer.armed || timer.deadline > due) this.ctx.wheel.schedule(timer, due);
    if (isArmed(this.persistTimer)) this.ctx.wheel.cancel(this.persistTimer!);
  }

  /** RFC 9293 §3.8.6.1: the persist interval, RTO-based, doubled per probe, capped. */
  persistIntervalMs(): number {
    let ms = Math.max(MIN_PERSIST_MS, this.rtt.rtoMs);
    for (let i = 0; i < this.persistBackoff && ms < this.cfg.maxPersistMs; i++) ms *= 2;
    return Math.min(ms, this.cfg.maxPersistMs);
  }

  /** RFC 9293 §3.8.4: (re)arms the keep-alive timer when enabled and established. */
  armKeepAlive(nowMs: number): void {
    if (!this.keepAlive) return;
    const s = this.state;
    if (s !== TcpState.ESTABLISHED && s !== TcpState.CLOSE_WAIT) return;
    const due = this.keepAliveProbesSent === 0
      ? this.lastRecvMs + this.keepAliveIdleMs
      : nowMs + this.keepAliveIntervalMs;
    this.keepaliveTimer ??= new Timer(this.conn, TCP_TIMER_KEEPALIVE);
    this.ctx.wheel.schedule(this.keepaliveTimer, Math.max(due, nowMs));
  }

  /** Linux tcp_fin_timeout: bounds an orphaned FIN-WAIT-2. */
  armOrphanTimeout(nowMs: number): void {
    // Linux tcp_fin_timeout: an orphaned FIN-WAIT-2 does not wait forever for the peer's FIN.
    const linger2 = this.finTimeoutMs;
    if (linger2 === null) {
      this.scheduleTimeWait(nowMs);
      return;
    }
    // Linux tcp_fin_time: the socket's TCP_LINGER2, but never below 3.5 RTO.
    const floorMs = this.rtt.rtoMs * FIN_TIMEOUT_RTO_FLOOR;
    this.timeWaitTimer ??= new Timer(this.conn, TCP_TIMER_TIME_WAIT);
    this.ctx.wheel.schedule(this.timeWaitTimer, nowMs + Math.max(linger2, floorMs));
  }

  /** (Re)starts the TIME-WAIT / orphan timer: 2 MSL (or tcp_fin_timeout) from now. */
  scheduleTimeWait(nowMs: number): void {
    this.timeWaitTimer ??= new Timer(this.conn, TCP_TIMER_TIME_WAIT);
    this.ctx.wheel.schedule(this.timeWaitTimer, nowMs + this.cfg.timeWaitMs);
  }

  /** Cancels every timer of the connection. */
  cancelTimers(): void {
    const w = this.ctx.wheel;
    if (this.rtxTimer !== null) w.cancel(this.rtxTimer);
    if (this.delackTimer !== null) w.cancel(this.delackTimer);
    if (this.persistTimer !== null) w.cancel(this.persistTimer);
    if (this.keepaliveTimer !== null) w.cancel(this.keepaliveTimer);
    if (this.timeWaitTimer !== null) w.cancel(this.timeWaitTimer);
    if (this.rackTimer !== null) w.cancel(this.rackTimer);
  }

  /** RFC 9293 §3.10.7.4: enters ESTABLISHED (or FIN-WAIT-1 with a queued FIN). */
  establish(nowMs: number, window: number, seq: number, ack: number): void {
    this.allocateBuffers();
    this.roundReceiveBuffer();
    this.state = TcpState.ESTABLISHED;
    // Linux tcp_finish_connect: an active open counts the SYN-ACK as received activity.
    if (!this.passive) this.lastRecvActivityMs = nowMs;
    // RFC 9293 §3.10.7.4 (SYN-RECEIVED, ACK acceptable): SND.WND <- SEG.WND, WL1, WL2.
    this.sndWnd = window << this.sndWScale;
    this.maxSndWnd = Math.max(this.maxSndWnd, this.sndWnd);
    this.sndWl1 = seq;
    this.sndWl2 = ack;
    this.retries = 0;
    this.pendingEvents |= EV_ESTABLISHED | EV_WRITABLE;
    if (this.finQueued) this.state = TcpState.FIN_WAIT_1;
    // The TCP_KEEPINIT limit (armKeepInit) ends with the handshake.
    if (!this.keepAlive && isArmed(this.keepaliveTimer)) {
      this.ctx.wheel.cancel(this.keepaliveTimer!);
    }
    this.armKeepAlive(nowMs);
    // The listener hears of it once this input is processed (no re-entrancy).
    if (this.passive) this.pendingEvents |= EV_ACCEPT;
  }

  /** RFC 9293 §3.10.7.4: enters TIME-WAIT for 2 MSL; the send side's buffers go. */
  enterTimeWait(nowMs: number): void {
    this.state = TcpState.TIME_WAIT;
    const w = this.ctx.wheel;
    if (this.rtxTimer !== null) w.cancel(this.rtxTimer);
    if (this.persistTimer !== null) w.cancel(this.persistTimer);
    if (this.keepaliveTimer !== null) w.cancel(this.keepaliveTimer);
    if (this.rackTimer !== null) w.cancel(this.rackTimer);
    // RFC 9293 §3.10.7.4: TIME-WAIT lasts 2 MSL, restarted by a retransmitted FIN.
    this.scheduleTimeWait(nowMs);
    this.sendRing?.release();
    this.sendRing = null;
    this.scoreboard = null;
    this.releaseSegLog();
    this.rack = null;
    this.releaseRecvStorage();
    this.ooo = null;
    this.signalClosed();
  }

  /** A fresh congestion controller of the configured algorithm and options, for `mss`. */
  newCongestionControl(mss: number): CongestionControl {
    const cfg = this.cfg;
    return createCongestionControl(
      cfg.congestion,
      mss,
      cfg.hystart,
      cfg.cubicLinuxGrowth,
      cfg.cubicRenoFriendly,
    );
  }

  /** Gives the segment log back to the layer's pool: nothing is sent or timed after this. */
  releaseSegLog(): void {
    const log = this.segLog;
    if (log === null) return;
    this.segLog = null;
    this.ctx.segLogPool?.give(log);
  }

  /** Queues the one EV_CLOSED event. */
  signalClosed(): void {
    if (this.closedSignalled) return;
    this.closedSignalled = true;
    this.pendingEvents |= EV_CLOSED | EV_READABLE | EV_WRITABLE;
  }

  /** Enter CLOSED: cancel timers, drop buffers, tell the application and the layer. */
  terminate(error: TcpError | null): void {
    if (this.released) return;
    if (error !== null && this.error === null) this.error = error;
    this.state = TcpState.CLOSED;
    this.cancelTimers();
    // Nothing is sent after CLOSED, and received data is only kept for an application that
    // can still read it: after CLOSE/ABORT (RFC 9293 §3.10.4, §3.10.5) or a failure it is
    // dropped, so both rings give their storage back (release() keeps non-empty storage).
    const send = this.sendRing;
    send?.discard(send.length);
    send?.release();
    this.sendRing = null;
    this.ooo = null;
    this.scoreboard = null;
    this.releaseSegLog();
    this.rack = null;
    const recv = this.recvRing;
    if (recv !== null && (error !== null || this.appClosed)) recv.discard(recv.length);
    this.releaseRecvStorage();
    if (error !== null || this.recvRing?.length === 0) this.recvRing = null;
    // Its growth goes back to the layer's budget (TcpConfig.receiveBufferGrowthTotalBytes).
    this.ctx.stats.rcvBufferGrownBytes -= this.rcvBufferGrownBytes;
    this.rcvBufferGrownBytes = 0;
    this.signalClosed();
    this.released = true;
    this.ctx.owner.onConnectionReleased(this.conn);
  }

  /** Whether our FIN was sent and acknowledged. */
  finAcked(): boolean {
    return this.finQueued && (this.sendRing === null || this.sendRing.length === 0) &&
      this.sndUna === seqAdd(this.dataSeq, 1);
  }

  /** The FIN sequence number (valid once the FIN is queued). */
  finSeq(): number {
    return seqAdd(this.dataSeq, this.sendRing === null ? 0 : this.sendRing.length);
  }

  /** Counts one retransmitted segment (connection and layer). */
  countRetransmit(): void {
    this.retransmitCount++;
    this.ctx.stats.retransmits++;
  }

  /** Our TSval clock (RFC 7323 §5.4: 1 ms ticks plus a per-connection offset), int32. */
  tsNow(nowMs: number): number {
    return timestampClock(nowMs, this.tsOffset);
  }

  /** RFC 9293 §3.8.6.2.2: receiver SWS threshold, min(buffer / 2, MSS). */
  swsThreshold(): number {
    return Math.min(this.receiveBufferBytes() >>> RECEIVER_SWS_FRACTION_SHIFT, this.ourMss);
  }

  /** Largest window the 16-bit field can carry with our shift (RFC 7323 §2.3), bytes. */
  maxRcvWindow(): number {
    return MAX_WINDOW_FIELD * (1 << this.rcvWScale);
  }

  /** The right edge the free receive buffer allows, capped by the largest window field. */
  openRight(): number {
    const ring = this.recvRing;
    const free = ring === null ? this.cfg.receiveBufferBytes : ring.free;
    return seqAdd(this.rcvNxt, Math.min(free, this.maxRcvWindow()));
  }

  /** RFC 9293 §3.8.6.2.2: the window field, moving the right edge only in useful steps. */
  windowField(): number {
    const candidate = this.openRight();
    const growth = seqSub(candidate, this.rcvAdvRight);
    if (growth > 0 && growth >= this.swsThreshold()) this.rcvAdvRight = candidate;
    if (seqLt(this.rcvAdvRight, this.rcvNxt)) this.rcvAdvRight = this.rcvNxt;
    const win = seqSub(this.rcvAdvRight, this.rcvNxt);
    return Math.min(MAX_WINDOW_FIELD, win >>> this.rcvWScale);
  }
}
