/**
 * ICMPv6 for a host (RFC 4443): echo replies, echo requests for `ping` (the
 * {@link PingEngine} bookkeeping shared with IPv4), error generation under
 * RFC 4443 §2.4's rules and rate limit (a per-destination and randomized
 * global limit, the IPv4 layer's `IcmpRateLimiter`), delivery of received errors to
 * the transport they concern, Packet Too Big into the path MTU cache (RFC
 * 8201 §4), and the NDP and MLD types handed to {@link NeighbourDiscovery}.
 *
 * @module
 */

import { isWireError } from "../wire/error.ts";
import {
  ICMPV6_ECHO_REPLY,
  ICMPV6_ECHO_REQUEST,
  ICMPV6_ERROR_MAX_QUOTE,
  ICMPV6_HEADER_LEN,
  ICMPV6_MLD_QUERY,
  ICMPV6_PACKET_TOO_BIG,
  ICMPV6_PARAMETER_PROBLEM,
  ICMPV6_REDIRECT,
  ICMPV6_ROUTER_SOLICITATION,
  Icmpv6Packet,
  Icmpv6Repr,
  isIcmpv6Error,
  newIcmpv6Repr,
} from "../wire/icmpv6.ts";
import {
  ICMPV6_PARAM_OPTION,
  IP_PROTO_AH,
  IP_PROTO_DSTOPTS,
  IP_PROTO_FRAGMENT,
  IP_PROTO_HOPOPTS,
  IP_PROTO_ICMPV6,
  IP_PROTO_ROUTING,
  IPV6_HEADER_LEN,
} from "../wire/ipv6.ts";
import { Ipv6Address, ipv6HashAt } from "../wire/ipv6_address.ts";
import { readI32 } from "../wire/view.ts";
import {
  ICMP_RATE_LIMITED_GLOBAL,
  IcmpRateLimiter,
  type IcmpRateLimitOptions,
} from "./icmp_rate_limit.ts";
import { PingEngine, type PingOptions, type PingReply } from "./ping.ts";
import type { PacketBufferLike } from "./types.ts";
import type { Ipv6ProtocolHandler } from "./types.ts";

const EMPTY = new Uint8Array(0);
/** The two high bits of an option type: the action for an unrecognized option (RFC 8200 §4.2). */
const OPTION_ACTION_MASK = 0xc0;
/** Action 10: discard and send Parameter Problem code 2 even to a multicast destination. */
const OPTION_ACTION_ICMP_ALWAYS = 0x80;

/** Counters of an {@link Icmpv6Layer} (the `icmpv6` section of the stack's stats). */
export interface Icmpv6Stats {
  /** Messages received (NDP and MLD included). */
  rxMessages: number;
  /** Dropped: shorter than the header or a bad quote. */
  rxInvalid: number;
  /** Dropped: checksum wrong. */
  rxBadChecksum: number;
  /** Echo requests received. */
  rxEchoRequests: number;
  /** Echo requests to a multicast group (answered from a unicast address, RFC 4443 §4.2). */
  rxEchoMulticast: number;
  /** Echo replies received. */
  rxEchoReplies: number;
  /** Packet Too Big received (fed to the path MTU cache). */
  rxPacketTooBig: number;
  /** Errors delivered to a transport (or a ping). */
  rxErrorsDelivered: number;
  /** Errors that quote nothing we can attribute. */
  rxErrorsUnmatched: number;
  /** NDP and MLD messages handed to neighbour discovery. */
  rxNdp: number;
  /** Other types ignored (RFC 4443 §2.4 (b): unknown informational messages are discarded). */
  rxOther: number;
  /** Echo replies sent. */
  txEchoReplies: number;
  /** Echo requests sent. */
  txEchoRequests: number;
  /** Errors sent. */
  txErrors: number;
  /** Errors not sent: the global rate limit. */
  txRateLimited: number;
  /** Errors not sent: the per-destination rate limit. */
  txRateLimitedPerDestination: number;
  /** Errors not sent because RFC 4443 §2.4 (e) forbids it (every rule, e.1–e.6). */
  txErrorsSuppressed: number;
  /** Of those: the invoking packet came in a link-layer multicast or broadcast frame (§2.4 (e.4), (e.5)). */
  txErrorsSuppressedLinkMulticast: number;
  /** Not sent: no buffer or no source address. */
  txNoBuffer: number;
}

