/**
 * Tunables of the TCP engine with Linux-like defaults, and the shared
 * context every connection of one {@link TcpLayer} uses.
 *
 * @module
 */

import type { CongestionAlgorithm, CubicRenoFriendly } from "./congestion.ts";
import { DEFAULT_MAX_RTO_MS, DEFAULT_MIN_RTO_MS, INITIAL_RTO_MS } from "./rto.ts";
import { IPV4_HEADER_LEN } from "../wire/ipv4.ts";
import { TCP_HEADER_LEN } from "../wire/tcp.ts";

/** RFC 9293 §3.7.1: the MSS assumed when the peer sends no MSS option. */
export const DEFAULT_MSS = 536;
/** Bytes of IPv4 + TCP headers without options (MSS = MTU - 40). */
export const IPV4_TCP_HEADERS_LEN: number = IPV4_HEADER_LEN + TCP_HEADER_LEN;
/** Smallest MSS we ever use, whatever ICMP or the peer says (Linux tcp_min_snd_mss is 48). */
export const MIN_MSS = 88;

/**
 * Default {@link TcpConfig.maxConnections}: ample for a user-space stack's clients and
 * servers, yet a bound (a TCB is a few kB idle; buffers are taken only while data waits).
 */
export const DEFAULT_MAX_CONNECTIONS = 16_384;
/**
 * Default {@link TcpConfig.maxTimeWait}: the ephemeral port range, so a client churning
 * connections to one server never runs out of TIME-WAIT room before ports are reused.
 */
export const DEFAULT_MAX_TIME_WAIT = 16_384;

/**
 * Default {@link TcpConfig.receiveBufferMaxBytes}: 4 MiB, sixteen times the initial 256 KiB
 * (Linux's tcp_rmem[2] is 6 MiB, 32 MiB since 6.x; 4 MiB is the ring pool's retained bound,
 * DEFAULT_RING_POOL_RETAINED_BYTES, and gives the window scale 7 that Linux announces).
 */
export const DEFAULT_RECEIVE_BUFFER_MAX_BYTES = 4 * 1024 * 1024;

/**
 * Default {@link TcpConfig.receiveBufferGrowthTotalBytes}: 64 MiB, sixteen connections grown to
 * the default 4 MiB at once.
 */
export const DEFAULT_RECEIVE_BUFFER_GROWTH_TOTAL_BYTES = 64 * 1024 * 1024;

