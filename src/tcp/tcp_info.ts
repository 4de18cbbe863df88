/**
 * {@link TcpInfo}: the TCP_INFO-like snapshot `TcpConnection.info()` returns (Linux
 * `struct tcp_info`'s counterpart: RTT, windows, loss recovery, options, timers).
 *
 * @module
 */

import type { CaState } from "./tcb.ts";

/** A TCP_INFO-like snapshot (see {@link TcpConnection.info}). */
export interface TcpInfo {
  /** RFC state name. */
  state: string;
  /** Smoothed RTT, ms. */
  srttMs: number;
  /** RTT variation, ms. */
  rttvarMs: number;
  /**
   * The smallest RTT sample of the connection, ms (Linux tcpi_min_rtt, not windowed); 0 before
   * the first sample.
   */
  minRttMs: number;
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
  /**
   * Receive buffer now, bytes: `receiveBufferBytes` until autotuning grows it (Linux
   * sk_rcvbuf; see TcpConfig.receiveBufferMaxBytes).
   */
  receiveBufferBytes: number;
  /** The receiver's RTT estimate of autotuning, ms; 0 before a sample (tcpi_rcv_rtt). */
  rcvRttMs: number;
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
  /**
   * Loss recovery in use: "rack-tlp" (RFC 8985), "sack" (RFC 6675) or "newreno"; "none"
   * before the first data was sent or a duplicate ACK seen.
   */
  lossRecovery: string;
  /**
   * Linux's congestion-avoidance state (`tcpi_ca_state`): "open", "disorder" (duplicate ACKs
   * or SACKs, no reduction yet), "cwr" (an ECN reduction), "recovery" (fast recovery) or
   * "loss" (after a retransmission timeout, until its data is acknowledged).
   */
  caState: CaState;
  /** Fast recovery episodes entered. */
  recoveries: number;
  /** Segments RACK deemed lost (RFC 8985 §6.2). */
  rackLosses: number;
  /** Whether RACK saw the network reorder segments (RACK.reordering_seen). */
  reorderingSeen: boolean;
  /** RACK's reordering window multiplier (raised by D-SACKs, RFC 8985 §6.2 step 4). */
  reoWndMult: number;
  /** Tail loss probes sent (RFC 8985 §7.3). */
  tlpProbes: number;
  /**
   * HyStart++ (RFC 9406) of the initial slow start: "slow-start" (watching the RTT), "css"
   * (Conservative Slow Start: the RTT rose), "done" (congestion avoidance, or a loss ended
   * slow start) or "off" (`TcpConfig.hystart` false, or NewReno).
   */
  hystart: string;
  /** Times HyStart++ ended slow start for Conservative Slow Start on an RTT rise. */
  hystartExits: number;
  /** D-SACK blocks received (RFC 2883): the peer got a segment twice. */
  dsacksReceived: number;
  /** D-SACK blocks sent: we got a segment twice. */
  dsacksSent: number;
  /** Window reductions undone as spurious (RFC 3708 D-SACK, RFC 3522 timestamps, F-RTO). */
  undos: number;
  /** Retransmission timeouts found spurious (F-RTO RFC 5682, Eifel RFC 3522). */
  spuriousRtos: number;
  /**
   * Retransmission timeouts (RFC 6298 §5.4) of this connection, SYN retransmissions included
   * (the layer's `timeouts` for one connection; a tail loss probe sent instead is not one).
   */
  timeouts: number;
  /**
   * Segments SACKed and not yet cumulatively acknowledged (Linux `tp->sacked_out`, TCP_INFO
   * `tcpi_sacked`). Under RFC 6675 recovery without RACK: the SACKed bytes in segments
   * (rounded up); without SACK: the duplicate ACKs of the episode, as Linux's
   * tcp_add_reno_sack counts them (at most the segments in flight).
   */
  sackedSegments: number;
  /**
   * Segments deemed lost and neither SACKed nor cumulatively acknowledged yet (Linux
   * `tp->lost_out`, TCP_INFO `tcpi_lost`): marked by RACK (RFC 8985 §6.2) or, after a
   * retransmission timeout, every outstanding segment (Linux tcp_timeout_mark_lost); a
   * retransmitted lost segment still counts until it is acknowledged. Under RFC 6675
   * recovery without RACK: the unSACKed data below IsLost's boundary (RFC 6675 §4), in
   * segments; without SACK, 0 (not modelled).
   */
  lostSegments: number;
  /**
   * Retransmitted segments neither SACKed nor acknowledged yet, nor deemed lost again (Linux
   * `tp->retrans_out`, TCP_INFO `tcpi_retrans`; {@link retransmits} counts every
   * retransmission ever). Under RFC 6675 recovery without RACK: the unSACKed data below
   * HighRxt, in segments; without SACK, 0 (not modelled).
   */
  retransOutSegments: number;
  /**
   * Linux `tp->reordering` (TCP_INFO `tcpi_reordering`): the degree of reordering seen, in
   * segments — 3 (sysctl tcp_reordering) at first, raised when never-retransmitted data is
   * delivered below the highest SACKed sequence (Linux tcp_check_sack_reordering: the
   * distance, rounded up to segments, at most 300), lowered to 3 by a timeout with 3 or more
   * segments SACKed outside recovery (tcp_enter_loss). Not raised without RACK (RFC 8985).
   */
  reordering: number;
  /** The MSS we advertise (Linux tcpi_advmss), bytes. */
  advMss: number;
  /**
   * When data last arrived, or the handshake completed before any did (clock ms; Linux
   * icsk_ack.lrcvtime behind tcpi_last_data_recv); null before either.
   */
  lastDataRecvMs: number | null;
  /** IP_TTL of our datagrams, 0 for the interface's default. */
  ipTtl: number;
  /** IP_TOS of our datagrams (DSCP bits). */
  ipTos: number;
  /** TCP_KEEPIDLE: idle time before the first keep-alive probe, ms. */
  keepAliveIdleMs: number;
  /** TCP_KEEPINTVL: between keep-alive probes, ms. */
  keepAliveIntervalMs: number;
  /** TCP_KEEPCNT: unanswered probes before the connection fails. */
  keepAliveProbes: number;
  /** TCP_KEEPINIT: the handshake's time limit, ms (0: none). */
  keepAliveInitMs: number;
  /**
   * TCP_LINGER2: the FIN-WAIT-2 wait after close(), ms (negative: none; null: the layer's
   * `timeWaitMs`).
   */
  finTimeoutMs: number | null;
  /** ECN (RFC 3168) agreed on the handshake. */
  ecn: boolean;
  /** Segments that arrived marked CE. */
  ecnCeReceived: number;
  /** Congestion-window reductions for ECE (at most one per window of data). */
  ecnReductions: number;
  /** Segments we sent with CWR. */
  ecnCwrSent: number;
  /** We echo ECE on our ACKs now (a CE mark not yet answered by the peer's CWR). */
  ecnEchoing: boolean;
}