/** What the ICMPv6 layer needs from the IPv6 layer. */
export interface Icmpv6Host {
  /** A buffer with headroom for the IPv6 and link headers (control traffic may use the reserve). */
  allocateControl(): PacketBufferLike | null;
  /** Sends an ICMPv6 message in `buf` (checksum written) from `src` to `dst`. */
  sendIcmpv6(buf: PacketBufferLike, src: Ipv6Address, dst: Ipv6Address): boolean;
  /** Our best source address toward `dst`, or null. */
  sourceFor(dst: Ipv6Address): Ipv6Address | null;
  /** Whether `bytes[offset..+16)` is a usable unicast address of ours. */
  isOursAt(bytes: Uint8Array, offset: number): boolean;
  /**
   * Whether `bytes[offset..+16)` is an address we know to be anycast (the
   * Subnet-Router anycast address of a prefix of ours, RFC 4291 §2.6.1, or a
   * reserved subnet anycast address of a /64 of ours, RFC 2526 §2).
   */
  isAnycastAt(bytes: Uint8Array, offset: number): boolean;
  /** The transport registered for `protocol`. */
  handlerFor(protocol: number): Ipv6ProtocolHandler | undefined;
  /** A Packet Too Big said `mtu` toward `dst`. */
  packetTooBig(nowMs: number, dst: Ipv6Address, mtu: number): void;
  /** NDP (133–137) and MLD query (130) messages. */
  neighbourDiscovery(
    nowMs: number,
    src: Ipv6Address,
    dst: Ipv6Address,
    hopLimit: number,
    fragmented: boolean,
    bytes: Uint8Array,
    offset: number,
    length: number,
    checksumVerified: boolean,
  ): void;
}

/** Receives IPv6 echo replies and errors about echo requests for one identifier. */
export interface Echo6Listener {
  /** An echo reply arrived. */
  onEchoReply(nowMs: number, src: Ipv6Address, sequence: number, dataLength: number): void;
  /** An ICMPv6 error quotes one of our echo requests. */
  onEchoError(nowMs: number, type: number, code: number, sequence: number): void;
}

function newStats(): Icmpv6Stats {
  return {
    rxMessages: 0,
    rxInvalid: 0,
    rxBadChecksum: 0,
    rxEchoRequests: 0,
    rxEchoMulticast: 0,
    rxEchoReplies: 0,
    rxPacketTooBig: 0,
    rxErrorsDelivered: 0,
    rxErrorsUnmatched: 0,
    rxNdp: 0,
    rxOther: 0,
    txEchoReplies: 0,
    txEchoRequests: 0,
    txErrors: 0,
    txRateLimited: 0,
    txRateLimitedPerDestination: 0,
    txErrorsSuppressed: 0,
    txErrorsSuppressedLinkMulticast: 0,
    txNoBuffer: 0,
  };
}

/**
 * Finds the upper-layer header of a (possibly truncated) quoted IPv6 packet:
 * skips Hop-by-Hop, Routing, Destination Options, AH and a first Fragment
 * header. Writes the protocol into `found[0]` and its offset into `found[1]`.
 *
 * @returns false when the quote ends first or a non-first fragment is quoted
 */