/** Engine tunables. Every field has a default; see {@link DEFAULT_TCP_CONFIG}. */
export interface TcpConfig {
  /** Send buffer (ring) capacity in bytes. */
  sendBufferBytes: number;
  /**
   * Initial receive buffer (ring) capacity in bytes: the window we advertise until
   * autotuning grows the buffer (see {@link receiveBufferMaxBytes}).
   */
  receiveBufferBytes: number;
  /**
   * Receive-buffer autotuning (Linux tcp_moderate_rcvbuf, "Dynamic Right-Sizing",
   * src/tcp/rcv_space.ts): each connection's receive buffer grows, from
   * `receiveBufferBytes` in doublings, to what the application reads per RTT asks for, up to
   * this many bytes (Linux tcp_rmem[2]). Never shrinks while the connection lives; storage
   * is still attached only while data waits, so an idle connection holds none. The window
   * scale of our SYN is chosen for this size (RFC 7323 §2.3). `0` or at most
   * `receiveBufferBytes`: off, the buffer stays `receiveBufferBytes`.
   */
  receiveBufferMaxBytes: number;
  /**
   * The layer's budget for autotuning (Linux tcp_mem's pressure point, per layer): the sum over
   * live connections of what their receive buffers grew beyond `receiveBufferBytes` never
   * exceeds it. A growth that would pass it takes the largest doubling that fits, or none
   * (counted in `TcpStats.rcvBufferGrowthRefused`); a connection's growth returns to the budget
   * when it ends. `0`: no connection grows.
   */
  receiveBufferGrowthTotalBytes: number;
  /** Lower bound on the RTO (RFC 6298 §2.4), ms. */
  minRtoMs: number;
  /**
   * Where {@link minRtoMs} applies. false (default, RFC 6298 §2.4): to the whole RTO,
   * max(minRtoMs, SRTT + max(G, K·RTTVAR)). true (Linux tcp_rtt_estimator/__tcp_set_rto): to
   * the variance term, SRTT + max(K·RTTVAR, minRtoMs) — on a 10 ms path 210 ms, not 200 ms.
   * The packetdrill `linux` profile selects it.
   */
  minRtoOnVariance: boolean;
  /** Upper bound on the RTO, ms. */
  maxRtoMs: number;
  /** RTO before the first RTT sample (RFC 6298 §2.1), ms. */
  initialRtoMs: number;
  /** SYN retransmissions before connect fails with "timed out" (Linux tcp_syn_retries). */
  synRetries: number;
  /** SYN-ACK retransmissions before an embryonic connection is dropped. */
  synAckRetries: number;
  /** Data retransmissions before the connection fails (Linux tcp_retries2). */
  dataRetries: number;
  /** TIME-WAIT duration, 2*MSL, ms (Linux: 60 s). Also the orphaned FIN-WAIT-2 timeout. */
  timeWaitMs: number;
  /** Longest an ACK is delayed (RFC 9293 §3.8.6.3: < 0.5 s), ms. */
  delayedAckMs: number;
  /**
   * Acknowledge in-order data once per receive batch (as Linux does with GRO): instead of
   * an ACK for every second full-sized segment (RFC 5681 §4.2), the ACK becomes due at
   * once on the timer wheel, so it goes out when the wheel next advances — in a `Stack`,
   * right after the batch of frames being processed — covering the whole batch. An ACK is
   * still sent at once when a quarter of the advertised window (at most 64 KiB,
   * MAX_BATCH_ACK_BYTES) is unacknowledged. Off:
   * every second full segment is acknowledged immediately.
   */
  ackBatching: boolean;
  /** Disable Nagle's algorithm on new connections (RFC 896). */
  noDelay: boolean;
  /** Keep-alive on for new connections (RFC 9293 §3.8.4: off by default). */
  keepAlive: boolean;
  /** Idle time before the first keep-alive probe, ms (RFC 9293 §3.8.4: >= 2 h). */
  keepAliveIdleMs: number;
  /** Interval between keep-alive probes, ms. */
  keepAliveIntervalMs: number;
  /** Unanswered keep-alive probes before the connection fails. */
  keepAliveProbes: number;
  /** Congestion control for new connections. */
  congestion: CongestionAlgorithm;
  /**
   * End CUBIC's initial slow start by HyStart++ (RFC 9406, as FreeBSD's cc_cubic; Linux's
   * CUBIC runs the older HyStart): when the minimum RTT of a round rises by 4..16 ms (an
   * eighth of the last round's) a queue is building, and cwnd grows at a quarter of the rate
   * (Conservative Slow Start) for 5 rounds, then congestion avoidance begins — before the
   * queue overflows and a window of segments is lost. Should the RTT fall back, slow start
   * resumes. Default true; false: slow start until the first loss (RFC 5681 §3.1). NewReno
   * never uses it.
   */
  hystart: boolean;
  /**
   * CUBIC's congestion avoidance as Linux's tcp_cubic.c (`bictcp_update` in whole segments
   * and 4 ms jiffies, its tcp_friendliness, `tcp_cong_avoid_ai`, `cubictcp_recalc_ssthresh`)
   * instead of RFC 9438. On a sub-millisecond path with frequent losses Linux's `cnt`,
   * computed once per jiffy, lets cwnd grow about one segment per window (AIMD(1, 0.7)), where
   * RFC 9438's Reno-friendly region grows 0.53 (see `Cubic`). Default false (RFC 9438); the
   * packetdrill `linux` profile turns it on.
   */
  cubicLinuxGrowth: boolean;
  /**
   * CUBIC's Reno-friendly estimate W_est (RFC 9438 §4.3) between a reduction and the window
   * before it (cwnd_prior). "aimd1" (default): W_est grows a segment per window from the
   * reduction on, AIMD(1, 0.7) — what Linux's tcp_cubic does in effect on short-RTT paths with
   * frequent losses (its `cnt`, computed once per jiffy, see `Cubic`), without the rest of
   * `cubicLinuxGrowth`. Through 1–2 % random loss on the lab's veth path it keeps 14–16
   * segments in flight instead of 12 (the kernel: 17–23) and raised goodput 14 % at both
   * rates (`bench/loss_ab.ts`, issue 19). "rfc9438": the RFC's α_cubic = 3(1 − β)/(1 + β) ≈
   * 0.53 until W_est reaches cwnd_prior, then 1 (AIMD(0.53, 0.7), Reno's mean window under
   * random loss); the packetdrill `rfc` profile selects it. Takes more of a shared bottleneck
   * than Reno, as Linux does. Ignored with `cubicLinuxGrowth` and by NewReno.
   */
  cubicRenoFriendly: CubicRenoFriendly;
  /**
   * Defer new data while the congestion window is the limit and frees only a little at a
   * time, as Linux's `tcp_tso_should_defer` does for TSO frames: on a link that takes
   * super-segments (TSO/GSO), when less than a third of cwnd (`tcp_tso_win_divisor` 3) is
   * open, the data waiting would fill more, and at least three full segments are
   * unacknowledged (so the peer owes an ACK at once: RFC 9293 §3.8.6.3, an ACK for at least
   * every second full-sized segment), the next ACK is waited for and one larger
   * super-segment goes instead of a small one per ACK: less cost per byte. Never during loss
   * recovery, for retransmissions, for the last data queued, or when the peer's window is
   * the limit. Measured through random loss in the lab (issue 19, `bench/loss_ab.ts`, 3 s
   * samples, 10 pairs interleaved with the kernel's CUBIC sender beside rawstack): goodput
   * against the kernel 0.58× → 0.70× at 1 % loss and 0.54× → 0.63× at 2 %, CPU per byte
   * 13–15 % lower (2.9 → 2.45 and 3.9 → 3.4 CPU s/GB).
   * Default true; false sends what each ACK opens at once.
   */
  sendDeferral: boolean;
  /** Offer window scaling (RFC 7323 §2). */
  windowScaling: boolean;
  /** Offer timestamps (RFC 7323 §3). */
  timestamps: boolean;
  /** Offer SACK (RFC 2018). */
  sack: boolean;
  /** Bound on out-of-order ranges held by the receiver. */
  maxReassemblyRanges: number;
  /** Bound on SACKed ranges in the sender's scoreboard (RFC 6675). */
  maxScoreboardRanges: number;
  /** RFC 5961 §7: challenge ACKs per connection per second. */
  challengeAckLimitPerSecond: number;
  /**
   * Answer with SYN cookies when a listener's SYN queue is full (RFC 4987
   * §3.6). The cookie (our ISS) holds the MSS; when the SYN carries
   * timestamps, window scaling and SACK ride in the low 6 bits of our TSval
   * as Linux encodes them, so they survive; without timestamps they are lost.
   */
  synCookies: boolean;
  /** Upper bound on the persist-timer interval (RFC 9293 §3.8.6.1), ms. */
  maxPersistMs: number;
  /**
   * Most connections the layer holds outside TIME-WAIT (embryonic ones included). Beyond it
   * a SYN or cookie ACK is dropped and `connect` throws `TooManyConnections`, counted in
   * `connectionLimitDrops`: every connection has a TCB and may fill two buffers.
   */
  maxConnections: number;
  /**
   * Most connections in TIME-WAIT (Linux tcp_max_tw_buckets). A connection that would enter
   * TIME-WAIT beyond it goes to CLOSED at once (`timeWaitOverflows`).
   */
  maxTimeWait: number;
  /**
   * Loss detection of SACK connections: "rack-tlp" (the default, RFC 8985: time-based
   * detection with per-segment transmit times, a reordering window and tail loss probes, as
   * Linux and FreeBSD do today) or "rfc6675" (DupThresh-based IsLost over the scoreboard,
   * RFC 6675 §4). Both reduce the window with PRR (RFC 6937). Without SACK: NewReno.
   */
  lossDetection: LossDetection;
  /** Detect spurious retransmission timeouts with F-RTO (RFC 5682, Linux tcp_frto = 2). */
  frto: boolean;
  /**
   * Added to every backed-off SYN and SYN-ACK retransmission timeout, ms: FreeBSD's
   * `net.inet.tcp.rexmit_slop` (TCPT_RANGESET adds it; its SYNs go out at 0, 1, 3.2,
   * 7.4 s). 0: the RFC 6298 §5.5 doubling alone, as Linux does.
   */
  synRtoSlopMs: number;
  /**
   * Acknowledge the first data segments at once (Linux quick-ACK mode, tcp_incr_quickack).
   * Off: the first data segment waits for the delayed-ACK timer like any other (FreeBSD,
   * RFC 9293 §3.8.6.3).
   */
  quickAck: boolean;
  /**
   * Connection-establishment limit, ms (FreeBSD `net.inet.tcp.keepinit`, TCP_KEEPINIT): a
   * connection still in SYN-SENT or SYN-RECEIVED after it fails with ETIMEDOUT. 0: none;
   * only `synRetries` / `synAckRetries` end the handshake (Linux).
   */
  keepAliveInitMs: number;
  /**
   * Which ICMP errors abort a connection in SYN-SENT (RFC 1122 §4.2.3.9, RFC 5461):
   * `"all"` (Linux tcp_v4_err: any destination unreachable, time exceeded, parameter
   * problem), `"hard"` (FreeBSD with `net.inet.tcp.icmp_may_rst=1`: protocol/port
   * unreachable and administratively prohibited → ECONNREFUSED, TTL exceeded →
   * EHOSTUNREACH, only when the quoted sequence is the ISS), `"none"` (icmp_may_rst=0).
   * Fragmentation needed always lowers the MSS (RFC 1191).
   */
  icmpAbortsConnect: "all" | "hard" | "none";
  /**
   * Time to live of the IPv4 datagrams TCP sends (IP_TTL); 0: the interface's default.
   */
  ipTtl: number;
  /** TOS byte of the IPv4 datagrams TCP sends (IP_TOS; the ECN bits are TCP's). */
  ipTos: number;
  /**
   * RFC 5961 §7 / Linux `net.ipv4.tcp_challenge_ack_limit`: challenge ACKs the whole
   * layer sends per second, over every connection (besides the per-connection limit).
   */
  challengeAckGlobalLimitPerSecond: number;
  /**
   * RSTs sent per second in answer to segments for no connection (Linux rate-limits them
   * like ICMP errors, `net.ipv4.icmp_ratelimit` / `tcp_v4_send_reset` through
   * `inet_peer`; FreeBSD `net.inet.icmp.icmplim` with `tcp_rst` in badport_bandlim). A
   * token bucket of this size refilled every second; 0: unlimited.
   */
  resetLimitPerSecond: number;
  /**
   * SYN retransmissions after which the SYN carries the MSS option only (FreeBSD
   * `net.inet.tcp.rexmit_drop_options`: from the third, for middleboxes that drop SYNs
   * with options). 0: never (Linux).
   */
  synDropOptionsAfter: number;
  /**
   * ECN (RFC 3168) as Linux `net.ipv4.tcp_ecn`: `"on"` asks for it on active opens and
   * accepts it, `"passive"` (the default, like Linux's 2 and FreeBSD's ecn.enable=2) only
   * accepts a peer's request, `"off"` neither.
   */
  ecn: "off" | "on" | "passive";
  /**
   * SYN retransmissions that still ask for ECN (RFC 3168 §6.1.1.1: a peer or middlebox
   * may drop ECN-setup SYNs): Linux 0 (tcp_ecn_fallback), FreeBSD 1 (ecn.maxretries).
   */
  ecnSynRetries: number;
  /**
   * RCV.WND for the acceptability test (RFC 9293 §3.10.7.4) is at least the free receive
   * buffer, not only the window last advertised: FreeBSD (tcp_input, `rcv_wnd =
   * imax(sbspace, rcv_adv - rcv_nxt)`) accepts data beyond its last window while it has
   * room. Off (default): the advertised window, as Linux (tcp_receive_window) and RFC 9293.
   */
  rcvWindowFromBuffer: boolean;
  /**
   * Round the receive buffer up to a whole number of segments once the MSS is agreed
   * (FreeBSD tcp_mss_update: `roundup(so_rcv.sb_hiwat, mss)`). Off (default): the buffer is
   * `receiveBufferBytes`, as Linux.
   */
  receiveBufferRoundToMss: boolean;
  /**
   * While our FIN is sent and unacknowledged (FIN-WAIT-1, CLOSING, LAST-ACK), every pure
   * ACK we send is a retransmission of the FIN: `<SEQ=FIN><ACK=RCV.NXT><CTL=FIN,ACK>`.
   * FreeBSD does this: `tcp_outflags[]` sets TH_FIN in those states, and tcp_output
   * decrements snd_nxt to the FIN's sequence number when the FIN was already sent. Off
   * (default): the ACK is `<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>` as RFC 9293 §3.10.7.4
   * (eighth step) and Linux (tcp_send_ack) send it; the FIN goes again only on the
   * retransmission timer.
   */
  finOnEveryAck: boolean;
  /**
   * A segment for a port that a socket is bound to but does not listen on (see
   * {@link TcpLayer.bindPort}) is answered with the RST of RFC 9293 §3.10.7.1 (CLOSED) sent
   * with that socket's IP options (TTL/hop limit, TOS/traffic class). FreeBSD does this: its
   * tcp_input finds the bound inpcb and tcp_dropwithreset answers through it. Off (default):
   * the RST carries the interface's defaults, as Linux's tcp_v4_send_reset /
   * tcp_v6_send_reset answer from the per-namespace control socket (a bound, non-listening
   * socket is not in the lookup tables).
   */
  resetFromBoundSocket: boolean;
}

