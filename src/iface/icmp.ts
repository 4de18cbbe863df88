/**
 * ICMP for a host (RFC 792, RFC 1122 §3.2.2): echo replies, echo requests
 * sent for the ping application (src/iface/ping.ts) and their replies routed
 * to its {@link EchoListener}s, destination unreachable generation under
 * per-destination and randomized global rate limits (src/iface/icmp_rate_limit.ts),
 * and delivery of received ICMP errors to the
 * transport they concern.
 *
 * @module
 */

import {
  ICMP_DEST_UNREACHABLE,
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  ICMP_HEADER_LEN,
  ICMP_MIN_QUOTED_DATA_LEN,
  ICMP_TIME_EXCEEDED,
  ICMP_UNREACH_FRAG_NEEDED,
  IcmpPacket,
  IcmpRepr,
  newIcmpRepr,
} from "../wire/icmp.ts";
import { IP_PROTO_ICMP, IPV4_HEADER_LEN, IPV4_VERSION, Ipv4Packet } from "../wire/ipv4.ts";
import type { Ipv4ErrorReporter, Ipv4Layer } from "./ipv4.ts";
import { LIMITED_BROADCAST } from "./ipv4.ts";
import {
  ICMP_RATE_ALLOWED,
  ICMP_RATE_LIMITED_GLOBAL,
  IcmpRateLimiter,
  type IcmpRateLimitOptions,
} from "./icmp_rate_limit.ts";
import type { IpProtocolHandler, PacketBufferLike } from "./types.ts";

/** RFC 1812 §4.3.2.3: an ICMP error should not exceed 576 bytes in total. */
export const ICMP_ERROR_MAX_DATAGRAM = 576;
/** Source quench (RFC 792; deprecated by RFC 6633, still delivered to the transport). */
const ICMP_SOURCE_QUENCH = 4;
/** Parameter problem (RFC 792). */
const ICMP_PARAMETER_PROBLEM = 12;
/** Timestamp request and reply (RFC 792): queries, not errors. */
const ICMP_TIMESTAMP = 13;
const ICMP_TIMESTAMP_REPLY = 14;
/** Nothing: what the outgoing repr points at between messages. */
const EMPTY = new Uint8Array(0);

/** Counters of an {@link IcmpLayer}. */
export interface IcmpStats {
  /** Messages received. */
  rxMessages: number;
  /** Dropped: shorter than 8 bytes. */
  rxTruncated: number;
  /** Dropped: checksum wrong. */
  rxBadChecksum: number;
  /** Echo requests received. */
  rxEchoRequests: number;
  /** Echo requests to a broadcast/multicast address ignored (RFC 1122 §3.2.2.6 MAY). */
  rxEchoBroadcastIgnored: number;
  /** Echo replies received. */
  rxEchoReplies: number;
  /** Errors received and delivered to a transport. */
  rxErrorsDelivered: number;
  /** Errors received that quote something we cannot attribute. */
  rxErrorsUnmatched: number;
  /** Other types ignored. */
  rxOther: number;
  /** Echo replies sent. */
  txEchoReplies: number;
  /** Echo requests sent. */
  txEchoRequests: number;
  /** Errors sent. */
  txErrors: number;
  /** Errors not sent because the global budget was spent (Linux `RateLimitGlobal`). */
  txRateLimited: number;
  /** Errors not sent because their destination's bucket was empty (Linux `RateLimitHost`). */
  txRateLimitedPeer: number;
  /** Destinations the rate limiter forgot because its table was full. */
  txRatePeerEvictions: number;
  /** Errors not sent because RFC 1122 §3.2.2 forbids it. */
  txErrorsSuppressed: number;
  /** Not sent: no buffer. */
  txNoBuffer: number;
}

/** Receives echo replies (and errors about echo requests) for one identifier. */
export interface EchoListener {
  /** An echo reply arrived. */
  onEchoReply(nowMs: number, src: number, sequence: number, dataLength: number): void;
  /** An ICMP error (or local ARP failure) quotes one of our echo requests. */
  onEchoError(nowMs: number, type: number, code: number, sequence: number): void;
}

/**
 * Options of an {@link IcmpLayer}: the error rate limits (global rate and
 * burst, per-destination interval and burst, table size, random source).
 */