function quotedUpperLayer(
  bytes: Uint8Array,
  start: number,
  end: number,
  found: number[],
): boolean {
  let nh = bytes[start + 6];
  let at = start + IPV6_HEADER_LEN;
  for (let guard = 0; guard < 16; guard++) {
    if (
      nh === IP_PROTO_HOPOPTS || nh === IP_PROTO_ROUTING || nh === IP_PROTO_DSTOPTS ||
      nh === IP_PROTO_AH
    ) {
      if (at + 2 > end) return false;
      const len = nh === IP_PROTO_AH ? (bytes[at + 1] + 2) * 4 : (bytes[at + 1] + 1) * 8;
      nh = bytes[at];
      at += len;
    } else if (nh === IP_PROTO_FRAGMENT) {
      if (at + 8 > end) return false;
      if (((bytes[at + 2] << 8) | bytes[at + 3]) & 0xfff8) return false; // not the first
      nh = bytes[at];
      at += 8;
    } else {
      found[0] = nh;
      found[1] = at;
      return at <= end;
    }
  }
  return false;
}

/**
 * ICMPv6 for one interface, registered for Next Header 58.
 *
 * @example
 * ```ts
 * import { Icmpv6Layer } from "./icmpv6.ts";
 * console.assert(typeof Icmpv6Layer === "function"); // see tests/iface/ipv6_test.ts
 * ```
 */
export class Icmpv6Layer {
  /** Counters. */
  readonly stats: Icmpv6Stats = newStats();
  readonly #host: Icmpv6Host;
  readonly #limiter: IcmpRateLimiter;
  readonly #listeners = new Map<number, Echo6Listener>();
  readonly #rx = new Icmpv6Packet(EMPTY);
  readonly #repr = newIcmpv6Repr();
  readonly #tx = newIcmpv6Repr();
  readonly #found = [0, 0];

  /**
   * Creates a session and registers it for replies to `identifier`.
   *
   * @param host the IPv6 layer
   * @param options error rate limits
   */
  constructor(host: Icmpv6Host, options: IcmpRateLimitOptions = {}) {
    this.#host = host;
    this.#limiter = new IcmpRateLimiter(options);
  }

  /**
   * Receives echo replies and errors for echo requests with `identifier`.
   *
   * @param identifier 0..65535
   * @param listener the receiver, or null to remove
   */
  setEchoListener(identifier: number, listener: Echo6Listener | null): void {
    if (listener === null) this.#listeners.delete(identifier & 0xffff);
    else this.#listeners.set(identifier & 0xffff, listener);
  }

  /**
   * Whether an echo identifier is taken.
   *
   * @param identifier candidate
   * @returns true when a listener uses it
   */
  hasEchoListener(identifier: number): boolean {
    return this.#listeners.has(identifier & 0xffff);
  }

  /**
   * Sends an echo request (RFC 4443 §4.1) with `dataLength` bytes of `i & 0xff`.
   *
   * @param dst destination
   * @param identifier echo identifier
   * @param sequence sequence number
   * @param dataLength data bytes
   * @param large allocate a buffer of this many bytes when the pool's slots are too small
   * @returns false when it could not be sent
   */
  sendEchoRequest(
    dst: Ipv6Address,
    identifier: number,
    sequence: number,
    dataLength: number,
    large?: (bytes: number) => PacketBufferLike | null,
  ): boolean {
    const src = this.#host.sourceFor(dst);
    const length = ICMPV6_HEADER_LEN + dataLength;
    let buf = this.#host.allocateControl();
    if (buf !== null && buf.bytes.length - buf.head < length) {
      this.#release(buf);
      buf = large?.(length) ?? null;
    }
    if (buf === null || src === null) {
      if (buf !== null) this.#release(buf);
      this.stats.txNoBuffer++;
      return false;
    }
    const at = buf.append(length);
    const b = buf.bytes;
    const dataAt = at + ICMPV6_HEADER_LEN;
    for (let i = 0; i < dataLength; i++) b[dataAt + i] = i & 0xff;
    const tx = this.#tx;
    tx.type = ICMPV6_ECHO_REQUEST;
    tx.code = 0;
    tx.identifier = identifier & 0xffff;
    tx.sequence = sequence & 0xffff;
    tx.mtu = tx.pointer = 0;
    tx.data = b;
    tx.dataOffset = dataAt;
    tx.dataLength = dataLength;
    Icmpv6Repr.emit(tx, b, at, src, dst);
    tx.data = EMPTY;
    this.stats.txEchoRequests++;
    return this.#host.sendIcmpv6(buf, src, dst);
  }