/** {@link TcpConfig.lossDetection} values. */
export type LossDetection = "rack-tlp" | "rfc6675";

/** The defaults: Linux-like values. */
export const DEFAULT_TCP_CONFIG: Readonly<TcpConfig> = Object.freeze({
  sendBufferBytes: 256 * 1024,
  receiveBufferBytes: 256 * 1024,
  receiveBufferMaxBytes: DEFAULT_RECEIVE_BUFFER_MAX_BYTES,
  receiveBufferGrowthTotalBytes: DEFAULT_RECEIVE_BUFFER_GROWTH_TOTAL_BYTES,
  minRtoMs: DEFAULT_MIN_RTO_MS,
  minRtoOnVariance: false,
  maxRtoMs: DEFAULT_MAX_RTO_MS,
  initialRtoMs: INITIAL_RTO_MS,
  synRetries: 6,
  synAckRetries: 5,
  dataRetries: 15,
  timeWaitMs: 60_000,
  delayedAckMs: 40,
  ackBatching: true,
  noDelay: false,
  keepAlive: false,
  keepAliveIdleMs: 7_200_000,
  keepAliveIntervalMs: 75_000,
  keepAliveProbes: 9,
  congestion: "cubic",
  cubicLinuxGrowth: false,
  cubicRenoFriendly: "aimd1",
  sendDeferral: true,
  hystart: true,
  windowScaling: true,
  timestamps: true,
  sack: true,
  maxReassemblyRanges: 32,
  maxScoreboardRanges: 32,
  challengeAckLimitPerSecond: 100,
  synCookies: true,
  maxPersistMs: 60_000,
  maxConnections: DEFAULT_MAX_CONNECTIONS,
  maxTimeWait: DEFAULT_MAX_TIME_WAIT,
  lossDetection: "rack-tlp",
  frto: true,
  synRtoSlopMs: 0,
  quickAck: true,
  keepAliveInitMs: 0,
  icmpAbortsConnect: "all",
  ipTtl: 0,
  ipTos: 0,
  challengeAckGlobalLimitPerSecond: 1000,
  resetLimitPerSecond: 1000,
  synDropOptionsAfter: 0,
  ecn: "passive",
  ecnSynRetries: 0,
  rcvWindowFromBuffer: false,
  receiveBufferRoundToMss: false,
  finOnEveryAck: false,
  resetFromBoundSocket: false,
});

