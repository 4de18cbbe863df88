/**
 * One TCP connection (RFC 9293) as a synchronous state machine: the API the layer and the
 * socket layer use ({@link TcpConnection}: opening, read/write/close, timers, segments and
 * ICMP errors in), over a {@link Tcb} that holds the state. Input is `(nowMs, segment)` or
 * `(nowMs, timer)`; output is segments built straight into packet buffers from the
 * `IpSender`. The application-side calls (read, write, close, …) take the time from
 * the layer's injected `Clock`; timers go through the shared `TimerWheel`.
 *
 * Where the parts live (modelled on gVisor's `pkg/tcpip/transport/tcp`):
 * - `tcb.ts`: the state, negotiation, timers and the life cycle (establish, TIME-WAIT, close);
 * - `connection_send.ts`: building and sending segments, the output decision, retransmission;
 * - `connection_receive.ts`: "segment arrives" (§3.10.7), ACK processing, reassembly;
 * - `sack_scoreboard.ts`, `recovery.ts` (NewReno and RFC 6675 strategies), `sack_blocks.ts`.
 *
 * What is implemented: all eleven states (§3.3.2) and "segment arrives" in
 * the order of §3.10.7; simultaneous open and close; half-close; MSS, window
 * scaling, timestamps with PAWS (RFC 7323), SACK (RFC 2018) and SACK-based
 * loss recovery (RFC 6675); NewReno fast retransmit/recovery (RFC 5681, RFC
 * 6582); RFC 6298 retransmission timer; Nagle (RFC 896), Linux corking
 * (TCP_CORK, MSG_MORE) and sender/receiver silly-window avoidance (§3.8.6.2); delayed ACKs (§3.8.6.3); zero-window
 * probes (§3.8.6.1); keep-alive (§3.8.4); RFC 5961 challenge ACKs; ICMP
 * (RFC 5927 checks, RFC 1191 PMTU).
 *
 * @module
 */

import type { TcpInfo } from "./tcp_info.ts";
import type { TcpListener } from "./tcp_listener.ts";
import type { Ipv6Address } from "../wire/ipv6_address.ts";
import type { TimerTarget } from "../time/timer_wheel.ts";
import type { TcpRepr } from "../wire/tcp.ts";
import { IPV4_TCP_HEADERS_LEN, MIN_MSS } from "./config.ts";
import {
  appendCoalesced,
  canStartRun,
  endCoalescedRun,
  inputSynchronizing,
  inputSynSent,
  queueSynText,
  rackDetectLoss,
} from "./connection_receive.ts";
import {
  onKeepAlive,
  onPersist,
  onRackTimer,
  onRetransmitTimeout,
  output,
  sendReset,
} from "./connection_send.ts";
import { ecnAcceptCookie, ecnAcceptSyn, ecnInput } from "./ecn.ts";
import { ConnectionRefused, HostUnreachable, type TcpError } from "./errors.ts";
import { seqAdd, seqGe, seqLt, seqSub } from "./seq.ts";
import {
  isArmed,
  Tcb,
  TCP_STATE_NAMES,
  TCP_TIMER_DELAYED_ACK,
  TCP_TIMER_KEEPALIVE,
  TCP_TIMER_PERSIST,
  TCP_TIMER_RACK,
  TCP_TIMER_RETRANSMIT,
  TCP_TIMER_TIME_WAIT,
  type TcpContext,
  TcpState,
} from "./tcb.ts";
import { INITIAL_REORDERING } from "./rack.ts";
import {
  ICMP_DEST_UNREACHABLE,
  ICMP_TIME_EXCEEDED,
  ICMP_UNREACH_FRAG_NEEDED,
  ICMP_UNREACH_PORT,
  ICMP_UNREACH_PROTOCOL,
} from "../wire/icmp.ts";

export type { TcpInfo } from "./tcp_info.ts";
export {
  announcedWindowShift,
  type CaState,
  MAX_WINDOW_SHIFT,
  receiveBufferLimit,
  TCP_STATE_NAMES,
  TCP_TIMER_DELAYED_ACK,
  TCP_TIMER_KEEPALIVE,
  TCP_TIMER_PERSIST,
  TCP_TIMER_RACK,
  TCP_TIMER_RETRANSMIT,
  TCP_TIMER_TIME_WAIT,
  type TcpConnectionOwner,
  type TcpContext,
  TcpState,
  windowShiftFor,
} from "./tcb.ts";