  /**
   * A received ICMPv6 message. Never throws.
   *
   * @param nowMs current time
   * @param src source
   * @param dst destination
   * @param hopLimit IPv6 hop limit (NDP checks it)
   * @param fragmented the packet had a Fragment header (NDP ignores it)
   * @param bytes buffer
   * @param offset start of the message
   * @param length its length
   * @param checksumVerified the device vouched for the checksum
   */
  input(
    nowMs: number,
    src: Ipv6Address,
    dst: Ipv6Address,
    hopLimit: number,
    fragmented: boolean,
    bytes: Uint8Array,
    offset: number,
    length: number,
    checksumVerified: boolean,
  ): void {
    const stats = this.stats;
    stats.rxMessages++;
    if (length < ICMPV6_HEADER_LEN - 4) {
      stats.rxInvalid++;
      return;
    }
    const type = bytes[offset];
    if (
      (type >= ICMPV6_ROUTER_SOLICITATION && type <= ICMPV6_REDIRECT) || type === ICMPV6_MLD_QUERY
    ) {
      stats.rxNdp++;
      this.#host.neighbourDiscovery(
        nowMs,
        src,
        dst,
        hopLimit,
        fragmented,
        bytes,
        offset,
        length,
        checksumVerified,
      );
      return;
    }
    if (type !== ICMPV6_ECHO_REQUEST && type !== ICMPV6_ECHO_REPLY && !isIcmpv6Error(type)) {
      stats.rxOther++; // §2.4 (b): unknown informational messages are silently discarded
      return;
    }
    const packet = this.#rx.reset(bytes, offset, length);
    const m = Icmpv6Repr.parse(packet, src, dst, this.#repr, {
      verifyChecksum: !checksumVerified,
    });
    if (isWireError(m)) {
      if (m.kind === "bad-checksum") stats.rxBadChecksum++;
      else stats.rxInvalid++;
      return;
    }
    if (m.type === ICMPV6_ECHO_REQUEST) {
      stats.rxEchoRequests++;
      this.#answerEcho(src, dst, m.identifier, m.sequence, bytes, offset, length);
      return;
    }
    if (m.type === ICMPV6_ECHO_REPLY) {
      stats.rxEchoReplies++;
      this.#listeners.get(m.identifier)?.onEchoReply(nowMs, src, m.sequence, m.dataLength);
      return;
    }
    this.#deliverError(
      nowMs,
      m.type,
      m.code,
      m.type === ICMPV6_PACKET_TOO_BIG ? m.mtu : m.pointer,
      m.data,
      m.dataOffset,
      m.dataLength,
    );
  }

  /**
   * Sends an ICMPv6 error about the packet at `bytes[offset, +length)` (its
   * IPv6 header first), if RFC 4443 §2.4 (e) and the rate limit allow.
   *
   * §2.4 (e) forbids an error about (e.1) an ICMPv6 error, (e.2) a redirect,
   * (e.3) a packet to an IPv6 multicast address, (e.4) a packet that came as
   * a link-layer multicast or (e.5) broadcast, and (e.6) a packet whose
   * source is not one node (::, multicast, an anycast address we know).
   * (e.3)–(e.5) make two exceptions: Packet Too Big, and Parameter Problem
   * code 2 about an option whose type's two high bits are 10 (the pointer
   * names the option type byte; Linux `opt_unrec` reads it the same way).
   *
   * @param nowMs current time
   * @param type error type (1–4)
   * @param code code
   * @param parameter MTU (Packet Too Big) or pointer (Parameter Problem), else 0
   * @param bytes buffer
   * @param offset start of the invoking packet's IPv6 header
   * @param length its length
   * @param linkMulticast the invoking packet came in a link-layer multicast or
   *   broadcast frame (the Ethernet destination's group bit, §2.4 (e.4), (e.5))
   * @returns true when sent
   */
  sendError(
    nowMs: number,
    type: number,
    code: number,
    parameter: number,
    bytes: Uint8Array,
    offset: number,
    length: number,
    linkMulticast = false,
  ): boolean {
    const stats = this.stats;
    if (length < IPV6_HEADER_LEN) {
      stats.txErrorsSuppressed++;
      return false;
    }
    const srcAt = offset + 8;
    const dstAt = offset + 24;
    const toMulticast = bytes[dstAt] === 0xff;
    if (toMulticast || linkMulticast) {
      // §2.4 (e.3), (e.4), (e.5), with their two exceptions.
      const exempt = type === ICMPV6_PACKET_TOO_BIG ||
        (type === ICMPV6_PARAMETER_PROBLEM && code === ICMPV6_PARAM_OPTION &&
          parameter < length &&
          (bytes[offset + parameter] & OPTION_ACTION_MASK) === OPTION_ACTION_ICMP_ALWAYS);
      if (!exempt) {
        stats.txErrorsSuppressed++;
        if (linkMulticast && !toMulticast) stats.txErrorsSuppressedLinkMulticast++;
        return false;
      }
    }
    // §2.4 (e.6): not when the source is not a unique unicast address (::, multicast, anycast).
    const srcW0 = readI32(bytes, srcAt);
    const srcUnspecified = srcW0 === 0 && readI32(bytes, srcAt + 4) === 0 &&
      readI32(bytes, srcAt + 8) === 0 && readI32(bytes, srcAt + 12) === 0;
    if (srcUnspecified || bytes[srcAt] === 0xff || this.#host.isAnycastAt(bytes, srcAt)) {
      stats.txErrorsSuppressed++;
      return false;
    }
    // §2.4 (e.1), (e.2): not in response to an ICMPv6 error or a redirect.
    const found = this.#found;
    if (
      quotedUpperLayer(bytes, offset, offset + length, found) && found[0] === IP_PROTO_ICMPV6 &&
      found[1] < offset + length &&
      (isIcmpv6Error(bytes[found[1]]) || bytes[found[1]] === ICMPV6_REDIRECT)
    ) {
      stats.txErrorsSuppressed++;
      return false;
    }
    // §2.4 (f): rate limited, per destination and globally.
    const verdict = this.#limiter.allow(nowMs, ipv6HashAt(bytes, srcAt));
    if (verdict !== 0) {
      if (verdict === ICMP_RATE_LIMITED_GLOBAL) stats.txRateLimited++;
      else stats.txRateLimitedPerDestination++;
      return false;
    }
    const invokingSrc = Ipv6Address.fromBytes(bytes, srcAt);
    // Reply from the address the packet was sent to when it is ours, else our best source.
    const src = !toMulticast && this.#host.isOursAt(bytes, dstAt)
      ? Ipv6Address.fromBytes(bytes, dstAt)
      : this.#host.sourceFor(invokingSrc);
    const quote = Math.min(length, ICMPV6_ERROR_MAX_QUOTE);
    const buf = this.#host.allocateControl();
    if (buf === null || src === null || buf.bytes.length - buf.head < ICMPV6_HEADER_LEN + quote) {
      if (buf !== null) this.#release(buf);
      stats.txNoBuffer++;
      return false;
    }
    const at = buf.append(ICMPV6_HEADER_LEN + quote);
    const tx = this.#tx;
    tx.type = type;
    tx.code = code;
    tx.identifier = tx.sequence = 0;
    tx.mtu = type === ICMPV6_PACKET_TOO_BIG ? parameter : 0;
    tx.pointer = type === ICMPV6_PARAMETER_PROBLEM ? parameter : 0;
    tx.data = bytes;
    tx.dataOffset = offset;
    tx.dataLength = quote;
    Icmpv6Repr.emit(tx, buf.bytes, at, src, invokingSrc);
    tx.data = EMPTY;
    stats.txErrors++;
    return this.#host.sendIcmpv6(buf, src, invokingSrc);
  }

  /**
   * Tells the transport (or ping) that sent the IPv6 packet at `bytes[offset,
   * +length)` about an error found locally (neighbour resolution failed:
   * type 1 code 3, as if a router had said so, RFC 4443 §3.1).
   *
   * @param nowMs current time
   * @param type ICMPv6 type
   * @param code code
   * @param bytes buffer
   * @param offset start of the packet's IPv6 header
   * @param length its length
   */
  localError(
    nowMs: number,
    type: number,
    code: number,
    bytes: Uint8Array,
    offset: number,
    length: number,
  ): void {
    this.#deliverError(
      nowMs,
      type,
      code,
      0,
      bytes,
      offset,
      Math.min(length, ICMPV6_ERROR_MAX_QUOTE),
    );
  }

  /** RFC 4443 §4.2: echo reply with the request's identifier, sequence and data. */
  #answerEcho(
    src: Ipv6Address,
    dst: Ipv6Address,
    identifier: number,
    sequence: number,
    bytes: Uint8Array,
    offset: number,
    length: number,
  ): void {
    const multicast = dst.isMulticast();
    if (multicast) this.stats.rxEchoMulticast++;
    // §4.2: to a multicast request, answer from a unicast address of ours.
    const from = multicast ? this.#host.sourceFor(src) : dst;
    let buf = this.#host.allocateControl();
    if (buf !== null && buf.bytes.length - buf.head < length) {
      this.#release(buf);
      buf = this.#large(length);
    }
    if (buf === null || from === null) {
      if (buf !== null) this.#release(buf);
      this.stats.txNoBuffer++;
      return;
    }
    const at = buf.append(length);
    const tx = this.#tx;
    tx.type = ICMPV6_ECHO_REPLY;
    tx.code = 0;
    tx.identifier = identifier;
    tx.sequence = sequence;
    tx.mtu = tx.pointer = 0;
    tx.data = bytes;
    tx.dataOffset = offset + ICMPV6_HEADER_LEN;
    tx.dataLength = length - ICMPV6_HEADER_LEN;
    Icmpv6Repr.emit(tx, buf.bytes, at, from, src);
    tx.data = EMPTY;
    this.stats.txEchoReplies++;
    this.#host.sendIcmpv6(buf, from, src);
  }

  /** Large echo replies (fragmented) need a buffer beyond a pool slot. */
  #large(length: number): PacketBufferLike | null {
    return this.largeBuffer?.(length) ?? null;
  }

  /** Set by the IPv6 layer: a standalone buffer for `bytes` of ICMPv6 (fragmented on send). */
  largeBuffer: ((bytes: number) => PacketBufferLike | null) | null = null;
  /** Set by the IPv6 layer: returns an unsent buffer. */
  release: ((buf: PacketBufferLike) => void) | null = null;

  #release(buf: PacketBufferLike): void {
    this.release?.(buf);
  }

  /** RFC 4443 §3: deliver an error to the transport (or ping) that sent the quoted packet. */
  #deliverError(
    nowMs: number,
    type: number,
    code: number,
    parameter: number,
    data: Uint8Array,
    offset: number,
    length: number,
  ): void {
    const stats = this.stats;
    if (type === ICMPV6_PACKET_TOO_BIG) {
      stats.rxPacketTooBig++;
      this.#host.packetTooBig(nowMs, Ipv6Address.fromBytes(data, offset + 24), parameter);
    }
    const found = this.#found;
    if (!quotedUpperLayer(data, offset, offset + length, found)) {
      stats.rxErrorsUnmatched++;
      return;
    }
    const [protocol, at] = found;
    if (protocol === IP_PROTO_ICMPV6) {
      if (at + ICMPV6_HEADER_LEN <= offset + length && data[at] === ICMPV6_ECHO_REQUEST) {
        const id = (data[at + 4] << 8) | data[at + 5];
        const seq = (data[at + 6] << 8) | data[at + 7];
        const l = this.#listeners.get(id);
        if (l !== undefined) {
          stats.rxErrorsDelivered++;
          l.onEchoError(nowMs, type, code, seq);
          return;
        }
      }
      if (type !== ICMPV6_PACKET_TOO_BIG) stats.rxErrorsUnmatched++;
      return;
    }
    const handler = this.#host.handlerFor(protocol);
    if (handler?.onIcmpv6Error === undefined) {
      if (type !== ICMPV6_PACKET_TOO_BIG) stats.rxErrorsUnmatched++;
      return;
    }
    stats.rxErrorsDelivered++;
    handler.onIcmpv6Error(nowMs, type, code, parameter, data, offset, length);
  }
}