/**
 * Fills in defaults.
 *
 * @param partial overrides
 * @returns a complete config
 *
 * @example
 * ```ts
 * import { resolveTcpConfig } from "./config.ts";
 * const c = resolveTcpConfig({ noDelay: true });
 * console.assert(c.noDelay && c.timeWaitMs === 60000);
 * ```
 */
export function resolveTcpConfig(partial: Partial<TcpConfig> = {}): TcpConfig {
  return { ...DEFAULT_TCP_CONFIG, ...partial };
}

/** Counters of one TCP layer (all connections). */
export interface TcpStats {
  /** Segments handed to us by IP. */
  segmentsIn: number;
  /** Segments sent. */
  segmentsOut: number;
  /** Segments sent that occupy sequence space (data, SYN, FIN): the ones timed for RTT. */
  seqSegmentsOut: number;
  /**
   * Bytes the live connections' receive buffers grew beyond `receiveBufferBytes` (a gauge;
   * at most `TcpConfig.receiveBufferGrowthTotalBytes`).
   */
  rcvBufferGrownBytes: number;
  /** Receive-buffer growths cut short or refused by the layer's budget. */
  rcvBufferGrowthRefused: number;
  /** Segments dropped for a bad checksum or malformed header/options. */
  malformed: number;
  /** Data segments retransmitted (timeouts, fast retransmit, SACK recovery). */
  retransmits: number;
  /** Retransmission timeouts. */
  timeouts: number;
  /** RSTs sent. */
  resetsSent: number;
  /** RSTs accepted. */
  resetsReceived: number;
  /** RFC 5961 challenge ACKs sent. */
  challengeAcks: number;
  /** Segments dropped by PAWS (RFC 7323 §5). */
  pawsDrops: number;
  /** Packet buffer allocation failures. */
  allocFailures: number;
  /** SYNs dropped because a listener's queues were full. */
  listenOverflows: number;
  /** SYN cookies sent. */
  synCookiesSent: number;
  /** Connections established from a valid SYN cookie. */
  synCookiesAccepted: number;
  /** ACKs carrying an invalid SYN cookie. */
  synCookiesFailed: number;
  /**
   * ACKs to a listener that had sent no SYN cookie within a cookie's lifetime (Linux
   * `tcp_synq_no_recent_overflow`): not checked as cookies, answered with RST.
   */
  synCookiesUnexpected: number;
  /**
   * Segments to a broadcast or multicast address, discarded unanswered (RFC 1122
   * §4.2.3.10, RFC 9293 §3.9.2.3).
   */
  broadcastDrops: number;
  /** Segments from 0.0.0.0, the limited broadcast or a multicast address, discarded. */
  badSourceDrops: number;
  /**
   * New connections refused at `maxConnections` (SYNs and cookie ACKs dropped, `connect`
   * calls that threw `TooManyConnections`).
   */
  connectionLimitDrops: number;
  /** Connections that skipped TIME-WAIT because `maxTimeWait` were in it (Linux TWOVERFLOW). */
  timeWaitOverflows: number;
  /** Out-of-order segments received. */
  outOfOrder: number;
  /** Segments sent by IP that it reported dropped. */
  sendFailures: number;
  /** Fast recovery episodes entered (RFC 6675 §5, RFC 8985 §6, NewReno). */
  recoveries: number;
  /** Segments RACK deemed lost (RFC 8985 §6.2). */
  rackLosses: number;
  /** Tail loss probes sent (RFC 8985 §7.3). */
  tlpProbes: number;
  /** Losses repaired by a tail loss probe, each followed by a window reduction (RFC 8985 §7.4). */
  tlpRecoveries: number;
  /**
   * HyStart++ (RFC 9406 §4.2): initial slow starts left for Conservative Slow Start because
   * the round's minimum RTT rose (a queue was building).
   */
  hystartCssEntries: number;
  /** HyStart++: Conservative Slow Starts that went back to slow start (the RTT fell again). */
  hystartSlowStartResumptions: number;
  /** HyStart++: Conservative Slow Starts that ended in congestion avoidance after CSS_ROUNDS. */
  hystartCaEntries: number;
  /** ACKs received whose first SACK block was a D-SACK (RFC 2883 §4). */
  dsacksReceived: number;
  /** ACKs sent with a D-SACK block for a duplicate segment received (RFC 2883 §4). */
  dsacksSent: number;
  /** Window reductions undone as spurious (D-SACK RFC 3708, timestamps RFC 3522, F-RTO). */
  undos: number;
  /** Retransmission timeouts found spurious (F-RTO RFC 5682, Eifel RFC 3522). */
  spuriousRtos: number;
  /** Challenge ACKs not sent: a connection's or the layer's per-second limit was reached. */
  challengeAcksLimited: number;
  /** RSTs for segments to no connection not sent: `resetLimitPerSecond` was reached. */
  resetsLimited: number;
  /** ICMP errors that aborted a connection attempt (RFC 1122 §4.2.3.9). */
  icmpAborts: number;
  /** ICMP errors quoting a sequence number outside SND.UNA..SND.NXT (RFC 5927 §4.1), ignored. */
  icmpOutOfWindow: number;
  /** Connections that failed TCP_KEEPINIT (`keepAliveInitMs`) before being established. */
  keepInitTimeouts: number;
  /** SYNs and SYN-ACKs whose text was queued for delivery once established (RFC 9293 §3.10.7.2). */
  synTextQueued: number;
  /** Connections that agreed to ECN (RFC 3168 §6.1.1). */
  ecnNegotiated: number;
  /** Segments received with the CE codepoint on an ECN connection. */
  ecnCeReceived: number;
  /** ACKs received with ECE on an ECN connection. */
  ecnEceReceived: number;
  /** Congestion-window reductions for ECE (at most one per window of data). */
  ecnReductions: number;
  /** Segments sent with CWR. */
  ecnCwrSent: number;
  /**
   * Receive coalescing (`TcpLayer.beginReceiveBatch`, as Linux GRO): runs of in-order
   * segments of one connection that went through TCP input once (runs of two or more).
   */
  rxCoalescedRuns: number;
  /** Segments appended to a coalesced run (not counting each run's first). */
  rxCoalescedSegments: number;
}

