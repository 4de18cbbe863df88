/**
 * The transmission control block: one TCP connection as a synchronous state
 * machine (RFC 9293). Input is `(nowMs, segment)` or `(nowMs, timer)`; output
 * is segments built straight into packet buffers from the {@link IpSender}.
 * No clock is read and no timer is set here other than through the shared
 * {@link TimerWheel} the connection is given.
 *
 * What is implemented: all eleven states (§3.3.2) and "segment arrives" in
 * the order of §3.10.7; simultaneous open and close; half-close; MSS, window
 * scaling, timestamps with PAWS (RFC 7323), SACK (RFC 2018) and SACK-based
 * loss recovery (RFC 6675); NewReno fast retransmit/recovery (RFC 5681, RFC
 * 6582); RFC 6298 retransmission timer; Nagle (RFC 896) and sender/receiver
 * silly-window avoidance (§3.8.6.2); delayed ACKs (§3.8.6.3); zero-window
 * probes (§3.8.6.1); keep-alive (§3.8.4); RFC 5961 challenge ACKs; ICMP
 * (RFC 5927 checks, RFC 1191 PMTU).
 *
 * @module
 */

import type { ByteRing as ByteRingType, ByteRingStoragePool } from "../buffer/byte_ring.ts";
import { ByteRing } from "../buffer/byte_ring.ts";
import { RangeSet } from "../buffer/range_set.ts";
import type { IpSender, IpSendOptions, PacketBufferLike } from "../iface/types.ts";
import { pseudoHeaderSum } from "../wire/checksum.ts";
import type { Clock } from "../time/clock.ts";
import { Timer, type TimerTarget, type TimerWheel } from "../time/timer_wheel.ts";
import {
  fillTcpChecksum,
  TCP_ACK,
  TCP_FIN,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
  TcpRepr,
} from "../wire/tcp.ts";
import type { TcpConfig, TcpStats } from "./config.ts";
import { DEFAULT_MSS, IPV4_TCP_HEADERS_LEN, MIN_MSS } from "./config.ts";
import { type CongestionControl, createCongestionControl } from "./congestion.ts";
import {
  ConnectionRefused,
  ConnectionReset,
  HostUnreachable,
  type TcpError,
  TimedOut,
} from "./errors.ts";
import { initialSequenceNumber, timestampClock, timestampOffset } from "./isn.ts";
import { RttEstimator } from "./rto.ts";
import { seqAdd, seqGe, seqGt, seqInWindow, seqLe, seqLt, seqMax, seqSub } from "./seq.ts";

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

const IP_PROTO_TCP = 6;
/** RFC 5681 §3.2: DupThresh. */
const DUP_THRESH = 3;
/** Largest unscaled window field. */
const MAX_WINDOW_FIELD = 0xffff;
/** RFC 7323 §2.3: largest shift. */
export const MAX_WINDOW_SHIFT = 14;
/** The options a SYN cookie's timestamp carried (see {@link TcpConnection.openFromCookie}). */
export interface CookieOptions {
  /** The peer's window shift (0..14), or -1 when window scaling was not agreed. */
  sndWScale: number;
  /** Whether SACK was agreed (RFC 2018 §2). */
  sackOk: boolean;
  /** The completing ACK's TSval when timestamps were agreed (RFC 7323 §3.2), else null. */
  tsVal: number | null;
}

/** A cookie handshake without timestamps: only the MSS survives. */
export const NO_COOKIE_OPTIONS: CookieOptions = Object.freeze({
  sndWScale: -1,
  sackOk: false,
  tsVal: null,
});

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

/** Timestamps option bytes as laid out (NOP NOP TS), subtracted from the MSS. */
const TIMESTAMP_OPTION_BYTES = 12;
/** SACK blocks that fit beside timestamps (RFC 2018 §3). */
const SACK_BLOCKS_WITH_TS = 3;
/** SACK blocks that fit without timestamps. */
const SACK_BLOCKS_WITHOUT_TS = 4;
/** SACK option bytes besides its blocks, as laid out (NOP NOP kind length). */
const SACK_OPTION_OVERHEAD_BYTES = 4;
/** Bytes of one SACK block (RFC 2018 §3). */
const SACK_BLOCK_BYTES = 8;
/** Remembered most-recent SACK blocks (RFC 2018 §4). */
const SACK_RECENT_MAX = 4;
/** RFC 9293 §3.8.6.2.2: receiver SWS fraction of the buffer (1/2). */
const RECEIVER_SWS_FRACTION_SHIFT = 1;
/** Lower bound on the persist interval, ms. */
const MIN_PERSIST_MS = 200;
/** RFC 7323 §5.5: timestamps older than 24 days are not trusted for PAWS. */
const PAWS_IDLE_MS = 24 * 24 * 3600 * 1000;
/** Window used for RFC 5961 §7 challenge ACK rate limiting, ms. */
const CHALLENGE_WINDOW_MS = 1000;
/** Offset of the checksum field in the TCP header (RFC 9293 §3.1). */
const TCP_CHECKSUM_FIELD = 16;
/** Largest TCP header (data offset 15 words), bytes: room kept in a super-segment. */
const TCP_MAX_HEADER_LEN = 60;
/**
 * IpSender options of a segment with a partial checksum (transmit checksum
 * offload) and, with gsoSize set, of a super-segment (TCP segmentation
 * offload). Module scratch: a send reads it synchronously.
 */
const OFFLOAD_SEND: IpSendOptions = { partialChecksumOffset: TCP_CHECKSUM_FIELD, gsoSize: 0 };
/** Linux tcp_twsk_unique: a TIME-WAIT 4-tuple may be reused by an active open after 1 s. */
const TIME_WAIT_REUSE_MS = 1000;
/** Linux TCP_MAX_QUICKACKS: most immediate ACKs in one quick-ACK episode. */
const MAX_QUICK_ACKS = 16;
/** Linux tcp_incr_quickack: the budget when the window holds less than two segments. */
const MIN_QUICK_ACKS = 2;

const EV_ESTABLISHED = 1;
const EV_READABLE = 2;
const EV_WRITABLE = 4;
const EV_CLOSED = 8;
/** Internal: tell the owner (listener) that a passive open completed. */
const EV_ACCEPT = 16;

/**
 * Callbacks from a connection to the socket layer. They are invoked after
 * the engine finished processing an input (never re-entrantly), so a
 * callback may call {@link TcpConnection.read}, `write` or `close`.
 */
export interface TcpConnectionEvents {
  /** The three-way handshake completed (SYN-SENT/SYN-RECEIVED → ESTABLISHED). */
  onEstablished?(conn: TcpConnection): void;
  /** Data arrived, or the peer's FIN (end of stream), or an error. */
  onReadable?(conn: TcpConnection): void;
  /** Send-buffer space was freed after a short write. */
  onWritable?(conn: TcpConnection): void;
  /**
   * The connection will exchange no more data: it reached CLOSED or
   * TIME-WAIT. `error` is set for reset, refused, timed out. Buffered
   * received data can still be read. Called once.
   */
  onClosed?(conn: TcpConnection, error: TcpError | null): void;
}

/** What the layer that owns connections is told. */
export interface TcpConnectionOwner {
  /** A passively opened connection reached ESTABLISHED (goes to the accept queue). */
  onConnectionEstablished(conn: TcpConnection): void;
  /** The connection entered CLOSED: forget it (remove from demux tables). */
  onConnectionReleased(conn: TcpConnection): void;
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
}

/** `t` exists and is armed (timers are made on first use). */
function isArmed(t: Timer | null): boolean {
  return t !== null && t.armed;
}

/** A TCP_INFO-like snapshot (see {@link TcpConnection.info}). */
export interface TcpInfo {
  /** RFC state name. */
  state: string;
  /** Smoothed RTT, ms. */
  srttMs: number;
  /** RTT variation, ms. */
  rttvarMs: number;
  /** Current retransmission timeout, ms. */
  rtoMs: number;
  /** Congestion window, bytes. */
  cwnd: number;
  /** Slow-start threshold, bytes. */
  ssthresh: number;
  /** Peer's advertised window, bytes. */
  sndWnd: number;
  /** Window we advertise, bytes. */
  rcvWnd: number;
  /** Our sending MSS, bytes. */
  sndMss: number;
  /** Congestion-control algorithm. */
  congestion: string;
  /** Segments retransmitted. */
  retransmits: number;
  /** Payload bytes received in order. */
  bytesIn: number;
  /** Payload bytes acknowledged by the peer. */
  bytesOut: number;
  /** Bytes waiting in the send buffer (unacknowledged + unsent). */
  sendQueued: number;
  /** Bytes waiting to be read. */
  receiveQueued: number;
  /**
   * Our initial sequence number. This and the other sequence numbers below are unsigned,
   * 0..2^32-1, as tcpdump and Wireshark print them (the engine holds them as signed 32-bit
   * integers; see `seq.ts`).
   */
  iss: number;
  /** The peer's initial sequence number (0 before its SYN arrived), unsigned. */
  irs: number;
  /** SND.UNA: oldest unacknowledged sequence number, unsigned. */
  sndUna: number;
  /** SND.NXT: next sequence number to send, unsigned. */
  sndNxt: number;
  /** RCV.NXT: next sequence number expected from the peer, unsigned. */
  rcvNxt: number;
  /** Window scaling, timestamps and SACK in use. */
  windowScaling: boolean;
  /** Timestamps in use. */
  timestamps: boolean;
  /** SACK in use. */
  sack: boolean;
}

/**
 * One TCP connection (a TCB). Made by {@link TcpLayer}; the socket layer
 * uses the application-side methods (`write`, `read`, `closeWrite`, `close`,
 * `abort`, `setNoDelay`, `setKeepAlive`, `info`) and sets `events`.
 *
 * @example
 * ```ts
 * import { TcpState, TCP_STATE_NAMES } from "./connection.ts";
 * console.assert(TCP_STATE_NAMES[TcpState.TIME_WAIT] === "TIME-WAIT");
 * ```
 */
export class TcpConnection implements TimerTarget {
  /** Local IPv4 address, a signed 32-bit integer like every numeric address (see address.ts). */
  readonly localAddr: number;
  /** Local port. */
  readonly localPort: number;
  /** Remote IPv4 address, int32. */
  readonly remoteAddr: number;
  /** Remote port. */
  readonly remotePort: number;
  /** Application callbacks. */
  events: TcpConnectionEvents | null = null;
  /** The listener that spawned this connection (passive open), else null. Used by the layer. */
  listener: unknown = null;
  /** Layer bookkeeping: counted in its listener's SYN queue. */
  inSynQueue = false;

  #ctx: TcpContext;
  #cfg: TcpConfig;
  #state: TcpState = TcpState.CLOSED;
  #error: TcpError | null = null;
  #passive = false;

  // --- send sequence space (RFC 9293 §3.3.1) ---
  #iss = 0;
  #sndUna = 0;
  #sndNxt = 0;
  /** Highest sequence number sent + 1 (BSD snd_max). */
  #sndMax = 0;
  #sndWnd = 0;
  #sndWl1 = 0;
  #sndWl2 = 0;
  #maxSndWnd = 0;
  /** Sequence number of send-ring offset 0. */
  #dataSeq = 0;
  /** The application asked for a FIN after the queued data. */
  #finQueued = false;
  #appClosed = false;
  /** Zero-window probe outstanding: ACKs up to here are acceptable. */
  #probeEnd = 0;
  /** End of the last small segment sent (Minshall's Nagle variant). */
  #sndSml = 0;
  #probing = false;
  #persistBackoff = 0;

  // --- receive sequence space ---
  #irs = 0;
  #rcvNxt = 0;
  /** Right edge of the window we advertised. */
  #rcvAdvRight = 0;
  #finReceived = false;
  /** Sequence number of a FIN that arrived out of order. */
  #rcvFinSeq = 0;
  #rcvFinPending = false;

  // --- options ---
  #ourMss = DEFAULT_MSS;
  #peerMss = DEFAULT_MSS;
  #sndMss = DEFAULT_MSS;
  #rcvMssEstimate = DEFAULT_MSS;
  #wsOk = false;
  #sndWScale = 0;
  #rcvWScale = 0;
  #tsOk = false;
  #tsRecent = 0;
  #tsRecentAgeMs = 0;
  #tsOffset = 0;
  #lastAckSent = 0;
  #sackOk = false;