/**
 * A ping run over IPv6: the same {@link PingEngine} as IPv4, echo requests
 * through an {@link Icmpv6Layer}.
 *
 * @example
 * ```ts
 * import { Ping6Session } from "./icmpv6.ts";
 * console.assert(typeof Ping6Session === "function"); // see tests/iface/ipv6_test.ts
 * ```
 */
export class Ping6Session implements Echo6Listener {
  /** The bookkeeping. */
  readonly engine: PingEngine;
  /** The destination. */
  readonly dst: Ipv6Address;
  /** The echo identifier. */
  readonly identifier: number;
  /** Called for each in-time reply. */
  onReply: ((reply: PingReply) => void) | null = null;
  readonly #icmp: Icmpv6Layer;
  readonly #large: ((bytes: number) => PacketBufferLike | null) | undefined;
  #closed = false;

  /**
   * Creates a session and registers it for replies to `identifier`.
   *
   * @param icmp the ICMPv6 layer
   * @param dst destination
   * @param identifier echo identifier
   * @param options ping options (size up to 65,527)
   * @param large standalone buffers for requests beyond a pool slot
   */
  constructor(
    icmp: Icmpv6Layer,
    dst: Ipv6Address,
    identifier: number,
    options: PingOptions = {},
    large?: (bytes: number) => PacketBufferLike | null,
  ) {
    // The engine bounds the size to 65,507 like IPv4 (the smaller of the two families' maxima).
    this.engine = new PingEngine(options);
    this.#icmp = icmp;
    this.dst = dst;
    this.identifier = identifier & 0xffff;
    this.#large = large;
    icmp.setEchoListener(this.identifier, this);
  }