/** Linux tcp_twsk_unique: a TIME-WAIT 4-tuple may be reused by an active open after 1 s. */
const TIME_WAIT_REUSE_MS = 1000;

/** The options a SYN cookie's timestamp carried (see {@link TcpConnection.openFromCookie}). */
export interface CookieOptions {
  /** The peer's window shift (0..14), or -1 when window scaling was not agreed. */
  sndWScale: number;
  /** Whether SACK was agreed (RFC 2018 §2). */
  sackOk: boolean;
  /** The completing ACK's TSval when timestamps were agreed (RFC 7323 §3.2), else null. */
  tsVal: number | null;
  /** Whether ECN was agreed: the SYN asked, our cookie SYN-ACK agreed (RFC 3168 §6.1.1). */
  ecnOk: boolean;
}

/** A cookie handshake without timestamps: only the MSS survives. */
export const NO_COOKIE_OPTIONS: CookieOptions = Object.freeze({
  sndWScale: -1,
  sackOk: false,
  tsVal: null,
  ecnOk: false,
});

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

/**
 * One TCP connection (a TCB). Made by {@link TcpLayer}; the socket layer
 * uses the application-side methods (`write`, `read`, `closeWrite`, `close`,
 * `abort`, `setNoDelay`, `setCork`, `setKeepAlive`, `info`) and sets `events`.
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
  listener: TcpListener | null = null;
  /** Layer bookkeeping: counted in its listener's SYN queue. */
  inSynQueue = false;
  /**
   * Over IPv6 (issue 18): our address; `localAddr`/`remoteAddr` then hold keyed
   * tags of the addresses (src/tcp/tcp6.ts). Null over IPv4.
   */
  local6: Ipv6Address | null = null;
  /** Over IPv6: the peer's address, else null. */
  remote6: Ipv6Address | null = null;

  readonly #t: Tcb;

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
    this.localAddr = localAddr | 0;
    this.localPort = localPort;
    this.remoteAddr = remoteAddr | 0;
    this.remotePort = remotePort;
    this.#t = new Tcb(this, ctx, localAddr, localPort, remoteAddr, remotePort);
  }

  // ------------------------------------------------------------------ getters

  /** Current state. */
  get state(): TcpState {
    return this.#t.state;
  }
  /** Current state's RFC name. */
  get stateName(): string {
    return TCP_STATE_NAMES[this.#t.state];
  }
  /** The error that closed the connection, if any. */
  get error(): TcpError | null {
    return this.#t.error;
  }
  /** Bytes ready to {@link read}. */
  get readableLength(): number {
    const t = this.#t;
    return t.recvRing === null ? 0 : t.recvRing.length;
  }
  /** The peer's FIN was received and every byte before it was read (end of stream). */
  get eof(): boolean {
    return this.#t.finReceived && this.readableLength === 0;
  }
  /** The peer's FIN was received. */
  get finReceived(): boolean {
    return this.#t.finReceived;
  }
  /** Free bytes in the send buffer (0 once the send side is closed). */
  get writableLength(): number {
    const t = this.#t;
    if (!t.canWrite()) return 0;
    return t.sendRing === null ? t.cfg.sendBufferBytes : t.sendRing.free;
  }
  /** Bytes queued in the send buffer (unacknowledged and unsent). */
  get sendQueued(): number {
    const t = this.#t;
    return t.sendRing === null ? 0 : t.sendRing.length;
  }
  /** Whether the connection was released to the layer (CLOSED and forgotten). */
  get released(): boolean {
    return this.#t.released;
  }
  /**
   * Bytes of send/receive ring storage this connection holds right now: 0 while idle
   * (storage is attached when data arrives or is written and given back once drained).
   */
  get bufferBytes(): number {
    const t = this.#t;
    let n = 0;
    if (t.sendRing !== null && t.sendRing.allocated) n += t.sendRing.capacity;
    if (t.recvRing !== null && t.recvRing.allocated) n += t.recvRing.capacity;
    return n;
  }
  /** Whether any timer of this connection is armed. */
  get hasArmedTimers(): boolean {
    const t = this.#t;
    return isArmed(t.rtxTimer) || isArmed(t.delackTimer) ||
      isArmed(t.persistTimer) || isArmed(t.keepaliveTimer) ||
      isArmed(t.timeWaitTimer);
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
    const t = this.#t;
    const timer = t.timeWaitTimer;
    return t.state === TcpState.TIME_WAIT && t.tsOk && timer !== null &&
      nowMs - (timer.deadline - t.cfg.timeWaitMs) >= TIME_WAIT_REUSE_MS;
  }

  /**
   * Leaves TIME-WAIT for CLOSED at once, keeping unread data for the application (Linux
   * tcp_time_wait when tcp_max_tw_buckets is reached); no segment is sent.
   *
   * @returns nothing
   */
  skipTimeWait(): void {
    const t = this.#t;
    if (t.state !== TcpState.TIME_WAIT) return;
    t.enter();
    t.terminate(null);
    t.leave();
  }

  /**
   * Our initial sequence number, in the engine's form: a signed 32-bit integer (compare with
   * the `seq.ts` helpers; `>>> 0` or {@link info} for the unsigned value).
   */
  get iss(): number {
    return this.#t.iss;
  }
  /** RCV.NXT: the next sequence number expected from the peer, signed 32-bit like {@link iss}. */
  get rcvNxt(): number {
    return this.#t.rcvNxt;
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
    const t = this.#t;
    return {
      iss: t.iss >>> 0,
      irs: t.irs >>> 0,
      sndUna: t.sndUna >>> 0,
      sndNxt: t.sndNxt >>> 0,
      sndMax: t.sndMax >>> 0,
      rcvNxt: t.rcvNxt >>> 0,
      sndWnd: t.sndWnd,
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
    const t = this.#t;
    t.enter();
    t.iss = iss === undefined ? t.isn(nowMs) : iss | 0;
    t.initSend();
    t.allocateBuffers();
    t.rcvWScale = t.cfg.windowScaling ? t.chooseWindowShift() : 0;
    t.state = TcpState.SYN_SENT;
    t.lastRecvMs = nowMs;
    t.armKeepInit(nowMs);
    output(t, nowMs);
    t.leave();
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
    const t = this.#t;
    t.enter();
    t.passive = true;
    t.iss = iss === undefined ? t.isn(nowMs) : iss | 0;
    t.initSend();
    t.irs = syn.seq | 0;
    t.rcvNxt = seqAdd(syn.seq, 1);
    t.negotiate(syn);
    ecnAcceptSyn(t, syn); // RFC 3168 §6.1.1
    // RFC 7323 §2.2: the window in a SYN is never scaled.
    t.sndWnd = syn.window;
    t.maxSndWnd = syn.window;
    t.sndWl1 = syn.seq | 0;
    t.sndWl2 = t.iss;
    t.rcvAdvRight = seqAdd(t.rcvNxt, t.synWindow());
    t.state = TcpState.SYN_RECEIVED;
    t.lastRecvMs = nowMs;
    t.lastRecvActivityMs = nowMs; // Linux tcp_create_openreq_child: lrcvtime = the SYN's
    // RFC 9293 §3.10.7.2: text on the SYN is queued until ESTABLISHED.
    queueSynText(t, syn);
    t.armKeepInit(nowMs);
    output(t, nowMs);
    t.leave();
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
    const t = this.#t;
    t.enter();
    t.passive = true;
    t.iss = iss | 0;
    t.initSend();
    t.irs = irs | 0;
    t.rcvNxt = seqAdd(irs, 1);
    t.peerMss = mss;
    // RFC 7323 §2.2 / §3.2, RFC 2018 §2, as agreed in the SYN and our cookie SYN-ACK.
    t.wsOk = options.sndWScale >= 0;
    t.sndWScale = t.wsOk ? options.sndWScale : 0;
    t.rcvWScale = t.wsOk ? t.chooseWindowShift() : 0;
    t.sackOk = options.sackOk;
    t.tsOk = options.tsVal !== null;
    if (options.tsVal !== null) {
      t.tsRecent = options.tsVal;
      t.tsRecentAgeMs = nowMs;
    }
    // RFC 3168 §6.1.1: the ECN-setup SYN and our ECN-setup SYN-ACK, as the cookie recorded.
    if (options.ecnOk) ecnAcceptCookie(t);
    t.updateSndMss();
    t.sndUna = seqAdd(iss, 1);
    t.sndNxt = t.sndUna;
    t.sndMax = t.sndUna;
    t.rcvAdvRight = seqAdd(t.rcvNxt, t.synWindow());
    t.lastRecvMs = nowMs;
    t.lastRecvActivityMs = nowMs;
    t.state = TcpState.SYN_RECEIVED;
    t.establish(nowMs, window, t.irs, t.sndUna);
    t.leave();
  }

  /**
   * Queues application data (RFC 9293 §3.10.2 SEND). Data is cut into
   * segments by MSS; the last segment of a write carries PSH.
   *
   * `more` is Linux MSG_MORE: more data follows, so this write is corked — a partial
   * (< MSS) segment at its end is held (whatever TCP_NODELAY says) and carries no PSH, until
   * a later write without it, an ACK that lets it go under Nagle's rules, {@link setCork}
   * (false) or {@link setNoDelay} (true), the FIN, or the cork probe (about an RTO later
   * when nothing is in flight; Linux's 200 ms ceiling).
   *
   * @param src source bytes
   * @param offset first byte
   * @param length bytes offered
   * @param more MSG_MORE: cork this write (default false)
   * @returns bytes accepted into the send buffer (0 when full), or -1 when the
   *   send side is closed (after closeWrite, reset, timeout): the socket layer
   *   reports broken pipe / not connected
   */
  write(src: Uint8Array, offset: number, length: number, more = false): number {
    const t = this.#t;
    if (!t.canWrite()) return -1;
    const ring = t.sendRing;
    if (ring === null || length <= 0) return 0;
    t.enter();
    // Linux skb_entail: a write that starts a new segment ends a pending TCP_NAGLE_PUSH.
    if (t.naglePush && ring.length <= seqSub(t.sndNxt, t.dataSeq)) t.naglePush = false;
    const n = ring.write(src, offset, length);
    if (n < length) t.wantWritable = true;
    if (n > 0) {
      t.tailUnpushed = more;
      t.callCork = more;
      output(t, t.ctx.clock.now());
      t.callCork = false;
    }
    t.leave();
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
    const t = this.#t;
    const ring = t.recvRing;
    if (ring === null || length <= 0) return 0;
    const n = ring.read(dst, offset, length);
    if (n > 0 && ring.length === 0) t.releaseRecvStorage();
    if (n > 0 && t.isSynchronized() && !t.finReceived) {
      t.enter();
      // Linux tcp_recvmsg: tcp_rcv_space_adjust, then tcp_cleanup_rbuf's window update. The
      // time is that of the last segment received (no clock reading per read: the
      // application reads right after the batch that made the data readable).
      if (t.rcvSpace !== null) t.adjustReceiveBuffer(t.lastRecvMs, n);
      // The largest window we can advertise: the buffer, capped by the 16-bit field and shift.
      const clamp = Math.min(t.receiveBufferBytes(), t.maxRcvWindow());
      const current = seqSub(t.rcvAdvRight, t.rcvNxt);
      const next = seqSub(t.openRight(), t.rcvNxt);
      // Window update only when it matters (RFC 9293 §3.8.6.2.2, as Linux tcp_cleanup_rbuf):
      // the advertised window fell to half the clamp or less, and the right edge moves by at
      // least the SWS threshold, computed as #windowField will, so the update really carries
      // a new window — an ACK with an unchanged window is a duplicate ACK (RFC 5681 §2).
      if (
        current <= clamp >>> 1 && next - current >= t.swsThreshold() &&
        next >>> t.rcvWScale > current >>> t.rcvWScale
      ) {
        t.ackNow = true;
        output(t, t.ctx.clock.now());
      }
      t.leave();
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
    const t = this.#t;
    if (t.finQueued) return;
    const s = t.state;
    t.enter();
    const nowMs = t.ctx.clock.now();
    switch (s) {
      case TcpState.SYN_SENT:
      case TcpState.SYN_RECEIVED:
        // RFC 9293 §3.10.4: queue the FIN until ESTABLISHED.
        t.finQueued = true;
        break;
      case TcpState.ESTABLISHED:
        t.finQueued = true;
        t.state = TcpState.FIN_WAIT_1;
        output(t, nowMs);
        break;
      case TcpState.CLOSE_WAIT:
        t.finQueued = true;
        t.state = TcpState.LAST_ACK;
        output(t, nowMs);
        break;
      default:
        break;
    }
    t.leave();
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
    const t = this.#t;
    const s = t.state;
    if (s === TcpState.CLOSED || t.appClosed) {
      t.appClosed = true;
      return;
    }
    t.enter();
    t.appClosed = true;
    const nowMs = t.ctx.clock.now();
    if (s === TcpState.SYN_SENT) {
      // RFC 9293 §3.10.4: SYN-SENT: delete the TCB.
      t.terminate(null);
    } else if (this.readableLength > 0 && s !== TcpState.TIME_WAIT) {
      sendReset(t, nowMs);
      t.terminate(null);
    } else if (t.state === TcpState.FIN_WAIT_2 && t.finTimeoutMs !== null && t.finTimeoutMs < 0) {
      // Linux tcp_close with linger2 < 0: no FIN-WAIT-2 wait at all; reset and close.
      sendReset(t, nowMs);
      t.terminate(null);
    } else {
      this.closeWrite();
      if (t.state === TcpState.FIN_WAIT_2) t.armOrphanTimeout(nowMs);
    }
    t.leave();
  }

  /**
   * ABORT (RFC 9293 §3.10.5): send RST if synchronized, drop everything.
   *
   * @returns nothing
   */
  abort(): void {
    const t = this.#t;
    if (t.state === TcpState.CLOSED) return;
    t.enter();
    t.appClosed = true;
    if (t.isSynchronized() && t.state !== TcpState.TIME_WAIT) {
      sendReset(t, t.ctx.clock.now());
    }
    t.terminate(null);
    t.leave();
  }

  /**
   * Turns Nagle's algorithm off (`true`) or on (RFC 896, RFC 9293 §3.7.4).
   *
   * @param noDelay true to send small segments immediately
   * @returns nothing
   */
  setNoDelay(noDelay: boolean): void {
    const t = this.#t;
    t.noDelay = noDelay;
    // Linux __tcp_sock_set_nodelay: TCP_NAGLE_OFF | TCP_NAGLE_PUSH, then push — what a cork
    // holds goes once.
    if (noDelay) t.naglePush = true;
    if (noDelay && t.isSynchronized()) {
      t.enter();
      output(t, t.ctx.clock.now());
      t.leave();
    }
  }

  /**
   * TCP_CORK (Linux): while corked, a partial (< MSS) segment of new data is held; full
   * segments go. Uncorking sends what is held at once (Linux __tcp_sock_set_cork); the FIN
   * is never corked; with nothing in flight, the cork probe sends held data about an RTO
   * (at least 200 ms) later — Linux's ceiling on TCP_CORK.
   *
   * @param cork true to cork, false to uncork and push
   * @returns nothing
   */
  setCork(cork: boolean): void {
    const t = this.#t;
    t.cork = cork;
    if (cork) return;
    if (t.noDelay) t.naglePush = true;
    if (t.isSynchronized()) {
      t.enter();
      output(t, t.ctx.clock.now());
      t.leave();
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
    const t = this.#t;
    t.keepAlive = enable;
    if (idleMs !== undefined && idleMs > 0) t.keepAliveIdleMs = idleMs;
    if (enable) t.armKeepAlive(t.ctx.clock.now());
    else if (t.keepaliveTimer !== null) t.ctx.wheel.cancel(t.keepaliveTimer);
  }

  /**
   * Keep-alive timers of this connection (TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT) and its
   * handshake limit (TCP_KEEPINIT, FreeBSD); omitted fields keep their value.
   *
   * @param p idle and interval in ms, probes, handshake limit in ms (0: none)
   * @returns nothing
   */
  setKeepAliveTimers(
    p: { idleMs?: number; intervalMs?: number; probes?: number; initMs?: number },
  ): void {
    const t = this.#t;
    if (p.idleMs !== undefined && p.idleMs > 0) t.keepAliveIdleMs = p.idleMs;
    if (p.intervalMs !== undefined && p.intervalMs > 0) t.keepAliveIntervalMs = p.intervalMs;
    if (p.probes !== undefined && p.probes > 0) t.keepAliveProbes = p.probes;
    if (p.initMs !== undefined && p.initMs >= 0) {
      t.keepAliveInitMs = p.initMs;
      if (t.state === TcpState.SYN_SENT || t.state === TcpState.SYN_RECEIVED) {
        t.armKeepInit(t.ctx.clock.now());
      }
    }
    if (t.keepAlive && t.isSynchronized() && t.keepAliveProbesSent === 0) {
      t.armKeepAlive(t.ctx.clock.now());
    }
  }

  /**
   * TCP_LINGER2: how long this connection waits in FIN-WAIT-2 for the peer's FIN once the
   * application closed it (Linux tcp_fin_time: never below 3.5 RTO). null restores the
   * layer's default (`TcpConfig.timeWaitMs`); a negative value waits not at all — `close()`
   * in FIN-WAIT-2 sends RST, and a closed connection whose FIN is acknowledged is dropped.
   *
   * @param ms the timeout in ms, negative for none, or null for the default
   * @returns nothing
   */
  setFinTimeout(ms: number | null): void {
    if (ms !== null && !Number.isFinite(ms)) throw new RangeError(`bad FIN-WAIT-2 timeout ${ms}`);
    const t = this.#t;
    t.finTimeoutMs = ms;
  }

  /**
   * IP_TTL and IP_TOS of this connection's datagrams (RFC 791; the TOS byte's ECN bits
   * belong to TCP, RFC 3168 §5).
   *
   * @param ttl time to live, 1..255, or 0 for the interface's default
   * @param tos the TOS byte
   * @returns nothing
   */
  setIpOptions(ttl: number, tos: number): void {
    this.#t.setIpOptions(ttl & 0xff, tos & 0xfc);
  }

  /**
   * TCP_MAXSEG (Linux user_mss): caps the MSS we advertise and send with. Before the
   * handshake it changes the SYN's MSS option; later only the sending MSS.
   *
   * @param mss bytes, at least MIN_MSS (88)
   * @returns nothing
   */
  setMaxSegment(mss: number): void {
    const t = this.#t;
    const m = Math.max(MIN_MSS, Math.floor(mss));
    if (m < t.ourMss) {
      t.ourMss = m;
      t.updateSndMss();
    }
  }

  /**
   * A TCP_INFO-like snapshot.
   *
   * @returns the current figures
   */
  info(): TcpInfo {
    const t = this.#t;
    return {
      state: this.stateName,
      srttMs: t.rtt.srttMs,
      rttvarMs: t.rtt.rttvarMs,
      minRttMs: t.rtt.samples === 0 ? 0 : t.rtt.minRttMs,
      rtoMs: t.rtt.rtoMs,
      cwnd: t.cc.cwnd,
      ssthresh: t.cc.ssthresh,
      sndWnd: t.sndWnd,
      rcvWnd: Math.max(0, seqSub(t.rcvAdvRight, t.rcvNxt)),
      receiveBufferBytes: t.receiveBufferBytes(),
      rcvRttMs: t.rcvSpace?.rttMs ?? 0,
      sndMss: t.sndMss,
      congestion: t.cc.name,
      retransmits: t.retransmitCount,
      bytesIn: t.bytesIn,
      bytesOut: t.bytesOut,
      sendQueued: this.sendQueued,
      receiveQueued: this.readableLength,
      iss: t.iss >>> 0,
      irs: t.irs >>> 0,
      sndUna: t.sndUna >>> 0,
      sndNxt: t.sndNxt >>> 0,
      rcvNxt: t.rcvNxt >>> 0,
      windowScaling: t.wsOk,
      timestamps: t.tsOk,
      sack: t.sackOk,
      lossRecovery: t.recovery?.name ??
        (t.rack !== null ? "rack-tlp" : "none"),
      caState: t.caState,
      recoveries: t.recoveryCount,
      rackLosses: t.rackLostCount,
      reorderingSeen: t.rack?.reorderingSeen ?? false,
      reoWndMult: t.rack?.reoWndMult ?? 1,
      tlpProbes: t.tlpProbeCount,
      hystart: t.cc.hystart?.state ?? "off",
      hystartExits: t.cc.hystart?.cssEntries ?? 0,
      dsacksReceived: t.dsacksIn,
      dsacksSent: t.dsacksOut,
      undos: t.undoCount,
      spuriousRtos: t.spuriousRtoCount,
      timeouts: t.timeoutCount,
      sackedSegments: this.#sackedSegments(),
      lostSegments: this.#lostSegments(),
      retransOutSegments: this.#retransOutSegments(),
      reordering: t.rack?.reordering ?? INITIAL_REORDERING,
      advMss: t.ourMss,
      lastDataRecvMs: Number.isFinite(t.lastRecvActivityMs) ? t.lastRecvActivityMs : null,
      ipTtl: t.ipOptions?.ttl ?? 0,
      ipTos: t.ipOptions?.tos ?? 0,
      keepAliveIdleMs: t.keepAliveIdleMs,
      keepAliveIntervalMs: t.keepAliveIntervalMs,
      keepAliveProbes: t.keepAliveProbes,
      keepAliveInitMs: t.keepAliveInitMs,
      finTimeoutMs: t.finTimeoutMs,
      ecn: t.ecnOk,
      ecnCeReceived: t.ecnCeReceived,
      ecnReductions: t.ecnReductions,
      ecnCwrSent: t.ecnCwrSent,
      ecnEchoing: t.ecnEceEcho,
    };
  }

  /** {@link TcpInfo.sackedSegments}. */
  #sackedSegments(): number {
    const t = this.#t;
    if (t.rack !== null) return t.rack.sackedSegments;
    const mss = Math.max(1, t.sndMss);
    if (t.scoreboard !== null) return Math.ceil(t.scoreboard.sackedBytes() / mss);
    // Linux tcp_add_reno_sack / tcp_limit_reno_sacked: a duplicate ACK stands for one
    // segment that left the network, no more than are in flight.
    return Math.min(t.dupAcks, Math.ceil(seqSub(t.sndMax, t.sndUna) / mss));
  }

  /** {@link TcpInfo.lostSegments}. */
  #lostSegments(): number {
    const t = this.#t;
    if (t.segLog !== null) return t.segLog.lostOut();
    const sb = t.scoreboard;
    if (sb === null) return 0;
    const mss = Math.max(1, t.sndMss);
    return Math.ceil(sb.unsackedBelow(sb.lostBoundary(mss)) / mss);
  }

  /** {@link TcpInfo.retransOutSegments}. */
  #retransOutSegments(): number {
    const t = this.#t;
    if (t.segLog !== null) return t.segLog.retransOut();
    const sb = t.scoreboard;
    if (sb === null) return 0;
    const mss = Math.max(1, t.sndMss);
    return Math.ceil(sb.unsackedBelow(seqSub(t.highRxt, t.dataSeq)) / mss);
  }

  // ------------------------------------------------------------------ events

  // ------------------------------------------------------------------ timers

  /**
   * Timer expiry (called by the wheel).
   *
   * @param kind one of the TCP_TIMER_* kinds
   * @param nowMs current time
   * @returns nothing
   */
  onTimer(kind: number, nowMs: number): void {
    const t = this.#t;
    if (t.state === TcpState.CLOSED) return;
    t.enter();
    switch (kind) {
      case TCP_TIMER_RETRANSMIT:
        // A lazily re-armed timer fired before its real deadline: push it back.
        if (nowMs < t.rtxDueMs) t.ctx.wheel.schedule(t.rtxTimer!, t.rtxDueMs);
        else onRetransmitTimeout(t, nowMs);
        break;
      case TCP_TIMER_DELAYED_ACK:
        if (t.unackedBytes > 0 || t.ackNow) {
          // Linux tcp_delack_timer_handler: the reply did not come in time: not interactive.
          t.pingpong = false;
          t.ackNow = true;
          output(t, nowMs);
        }
        break;
      case TCP_TIMER_PERSIST:
        onPersist(t, nowMs);
        break;
      case TCP_TIMER_KEEPALIVE:
        onKeepAlive(t, nowMs);
        break;
      case TCP_TIMER_RACK:
        onRackTimer(t, nowMs, rackDetectLoss);
        break;
      case TCP_TIMER_TIME_WAIT:
        // RFC 9293 §3.10.8: TIME-WAIT timeout; also the orphaned FIN-WAIT-2 timeout.
        t.terminate(null);
        break;
    }
    t.leave();
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
    const t = this.#t;
    if (t.state === TcpState.CLOSED) return;
    t.enter();
    t.lastRecvMs = nowMs;
    t.keepAliveProbesSent = 0;
    if (t.state === TcpState.SYN_SENT) inputSynSent(t, nowMs, seg);
    else {
      ecnInput(t, nowMs, seg); // RFC 3168 §6.1.2, §6.1.3
      inputSynchronizing(t, nowMs, seg);
    }
    if (!t.isClosed()) output(t, nowMs);
    t.leave();
  }

  // ------------------------------------------------------------ coalescing

  /**
   * As {@link onSegment}, for a segment that may start a coalesced run (receive coalescing,
   * see `TcpLayer.beginReceiveBatch`): when it was in-order data of an ESTABLISHED
   * connection taken whole, output and the events wait for {@link endRun}, and later
   * segments of the run are added with {@link appendToRun}.
   *
   * @param nowMs current time
   * @param seg the parsed segment (ACK only, with data)
   * @returns true when the run is open (the caller must call {@link endRun})
   */
  onSegmentStartingRun(nowMs: number, seg: TcpRepr): boolean {
    const t = this.#t;
    if (t.state !== TcpState.ESTABLISHED) {
      this.onSegment(nowMs, seg);
      return false;
    }
    t.enter();
    t.lastRecvMs = nowMs;
    t.keepAliveProbesSent = 0;
    ecnInput(t, nowMs, seg);
    inputSynchronizing(t, nowMs, seg);
    if (canStartRun(t, seg.seq, seg.payloadLength)) return true;
    if (!t.isClosed()) output(t, nowMs);
    t.leave();
    return false;
  }

  /**
   * Adds the payload of the next segment of an open run (same header but the sequence
   * number, see `appendCoalesced` in connection_receive.ts).
   *
   * @param nowMs current time
   * @param seq the segment's sequence number
   * @param ack its acknowledgment number
   * @param bytes the payload's buffer (valid during the call only: copied)
   * @param offset payload start
   * @param length payload length
   * @returns false when it does not continue the run (the caller ends the run and hands the
   *   segment to {@link onSegment})
   */
  appendToRun(
    nowMs: number,
    seq: number,
    ack: number,
    bytes: Uint8Array,
    offset: number,
    length: number,
  ): boolean {
    return appendCoalesced(this.#t, nowMs, seq, ack, bytes, offset, length);
  }

  /**
   * Ends a run opened by {@link onSegmentStartingRun}: one ACK decision for the data appended,
   * the output decision, and the collected events (one wake-up of the reader).
   *
   * @param nowMs current time
   * @param appended whether segments were appended to the run
   */
  endRun(nowMs: number, appended: boolean): void {
    const t = this.#t;
    if (appended) endCoalescedRun(t, nowMs);
    if (!t.isClosed()) output(t, nowMs);
    t.leave();
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
    const t = this.#t;
    // RFC 5927 §4.1: the quoted sequence number must be in flight, SND.UNA =< SEG.SEQ < SND.NXT.
    if (!(seqGe(seq, t.sndUna) && seqLt(seq, t.sndMax))) {
      t.ctx.stats.icmpOutOfWindow++;
      return;
    }
    t.enter();
    if (type === ICMP_DEST_UNREACHABLE && code === ICMP_UNREACH_FRAG_NEEDED) {
      // RFC 1191 §6.2: fragmentation needed: lower the MSS and resend what is in flight. A
      // SYN carries no data to fragment and its MSS option states what we receive (RFC 9293
      // §3.7.1), so the handshake ignores it (FreeBSD tcp_mtudisc_notify does too).
      if (nextHopMtu > 0 && t.isSynchronized()) {
        const mss = Math.max(MIN_MSS, nextHopMtu - IPV4_TCP_HEADERS_LEN);
        if (mss < t.ourMss) {
          t.ourMss = mss;
          t.updateSndMss();
          if (t.isSynchronized() && t.sndUna !== t.sndMax) {
            t.sndNxt = t.sndUna;
            output(t, nowMs, true);
          }
        }
      }
    } else if (t.state === TcpState.SYN_SENT) {
      const error = icmpConnectError(t.cfg.icmpAbortsConnect, type, code);
      if (error !== null) {
        t.ctx.stats.icmpAborts++;
        t.terminate(error);
      }
    }
    t.leave();
  }
}

/** Type 3 codes 9, 10, 13: administratively prohibited (RFC 1812 §5.2.7.1). */
const ICMP_ADMIN_PROHIBITED: ReadonlySet<number> = new Set([9, 10, 13]);

/**
 * The error an ICMP message ends a connection attempt (SYN-SENT) with, or null when it is
 * a soft error (RFC 1122 §4.2.3.9: only protocol and port unreachable are hard).
 *
 * - `"all"` (Linux tcp_v4_err): any destination unreachable or time exceeded aborts
 *   the attempt; protocol/port unreachable read ECONNREFUSED, the rest EHOSTUNREACH.
 * - `"hard"` (FreeBSD tcp_ctlinput with icmp_may_rst=1, icmp_errmap): protocol/port
 *   unreachable and administratively prohibited → ECONNREFUSED, TTL exceeded in transit →
 *   EHOSTUNREACH; network/host unreachable and the rest are soft.
 * - `"none"`: no ICMP error aborts a connection attempt.
 */
function icmpConnectError(
  policy: "all" | "hard" | "none",
  type: number,
  code: number,
): TcpError | null {
  if (policy === "none") return null;
  const hard = type === ICMP_DEST_UNREACHABLE &&
    (code === ICMP_UNREACH_PROTOCOL || code === ICMP_UNREACH_PORT);
  if (policy === "all") {
    if (hard) return new ConnectionRefused();
    if (type === ICMP_DEST_UNREACHABLE || type === ICMP_TIME_EXCEEDED) {
      return new HostUnreachable();
    }
    return null;
  }
  if (hard || (type === ICMP_DEST_UNREACHABLE && ICMP_ADMIN_PROHIBITED.has(code))) {
    return new ConnectionRefused();
  }
  if (type === ICMP_TIME_EXCEEDED && code === 0) return new HostUnreachable();
  return null;
}
