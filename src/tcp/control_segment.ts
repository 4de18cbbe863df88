/**
 * The segments a TCP layer sends for no connection: RSTs (RFC 9293 §3.10.7.1, the
 * layer decides when and rate-limits them) and SYN-cookie SYN-ACKs (RFC 4987 §3.6,
 * syn_cookies.ts encodes the cookie). Owns the scratch header they are built in.
 *
 * @module
 */

import type { IpSender, IpSendOptions } from "../iface/types.ts";
import {
  fillTcpChecksum,
  newTcpRepr,
  TCP_ACK,
  TCP_ECE,
  TCP_RST,
  TCP_SYN,
  TcpRepr,
} from "../wire/tcp.ts";
import { isEcnSetupSyn } from "./ecn.ts";
import { DEFAULT_MSS, IPV4_TCP_HEADERS_LEN, type TcpConfig, type TcpStats } from "./config.ts";
import { announcedWindowShift } from "./connection.ts";
import { timestampClock, timestampOffset } from "./isn.ts";
import { seqAdd } from "./seq.ts";
import {
  cookieTsVal,
  makeSynCookie,
  SYN_COOKIE_MSS_TABLE,
  synCookieMssIndex,
} from "./syn_cookies.ts";
import { IP_PROTO_TCP } from "../wire/ipv4.ts";

/** IP options of a bound, non-listening socket that a layer RST goes with (see {@link TcpConfig.resetFromBoundSocket}). */
export interface BoundIpOptions {
  /** IP_TTL / IPV6_UNICAST_HOPS; undefined for the interface's default. */
  ttl?: number;
  /** IP_TOS / IPV6_TCLASS; undefined for 0. */
  tos?: number;
}

/** The options of a cookie SYN-ACK sent with timestamps. */
export interface CookieSynAckOptions {
  /** Our window shift, -1 when the SYN offered no scaling. */
  windowScale: number;
  sackPermitted: boolean;
  tsVal: number;
  tsEcr: number;
}

/**
 * The control-segment sender of one layer.
 *
 * @example
 * ```ts
 * import { TcpControlSegments } from "./control_segment.ts";
 * console.assert(typeof TcpControlSegments === "function");
 * ```
 */
export class TcpControlSegments {
  readonly #tx: TcpRepr = newTcpRepr();
  /** IP send options (the source) of the segment being sent; scratch, read synchronously. */
  readonly #sendOptions: IpSendOptions = { source: 0 };
  readonly #stats: TcpStats;
  readonly #config: TcpConfig;
  readonly #secret: Uint8Array;

  /**
   * @param stats the layer's counters
   * @param config the layer's configuration
   * @param secret the layer's secret (keys cookies and timestamp offsets)
   */
  constructor(stats: TcpStats, config: TcpConfig, secret: Uint8Array) {
    this.#stats = stats;
    this.#config = config;
    this.#secret = secret;
  }