/**
 * Zeroed counters.
 *
 * @returns a fresh stats object
 *
 * @example
 * ```ts
 * import { newTcpStats } from "./config.ts";
 * console.assert(newTcpStats().segmentsIn === 0);
 * ```
 */
export function newTcpStats(): TcpStats {
  return {
    segmentsIn: 0,
    segmentsOut: 0,
    seqSegmentsOut: 0,
    rcvBufferGrownBytes: 0,
    rcvBufferGrowthRefused: 0,
    malformed: 0,
    retransmits: 0,
    timeouts: 0,
    resetsSent: 0,
    resetsReceived: 0,
    challengeAcks: 0,
    pawsDrops: 0,
    allocFailures: 0,
    listenOverflows: 0,
    synCookiesSent: 0,
    synCookiesAccepted: 0,
    synCookiesFailed: 0,
    synCookiesUnexpected: 0,
    broadcastDrops: 0,
    badSourceDrops: 0,
    connectionLimitDrops: 0,
    timeWaitOverflows: 0,
    outOfOrder: 0,
    sendFailures: 0,
    recoveries: 0,
    rackLosses: 0,
    tlpProbes: 0,
    tlpRecoveries: 0,
    hystartCssEntries: 0,
    hystartSlowStartResumptions: 0,
    hystartCaEntries: 0,
    dsacksReceived: 0,
    dsacksSent: 0,
    undos: 0,
    spuriousRtos: 0,
    challengeAcksLimited: 0,
    resetsLimited: 0,
    icmpAborts: 0,
    icmpOutOfWindow: 0,
    keepInitTimeouts: 0,
    synTextQueued: 0,
    ecnNegotiated: 0,
    ecnCeReceived: 0,
    ecnEceReceived: 0,
    ecnReductions: 0,
    ecnCwrSent: 0,
    rxCoalescedRuns: 0,
    rxCoalescedSegments: 0,
  };
}