export type IcmpOptions = IcmpRateLimitOptions;

function newStats(): IcmpStats {
  return {
    rxMessages: 0,
    rxTruncated: 0,
    rxBadChecksum: 0,
    rxEchoRequests: 0,
    rxEchoBroadcastIgnored: 0,
    rxEchoReplies: 0,
    rxErrorsDelivered: 0,
    rxErrorsUnmatched: 0,
    rxOther: 0,
    txEchoReplies: 0,
    txEchoRequests: 0,
    txErrors: 0,
    txRateLimited: 0,
    txRateLimitedPeer: 0,
    txRatePeerEvictions: 0,
    txErrorsSuppressed: 0,
    txNoBuffer: 0,
  };
}

/**
 * ICMP for one interface, registered as the IPv4 handler for protocol 1.
 *
 * @example
 * ```ts
 * import { IcmpLayer } from "./icmp.ts";
 * // See tests/iface/icmp_test.ts for echo and error handling over an Ipv4Layer.
 * console.assert(typeof IcmpLayer === "function");
 * ```
 */
export class IcmpLayer implements IpProtocolHandler, Ipv4ErrorReporter {
  /** Counters. */
  readonly stats: IcmpStats = newStats();
  readonly #ip: Ipv4Layer;
  readonly #address: () => number;
  /**
   * With several interfaces (a router): whether an address is another of
   * this host's, so echo requests to it are answered (from it) and errors
   * about datagrams to it or from it are handled (weak host, RFC 1122 §3.3.4.2).
   */
  ownsAddress: ((address: number) => boolean) | null = null;
  readonly #limiter: IcmpRateLimiter;
  readonly #listeners = new Map<number, EchoListener>();
  // Views and the outgoing repr are made once and re-pointed per message;
  // each method reads its view completely before calling out.
  /** Reads received messages. */
  readonly #rxMessage = new IcmpPacket(EMPTY);
  /** Reads the IPv4 header quoted by a received error. */
  readonly #quotedHeader = new Ipv4Packet(EMPTY);
  /** Reads the ICMP header of a quoted echo request. */
  readonly #quotedMessage = new IcmpPacket(EMPTY);
  /** Reads the header of a datagram we report an error about. */
  readonly #offending = new Ipv4Packet(EMPTY);
  /** The message being sent. */
  readonly #txRepr: IcmpRepr = newIcmpRepr();

  /**
   * Creates the ICMP layer of one interface.
   *
   * @param ip the IPv4 layer to send with and to find transports in
   * @param address returns our IPv4 address
   * @param options error rate limits
   */
  constructor(ip: Ipv4Layer, address: () => number, options: IcmpOptions = {}) {
    this.#ip = ip;
    this.#address = address;
    this.#limiter = new IcmpRateLimiter(options);
  }

  /**
   * Receives echo replies and errors for echo requests with `identifier`.
   *
   * @param identifier 0..65535
   * @param listener the receiver, or null to remove
   */
  setEchoListener(identifier: number, listener: EchoListener | null): void {
    if (listener === null) this.#listeners.delete(identifier & 0xffff);
    else this.#listeners.set(identifier & 0xffff, listener);
  }

  /**
   * Whether an echo identifier is taken.
   *
   * @param identifier candidate identifier
   * @returns true when a listener uses it
   */
  hasEchoListener(identifier: number): boolean {
    return this.#listeners.has(identifier & 0xffff);
  }

  /**
   * Sends an echo request (RFC 792) whose data is `dataLength` bytes of the
   * pattern `i & 0xff`, like ping(8) after its timestamp.
   *
   * @param dst destination
   * @param identifier echo identifier
   * @param sequence echo sequence number
   * @param dataLength data bytes (0..65507)
   * @param ttl optional TTL
   * @returns false when it could not be sent
   */
  sendEchoRequest(
    dst: number,
    identifier: number,
    sequence: number,
    dataLength: number,
    ttl?: number,
  ): boolean {
    const length = ICMP_HEADER_LEN + dataLength;
    const buf = this.#allocate(length);
    if (buf === null) return false;
    const at = buf.append(length);
    const b = buf.bytes;
    const dataAt = at + ICMP_HEADER_LEN;
    for (let i = 0; i < dataLength; i++) b[dataAt + i] = i & 0xff;
    // The data are in place already: emit writes the header and the checksum.
    this.#emit(ICMP_ECHO_REQUEST, 0, identifier, sequence, b, dataAt, dataLength, b, at);
    this.stats.txEchoRequests++;
    return this.#ip.send(buf, dst, IP_PROTO_ICMP, ttl === undefined ? undefined : { ttl });
  }