  // --- buffers ---
  #sendRing: ByteRingType | null = null;
  #recvRing: ByteRingType | null = null;
  #ooo: RangeSet | null = null;
  #scoreboard: RangeSet | null = null;
  /** Made with the first out-of-order segment (RFC 2018 §4 most-recent blocks). */
  #sackRecent: number[] | null = null;
  #sackRecentCount = 0;

  // --- retransmission / congestion ---
  #rtt: RttEstimator;
  #cc: CongestionControl;
  #retries = 0;
  #rttTiming = false;
  #rttSeq = 0;
  #rttStartMs = 0;
  #rtoSinceTs = false;
  #rtoTsVal = 0;
  #dupAcks = 0;
  #inRecovery = false;
  #recoverPoint = 0;
  #recoveryCwnd = 0;
  #highRxt = 0;
  #holeEnd = 0;
  #retransmitCount = 0;

  // --- ACK generation ---
  #ackNow = false;
  #unackedBytes = 0;
  /** Quick-ACK budget: in-order data segments still to be acknowledged at once. */
  #quickAcks = 0;
  /** When in-order data last arrived (-Infinity: never, so the first data is quick-ACKed). */
  #lastDataRecvMs = -Infinity;
  /**
   * Interactive ("ping-pong") mode, Linux inet_csk pingpong: we sent data less than a
   * delayed-ACK interval after data (or the handshake) arrived, so the application answers
   * what it receives: received data is not quick-ACKed, the reply carries the ACK
   * (RFC 9293 §3.8.6.3, RFC 1122 §4.2.3.2). Left when the delayed-ACK timer fires.
   */
  #pingpong = false;
  /**
   * Linux icsk_ack.lrcvtime: when data last arrived, or the peer's SYN (passive open) or
   * SYN-ACK (active open) did — the reference of #pingpong.
   */
  #lastRecvActivityMs = -Infinity;
  /** Linux lsndtime: when we last sent data. */
  #lastDataSentMs = -Infinity;

  // --- misc ---
  #noDelay: boolean;
  #keepAlive: boolean;
  #keepAliveIdleMs: number;
  #keepAliveProbesSent = 0;
  #lastRecvMs = 0;
  #challengeWindowStart = -Infinity;
  #challengeCount = 0;
  #bytesIn = 0;
  #bytesOut = 0;
  #wantWritable = false;
  #events = 0;
  #closedSignalled = false;
  #released = false;
  #depth = 0;

  // Timers are made on first use: an idle connection that never needed one holds none.
  #rtxTimer: Timer | null = null;
  /** When the retransmission timer really expires (the wheel may hold an earlier deadline). */
  #rtxDueMs = Infinity;
  #delackTimer: Timer | null = null;
  #persistTimer: Timer | null = null;
  #keepaliveTimer: Timer | null = null;
  #timeWaitTimer: Timer | null = null;