  /** All requests sent and answered or expired. */
  get done(): boolean {
    return this.engine.done;
  }

  /** The destination as text. */
  get address(): string {
    return this.dst.toString();
  }

  /**
   * Sends due requests and expires old ones.
   *
   * @param nowMs current time
   */
  poll(nowMs: number): void {
    if (this.#closed) return;
    this.engine.onTimeout(nowMs);
    if (nowMs >= this.engine.nextSendMs()) {
      const seq = this.engine.send(nowMs);
      this.#icmp.sendEchoRequest(this.dst, this.identifier, seq, this.engine.size, this.#large);
    }
    if (this.engine.done) this.close();
  }

  /**
   * When {@link poll} next has work.
   *
   * @returns the deadline
   */
  nextDeadline(): number {
    return this.#closed ? Infinity : this.engine.nextDeadline();
  }

  /** Stops listening. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#icmp.setEchoListener(this.identifier, null);
  }

  /**
   * An echo reply (from elsewhere than the destination: ignored, unless we pinged a group).
   *
   * @param nowMs arrival time
   * @param src the replying host
   * @param sequence sequence number
   * @param dataLength data bytes
   */
  onEchoReply(nowMs: number, src: Ipv6Address, sequence: number, dataLength: number): void {
    if (!src.equals(this.dst) && !this.dst.isMulticast()) return;
    const reply = this.engine.onReply(nowMs, sequence, dataLength);
    if (reply !== null) this.onReply?.(reply);
    if (this.engine.done) this.close();
  }

  /**
   * An error about one of the requests.
   *
   * @param _nowMs arrival time
   * @param _type type
   * @param _code code
   * @param sequence the request's sequence number
   */
  onEchoError(_nowMs: number, _type: number, _code: number, sequence: number): void {
    this.engine.onError(sequence);
    if (this.engine.done) this.close();
  }
}