  /**
   * IPv4 delivers an ICMP message. Never throws.
   *
   * @param nowMs current time
   * @param src source address
   * @param dst destination address
   * @param bytes buffer
   * @param offset start of the ICMP message
   * @param length its length
   */
  onPacket(
    nowMs: number,
    src: number,
    dst: number,
    bytes: Uint8Array,
    offset: number,
    length: number,
  ): void {
    const stats = this.stats;
    stats.rxMessages++;
    if (length < ICMP_HEADER_LEN) {
      stats.rxTruncated++;
      return;
    }
    // Counted drops, no WireError: the view is read only after the length test above.
    const message = this.#rxMessage.reset(bytes, offset, length);
    if (!message.verifyChecksum()) {
      stats.rxBadChecksum++;
      return;
    }
    const type = message.type;
    const code = message.code;
    switch (type) {
      case ICMP_ECHO_REQUEST:
        stats.rxEchoRequests++;
        this.#answerEcho(src, dst, message);
        return;
      case ICMP_ECHO_REPLY: {
        stats.rxEchoReplies++;
        this.#listeners.get(message.identifier)?.onEchoReply(
          nowMs,
          src,
          message.sequence,
          message.dataLength,
        );
        return;
      }
      case ICMP_DEST_UNREACHABLE:
      case ICMP_TIME_EXCEEDED:
      case ICMP_PARAMETER_PROBLEM:
      case ICMP_SOURCE_QUENCH: {
        // RFC 1191 §4: the next-hop MTU is the low 16 bits of the rest of the header.
        this.#deliverError(
          nowMs,
          type,
          code,
          message.nextHopMtu,
          bytes,
          message.dataOffset,
          message.dataLength,
        );
        return;
      }
      default:
        stats.rxOther++;
    }
  }

  /**
   * An ICMP error about one of our echo requests (received, or local ARP failure).
   *
   * @param nowMs current time
   * @param type ICMP type
   * @param code ICMP code
   * @param _nextHopMtu unused
   * @param quoted buffer holding the quoted IPv4 header
   * @param quotedOffset where it starts
   * @param quotedLength bytes quoted
   */
  onIcmpError(
    nowMs: number,
    type: number,
    code: number,
    _nextHopMtu: number,
    quoted: Uint8Array,
    quotedOffset: number,
    quotedLength: number,
  ): void {
    if (quotedLength < IPV4_HEADER_LEN) return;
    const hl = this.#quotedHeader.reset(quoted, quotedOffset, quotedLength).headerLength;
    if (hl < IPV4_HEADER_LEN || quotedLength < hl + ICMP_HEADER_LEN) return;
    const echo = this.#quotedMessage.reset(quoted, quotedOffset + hl, quotedLength - hl);
    if (echo.type !== ICMP_ECHO_REQUEST) return;
    this.#listeners.get(echo.identifier)?.onEchoError(nowMs, type, code, echo.sequence);
  }

  /**
   * Sends an ICMP error about a received datagram (RFC 792), following RFC
   * 1122 §3.2.2: never about an ICMP error, a broadcast/multicast datagram,
   * a non-initial fragment, or a source that is not a unicast host; rate
   * limited per destination and globally (RFC 1812 §4.3.2.8; see
   * src/iface/icmp_rate_limit.ts). The quote is the original
   * header and as much data as keeps the error within 576 bytes.
   *
   * @param nowMs current time
   * @param type ICMP type (3 destination unreachable, 11 time exceeded, ...)
   * @param code ICMP code
   * @param bytes buffer holding the offending datagram
   * @param headerOffset start of its IPv4 header
   * @param datagramLength its total length
   */
  sendError(
    nowMs: number,
    type: number,
    code: number,
    bytes: Uint8Array,
    headerOffset: number,
    datagramLength: number,
  ): void {
    this.#sendError(nowMs, type, code, 0, bytes, headerOffset, datagramLength, false);
  }

  /**
   * {@link sendError} about a datagram we were forwarding (RFC 1812 §4.3.2):
   * its destination is not ours. `nextHopMtu` goes into "fragmentation
   * needed" (RFC 1191 §4); the other rules and the rate limit are the same.
   *
   * @param nowMs current time
   * @param type ICMP type
   * @param code ICMP code
   * @param nextHopMtu MTU of the next hop for type 3 code 4, else 0
   * @param bytes buffer holding the offending datagram
   * @param headerOffset start of its IPv4 header
   * @param datagramLength its total length
   */
  sendTransitError(
    nowMs: number,
    type: number,
    code: number,
    nextHopMtu: number,
    bytes: Uint8Array,
    headerOffset: number,
    datagramLength: number,
  ): void {
    this.#sendError(nowMs, type, code, nextHopMtu, bytes, headerOffset, datagramLength, true);
  }

  #sendError(
    nowMs: number,
    type: number,
    code: number,
    nextHopMtu: number,
    bytes: Uint8Array,
    headerOffset: number,
    datagramLength: number,
    transit: boolean,
  ): void {
    // The caller (IPv4 input, reassembly) validated the header.
    const offending = this.#offending.reset(bytes, headerOffset, datagramLength);
    const hl = offending.headerLength;
    const src = offending.source;
    const dst = offending.destination;
    let isError = false;
    if (offending.protocol === IP_PROTO_ICMP && datagramLength >= hl + 1) {
      // The ICMP type is the first byte after the header.
      const t = bytes[headerOffset + hl];
      isError = t !== ICMP_ECHO_REQUEST && t !== ICMP_ECHO_REPLY && t !== ICMP_TIMESTAMP &&
        t !== ICMP_TIMESTAMP_REPLY;
    }
    if (
      isError || offending.fragmentOffset !== 0 || dst === LIMITED_BROADCAST ||
      (dst >>> 28) === 0xe || (!transit && !this.#mine(dst)) ||
      src === 0 || src === LIMITED_BROADCAST || (src >>> 28) >= 0xe || (src >>> 24) === 127 ||
      this.#ip.sourceAddressFor(src) === 0
    ) {
      // RFC 1122 §3.2.2: an ICMP error MUST NOT be sent about these.
      this.stats.txErrorsSuppressed++;
      return;
    }
    // RFC 1812 §4.3.2.8 rate limit, as Linux's icmp_send: a per-destination bucket and a global
    // budget of random size (the SAD DNS fix); "fragmentation needed" is exempt, like Linux's
    // icmpv4_mask_allow, because path MTU discovery depends on it.
    if (type !== ICMP_DEST_UNREACHABLE || code !== ICMP_UNREACH_FRAG_NEEDED) {
      const evictions = this.#limiter.peerEvictions;
      const verdict = this.#limiter.allow(nowMs, src);
      this.stats.txRatePeerEvictions += this.#limiter.peerEvictions - evictions;
      if (verdict !== ICMP_RATE_ALLOWED) {
        if (verdict === ICMP_RATE_LIMITED_GLOBAL) this.stats.txRateLimited++;
        else this.stats.txRateLimitedPeer++;
        return;
      }
    }
    const quoted = Math.min(
      datagramLength,
      Math.max(
        hl + ICMP_MIN_QUOTED_DATA_LEN,
        ICMP_ERROR_MAX_DATAGRAM - IPV4_HEADER_LEN - ICMP_HEADER_LEN,
      ),
    );
    const length = ICMP_HEADER_LEN + quoted;
    const buf = this.#allocate(length);
    if (buf === null) return;
    const at = buf.append(length);
    // RFC 792: the four bytes after the checksum are unused (zero), then the quote (RFC 1191
    // §4: the next-hop MTU in the low 16 bits of "fragmentation needed").
    this.#emit(type, code, 0, 0, bytes, headerOffset, quoted, buf.bytes, at, nextHopMtu);
    this.stats.txErrors++;
    // About a datagram for us: from the address it was sent to (as Linux's icmp_send, and RFC
    // 1122 §3.3.4.2 for replies), which with several interfaces need not be the egress one's;
    // about a transit one: from our address toward its source (Linux: the route's source).
    if (transit) this.#ip.sendFrom(this.#ip.sourceAddressFor(src), buf, src, IP_PROTO_ICMP);
    else this.#ip.sendFrom(dst, buf, src, IP_PROTO_ICMP);
  }

  #mine(address: number): boolean {
    return address === this.#address() ||
      (this.ownsAddress !== null && address !== 0 && this.ownsAddress(address));
  }

  /** RFC 792 echo: reply with the same identifier, sequence and data (RFC 1122 §3.2.2.6). */
  #answerEcho(src: number, dst: number, request: IcmpPacket): void {
    if (!this.#mine(dst)) {
      // RFC 1122 §3.2.2.6: an echo request to a broadcast/multicast MAY be silently discarded.
      this.stats.rxEchoBroadcastIgnored++;
      return;
    }
    if (src === 0) return;
    const buf = this.#allocate(request.length);
    if (buf === null) return;
    const at = buf.append(request.length);
    this.#emit(
      ICMP_ECHO_REPLY,
      0,
      request.identifier,
      request.sequence,
      request.bytes,
      request.dataOffset,
      request.dataLength,
      buf.bytes,
      at,
    );
    this.stats.txEchoReplies++;
    this.#ip.sendFrom(dst, buf, src, IP_PROTO_ICMP); // from the address asked
  }

  #deliverError(
    nowMs: number,
    type: number,
    code: number,
    nextHopMtu: number,
    bytes: Uint8Array,
    quotedOffset: number,
    quotedLength: number,
  ): void {
    // RFC 1122 §3.2.2: the quote is the original IPv4 header plus at least 8 data bytes.
    if (quotedLength < IPV4_HEADER_LEN) {
      this.stats.rxErrorsUnmatched++;
      return;
    }
    const quote = this.#quotedHeader.reset(bytes, quotedOffset, quotedLength);
    const hl = quote.headerLength;
    if (
      quote.version !== IPV4_VERSION || hl < IPV4_HEADER_LEN ||
      quotedLength < hl + ICMP_MIN_QUOTED_DATA_LEN ||
      !this.#mine(quote.source)
    ) {
      this.stats.rxErrorsUnmatched++;
      return;
    }
    const handler = this.#ip.handlerFor(quote.protocol);
    if (handler === undefined || handler.onIcmpError === undefined) {
      this.stats.rxErrorsUnmatched++;
      return;
    }
    this.stats.rxErrorsDelivered++;
    handler.onIcmpError(nowMs, type, code, nextHopMtu, bytes, quotedOffset, quotedLength);
  }

  /**
   * Writes a message at `bytes[at]`: header, the data copied from
   * `data[dataOffset, +dataLength)` unless already in place, and the checksum.
   */
  #emit(
    type: number,
    code: number,
    identifier: number,
    sequence: number,
    data: Uint8Array,
    dataOffset: number,
    dataLength: number,
    bytes: Uint8Array,
    at: number,
    nextHopMtu = 0,
  ): void {
    const repr = this.#txRepr;
    repr.type = type;
    repr.code = code;
    repr.identifier = identifier;
    repr.sequence = sequence;
    repr.nextHopMtu = nextHopMtu;
    repr.data = data;
    repr.dataOffset = dataOffset;
    repr.dataLength = dataLength;
    IcmpRepr.emit(repr, bytes, at);
    repr.data = EMPTY; // hold no received buffer between messages
  }

  #allocate(length: number): PacketBufferLike | null {
    let buf = this.#ip.allocate();
    if (buf !== null && buf.bytes.length - buf.tail < length) {
      this.#ip.release(buf);
      buf = this.#ip.allocateLarge(length);
    }
    if (buf === null) this.stats.txNoBuffer++;
    return buf;
  }
}

export {
  ICMP_PEER_BURST,
  ICMP_PEER_INTERVAL_MS,
  ICMP_RATE_BURST,
  ICMP_RATE_PER_SEC,
} from "./icmp_rate_limit.ts";