  /**
   * Made by the layer; call one of `openActive`, `openPassive`, `openFromCookie` next.
   *
   * @param ctx shared context
   * @param localAddr local address (int32 or the unsigned form; stored as int32)
   * @param localPort local port
   * @param remoteAddr remote address (int32 or the unsigned form)
   * @param remotePort remote port
   */
  constructor(
    ctx: TcpContext,
    localAddr: number,
    localPort: number,
    remoteAddr: number,
    remotePort: number,
  ) {
    this.#ctx = ctx;
    this.#cfg = ctx.config;
    this.localAddr = localAddr | 0;
    this.localPort = localPort;
    this.remoteAddr = remoteAddr | 0;
    this.remotePort = remotePort;
    const cfg = ctx.config;
    this.#rtt = new RttEstimator({
      minRtoMs: cfg.minRtoMs,
      maxRtoMs: cfg.maxRtoMs,
      initialRtoMs: cfg.initialRtoMs,
    });
    this.#cc = createCongestionControl(cfg.congestion, DEFAULT_MSS);
    this.#noDelay = cfg.noDelay;
    this.#keepAlive = cfg.keepAlive;
    this.#keepAliveIdleMs = cfg.keepAliveIdleMs;
    // RFC 7323 §5.4: a per-connection random timestamp offset.
    this.#tsOffset = timestampOffset(ctx.secret, localAddr, localPort, remoteAddr, remotePort);
    const mtu = ctx.ip.mtuFor(remoteAddr);
    this.#ourMss = Math.max(MIN_MSS, Math.min(MAX_WINDOW_FIELD, mtu - IPV4_TCP_HEADERS_LEN));
  }

  // ------------------------------------------------------------------ getters

  /** Current state. */
  get state(): TcpState {
    return this.#state;
  }
  /** Current state's RFC name. */
  get stateName(): string {
    return TCP_STATE_NAMES[this.#state];
  }
  /** The error that closed the connection, if any. */
  get error(): TcpError | null {
    return this.#error;
  }
  /** Bytes ready to {@link read}. */
  get readableLength(): number {
    return this.#recvRing === null ? 0 : this.#recvRing.length;
  }
  /** The peer's FIN was received and every byte before it was read (end of stream). */
  get eof(): boolean {
    return this.#finReceived && this.readableLength === 0;
  }
  /** The peer's FIN was received. */
  get finReceived(): boolean {
    return this.#finReceived;
  }
  /** Free bytes in the send buffer (0 once the send side is closed). */
  get writableLength(): number {
    if (!this.#canWrite()) return 0;
    return this.#sendRing === null ? this.#cfg.sendBufferBytes : this.#sendRing.free;
  }
  /** Bytes queued in the send buffer (unacknowledged and unsent). */
  get sendQueued(): number {
    return this.#sendRing === null ? 0 : this.#sendRing.length;
  }
  /** Whether the connection was released to the layer (CLOSED and forgotten). */
  get released(): boolean {
    return this.#released;
  }
  /**
   * Bytes of send/receive ring storage this connection holds right now: 0 while idle
   * (storage is attached when data arrives or is written and given back once drained).
   */
  get bufferBytes(): number {
    let n = 0;
    if (this.#sendRing !== null && this.#sendRing.allocated) n += this.#sendRing.capacity;
    if (this.#recvRing !== null && this.#recvRing.allocated) n += this.#recvRing.capacity;
    return n;
  }
  /** Whether any timer of this connection is armed. */
  get hasArmedTimers(): boolean {
    return isArmed(this.#rtxTimer) || isArmed(this.#delackTimer) ||
      isArmed(this.#persistTimer) || isArmed(this.#keepaliveTimer) ||
      isArmed(this.#timeWaitTimer);
  }
  /**
   * Whether a new active open may take this connection's 4-tuple over (Linux
   * tcp_twsk_unique with tcp_tw_reuse, RFC 6191 §2): it is in TIME-WAIT, timestamps are in
   * use (PAWS rejects old duplicates) and it has been in TIME-WAIT for at least a second
   * (the timestamp clock moved past every segment of the old incarnation).
   *
   * @param nowMs current time
   * @returns true when the 4-tuple may be reused
   */
  timeWaitReusable(nowMs: number): boolean {
    const t = this.#timeWaitTimer;
    return this.#state === TcpState.TIME_WAIT && this.#tsOk && t !== null &&
      nowMs - (t.deadline - this.#cfg.timeWaitMs) >= TIME_WAIT_REUSE_MS;
  }
  /**
   * Leaves TIME-WAIT for CLOSED at once, keeping unread data for the application (Linux
   * tcp_time_wait when tcp_max_tw_buckets is reached); no segment is sent.
   *
   * @returns nothing
   */
  skipTimeWait(): void {
    if (this.#state !== TcpState.TIME_WAIT) return;
    this.#enter();
    this.#terminate(null);
    this.#leave();
  }

  /**
   * Our initial sequence number, in the engine's form: a signed 32-bit integer (compare with
   * the `seq.ts` helpers; `>>> 0` or {@link info} for the unsigned value).
   */
  get iss(): number {
    return this.#iss;
  }
  /** RCV.NXT: the next sequence number expected from the peer, signed 32-bit like {@link iss}. */
  get rcvNxt(): number {
    return this.#rcvNxt;
  }
  /**
   * Sequence state for tests and diagnostics (allocates): sequence numbers unsigned,
   * 0..2^32-1, as people read them; `sndWnd` in bytes.
   */
  get sequenceState(): {
    iss: number;
    irs: number;
    sndUna: number;
    sndNxt: number;
    sndMax: number;
    rcvNxt: number;
    sndWnd: number;
  } {
    return {
      iss: this.#iss >>> 0,
      irs: this.#irs >>> 0,
      sndUna: this.#sndUna >>> 0,
      sndNxt: this.#sndNxt >>> 0,
      sndMax: this.#sndMax >>> 0,
      rcvNxt: this.#rcvNxt >>> 0,
      sndWnd: this.#sndWnd,
    };
  }

  // ------------------------------------------------------------------ opening

  /**
   * Active open (RFC 9293 §3.10.1): choose the ISS, send SYN, enter SYN-SENT.
   *
   * @param nowMs current time
   * @param iss the initial send sequence number (either form: stored as int32); default RFC 6528
   * @returns nothing
   */
  openActive(nowMs: number, iss?: number): void {
    this.#enter();
    this.#iss = iss === undefined ? this.#isn(nowMs) : iss | 0;
    this.#initSend();
    this.#allocateBuffers();
    this.#rcvWScale = this.#cfg.windowScaling ? this.#chooseWindowShift() : 0;
    this.#state = TcpState.SYN_SENT;
    this.#lastRecvMs = nowMs;
    this.#output(nowMs);
    this.#leave();
  }

  /**
   * Passive open from a SYN that a listener accepted (RFC 9293 §3.10.7.2):
   * record the peer's options, send SYN-ACK, enter SYN-RECEIVED.
   *
   * @param nowMs current time
   * @param syn the parsed SYN
   * @param iss the initial send sequence number (either form: stored as int32); default RFC 6528
   * @returns nothing
   */
  openPassive(nowMs: number, syn: TcpRepr, iss?: number): void {
    this.#enter();
    this.#passive = true;
    this.#iss = iss === undefined ? this.#isn(nowMs) : iss | 0;
    this.#initSend();
    this.#irs = syn.seq | 0;
    this.#rcvNxt = seqAdd(syn.seq, 1);
    this.#negotiate(syn);
    // RFC 7323 §2.2: the window in a SYN is never scaled.
    this.#sndWnd = syn.window;
    this.#maxSndWnd = syn.window;
    this.#sndWl1 = syn.seq | 0;
    this.#sndWl2 = this.#iss;
    this.#rcvAdvRight = seqAdd(this.#rcvNxt, this.#synWindow());
    this.#state = TcpState.SYN_RECEIVED;
    this.#lastRecvMs = nowMs;
    this.#lastRecvActivityMs = nowMs; // Linux tcp_create_openreq_child: lrcvtime = the SYN's
    this.#output(nowMs);
    this.#leave();
  }

  /**
   * Establishes a connection from a validated SYN cookie (RFC 4987 §3.6)
   * with the MSS the cookie encodes and, when the handshake carried
   * timestamps, the window scaling and SACK our cookie SYN-ACK's TSval
   * remembered (see `TcpLayer`; without timestamps none survive).
   *
   * @param nowMs current time
   * @param iss our ISS (the cookie; either form: stored as int32)
   * @param irs the peer's ISS (either form)
   * @param mss the MSS decoded from the cookie
   * @param window the raw window field of the completing ACK
   * @param options what the cookie's timestamp carried (default: nothing)
   * @returns nothing
   */
  openFromCookie(
    nowMs: number,
    iss: number,
    irs: number,
    mss: number,
    window: number,
    options: CookieOptions = NO_COOKIE_OPTIONS,
  ): void {
    this.#enter();
    this.#passive = true;
    this.#iss = iss | 0;
    this.#initSend();
    this.#irs = irs | 0;
    this.#rcvNxt = seqAdd(irs, 1);
    this.#peerMss = mss;
    // RFC 7323 §2.2 / §3.2, RFC 2018 §2, as agreed in the SYN and our cookie SYN-ACK.
    this.#wsOk = options.sndWScale >= 0;
    this.#sndWScale = this.#wsOk ? options.sndWScale : 0;
    this.#rcvWScale = this.#wsOk ? this.#chooseWindowShift() : 0;
    this.#sackOk = options.sackOk;
    this.#tsOk = options.tsVal !== null;
    if (options.tsVal !== null) {
      this.#tsRecent = options.tsVal;
      this.#tsRecentAgeMs = nowMs;
    }
    this.#updateSndMss();
    this.#sndUna = seqAdd(iss, 1);
    this.#sndNxt = this.#sndUna;
    this.#sndMax = this.#sndUna;
    this.#rcvAdvRight = seqAdd(this.#rcvNxt, this.#synWindow());
    this.#lastRecvMs = nowMs;
    this.#lastRecvActivityMs = nowMs;
    this.#state = TcpState.SYN_RECEIVED;
    this.#establish(nowMs, window, this.#irs, this.#sndUna);
    this.#leave();
  }

  #isn(nowMs: number): number {
    return initialSequenceNumber(
      this.#ctx.secret,
      nowMs,
      this.localAddr,
      this.localPort,
      this.remoteAddr,
      this.remotePort,
    );
  }

  #initSend(): void {
    this.#sndUna = this.#iss;
    this.#sndNxt = this.#iss;
    this.#sndMax = this.#iss;
    this.#dataSeq = seqAdd(this.#iss, 1);
    this.#sndSml = this.#iss;
    this.#recoverPoint = this.#iss;
    this.#highRxt = this.#iss;
  }

  /**
   * Makes the send and receive rings. Their storage is attached on first data (from the
   * layer's ring pool) and given back when they drain, so an idle connection holds no
   * buffer; the reassembly set and the SACK scoreboard are made when first needed.
   */
  #allocateBuffers(): void {
    const cfg = this.#cfg;
    const ringOpts = { lazy: true, pool: this.#ctx.ringPool ?? null };
    if (this.#sendRing === null) this.#sendRing = new ByteRing(cfg.sendBufferBytes, ringOpts);
    if (this.#recvRing === null) this.#recvRing = new ByteRing(cfg.receiveBufferBytes, ringOpts);
  }

  /** Gives the receive ring's storage back when it is drained and holds no out-of-order data. */
  #releaseRecvStorage(): void {
    const ring = this.#recvRing;
    if (ring !== null && ring.length === 0 && (this.#ooo === null || this.#ooo.isEmpty())) {
      ring.release();
    }
  }

  /** RFC 7323 §2.3: the smallest shift that lets the whole buffer be advertised. */
  #chooseWindowShift(): number {
    return windowShiftFor(this.#cfg.receiveBufferBytes);
  }

  #synWindow(): number {
    return Math.min(this.#cfg.receiveBufferBytes, MAX_WINDOW_FIELD);
  }

  /** Records the options of the peer's SYN (RFC 9293 §3.7.1, RFC 7323 §2.2/§3.2, RFC 2018 §2). */
  #negotiate(syn: TcpRepr): void {
    const cfg = this.#cfg;
    this.#peerMss = syn.mss > 0 ? syn.mss : DEFAULT_MSS;
    // RFC 7323 §2.2: scaling only when both SYNs carry the option.
    this.#wsOk = cfg.windowScaling && syn.windowScale >= 0;
    this.#sndWScale = this.#wsOk ? syn.windowScale : 0;
    this.#rcvWScale = this.#wsOk ? this.#chooseWindowShift() : 0;
    this.#tsOk = cfg.timestamps && syn.hasTimestamp;
    if (this.#tsOk) {
      this.#tsRecent = syn.tsVal;
      this.#tsRecentAgeMs = this.#lastRecvMs;
    }
    this.#sackOk = cfg.sack && syn.sackPermitted;
    this.#updateSndMss();
  }

  #updateSndMss(): void {
    let mss = Math.min(this.#peerMss, this.#ourMss);
    if (this.#tsOk) mss -= TIMESTAMP_OPTION_BYTES;
    this.#sndMss = Math.max(MIN_MSS, mss);
    this.#rcvMssEstimate = Math.min(this.#ourMss, DEFAULT_MSS);
    this.#cc.setMss(this.#sndMss);
    if (this.#state <= TcpState.SYN_RECEIVED) {
      // RFC 6928: the initial window follows the negotiated MSS.
      this.#cc = createCongestionControl(this.#cfg.congestion, this.#sndMss);
    }
  }

  /**
   * Data bytes per segment right now: RFC 9293 §3.7.1 takes every TCP option out of the
   * effective send MSS (Eff.snd.MSS = min(SendMSS+20, MMS_S) - TCPhdrsize - IPoptionsize).
   * The timestamp option is already out of #sndMss; the SACK blocks our segments carry
   * while out-of-order data is held come off here (as Linux's tcp_current_mss).
   */
  #currentMss(): number {
    const ooo = this.#ooo;
    if (!this.#sackOk || ooo === null || ooo.isEmpty()) return this.#sndMss;
    const max = this.#tsOk ? SACK_BLOCKS_WITH_TS : SACK_BLOCKS_WITHOUT_TS;
    const blocks = ooo.count < max ? ooo.count : max;
    return this.#sndMss - SACK_OPTION_OVERHEAD_BYTES - blocks * SACK_BLOCK_BYTES;
  }

  // ------------------------------------------------------------------ app side

  #canWrite(): boolean {
    const s = this.#state;
    return !this.#finQueued && this.#error === null &&
      (s === TcpState.SYN_SENT || s === TcpState.SYN_RECEIVED || s === TcpState.ESTABLISHED ||
        s === TcpState.CLOSE_WAIT);
  }

  /**
   * Queues application data (RFC 9293 §3.10.2 SEND). Data is cut into
   * segments by MSS; the last segment of a write carries PSH.
   *
   * @param src source bytes
   * @param offset first byte
   * @param length bytes offered
   * @returns bytes accepted into the send buffer (0 when full), or -1 when the
   *   send side is closed (after closeWrite, reset, timeout): the socket layer
   *   reports broken pipe / not connected
   */
  write(src: Uint8Array, offset: number, length: number): number {
    if (!this.#canWrite()) return -1;
    const ring = this.#sendRing;
    if (ring === null || length <= 0) return 0;
    this.#enter();
    const n = ring.write(src, offset, length);
    if (n < length) this.#wantWritable = true;
    if (n > 0) this.#output(this.#ctx.clock.now());
    this.#leave();
    return n;
  }

  /**
   * Reads received data in order (RFC 9293 §3.10.3 RECEIVE). Reading opens
   * the receive window; a window update is sent when it grew enough
   * (RFC 9293 §3.8.6.2.2).
   *
   * @param dst destination
   * @param offset first destination byte
   * @param length room in `dst`
   * @returns bytes read; 0 when nothing is buffered (see {@link eof} and {@link error})
   */
  read(dst: Uint8Array, offset: number, length: number): number {
    const ring = this.#recvRing;
    if (ring === null || length <= 0) return 0;
    const n = ring.read(dst, offset, length);
    if (n > 0 && ring.length === 0) this.#releaseRecvStorage();
    if (n > 0 && this.#isSynchronized() && !this.#finReceived) {
      this.#enter();
      // The largest window we can advertise: the buffer, capped by the 16-bit field and shift.
      const clamp = Math.min(this.#cfg.receiveBufferBytes, this.#maxRcvWindow());
      const current = seqSub(this.#rcvAdvRight, this.#rcvNxt);
      const next = seqSub(this.#openRight(), this.#rcvNxt);
      // Window update only when it matters (RFC 9293 §3.8.6.2.2, as Linux tcp_cleanup_rbuf):
      // the advertised window fell to half the clamp or less, and the right edge moves by at
      // least the SWS threshold, computed as #windowField will, so the update really carries
      // a new window — an ACK with an unchanged window is a duplicate ACK (RFC 5681 §2).
      if (
        current <= clamp >>> 1 && next - current >= this.#swsThreshold() &&
        next >>> this.#rcvWScale > current >>> this.#rcvWScale
      ) {
        this.#ackNow = true;
        this.#output(this.#ctx.clock.now());
      }
      this.#leave();
    }
    return n;
  }

  /**
   * Half-close (RFC 9293 §3.10.4 CLOSE of the send side): a FIN follows the
   * queued data. Reading continues until the peer's FIN.
   *
   * @returns nothing
   */
  closeWrite(): void {
    if (this.#finQueued) return;
    const s = this.#state;
    this.#enter();
    const nowMs = this.#ctx.clock.now();
    switch (s) {
      case TcpState.SYN_SENT:
      case TcpState.SYN_RECEIVED:
        // RFC 9293 §3.10.4: queue the FIN until ESTABLISHED.
        this.#finQueued = true;
        break;
      case TcpState.ESTABLISHED:
        this.#finQueued = true;
        this.#state = TcpState.FIN_WAIT_1;
        this.#output(nowMs);
        break;
      case TcpState.CLOSE_WAIT:
        this.#finQueued = true;
        this.#state = TcpState.LAST_ACK;
        this.#output(nowMs);
        break;
      default:
        break;
    }
    this.#leave();
  }

  /**
   * Full close. With unread received data the connection is reset
   * (RFC 9293 §3.6, RFC 2525 §2.17); otherwise a FIN is sent and the
   * connection finishes in the background (FIN-WAIT/TIME-WAIT). Data that
   * arrives afterwards is answered with RST.
   *
   * @returns nothing
   */
  close(): void {
    const s = this.#state;
    if (s === TcpState.CLOSED || this.#appClosed) {
      this.#appClosed = true;
      return;
    }
    this.#enter();
    this.#appClosed = true;
    const nowMs = this.#ctx.clock.now();
    if (s === TcpState.SYN_SENT) {
      // RFC 9293 §3.10.4: SYN-SENT: delete the TCB.
      this.#terminate(null);
    } else if (this.readableLength > 0 && s !== TcpState.TIME_WAIT) {
      this.#sendReset(nowMs);
      this.#terminate(null);
    } else {
      this.closeWrite();
      if (this.#state === TcpState.FIN_WAIT_2) this.#armOrphanTimeout(nowMs);
    }
    this.#leave();
  }

  /**
   * ABORT (RFC 9293 §3.10.5): send RST if synchronized, drop everything.
   *
   * @returns nothing
   */
  abort(): void {
    if (this.#state === TcpState.CLOSED) return;
    this.#enter();
    this.#appClosed = true;
    if (this.#isSynchronized() && this.#state !== TcpState.TIME_WAIT) {
      this.#sendReset(this.#ctx.clock.now());
    }
    this.#terminate(null);
    this.#leave();
  }

  /**
   * Turns Nagle's algorithm off (`true`) or on (RFC 896, RFC 9293 §3.7.4).
   *
   * @param noDelay true to send small segments immediately
   * @returns nothing
   */
  setNoDelay(noDelay: boolean): void {
    this.#noDelay = noDelay;
    if (noDelay && this.#isSynchronized()) {
      this.#enter();
      this.#output(this.#ctx.clock.now());
      this.#leave();
    }
  }

  /**
   * Keep-alive (RFC 9293 §3.8.4, off by default).
   *
   * @param enable on or off
   * @param idleMs idle time before the first probe (default from config)
   * @returns nothing
   */
  setKeepAlive(enable: boolean, idleMs?: number): void {
    this.#keepAlive = enable;
    if (idleMs !== undefined && idleMs > 0) this.#keepAliveIdleMs = idleMs;
    if (enable) this.#armKeepAlive(this.#ctx.clock.now());
    else if (this.#keepaliveTimer !== null) this.#ctx.wheel.cancel(this.#keepaliveTimer);
  }

  /**
   * A TCP_INFO-like snapshot.
   *
   * @returns the current figures
   */
  info(): TcpInfo {
    return {
      state: this.stateName,
      srttMs: this.#rtt.srttMs,
      rttvarMs: this.#rtt.rttvarMs,
      rtoMs: this.#rtt.rtoMs,
      cwnd: this.#cc.cwnd,
      ssthresh: this.#cc.ssthresh,
      sndWnd: this.#sndWnd,
      rcvWnd: Math.max(0, seqSub(this.#rcvAdvRight, this.#rcvNxt)),
      sndMss: this.#sndMss,
      congestion: this.#cc.name,
      retransmits: this.#retransmitCount,
      bytesIn: this.#bytesIn,
      bytesOut: this.#bytesOut,
      sendQueued: this.sendQueued,
      receiveQueued: this.readableLength,
      iss: this.#iss >>> 0,
      irs: this.#irs >>> 0,
      sndUna: this.#sndUna >>> 0,
      sndNxt: this.#sndNxt >>> 0,
      rcvNxt: this.#rcvNxt >>> 0,
      windowScaling: this.#wsOk,
      timestamps: this.#tsOk,
      sack: this.#sackOk,
    };
  }

  // ------------------------------------------------------------------ events

  #enter(): void {
    this.#depth++;
  }

  #leave(): void {
    if (--this.#depth > 0) return;
    while (this.#events !== 0) {
      const e = this.#events;
      this.#events = 0;
      // The owner first: accepting may install `events`.
      if (e & EV_ACCEPT) this.#ctx.owner.onConnectionEstablished(this);
      const ev = this.events;
      if (ev === null) continue;
      if (e & EV_ESTABLISHED) ev.onEstablished?.(this);
      if (e & EV_READABLE) ev.onReadable?.(this);
      if (e & EV_WRITABLE) ev.onWritable?.(this);
      if (e & EV_CLOSED) ev.onClosed?.(this, this.#error);
    }
  }

  #isClosed(): boolean {
    return this.#state === TcpState.CLOSED;
  }

  #isSynchronized(): boolean {
    return this.#state >= TcpState.ESTABLISHED;
  }

  // ------------------------------------------------------------------ timers

  /**
   * Timer expiry (called by the wheel).
   *
   * @param kind one of the TCP_TIMER_* kinds
   * @param nowMs current time
   * @returns nothing
   */
  onTimer(kind: number, nowMs: number): void {
    if (this.#state === TcpState.CLOSED) return;
    this.#enter();
    switch (kind) {
      case TCP_TIMER_RETRANSMIT:
        // A lazily re-armed timer fired before its real deadline: push it back.
        if (nowMs < this.#rtxDueMs) this.#ctx.wheel.schedule(this.#rtxTimer!, this.#rtxDueMs);
        else this.#onRetransmitTimeout(nowMs);
        break;
      case TCP_TIMER_DELAYED_ACK:
        if (this.#unackedBytes > 0 || this.#ackNow) {
          // Linux tcp_delack_timer_handler: the reply did not come in time: not interactive.
          this.#pingpong = false;
          this.#ackNow = true;
          this.#output(nowMs);
        }
        break;
      case TCP_TIMER_PERSIST:
        this.#onPersist(nowMs);
        break;
      case TCP_TIMER_KEEPALIVE:
        this.#onKeepAlive(nowMs);
        break;
      case TCP_TIMER_TIME_WAIT:
        // RFC 9293 §3.10.8: TIME-WAIT timeout; also the orphaned FIN-WAIT-2 timeout.
        this.#terminate(null);
        break;
    }
    this.#leave();
  }

  /**
   * RFC 6298 §5.1/§5.3: (re)start the retransmission timer to expire RTO from now. Lazily:
   * an armed timer due earlier is left in the wheel and pushed back when it fires (see
   * onTimer), so the ACK after ACK of a bulk flow costs a compare, not a wheel operation.
   */
  #armRetransmit(nowMs: number): void {
    const due = nowMs + this.#rtt.rtoMs;
    this.#rtxDueMs = due;
    const t = this.#rtxTimer ??= new Timer(this, TCP_TIMER_RETRANSMIT);
    if (!t.armed || t.deadline > due) this.#ctx.wheel.schedule(t, due);
    if (isArmed(this.#persistTimer)) this.#ctx.wheel.cancel(this.#persistTimer!);
  }

  #onRetransmitTimeout(nowMs: number): void {
    const s = this.#state;
    const cfg = this.#cfg;
    this.#ctx.stats.timeouts++;
    this.#retries++;
    if (s === TcpState.SYN_SENT || s === TcpState.SYN_RECEIVED) {
      const limit = s === TcpState.SYN_SENT ? cfg.synRetries : cfg.synAckRetries;
      if (this.#retries > limit) {
        this.#terminate(
          new TimedOut(s === TcpState.SYN_SENT ? "connect timed out" : "handshake timed out"),
        );
        return;
      }
      this.#rtt.backoff();
      this.#rttTiming = false; // Karn
      this.#sndNxt = this.#iss;
      this.#output(nowMs);
      return;
    }
    if (this.#sndUna === this.#sndMax) {
      // Nothing outstanding: the timer was a retry after a buffer shortage.
      this.#retries--;
      this.#output(nowMs);
      return;
    }
    if (this.#retries > cfg.dataRetries) {
      this.#terminate(new TimedOut("retransmission limit reached"));
      return;
    }
    const flight = seqSub(this.#sndMax, this.#sndUna);
    // RFC 5681 §3.1 / RFC 9438 §4.8: on the first timeout of an episode only.
    if (this.#retries === 1) this.#cc.onTimeout(nowMs, flight);
    // RFC 6298 §5.5: back off.
    this.#rtt.backoff();
    // RFC 6298 §5.4 + Karn: retransmit from SND.UNA, no RTT sample from it.
    this.#rttTiming = false;
    this.#rtoSinceTs = true;
    this.#rtoTsVal = this.#tsNow(nowMs);
    this.#inRecovery = false;
    this.#dupAcks = 0;
    // RFC 6582 §4: after a timeout, recover = highest sequence sent.
    this.#recoverPoint = this.#sndMax;
    // RFC 6675 §5.1: after an RTO, SACK information is not trusted.
    this.#scoreboard?.clear();
    this.#highRxt = this.#sndUna;
    this.#sndNxt = this.#sndUna;
    this.#output(nowMs, true);
    if (!isArmed(this.#rtxTimer) && this.#sndUna !== this.#sndMax) this.#armRetransmit(nowMs);
  }

  #persistIntervalMs(): number {
    let ms = Math.max(MIN_PERSIST_MS, this.#rtt.rtoMs);
    for (let i = 0; i < this.#persistBackoff && ms < this.#cfg.maxPersistMs; i++) ms *= 2;
    return Math.min(ms, this.#cfg.maxPersistMs);
  }

  /** RFC 9293 §3.8.6.1: zero-window probe — one byte beyond the window. */
  #onPersist(nowMs: number): void {
    const ring = this.#sendRing;
    if (ring === null || !this.#isSynchronized()) return;
    const offset = seqSub(this.#sndNxt, this.#dataSeq);
    const unsent = ring.length - offset;
    if (
      unsent <= 0 ||
      this.#sndWnd > 0 && seqSub(seqAdd(this.#sndUna, this.#sndWnd), this.#sndNxt) > 0
    ) {
      this.#output(nowMs);
      return;
    }
    this.#sendSegment(nowMs, this.#sndNxt, TCP_ACK, offset, 1);
    this.#probing = true;
    this.#probeEnd = seqAdd(this.#sndNxt, 1);
    this.#persistBackoff++;
    this.#persistTimer ??= new Timer(this, TCP_TIMER_PERSIST);
    this.#ctx.wheel.schedule(this.#persistTimer, nowMs + this.#persistIntervalMs());
  }

  #armKeepAlive(nowMs: number): void {
    if (!this.#keepAlive) return;
    const s = this.#state;
    if (s !== TcpState.ESTABLISHED && s !== TcpState.CLOSE_WAIT) return;
    const due = this.#keepAliveProbesSent === 0
      ? this.#lastRecvMs + this.#keepAliveIdleMs
      : nowMs + this.#cfg.keepAliveIntervalMs;
    this.#keepaliveTimer ??= new Timer(this, TCP_TIMER_KEEPALIVE);
    this.#ctx.wheel.schedule(this.#keepaliveTimer, Math.max(due, nowMs));
  }

  /** RFC 9293 §3.8.4 / RFC 1122 §4.2.3.6: keep-alive probe <SEQ=SND.UNA-1> with no data. */
  #onKeepAlive(nowMs: number): void {
    if (!this.#keepAlive) return;
    const s = this.#state;
    if (s !== TcpState.ESTABLISHED && s !== TcpState.CLOSE_WAIT) return;
    if (this.#keepAliveProbesSent === 0 && nowMs - this.#lastRecvMs < this.#keepAliveIdleMs) {
      this.#armKeepAlive(nowMs);
      return;
    }
    if (this.#keepAliveProbesSent >= this.#cfg.keepAliveProbes) {
      this.#terminate(new TimedOut("keep-alive timed out"));
      return;
    }
    this.#keepAliveProbesSent++;
    this.#sendSegment(nowMs, seqAdd(this.#sndUna, -1), TCP_ACK, 0, 0);
    this.#ctx.wheel.schedule(this.#keepaliveTimer!, nowMs + this.#cfg.keepAliveIntervalMs);
  }

  #armOrphanTimeout(nowMs: number): void {
    // Linux tcp_fin_timeout: an orphaned FIN-WAIT-2 does not wait forever for the peer's FIN.
    this.#scheduleTimeWait(nowMs);
  }

  /** (Re)starts the TIME-WAIT / orphan timer: 2 MSL (or tcp_fin_timeout) from now. */
  #scheduleTimeWait(nowMs: number): void {
    this.#timeWaitTimer ??= new Timer(this, TCP_TIMER_TIME_WAIT);
    this.#ctx.wheel.schedule(this.#timeWaitTimer, nowMs + this.#cfg.timeWaitMs);
  }

  #cancelTimers(): void {
    const w = this.#ctx.wheel;
    if (this.#rtxTimer !== null) w.cancel(this.#rtxTimer);
    if (this.#delackTimer !== null) w.cancel(this.#delackTimer);
    if (this.#persistTimer !== null) w.cancel(this.#persistTimer);
    if (this.#keepaliveTimer !== null) w.cancel(this.#keepaliveTimer);
    if (this.#timeWaitTimer !== null) w.cancel(this.#timeWaitTimer);
  }

  // ------------------------------------------------------------------ state changes

  #establish(nowMs: number, window: number, seq: number, ack: number): void {
    this.#allocateBuffers();
    this.#state = TcpState.ESTABLISHED;
    // Linux tcp_finish_connect: an active open counts the SYN-ACK as received activity.
    if (!this.#passive) this.#lastRecvActivityMs = nowMs;
    // RFC 9293 §3.10.7.4 (SYN-RECEIVED, ACK acceptable): SND.WND <- SEG.WND, WL1, WL2.
    this.#sndWnd = window << this.#sndWScale;
    this.#maxSndWnd = Math.max(this.#maxSndWnd, this.#sndWnd);
    this.#sndWl1 = seq;
    this.#sndWl2 = ack;
    this.#retries = 0;
    this.#events |= EV_ESTABLISHED | EV_WRITABLE;
    if (this.#finQueued) this.#state = TcpState.FIN_WAIT_1;
    this.#armKeepAlive(nowMs);
    // The listener hears of it once this input is processed (no re-entrancy).
    if (this.#passive) this.#events |= EV_ACCEPT;
  }

  #enterTimeWait(nowMs: number): void {
    this.#state = TcpState.TIME_WAIT;
    const w = this.#ctx.wheel;
    if (this.#rtxTimer !== null) w.cancel(this.#rtxTimer);
    if (this.#persistTimer !== null) w.cancel(this.#persistTimer);
    if (this.#keepaliveTimer !== null) w.cancel(this.#keepaliveTimer);
    // RFC 9293 §3.10.7.4: TIME-WAIT lasts 2 MSL, restarted by a retransmitted FIN.
    this.#scheduleTimeWait(nowMs);
    this.#sendRing?.release();
    this.#sendRing = null;
    this.#scoreboard = null;
    this.#releaseRecvStorage();
    this.#ooo = null;
    this.#signalClosed();
  }

  #signalClosed(): void {
    if (this.#closedSignalled) return;
    this.#closedSignalled = true;
    this.#events |= EV_CLOSED | EV_READABLE | EV_WRITABLE;
  }

  /** Enter CLOSED: cancel timers, drop buffers, tell the application and the layer. */
  #terminate(error: TcpError | null): void {
    if (this.#released) return;
    if (error !== null && this.#error === null) this.#error = error;
    this.#state = TcpState.CLOSED;
    this.#cancelTimers();
    // Nothing is sent after CLOSED, and received data is only kept for an application that
    // can still read it: after CLOSE/ABORT (RFC 9293 §3.10.4, §3.10.5) or a failure it is
    // dropped, so both rings give their storage back (release() keeps non-empty storage).
    const send = this.#sendRing;
    send?.discard(send.length);
    send?.release();
    this.#sendRing = null;
    this.#ooo = null;
    this.#scoreboard = null;
    const recv = this.#recvRing;
    if (recv !== null && (error !== null || this.#appClosed)) recv.discard(recv.length);
    this.#releaseRecvStorage();
    if (error !== null || this.#recvRing?.length === 0) this.#recvRing = null;
    this.#signalClosed();
    this.#released = true;
    this.#ctx.owner.onConnectionReleased(this);
  }

  // ------------------------------------------------------------------ input

  /**
   * A segment for this connection arrived (RFC 9293 §3.10.7). `seg` and its
   * payload are only valid during the call.
   *
   * @param nowMs current time
   * @param seg the parsed segment
   * @returns nothing
   */
  onSegment(nowMs: number, seg: TcpRepr): void {
    if (this.#state === TcpState.CLOSED) return;
    this.#enter();
    this.#lastRecvMs = nowMs;
    this.#keepAliveProbesSent = 0;
    if (this.#state === TcpState.SYN_SENT) this.#inputSynSent(nowMs, seg);
    else this.#inputSynchronizing(nowMs, seg);
    if (!this.#isClosed()) this.#output(nowMs);
    this.#leave();
  }

  /** RFC 9293 §3.10.7.3: SEGMENT ARRIVES in SYN-SENT. */
  #inputSynSent(nowMs: number, seg: TcpRepr): void {
    const flags = seg.flags;
    const hasAck = (flags & TCP_ACK) !== 0;
    // First, check the ACK bit.
    if (hasAck && (seqLe(seg.ack, this.#iss) || seqGt(seg.ack, this.#sndMax))) {
      if ((flags & TCP_RST) === 0) this.#sendBareReset(nowMs, seg.ack);
      return;
    }
    // Second, check the RST bit (RFC 5961 §3.2 for SYN-SENT: the ACK must be acceptable).
    if ((flags & TCP_RST) !== 0) {
      if (hasAck) {
        this.#ctx.stats.resetsReceived++;
        this.#terminate(new ConnectionRefused());
      }
      return;
    }
    // Fourth, check the SYN bit.
    if ((flags & TCP_SYN) === 0) return;
    this.#irs = seg.seq;
    this.#rcvNxt = seqAdd(seg.seq, 1);
    const weOfferedWs = this.#cfg.windowScaling;
    const weOfferedTs = this.#cfg.timestamps;
    this.#peerMss = seg.mss > 0 ? seg.mss : DEFAULT_MSS;
    this.#wsOk = weOfferedWs && seg.windowScale >= 0;
    this.#sndWScale = this.#wsOk ? seg.windowScale : 0;
    if (!this.#wsOk) this.#rcvWScale = 0;
    this.#tsOk = weOfferedTs && seg.hasTimestamp;
    if (this.#tsOk) {
      this.#tsRecent = seg.tsVal;
      this.#tsRecentAgeMs = nowMs;
    }
    this.#sackOk = this.#cfg.sack && seg.sackPermitted;
    this.#updateSndMss();
    this.#rcvAdvRight = seqAdd(this.#rcvNxt, this.#synWindow());
    if (hasAck) {
      this.#ackAdvance(nowMs, seg);
    }
    if (seqGt(this.#sndUna, this.#iss)) {
      // Our SYN is acknowledged: ESTABLISHED, send ACK.
      this.#establish(nowMs, seg.window, seg.seq, seg.ack);
      // RFC 7323 §2.2: the SYN-ACK's window is not scaled.
      this.#sndWnd = seg.window;
      this.#maxSndWnd = Math.max(this.#maxSndWnd, this.#sndWnd);
      this.#ackNow = true;
    } else {
      // Simultaneous open: SYN-RECEIVED, send <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>.
      this.#state = TcpState.SYN_RECEIVED;
      this.#sndWnd = seg.window;
      this.#sndWl1 = seg.seq;
      this.#sndNxt = this.#iss;
    }
  }

  /** RFC 9293 §3.10.7.4: SEGMENT ARRIVES in SYN-RECEIVED and the synchronized states. */
  #inputSynchronizing(nowMs: number, seg: TcpRepr): void {
    const stats = this.#ctx.stats;
    const flags = seg.flags;
    const rst = (flags & TCP_RST) !== 0;
    let syn = (flags & TCP_SYN) !== 0;
    let fin = (flags & TCP_FIN) !== 0;
    let seq = seg.seq;
    let dataOffset = seg.payloadOffset;
    let dataLength = seg.payloadLength;

    // A retransmitted SYN in SYN-RECEIVED: our SYN-ACK was lost; send it again.
    if (
      this.#state === TcpState.SYN_RECEIVED && syn && (flags & TCP_ACK) === 0 && !rst &&
      seq === this.#irs
    ) {
      this.#sndNxt = this.#iss;
      return;
    }

    // RFC 7323 §5.3 R1: PAWS. Not applied to RST segments.
    if (
      this.#tsOk && seg.hasTimestamp && !rst && seqLt(seg.tsVal, this.#tsRecent) &&
      nowMs - this.#tsRecentAgeMs < PAWS_IDLE_MS
    ) {
      stats.pawsDrops++;
      this.#ackNow = true;
      return;
    }

    // RFC 9293 §3.5 Figure 8 step 6 (simultaneous open): the peer's SYN-ACK
    // <SEQ=IRS><ACK=ISS+1><CTL=SYN,ACK> completes the handshake. Its SYN lies below RCV.NXT,
    // so the sequence check below would only acknowledge it; Linux makes the same exception
    // (tcp_validate_incoming, "simultaneous open SYN-ACK", before the RFC 5961 §4 SYN check)
    // for an active opener only, and acknowledges the SYN as a retransmission.
    if (
      this.#state === TcpState.SYN_RECEIVED && !this.#passive && syn && !rst && !fin &&
      (flags & TCP_ACK) !== 0 && dataLength === 0 && seq === this.#irs &&
      seg.ack === seqAdd(this.#iss, 1)
    ) {
      // RFC 7323 §4.3 (2): SEG.SEQ (IRS) =< Last.ACK.sent, so TS.Recent is updated.
      if (this.#tsOk && seg.hasTimestamp && seqGe(seg.tsVal, this.#tsRecent)) {
        this.#tsRecent = seg.tsVal;
        this.#tsRecentAgeMs = nowMs;
      }
      this.#ackAdvance(nowMs, seg);
      this.#establish(nowMs, seg.window, seq, seg.ack);
      // RFC 7323 §2.2: the window of a SYN is never scaled.
      this.#sndWnd = seg.window;
      this.#maxSndWnd = Math.max(this.#maxSndWnd, this.#sndWnd);
      this.#ackNow = true;
      return;
    }

    // First, check the sequence number (§3.10.7.4 first).
    const rcvWnd = Math.max(0, seqSub(this.#rcvAdvRight, this.#rcvNxt));
    const segLen = dataLength + (syn ? 1 : 0) + (fin ? 1 : 0);
    let acceptable: boolean;
    if (segLen === 0) {
      acceptable = rcvWnd === 0 ? seq === this.#rcvNxt : seqInWindow(seq, this.#rcvNxt, rcvWnd);
    } else if (rcvWnd === 0) {
      acceptable = false;
    } else {
      acceptable = seqInWindow(seq, this.#rcvNxt, rcvWnd) ||
        seqInWindow(seqAdd(seq, segLen - 1), this.#rcvNxt, rcvWnd);
    }
    if (!acceptable) {
      if (rst) return;
      // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>
      this.#ackNow = true;
      if (rcvWnd === 0 && seq === this.#rcvNxt && !syn) {
        // §3.10.7.4: with a zero window, still process valid ACKs (strip the text: a probe).
        dataLength = 0;
        fin = false;
      } else {
        // TIME-WAIT: a retransmitted FIN is acknowledged and restarts the 2 MSL timeout.
        if (fin && this.#state === TcpState.TIME_WAIT) this.#scheduleTimeWait(nowMs);
        return;
      }
    }
    // Trim to the window: bytes before RCV.NXT (and a SYN there) are old.
    if (seqLt(seq, this.#rcvNxt)) {
      let d = seqSub(this.#rcvNxt, seq);
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
    const room = seqSub(seqAdd(this.#rcvNxt, rcvWnd), seq);
    if (dataLength > room) {
      dataLength = Math.max(0, room);
      fin = false;
    }

    // Second, check the RST bit (RFC 5961 §3.2).
    if (rst) {
      if (seg.seq === this.#rcvNxt) {
        stats.resetsReceived++;
        this.#onReset();
      } else {
        this.#challengeAck(nowMs);
      }
      return;
    }

    // RFC 7323 §4.3 (2): update TS.Recent from an acceptable segment.
    if (
      this.#tsOk && seg.hasTimestamp && seqGe(seg.tsVal, this.#tsRecent) &&
      seqLe(seg.seq, this.#lastAckSent)
    ) {
      this.#tsRecent = seg.tsVal;
      this.#tsRecentAgeMs = nowMs;
    }

    // Fourth, check the SYN bit (RFC 5961 §4: challenge ACK, drop).
    if (syn) {
      this.#challengeAck(nowMs);
      return;
    }

    // Fifth, check the ACK field.
    if ((flags & TCP_ACK) === 0) return;
    if (this.#state === TcpState.SYN_RECEIVED) {
      if (seqGt(seg.ack, this.#sndUna) && seqLe(seg.ack, this.#sndMax)) {
        this.#ackAdvance(nowMs, seg);
        this.#establish(nowMs, seg.window, seg.seq, seg.ack);
      } else {
        this.#sendBareReset(nowMs, seg.ack); // <SEQ=SEG.ACK><CTL=RST>
        return;
      }
    } else if (!this.#processAck(nowMs, seg, seq, dataLength)) {
      return;
    }
    switch (this.#state) {
      case TcpState.FIN_WAIT_1:
        if (this.#finAcked()) {
          this.#state = TcpState.FIN_WAIT_2;
          if (this.#appClosed) this.#armOrphanTimeout(nowMs);
        }
        break;
      case TcpState.CLOSING:
        if (this.#finAcked()) this.#enterTimeWait(nowMs);
        break;
      case TcpState.LAST_ACK:
        if (this.#finAcked()) {
          this.#terminate(null);
          return;
        }
        break;
    }

    // Sixth, check the URG bit: urgent data is delivered inline (RFC 6093 §5); nothing to do.

    // Seventh, process the segment text.
    if (dataLength > 0) {
      const s = this.#state;
      if (s === TcpState.ESTABLISHED || s === TcpState.FIN_WAIT_1 || s === TcpState.FIN_WAIT_2) {
        if (this.#appClosed) {
          // RFC 9293 §3.10.4 / RFC 2525 §2.17: nobody will read this: reset.
          this.#sendReset(nowMs);
          this.#terminate(null);
          return;
        }
        this.#receiveData(nowMs, seg.payload, dataOffset, dataLength, seq, fin);
      }
      // CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: the FIN was received; ignore the text.
    }

    // Eighth, check the FIN bit.
    if (fin) {
      const finSeq = seqAdd(seq, dataLength);
      if (finSeq === this.#rcvNxt) this.#receiveFin(nowMs);
      else if (seqGt(finSeq, this.#rcvNxt)) {
        this.#rcvFinPending = true;
        this.#rcvFinSeq = finSeq;
      }
    }
  }

  /** RST accepted (RFC 9293 §3.10.7.4 second). */
  #onReset(): void {
    switch (this.#state) {
      case TcpState.SYN_RECEIVED:
        // Passive: back to LISTEN (the embryonic connection disappears). Active: refused.
        this.#terminate(this.#passive ? null : new ConnectionRefused());
        break;
      case TcpState.ESTABLISHED:
      case TcpState.FIN_WAIT_1:
      case TcpState.FIN_WAIT_2:
      case TcpState.CLOSE_WAIT:
        this.#recvRing = null; // RFC 9293: flush segment queues
        this.#terminate(new ConnectionReset());
        break;
      default:
        this.#terminate(null);
        break;
    }
  }

  /** RFC 5961 §3.2, §4.2, §5.2: a rate-limited challenge ACK. */
  #challengeAck(nowMs: number): void {
    if (nowMs - this.#challengeWindowStart >= CHALLENGE_WINDOW_MS) {
      this.#challengeWindowStart = nowMs;
      this.#challengeCount = 0;
    }
    if (this.#challengeCount >= this.#cfg.challengeAckLimitPerSecond) return;
    this.#challengeCount++;
    this.#ctx.stats.challengeAcks++;
    this.#sendSegment(nowMs, this.#sndMax, TCP_ACK, 0, 0);
  }

  #finAcked(): boolean {
    return this.#finQueued && (this.#sendRing === null || this.#sendRing.length === 0) &&
      this.#sndUna === seqAdd(this.#dataSeq, 1);
  }

  /** The FIN sequence number (valid once the FIN is queued). */
  #finSeq(): number {
    return seqAdd(this.#dataSeq, this.#sendRing === null ? 0 : this.#sendRing.length);
  }

  /**
   * RFC 9293 §3.10.7.4 fifth (ESTABLISHED and later): returns false when the
   * segment must be dropped.
   */
  #processAck(nowMs: number, seg: TcpRepr, seq: number, dataLength: number): boolean {
    const ack = seg.ack;
    const limit = this.#probing ? seqMax(this.#sndMax, this.#probeEnd) : this.#sndMax;
    if (seqGt(ack, limit)) {
      // Acknowledges something not yet sent: send an ACK, drop the segment.
      this.#ackNow = true;
      return false;
    }
    // RFC 5961 §5.2: too old to be plausible: challenge ACK, drop.
    if (seqLt(ack, seqAdd(this.#sndUna, -Math.max(this.#maxSndWnd, 1)))) {
      this.#challengeAck(nowMs);
      return false;
    }
    const oldWnd = this.#sndWnd;
    const sackNew = this.#sackOk && seg.sackCount > 0 ? this.#updateScoreboard(seg) : false;
    if (seqGt(ack, this.#sndUna)) {
      this.#ackAdvance(nowMs, seg);
    }
    // Window update (§3.10.7.4: if SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK)).
    let windowChanged = false;
    if (
      seqLe(this.#sndUna, ack) &&
      (seqLt(this.#sndWl1, seq) || (this.#sndWl1 === seq && seqLe(this.#sndWl2, ack)))
    ) {
      const wnd = seg.window << this.#sndWScale;
      windowChanged = wnd !== oldWnd;
      this.#sndWnd = wnd;
      if (wnd > this.#maxSndWnd) this.#maxSndWnd = wnd;
      this.#sndWl1 = seq;
      this.#sndWl2 = ack;
      if (wnd > 0) this.#persistBackoff = 0;
    }
    // RFC 5681 §2: duplicate ACK.
    if (
      ack === this.#sndUna && this.#sndUna !== this.#sndMax && dataLength === 0 &&
      (seg.flags & (TCP_SYN | TCP_FIN)) === 0 && (!windowChanged || sackNew)
    ) {
      this.#onDuplicateAck(nowMs, sackNew);
    }
    return true;
  }

  /** New data acknowledged (SND.UNA < SEG.ACK =< SND.MAX). */
  #ackAdvance(nowMs: number, seg: TcpRepr): void {
    const ack = seg.ack;
    // RTT measurement: RFC 7323 §4.1 (TSecr) or one timed segment (RFC 6298 §3, Karn).
    if (this.#tsOk && seg.hasTimestamp && seg.tsEcr !== 0) {
      // Karn's rule for timestamps: an echo older than our last timeout retransmission may
      // be the echo of the original transmission (the ACK for it was lost), not of the
      // retransmission: the sample would include the whole RTO. Skip it.
      if (!this.#rtoSinceTs || seqGe(seg.tsEcr, this.#rtoTsVal)) {
        const rtt = seqSub(this.#tsNow(nowMs), seg.tsEcr);
        if (rtt >= 0) this.#rtt.sample(rtt);
        this.#rtoSinceTs = false;
      }
      this.#rttTiming = false;
    } else if (this.#rttTiming && seqGe(ack, this.#rttSeq)) {
      this.#rtt.sample(nowMs - this.#rttStartMs);
      this.#rttTiming = false;
    }
    this.#rtt.resetBackoff();
    this.#retries = 0;
    // Drop acknowledged bytes from the send buffer.
    const ring = this.#sendRing;
    let ackedData = 0;
    if (ring !== null) {
      ackedData = seqSub(ack, this.#dataSeq);
      if (ackedData > ring.length) ackedData = ring.length;
      if (ackedData > 0) {
        ring.discard(ackedData);
        if (ring.length === 0) ring.release();
        this.#dataSeq = seqAdd(this.#dataSeq, ackedData);
        this.#scoreboard?.shift(ackedData);
        this.#bytesOut += ackedData;
        if (this.#wantWritable) {
          this.#wantWritable = false;
          this.#events |= EV_WRITABLE;
        }
      } else ackedData = 0;
    }
    const flightBefore = seqSub(this.#sndMax, this.#sndUna);
    this.#sndUna = ack;
    if (seqGt(ack, this.#sndMax)) this.#sndMax = ack; // a zero-window probe was accepted
    if (seqLt(this.#sndNxt, ack)) this.#sndNxt = ack;
    if (this.#probing && seqGe(ack, this.#probeEnd)) this.#probing = false;
    this.#dupAcks = 0;
    // Congestion control.
    if (this.#inRecovery) {
      if (seqGe(ack, this.#recoverPoint)) {
        // RFC 6582 §3.2 step 3 / RFC 6675 §5: full acknowledgment ends recovery.
        this.#inRecovery = false;
        this.#cc.onRecoveryExit(nowMs, seqSub(this.#sndMax, this.#sndUna));
      } else {
        this.#onPartialAck(nowMs, ackedData);
      }
    } else if (
      ackedData > 0 && this.#state >= TcpState.ESTABLISHED && 2 * flightBefore >= this.#cc.cwnd
    ) {
      // RFC 7661 §4.1 / RFC 5681 §3.1: grow cwnd only while it is actually used (as Linux's
      // tcp_is_cwnd_limited), so an application- or receiver-limited flow does not inflate it.
      this.#cc.onAck(nowMs, ackedData, flightBefore, this.#rtt.srttMs);
    }
    // RFC 6298 §5.2/§5.3: stop the timer when all is acknowledged, else restart it.
    if (this.#sndUna === this.#sndMax) {
      if (this.#rtxTimer !== null) this.#ctx.wheel.cancel(this.#rtxTimer);
    } else this.#armRetransmit(nowMs);
  }

  /** RFC 2018 §3 / RFC 6675 §4: record SACK blocks; returns whether new bytes were SACKed. */
  #updateScoreboard(seg: TcpRepr): boolean {
    if (this.#sendRing === null) return false;
    const sb = this.#scoreboard ??= new RangeSet(this.#cfg.maxScoreboardRanges);
    let fresh = false;
    const blocks = seg.sackBlocks;
    const limit = seqSub(this.#sndMax, this.#dataSeq);
    for (let i = 0; i < seg.sackCount; i++) {
      let start = seqSub(blocks[2 * i], this.#dataSeq);
      let end = seqSub(blocks[2 * i + 1], this.#dataSeq);
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

  /** Bytes SACKed in the scoreboard. */
  #sackedBytes(): number {
    const sb = this.#scoreboard;
    if (sb === null) return 0;
    let n = 0;
    for (let i = 0; i < sb.count; i++) n += sb.end(i) - sb.start(i);
    return n;
  }

  /**
   * RFC 6675 §4 IsLost, as one boundary: offsets below it that are not
   * SACKed have DupThresh SACKed segments (or more than (DupThresh-1)*MSS
   * SACKed bytes) above them and are deemed lost.
   */
  #lostBoundary(): number {
    const sb = this.#scoreboard;
    if (sb === null) return 0;
    const n = sb.count;
    let sackedAbove = 0;
    for (let i = n - 1; i >= 0; i--) {
      sackedAbove += sb.end(i) - sb.start(i);
      if (sackedAbove > (DUP_THRESH - 1) * this.#sndMss || n - i >= DUP_THRESH) return sb.start(i);
    }
    return 0;
  }

  /** Unsacked bytes in [0, end). */
  #unsackedBelow(end: number): number {
    const sb = this.#scoreboard;
    if (sb === null || end <= 0) return Math.max(0, end);
    let sacked = 0;
    for (let i = 0; i < sb.count; i++) {
      const s = sb.start(i);
      if (s >= end) break;
      sacked += Math.min(sb.end(i), end) - s;
    }
    return end - sacked;
  }

  /** RFC 6675 §4 SetPipe: bytes thought to be in the network. */
  #pipe(): number {
    const flight = seqSub(this.#sndMax, this.#sndUna);
    const lostEnd = this.#lostBoundary();
    const lost = this.#unsackedBelow(lostEnd);
    const hr = Math.min(Math.max(0, seqSub(this.#highRxt, this.#dataSeq)), lostEnd);
    const retransmitted = this.#unsackedBelow(hr);
    return Math.max(0, flight - this.#sackedBytes() - lost + retransmitted);
  }

  #onDuplicateAck(nowMs: number, sackNew: boolean): void {
    this.#dupAcks++;
    if (this.#inRecovery) {
      if (!this.#sackOk) this.#recoveryCwnd += this.#sndMss; // RFC 6582 §3.2 step 4: inflate
      return;
    }
    const sackLoss = this.#sackOk && sackNew && this.#lostBoundary() > 0;
    if (this.#dupAcks < DUP_THRESH && !sackLoss) return;
    // RFC 6582 §3.2 step 1 / §4: no new recovery while data sent before the last
    // retransmission timeout (`recover`) is still unacknowledged.
    if (seqLt(this.#sndUna, this.#recoverPoint)) return;
    const flight = seqSub(this.#sndMax, this.#sndUna);
    this.#cc.onCongestionEvent(nowMs, flight);
    this.#inRecovery = true;
    this.#recoverPoint = this.#sndMax;
    this.#rttTiming = false;
    this.#highRxt = this.#sndUna;
    // RFC 5681 §3.2 step 2-3 / RFC 6675 §5 step 4.1: retransmit the first unacknowledged segment.
    this.#retransmitAt(nowMs, this.#sndUna);
    if (!this.#sackOk) this.#recoveryCwnd = this.#cc.ssthresh + DUP_THRESH * this.#sndMss;
  }

  #onPartialAck(nowMs: number, ackedData: number): void {
    if (!this.#sackOk) {
      // RFC 6582 §3.2 step 5: retransmit the next segment, deflate the window.
      this.#retransmitAt(nowMs, this.#sndUna);
      this.#recoveryCwnd -= ackedData;
      if (ackedData >= this.#sndMss) this.#recoveryCwnd += this.#sndMss;
      if (this.#recoveryCwnd < this.#sndMss) this.#recoveryCwnd = this.#sndMss;
    } else if (seqLe(this.#highRxt, this.#sndUna)) {
      // The hole at SND.UNA has not been retransmitted in this episode: do it now.
      this.#retransmitAt(nowMs, this.#sndUna);
    }
  }

  /** Retransmits one segment (at most `maxLength` bytes) at `seq` without moving SND.NXT. */
  #retransmitAt(nowMs: number, seq: number, maxLength = this.#sndMss): boolean {
    const ring = this.#sendRing;
    if (ring === null) return false;
    const offset = seqSub(seq, this.#dataSeq);
    if (offset < 0) return false;
    // Only what was sent before goes again (RFC 5681 §3.2, RFC 6675 §5): bytes past SND.MAX
    // are new data, for #output and the peer's window to decide on. Sent beyond SND.MAX here,
    // their ACK would be dropped as acknowledging something not yet sent.
    let len = Math.min(
      this.#currentMss(),
      maxLength,
      ring.length - offset,
      seqSub(this.#sndMax, seq),
    );
    if (len < 0) len = 0;
    let flags = TCP_ACK;
    let fin = false;
    if (this.#finQueued && offset + len === ring.length && seqLt(seqAdd(seq, len), this.#sndMax)) {
      fin = true;
      flags |= TCP_FIN;
    }
    if (len === 0 && !fin) return false;
    if (offset + len === ring.length && len > 0) flags |= TCP_PSH;
    if (!this.#sendSegment(nowMs, seq, flags, offset, len)) return false;
    this.#countRetransmit();
    const end = seqAdd(seq, len + (fin ? 1 : 0));
    if (seqGt(end, this.#highRxt)) this.#highRxt = end;
    if (!isArmed(this.#rtxTimer)) this.#armRetransmit(nowMs);
    return true;
  }

  #countRetransmit(): void {
    this.#retransmitCount++;
    this.#ctx.stats.retransmits++;
  }

  /** In-order and out-of-order data into the receive ring (RFC 9293 §3.10.7.4 seventh). */
  #receiveData(
    nowMs: number,
    src: Uint8Array,
    srcOffset: number,
    length: number,
    seq: number,
    fin: boolean,
  ): void {
    const ring = this.#recvRing;
    if (ring === null) return;
    const ooo = this.#ooo;
    if (length > this.#rcvMssEstimate) this.#rcvMssEstimate = Math.min(length, this.#ourMss);
    const offset = seqSub(seq, this.#rcvNxt);
    const n = ring.writeAt(offset, src, srcOffset, length);
    if (offset === 0) {
      // Quick-ACK mode (Linux tcp_event_data_recv): the first data of a connection, and data
      // after an idle gap longer than the RTO, is ACKed at once so that the sender's slow
      // start (RFC 5681 §3.1) is not held back by delayed ACKs (RFC 5681 §4.2 allows both).
      if (nowMs - this.#lastDataRecvMs > this.#rtt.rtoMs) this.#enterQuickAck();
      this.#lastDataRecvMs = nowMs;
      this.#lastRecvActivityMs = nowMs;
      const hadGap = ooo !== null && !ooo.isEmpty();
      ring.commit(n);
      let front = 0;
      if (hadGap) {
        ooo.shift(n);
        front = ooo.frontLength();
        if (front > 0) {
          ring.commit(front);
          ooo.shift(front);
        }
        if (ooo.isEmpty()) this.#ooo = null; // the gap closed: an idle connection keeps no set
      }
      const advanced = n + front;
      this.#rcvNxt = seqAdd(this.#rcvNxt, advanced);
      this.#bytesIn += advanced;
      if (advanced > 0) this.#events |= EV_READABLE;
      this.#pruneSackRecent();
      if (this.#rcvFinPending && this.#rcvFinSeq === this.#rcvNxt) {
        this.#rcvFinPending = false;
        this.#receiveFin(nowMs);
      }
      // RFC 5681 §4.2: ACK at once when filling a gap or in quick-ACK mode; else every second
      // full-sized segment, or when the delayed-ACK timer fires.
      this.#unackedBytes += advanced;
      if (hadGap || fin || (this.#quickAcks > 0 && !this.#pingpong)) this.#ackNow = true;
      else if (this.#unackedBytes >= 2 * this.#rcvMssEstimate) {
        if (!this.#cfg.ackBatching || this.#unackedBytes >= this.#batchAckLimit()) {
          this.#ackNow = true;
        } else {
          // ACK batching (see TcpConfig.ackBatching): due now, sent when the wheel next
          // advances, after the rest of this receive batch — one ACK for the batch.
          const due = Math.floor(nowMs);
          const t = this.#delackTimer ??= new Timer(this, TCP_TIMER_DELAYED_ACK);
          if (!t.armed || t.deadline > due) this.#ctx.wheel.schedule(t, due);
        }
      } else if (!isArmed(this.#delackTimer)) {
        this.#delackTimer ??= new Timer(this, TCP_TIMER_DELAYED_ACK);
        this.#ctx.wheel.schedule(this.#delackTimer, nowMs + this.#cfg.delayedAckMs);
      }
    } else {
      // Out of order: hold it (bounded) and ACK at once (RFC 5681 §4.2) with SACK blocks.
      this.#ctx.stats.outOfOrder++;
      const set = ooo ?? (this.#ooo = new RangeSet(this.#cfg.maxReassemblyRanges));
      if (n > 0 && set.add(offset, offset + n)) this.#noteSackBlock(seq);
      this.#ackNow = true;
    }
  }

  /**
   * Unacknowledged bytes that force an ACK even while batching: a quarter of the window
   * advertised in our last ACK (at least two segments), so the sender never stalls on a
   * window it cannot see reopen.
   */
  #batchAckLimit(): number {
    const advertised = seqSub(this.#rcvAdvRight, this.#lastAckSent);
    return Math.max(2 * this.#rcvMssEstimate, advertised >>> 2);
  }

  /**
   * Linux tcp_incr_quickack: allow min(16, RCV.WND / (2 * receive MSS)) immediate ACKs (2
   * when the window holds less than two segments) — about one ACK per segment until the
   * sender's window could have filled ours; never lowers a budget already granted.
   */
  #enterQuickAck(): void {
    const rcvWnd = Math.max(0, seqSub(this.#rcvAdvRight, this.#rcvNxt));
    let budget = Math.floor(rcvWnd / (2 * this.#rcvMssEstimate));
    if (budget === 0) budget = MIN_QUICK_ACKS;
    if (budget > MAX_QUICK_ACKS) budget = MAX_QUICK_ACKS;
    if (budget > this.#quickAcks) this.#quickAcks = budget;
  }

  /** RFC 9293 §3.10.7.4 eighth: the FIN is in order. */
  #receiveFin(nowMs: number): void {
    if (this.#finReceived) {
      // A retransmitted FIN: in TIME-WAIT restart the 2 MSL timeout (§3.10.7.4).
      if (this.#state === TcpState.TIME_WAIT) this.#scheduleTimeWait(nowMs);
      this.#ackNow = true;
      return;
    }
    this.#finReceived = true;
    this.#rcvNxt = seqAdd(this.#rcvNxt, 1);
    this.#ackNow = true;
    this.#events |= EV_READABLE;
    switch (this.#state) {
      case TcpState.SYN_RECEIVED:
      case TcpState.ESTABLISHED:
        this.#state = TcpState.CLOSE_WAIT;
        break;
      case TcpState.FIN_WAIT_1:
        // Our FIN not yet acknowledged: simultaneous close.
        if (this.#finAcked()) this.#enterTimeWait(nowMs);
        else this.#state = TcpState.CLOSING;
        break;
      case TcpState.FIN_WAIT_2:
        this.#enterTimeWait(nowMs);
        break;
      default:
        break;
    }
  }

  // ------------------------------------------------------------------ SACK blocks (receiver)

  #noteSackBlock(seq: number): void {
    // RFC 2018 §4: the block holding the newest segment goes first.
    const recent = this.#sackRecent ??= [0, 0, 0, 0];
    let count = this.#sackRecentCount;
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
    this.#sackRecentCount = count + 1;
  }

  #pruneSackRecent(): void {
    const recent = this.#sackRecent;
    if (recent === null) return;
    let w = 0;
    for (let i = 0; i < this.#sackRecentCount; i++) {
      if (seqGt(recent[i], this.#rcvNxt)) recent[w++] = recent[i];
    }
    this.#sackRecentCount = w;
  }

  /** Fills repr.sackBlocks: most recent first, then the others in order (RFC 2018 §4). */
  #fillSackBlocks(r: TcpRepr): void {
    r.sackCount = 0;
    const ooo = this.#ooo;
    if (!this.#sackOk || ooo === null || ooo.isEmpty()) return;
    const max = this.#tsOk ? SACK_BLOCKS_WITH_TS : SACK_BLOCKS_WITHOUT_TS;
    let n = 0;
    const recent = this.#sackRecent;
    for (let j = 0; recent !== null && j < this.#sackRecentCount && n < max; j++) {
      const off = seqSub(recent[j], this.#rcvNxt);
      for (let i = 0; i < ooo.count; i++) {
        if (ooo.start(i) <= off && off < ooo.end(i)) {
          n = this.#addSackBlock(r, n, i);
          break;
        }
      }
    }
    for (let i = 0; i < ooo.count && n < max; i++) n = this.#addSackBlock(r, n, i);
    r.sackCount = n;
  }

  /** Appends reassembly range `i` as a SACK block unless already present; returns the count. */
  #addSackBlock(r: TcpRepr, n: number, i: number): number {
    const ooo = this.#ooo!;
    const blocks = r.sackBlocks;
    const left = seqAdd(this.#rcvNxt, ooo.start(i));
    for (let k = 0; k < n; k++) if (blocks[2 * k] === left) return n;
    blocks[2 * n] = left;
    blocks[2 * n + 1] = seqAdd(this.#rcvNxt, ooo.end(i));
    return n + 1;
  }

  // ------------------------------------------------------------------ ICMP

  /**
   * An ICMP error about a segment of this connection (RFC 5927, RFC 1122
   * §4.2.3.9). `seq` is the sequence number quoted in the ICMP payload.
   *
   * @param nowMs current time
   * @param type ICMP type (3 = destination unreachable)
   * @param code ICMP code (4 = fragmentation needed)
   * @param nextHopMtu the MTU reported with code 4, else 0
   * @param seq quoted sequence number
   * @returns nothing
   */
  onIcmpError(nowMs: number, type: number, code: number, nextHopMtu: number, seq: number): void {
    // RFC 5927 §4.1: the quoted sequence number must be in flight.
    if (!(seqGe(seq, this.#sndUna) && seqLe(seq, this.#sndMax))) return;
    if (type !== 3) return; // only destination unreachable is acted on (RFC 1122 §4.2.3.9)
    this.#enter();
    if (code === 4) {
      // RFC 1191 §6.2: fragmentation needed: lower the MSS and resend what is in flight.
      if (nextHopMtu > 0) {
        const mss = Math.max(MIN_MSS, nextHopMtu - IPV4_TCP_HEADERS_LEN);
        if (mss < this.#ourMss) {
          this.#ourMss = mss;
          this.#updateSndMss();
          if (this.#isSynchronized() && this.#sndUna !== this.#sndMax) {
            this.#sndNxt = this.#sndUna;
            this.#output(nowMs, true);
          }
        }
      }
    } else if (this.#state === TcpState.SYN_SENT) {
      // RFC 1122 §4.2.3.9 allows aborting on port/protocol unreachable; we fail connect on any.
      this.#terminate(code === 2 || code === 3 ? new ConnectionRefused() : new HostUnreachable());
    }
    this.#leave();
  }

  // ------------------------------------------------------------------ output

  /** Our TSval clock (RFC 7323 §5.4: 1 ms ticks plus a per-connection offset), int32. */
  #tsNow(nowMs: number): number {
    return timestampClock(nowMs, this.#tsOffset);
  }

  #swsThreshold(): number {
    return Math.min(this.#cfg.receiveBufferBytes >>> RECEIVER_SWS_FRACTION_SHIFT, this.#ourMss);
  }

  /** Largest window the 16-bit field can carry with our shift (RFC 7323 §2.3), bytes. */
  #maxRcvWindow(): number {
    return MAX_WINDOW_FIELD * (1 << this.#rcvWScale);
  }

  /** The right edge the free receive buffer allows, capped by the largest window field. */
  #openRight(): number {
    const ring = this.#recvRing;
    const free = ring === null ? this.#cfg.receiveBufferBytes : ring.free;
    return seqAdd(this.#rcvNxt, Math.min(free, this.#maxRcvWindow()));
  }

  /** RFC 9293 §3.8.6.2.2: the window field, moving the right edge only in useful steps. */
  #windowField(): number {
    const candidate = this.#openRight();
    const growth = seqSub(candidate, this.#rcvAdvRight);
    if (growth > 0 && growth >= this.#swsThreshold()) this.#rcvAdvRight = candidate;
    if (seqLt(this.#rcvAdvRight, this.#rcvNxt)) this.#rcvAdvRight = this.#rcvNxt;
    const win = seqSub(this.#rcvAdvRight, this.#rcvNxt);
    return Math.min(MAX_WINDOW_FIELD, win >>> this.#rcvWScale);
  }

  /**
   * Data bytes of the largest super-segment the link can segment (a multiple
   * of the MSS), 0 without TCP segmentation offload.
   */
  #gsoMaxData(): number {
    const max = this.#ctx.ip.txOffloads?.gsoMaxBytes ?? 0;
    if (max <= 0) return 0;
    const mss = this.#sndMss;
    const n = Math.floor((max - TCP_MAX_HEADER_LEN) / mss);
    return n > 1 ? n * mss : 0;
  }

  /**
   * Builds and sends one segment: header via TcpRepr.emitHeader, data copied
   * from the send ring, checksum (or a partial one with transmit checksum
   * offload), IpSender.send. A super-segment (`dataLength` > MSS) comes in
   * `superBuf` from `allocateSegment` and goes out with gsoSize = MSS.
   * Returns false when no buffer.
   */
  #sendSegment(
    nowMs: number,
    seq: number,
    flags: number,
    dataOffset: number,
    dataLength: number,
    superBuf: PacketBufferLike | null = null,
  ): boolean {
    const ctx = this.#ctx;
    const buf = superBuf ?? ctx.ip.allocate();
    if (buf === null) {
      ctx.stats.allocFailures++;
      return false;
    }
    const r = ctx.scratch;
    const cfg = this.#cfg;
    const isSyn = (flags & TCP_SYN) !== 0;
    r.srcPort = this.localPort;
    r.dstPort = this.remotePort;
    r.seq = seq;
    r.ack = (flags & TCP_ACK) !== 0 ? this.#rcvNxt : 0;
    r.flags = flags;
    r.urgent = 0;
    r.payloadLength = 0;
    if (isSyn) {
      r.window = this.#synWindow();
      r.mss = this.#ourMss;
      const active = !this.#passive && (flags & TCP_ACK) === 0;
      r.windowScale = (active ? cfg.windowScaling : this.#wsOk) ? this.#rcvWScale : -1;
      r.sackPermitted = active ? cfg.sack : this.#sackOk;
      r.hasTimestamp = active ? cfg.timestamps : this.#tsOk;
      r.sackCount = 0;
    } else {
      r.window = (flags & TCP_RST) !== 0 && (flags & TCP_ACK) === 0 ? 0 : this.#windowField();
      r.mss = 0;
      r.windowScale = -1;
      r.sackPermitted = false;
      r.hasTimestamp = this.#tsOk;
      if ((flags & TCP_ACK) !== 0) this.#fillSackBlocks(r);
      else r.sackCount = 0;
    }
    r.tsVal = this.#tsNow(nowMs);
    r.tsEcr = isSyn && (flags & TCP_ACK) === 0 ? 0 : this.#tsRecent;
    const headerLength = TcpRepr.headerLength(r);
    const room = buf.bytes.length - buf.tail - headerLength;
    if (dataLength > room) dataLength = Math.max(0, room);
    const at = buf.append(headerLength + dataLength);
    if (at < 0) {
      ctx.stats.allocFailures++;
      // Hand the empty buffer back through send so it is freed by its owner.
      buf.tail = buf.head;
      ctx.ip.send(buf, this.remoteAddr, IP_PROTO_TCP);
      return false;
    }
    const bytes = buf.bytes;
    TcpRepr.emitHeader(r, bytes, at);
    if (dataLength > 0 && this.#sendRing !== null) {
      this.#sendRing.peek(dataOffset, bytes, at + headerLength, dataLength);
    }
    const segmentLength = headerLength + dataLength;
    let sent: boolean;
    if (ctx.ip.txOffloads?.checksum === true) {
      // Transmit checksum offload: the field holds the folded pseudo-header sum of the whole
      // (super-)segment; the device completes it (per segment after GSO).
      const ph = pseudoHeaderSum(this.localAddr, this.remoteAddr, IP_PROTO_TCP, segmentLength);
      bytes[at + TCP_CHECKSUM_FIELD] = ph >>> 8;
      bytes[at + TCP_CHECKSUM_FIELD + 1] = ph & 0xff;
      const mss = this.#currentMss();
      OFFLOAD_SEND.gsoSize = dataLength > mss ? mss : 0;
      sent = ctx.ip.send(buf, this.remoteAddr, IP_PROTO_TCP, OFFLOAD_SEND);
    } else {
      fillTcpChecksum(bytes, at, segmentLength, this.localAddr, this.remoteAddr);
      sent = ctx.ip.send(buf, this.remoteAddr, IP_PROTO_TCP);
    }
    if (!sent) ctx.stats.sendFailures++;
    ctx.stats.segmentsOut++;
    if ((flags & TCP_RST) !== 0) ctx.stats.resetsSent++;
    if ((flags & TCP_ACK) !== 0) {
      this.#lastAckSent = this.#rcvNxt;
      this.#ackNow = false;
      // Linux tcp_dec_quickack_mode: each ACK of new data spends one quick ACK.
      if (this.#unackedBytes > 0 && this.#quickAcks > 0) this.#quickAcks--;
      this.#unackedBytes = 0;
      if (isArmed(this.#delackTimer)) ctx.wheel.cancel(this.#delackTimer!);
    }
    return true;
  }

  /** RST for this connection: <SEQ=SND.NXT><CTL=RST> (RFC 9293 §3.10.4/§3.10.5), SND.MAX after a rollback. */
  #sendReset(nowMs: number): void {
    this.#sendSegment(nowMs, this.#sndMax, TCP_RST | TCP_ACK, 0, 0);
  }

  /** <SEQ=SEG.ACK><CTL=RST> for an unacceptable ACK (RFC 9293 §3.10.7.3/§3.10.7.4). */
  #sendBareReset(nowMs: number, seq: number): void {
    this.#sendSegment(nowMs, seq, TCP_RST, 0, 0);
  }

  /**
   * A pure ACK. Its sequence number is SND.MAX, not SND.NXT: after a timeout
   * rolled SND.NXT back, the peer's RCV.NXT may be beyond SND.NXT and would
   * find the ACK unacceptable (the BSD rule, tcp_output.c).
   */
  #sendAck(nowMs: number): void {
    this.#sendSegment(nowMs, this.#sndMax, TCP_ACK, 0, 0);
  }

  /** Bytes the congestion window still allows. */
  #cwndAvailable(): number {
    if (!this.#inRecovery) return this.#cc.cwnd - seqSub(this.#sndNxt, this.#sndUna);
    if (!this.#sackOk) return this.#recoveryCwnd - seqSub(this.#sndNxt, this.#sndUna);
    return this.#cc.cwnd - this.#pipe();
  }

  /**
   * RFC 6675 §4 NextSeg rule 1: the first lost, not yet retransmitted,
   * unSACKed hole (offset from the send-ring start; its end in #holeEnd), or -1.
   */
  #nextLostHole(): number {
    const sb = this.#scoreboard;
    if (sb === null) return -1;
    const lostEnd = this.#lostBoundary();
    let from = Math.max(0, seqSub(this.#highRxt, this.#dataSeq));
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

  /**
   * Sends whatever the state, windows, Nagle and SWS rules allow, then an
   * ACK if one is owed. `force` sends one segment even if cwnd is exhausted
   * (after a retransmission timeout).
   */
  #output(nowMs: number, force = false): void {
    const s = this.#state;
    if (s === TcpState.SYN_SENT || s === TcpState.SYN_RECEIVED) {
      if (this.#sndNxt === this.#iss) {
        const flags = s === TcpState.SYN_SENT ? TCP_SYN : TCP_SYN | TCP_ACK;
        const retransmission = seqGt(this.#sndMax, this.#iss);
        if (this.#sendSegment(nowMs, this.#iss, flags, 0, 0)) {
          if (retransmission) this.#countRetransmit();
          else if (!this.#rttTiming) {
            this.#rttTiming = true;
            this.#rttSeq = seqAdd(this.#iss, 1);
            this.#rttStartMs = nowMs;
          }
        }
        this.#sndNxt = seqAdd(this.#iss, 1);
        this.#sndMax = seqMax(this.#sndMax, this.#sndNxt);
        if (!isArmed(this.#rtxTimer)) this.#armRetransmit(nowMs);
      } else if (this.#ackNow && s === TcpState.SYN_RECEIVED) {
        this.#sendAck(nowMs);
      }
      return;
    }
    if (s === TcpState.CLOSED || s === TcpState.LISTEN) return;
    let sent = false;
    const ring = this.#sendRing;
    const sendsData = s === TcpState.ESTABLISHED || s === TcpState.CLOSE_WAIT ||
      s === TcpState.FIN_WAIT_1 || s === TcpState.CLOSING || s === TcpState.LAST_ACK;
    if (ring !== null && sendsData) {
      const finState = s === TcpState.FIN_WAIT_1 || s === TcpState.CLOSING ||
        s === TcpState.LAST_ACK;
      for (let guard = 0; guard < 4096; guard++) {
        // SACK recovery: retransmit lost holes first (RFC 6675 §5 step 4).
        if (this.#inRecovery && this.#sackOk) {
          if (this.#cwndAvailable() < this.#sndMss) break;
          const hole = this.#nextLostHole();
          if (hole >= 0) {
            if (!this.#retransmitAt(nowMs, seqAdd(this.#dataSeq, hole), this.#holeEnd - hole)) {
              break;
            }
            sent = true;
            continue;
          }
        }
        const seq = this.#sndNxt;
        const offset = seqSub(seq, this.#dataSeq);
        if (offset < 0 || offset > ring.length) break;
        const unsent = ring.length - offset;
        let wndAvail = seqSub(seqAdd(this.#sndUna, this.#sndWnd), seq);
        // A timeout retransmits the first unacknowledged segment even if the window shrank
        // (as Linux does): the peer's window may have reopened in an ACK we never saw.
        if (force && seq === this.#sndUna && wndAvail < this.#sndMss) wndAvail = this.#sndMss;
        let cwndAvail = this.#cwndAvailable();
        if (force && cwndAvail < this.#sndMss) cwndAvail = this.#sndMss;
        // New data may go as one super-segment the link cuts into MSS-sized ones (TSO/GSO);
        // retransmissions go as ordinary segments.
        const gsoMax = seqLt(seq, this.#sndMax) ? 0 : this.#gsoMaxData();
        const mss = this.#currentMss();
        let len = Math.min(unsent, gsoMax > 0 ? gsoMax : mss, wndAvail, cwndAvail);
        if (len < 0) len = 0;
        let superBuf: PacketBufferLike | null = null;
        if (len > mss) {
          // Whole segments only, unless this empties the send queue (the last one may be short).
          if (len < unsent) len -= len % mss;
          superBuf = this.#ctx.ip.allocateSegment?.() ?? null;
          if (superBuf === null) len = mss;
        }
        // A bare FIN (len 0, all data sent) is not held back by the congestion window: it
        // carries no data and holding it only delays the close by an RTT (Linux tcp_cwnd_test:
        // "Don't be strict about the congestion window for the final FIN frame").
        const fin = finState && offset + len === ring.length &&
          seqLe(seqAdd(seq, len), this.#finSeq());
        if (len === 0 && !fin) break;
        const inFlight = seqSub(this.#sndNxt, this.#sndUna) > 0;
        // Nagle and SWS avoidance apply to new data only, never to retransmissions.
        if (len > 0 && len < mss && !fin && !seqLt(seq, this.#sndMax)) {
          if (len < unsent) {
            // RFC 9293 §3.8.6.2.1 sender SWS: wait for a full segment or half the max window.
            if (inFlight && len < (this.#maxSndWnd >>> 1)) break;
          } else if (!this.#noDelay && seqGt(this.#sndSml, this.#sndUna)) {
            // RFC 896 / RFC 9293 §3.7.4 Nagle, with Minshall's refinement (as Linux): hold a
            // small segment while an earlier small segment is unacknowledged.
            break;
          }
        }
        let flags = TCP_ACK;
        if (len > 0 && offset + len === ring.length) flags |= TCP_PSH;
        if (fin) flags |= TCP_FIN;
        if (!this.#sendSegment(nowMs, seq, flags, offset, len, superBuf)) {
          // No packet buffer: try again after an RTO (RFC 6298 timer doubles as the retry).
          if (!isArmed(this.#rtxTimer)) this.#armRetransmit(nowMs);
          break;
        }
        sent = true;
        force = false;
        const end = seqAdd(seq, len + (fin ? 1 : 0));
        if (seqLt(seq, this.#sndMax)) {
          this.#countRetransmit();
          if (this.#rttTiming && seqLe(seq, this.#rttSeq)) this.#rttTiming = false; // Karn
        } else if (!this.#rttTiming && !this.#tsOk) {
          this.#rttTiming = true;
          this.#rttSeq = end;
          this.#rttStartMs = nowMs;
        }
        this.#sndNxt = end;
        if (len < mss) this.#sndSml = end;
        // Linux tcp_event_data_sent: data sent in answer to data that arrived (our last send
        // was before it) within a delayed-ACK interval: an interactive flow.
        if (len > 0) {
          if (
            this.#lastDataSentMs < this.#lastRecvActivityMs &&
            nowMs - this.#lastRecvActivityMs < this.#cfg.delayedAckMs
          ) this.#pingpong = true;
          this.#lastDataSentMs = nowMs;
        }
        if (seqGt(end, this.#sndMax)) this.#sndMax = end;
        if (this.#probing && seqGe(this.#sndMax, this.#probeEnd)) this.#probing = false;
        if (!isArmed(this.#rtxTimer)) this.#armRetransmit(nowMs);
        if (fin) break;
      }
      // RFC 9293 §3.8.6.1: data waiting behind a zero window and nothing to time it: persist.
      const offset = seqSub(this.#sndNxt, this.#dataSeq);
      const unsent = ring.length - offset;
      const wndAvail = seqSub(seqAdd(this.#sndUna, this.#sndWnd), this.#sndNxt);
      if (unsent > 0 && wndAvail <= 0 && !isArmed(this.#rtxTimer)) {
        if (!isArmed(this.#persistTimer)) {
          this.#persistTimer ??= new Timer(this, TCP_TIMER_PERSIST);
          this.#ctx.wheel.schedule(this.#persistTimer, nowMs + this.#persistIntervalMs());
        }
      } else if (isArmed(this.#persistTimer) && (wndAvail > 0 || unsent <= 0)) {
        this.#ctx.wheel.cancel(this.#persistTimer!);
      }
    }
    if (!sent && this.#ackNow) this.#sendAck(nowMs);
    if (this.#keepAlive && !isArmed(this.#keepaliveTimer)) this.#armKeepAlive(nowMs);
  }
}