/** Milliseconds per second (TCP_LINGER2 counts seconds). */
const LINGER2_MS_PER_SECOND = 1000;
/** Linux TCP_FIN_TIMEOUT_MAX: the longest TCP_LINGER2, seconds. */
export const TCP_LINGER2_MAX_SECONDS = 120;
/** Linux TCP_FIN_TIMEOUT_MAX in ms: the longest FIN-WAIT-2 wait a connection may set. */
export const TCP_FIN_TIMEOUT_MAX_MS = TCP_LINGER2_MAX_SECONDS * LINGER2_MS_PER_SECOND;

/**
 * A FIN-WAIT-2 wait in ms as the engine's setting (`TcpConnection.setFinTimeout`; Linux
 * linger2 in ms): negative → none (-1), 0 → the default (null), above
 * {@link TCP_FIN_TIMEOUT_MAX_MS} → that maximum.
 *
 * @param ms the wait asked for
 * @returns ms, -1 for none, or null for the default
 *
 * @example
 * ```ts
 * import { finTimeoutSetting } from "./config.ts";
 * console.assert(finTimeoutSetting(1500) === 1500 && finTimeoutSetting(-1) === -1);
 * console.assert(finTimeoutSetting(0) === null && finTimeoutSetting(1e9) === 120_000);
 * ```
 */