  /**
   * Answers a SYN with a SYN cookie (RFC 4987 §3.6): a SYN-ACK whose ISS encodes the MSS
   * index and, with timestamps, whose TSval carries the SYN's window scale and SACK.
   *
   * @param nowMs current time
   * @param src the SYN's source (over IPv6 its tag)
   * @param dst the SYN's destination (over IPv6 its tag)
   * @param seg the SYN
   * @param ip where the SYN-ACK goes (over IPv6 the scratch path)
   */
  sendCookie(nowMs: number, src: number, dst: number, seg: TcpRepr, ip: IpSender): void {
    const peerMss = seg.mss > 0 ? seg.mss : DEFAULT_MSS;
    const ourMss = ip.mtuFor(src) - IPV4_TCP_HEADERS_LEN;
    const mss = Math.min(peerMss, ourMss);
    const index = synCookieMssIndex(mss);
    const iss = makeSynCookie(
      this.#secret,
      nowMs,
      dst,
      seg.dstPort,
      src,
      seg.srcPort,
      seg.seq,
      index,
    );
    this.#stats.synCookiesSent++;
    // The sequence number has no room for more than the MSS (RFC 4987 §3.6). With timestamps,
    // the SYN's window scaling, SACK and ECN ride in our TSval's low bits, which the peer
    // echoes (Linux's encoding); without, they are not offered (Linux tcp_conn_request clears
    // ecn_ok for a cookie without timestamps).
    const cfg = this.#config;
    let options: CookieSynAckOptions | null = null;
    let flags = TCP_SYN | TCP_ACK;
    if (cfg.timestamps && seg.hasTimestamp) {
      const scaling = cfg.windowScaling && seg.windowScale >= 0;
      const sack = cfg.sack && seg.sackPermitted;
      // RFC 3168 §6.1.1: an ECN-setup SYN gets an ECN-setup SYN-ACK (ECE) unless ECN is off.
      const ecn = cfg.ecn !== "off" && isEcnSetupSyn(seg.flags);
      if (ecn) flags |= TCP_ECE;
      // The connection's own clock (RFC 7323 §5.4 offset), never ahead of it.
      const now = timestampClock(
        nowMs,
        timestampOffset(this.#secret, dst, seg.dstPort, src, seg.srcPort),
      );
      const tsVal = cookieTsVal(now, scaling ? seg.windowScale : -1, sack, ecn);
      options = {
        windowScale: scaling ? announcedWindowShift(cfg) : -1,
        sackPermitted: sack,
        tsVal,
        tsEcr: seg.tsVal,
      };
    }
    this.send(
      ip,
      dst,
      src,
      seg.dstPort,
      seg.srcPort,
      iss,
      seqAdd(seg.seq, 1),
      flags,
      Math.min(cfg.receiveBufferBytes, 0xffff),
      SYN_COOKIE_MSS_TABLE[index],
      options,
    );
  }

  /**
   * Sends a segment that belongs to no connection (RST, cookie SYN-ACK), counted in the
   * layer's stats; a failed allocation or send is counted, not thrown.
   *
   * @param ip where it goes
   * @param src source address (over IPv6 a tag)
   * @param dst destination address (over IPv6 a tag)
   * @param srcPort source port
   * @param dstPort destination port
   * @param seq sequence number
   * @param ack acknowledgment number
   * @param flags TCP flags
   * @param window window field
   * @param mss MSS option, 0 for none
   * @param options timestamps, window scale and SACK-permitted of a cookie SYN-ACK, or null
   * @param ipOptions TTL/hop limit and TOS/traffic class, or null for the defaults
   */
  send(
    ip: IpSender,
    src: number,
    dst: number,
    srcPort: number,
    dstPort: number,
    seq: number,
    ack: number,
    flags: number,
    window: number,
    mss: number,
    options: CookieSynAckOptions | null,
    ipOptions: BoundIpOptions | null = null,
  ): void {
    const buf = ip.allocate();
    if (buf === null) {
      this.#stats.allocFailures++;
      return;
    }
    const r = this.#tx;
    r.srcPort = srcPort;
    r.dstPort = dstPort;
    r.seq = seq | 0;
    r.ack = ack | 0;
    r.flags = flags;
    r.window = window;
    r.urgent = 0;
    r.mss = mss;
    r.windowScale = options === null ? -1 : options.windowScale;
    r.sackPermitted = options !== null && options.sackPermitted;
    r.sackCount = 0;
    r.hasTimestamp = options !== null;
    if (options !== null) {
      r.tsVal = options.tsVal;
      r.tsEcr = options.tsEcr;
    }
    r.payloadLength = 0;
    const len = TcpRepr.headerLength(r);
    const at = buf.append(len);
    if (at < 0) {
      this.#stats.allocFailures++;
      ip.send(buf, dst, IP_PROTO_TCP);
      return;
    }
    TcpRepr.emitHeader(r, buf.bytes, at);
    fillTcpChecksum(buf.bytes, at, len, src, dst);
    // From the address the segment answered was sent to (RFC 1122 §3.3.4.2), which with
    // several interfaces need not be the egress interface's.
    const opts = this.#sendOptions;
    opts.source = src;
    opts.ttl = ipOptions?.ttl;
    opts.tos = ipOptions?.tos;
    if (!ip.send(buf, dst, IP_PROTO_TCP, opts)) this.#stats.sendFailures++;
    this.#stats.segmentsOut++;
    if (flags & TCP_RST) this.#stats.resetsSent++;
  }
}