export function finTimeoutSetting(ms: number): number | null {
  if (ms < 0) return -1;
  if (ms === 0) return null;
  return Math.min(ms, TCP_FIN_TIMEOUT_MAX_MS);
}

/**
 * A TCP_LINGER2 value (seconds, Linux do_tcp_setsockopt) as the engine's FIN-WAIT-2 timeout
 * (`TcpConnection.setFinTimeout`): negative → none (-1), 0 → the default (null), above
 * {@link TCP_LINGER2_MAX_SECONDS} → that maximum.
 *
 * @param seconds the option's value
 * @returns ms, -1 for none, or null for the default
 *
 * @example
 * ```ts
 * import { linger2FinTimeoutMs } from "./config.ts";
 * console.assert(linger2FinTimeoutMs(1) === 1000);
 * console.assert(linger2FinTimeoutMs(0) === null);
 * console.assert(linger2FinTimeoutMs(-5) === -1);
 * console.assert(linger2FinTimeoutMs(600) === 120_000);
 * ```
 */
export function linger2FinTimeoutMs(seconds: number): number | null {
  return finTimeoutSetting(seconds * LINGER2_MS_PER_SECOND);
}

/**
 * What getsockopt(TCP_LINGER2) reads (Linux do_tcp_getsockopt): -1 for none, else the
 * timeout in seconds, the default's when none was set.
 *
 * @param finTimeoutMs the connection's setting (see {@link linger2FinTimeoutMs})
 * @param defaultMs the layer's default (`TcpConfig.timeWaitMs`)
 * @returns seconds, or -1
 */
export function linger2Seconds(finTimeoutMs: number | null, defaultMs: number): number {
  if (finTimeoutMs !== null && finTimeoutMs < 0) return -1;
  return Math.floor((finTimeoutMs ?? defaultMs) / LINGER2_MS_PER_SECOND);
}
