/**
 * The UDP engine (RFC 768, RFC 1122 §4.1): a synchronous transport that the
 * IPv4 layer feeds through {@link IpProtocolHandler.onPacket} and that sends
 * through an {@link IpSender}.
 *
 * Receive: length and checksum checks, demultiplexing by destination port to
 * a bound {@link UdpEndpoint}, payload copied into the endpoint's bounded
 * {@link DatagramQueue} (a full queue drops and counts); a datagram for a port
 * nobody bound is reported to an {@link UdpUnreachableReporter} so the ICMP
 * layer can answer "port unreachable".
 *
 * Connected endpoints ({@link UdpEndpoint.connect}) follow Linux: they accept
 * datagrams only from their peer (others are dropped, counted and answered as
 * a closed port would be), and only they learn of ICMP errors: an error is
 * delivered when its quote is a well-formed UDP datagram whose full 4-tuple
 * (local address and port, remote address and port) is the endpoint's, and it
 * surfaces as a typed {@link UdpError} on the next receive or send. An
 * unconnected endpoint ignores ICMP errors (Linux without `IP_RECVERR`), so a
 * forged or stale error cannot end a server's receive loop.
 *
 * Nothing here reads a clock, sets a timer or awaits: time arrives as `nowMs`
 * and readiness is signalled through {@link UdpEndpoint.onReadable}.
 *
 * @module
 */

import { formatIpv4, IPV4_LIMITED_BROADCAST } from "../wire/address.ts";
import { IP_PROTO_UDP, IPV4_HEADER_LEN, IPV4_MAX_PACKET_LEN } from "../wire/ipv4.ts";
import { newUdpRepr, UDP_HEADER_LEN, UdpPacket, UdpRepr } from "../wire/udp.ts";
import type {
  IpProtocolHandler,
  IpSender,
  IpSendOptions,
  PacketBufferLike,
} from "../iface/types.ts";
import { pseudoHeaderSum, UDP_CHECKSUM_OFFSET } from "../wire/checksum.ts";
import { EPHEMERAL_PORT_FIRST, EPHEMERAL_PORT_LAST } from "../wire/port.ts";
import { write16 } from "../wire/view.ts";
import { ipv6AddressSum, ipv6PseudoHeaderSum } from "../wire/checksum.ts";
import type { Ipv6Address } from "../wire/ipv6_address.ts";
import type { Ipv6ProtocolHandler, Ipv6Sender, Ipv6SendOptions } from "../iface/types.ts";
import { DatagramQueue, DEFAULT_QUEUE_BYTES, DEFAULT_QUEUE_DATAGRAMS } from "./datagram_queue.ts";
import { UdpEndpoint } from "./udp_endpoint.ts";
import {
  checkDestination,
  checkDestination6,
  PORT_MAX,
  UdpError,
  type UdpFamily,
} from "./udp_error.ts";
import { UdpIcmpErrorMatcher } from "./udp_icmp_errors.ts";

// Moved out of this module (issue 17); re-exported so every import of them keeps working.
export { type UdpDatagram, UdpEndpoint, type UdpEndpointStats } from "./udp_endpoint.ts";
export { UdpError, type UdpErrorCode, type UdpFamily } from "./udp_error.ts";

/** IP protocol number of UDP (RFC 768). */
export const IP_PROTOCOL_UDP = IP_PROTO_UDP;
/** Emit options: leave the checksum to the device (the field is filled in afterwards). */
const NO_CHECKSUM = { checksum: false } as const;
/** IP send options of a datagram whose checksum the device completes. */
const PARTIAL_CHECKSUM_SEND: IpSendOptions = {
  partialChecksumOffset: UDP_CHECKSUM_OFFSET,
  source: 0,
};
/** IP send options of a datagram with a complete checksum: its source. Module scratch. */
const SOURCE_SEND: IpSendOptions = { source: 0 };
/** Largest UDP payload over IPv4: 65,535 − 20 (IPv4 header) − 8 (UDP header) = 65,507. */
export const UDP_MAX_PAYLOAD = IPV4_MAX_PACKET_LEN - IPV4_HEADER_LEN - UDP_HEADER_LEN;
/** First port of the IANA dynamic/ephemeral range (RFC 6335 §6). */
export const EPHEMERAL_PORT_MIN = EPHEMERAL_PORT_FIRST;
/** Last port of the ephemeral range. */
export const EPHEMERAL_PORT_MAX = EPHEMERAL_PORT_LAST;
const EPHEMERAL_PORT_COUNT = EPHEMERAL_PORT_MAX - EPHEMERAL_PORT_MIN + 1;

/** Largest UDP payload over IPv6 without jumbograms: 65,535 − 8 (RFC 8200 §3 payload length). */
export const UDP6_MAX_PAYLOAD = 0xffff - UDP_HEADER_LEN;
/** Send options of a UDP datagram over IPv6 (fragments allowed, RFC 8200 §5). */
const UDP6_SEND: Ipv6SendOptions = {};

/**
 * The IPv6 output of the UDP layer (src/iface/ipv6.ts `Ipv6Layer`): the
 * `Ipv6Sender` plus large buffers and the closed-port answer.
 */
export interface UdpIpv6Sender extends Ipv6Sender {
  /** Optional: a buffer for `payloadBytes`, larger than a pool slot (IPv6 fragments it). */
  allocateLarge?(payloadBytes: number): PacketBufferLike | null;
  /** Optional: returns an allocated buffer that will not be sent. */
  release?(buf: PacketBufferLike): void;
  /**
   * Optional: answers the packet being delivered right now with ICMPv6
   * Destination Unreachable, port unreachable (RFC 4443 §3.1 code 4).
   */
  portUnreachableCurrent?(nowMs: number): void;
}

/**
 * The IPv4 output the UDP layer needs: the `IpSender` of src/iface plus two
 * optional extensions for datagrams larger than one pool slot.
 */
export interface UdpIpSender extends IpSender {
  /**
   * Optional: a buffer able to hold `payloadBytes` after the IPv4/link
   * headroom, for datagrams larger than a pool slot (IPv4 fragments them).
   */
  allocateLarge?(payloadBytes: number): PacketBufferLike | null;
  /** Optional: returns an allocated buffer that will not be sent. */
  release?(buf: PacketBufferLike): void;
}

/** Told about datagrams for closed ports, so ICMP can answer (RFC 1122 §4.1.3.1). */
export interface UdpUnreachableReporter {
  /**
   * A datagram arrived for a port nobody bound. Called synchronously from
   * {@link UdpLayer.onPacket}, with the same arguments, so the IP layer still
   * has the original IPv4 header at hand for the ICMP quote.
   */
  portUnreachable(
    nowMs: number,
    src: number,
    dst: number,
    bytes: Uint8Array,
    offset: number,
    length: number,
  ): void;
}

/** Options of {@link UdpLayer}. */
export interface UdpLayerOptions {
  /** Receives "port unreachable" requests; none = closed ports are silent. */
  unreachable?: UdpUnreachableReporter | null;
  /** Uniform random number in [0, 1) for ephemeral port selection; default crypto-strong. */
  random?: () => number;
  /** Default payload bytes per endpoint queue (default 256 KiB). */
  queueBytes?: number;
  /** Default datagrams per endpoint queue (default 64). */
  queueDatagrams?: number;
}

/** Options of {@link UdpLayer.bind}. */
export interface UdpBindOptions {
  /** Families received (default "any": IPv4 and IPv6, as a wildcard Linux socket). */
  family?: UdpFamily;
  /**
   * One IPv4 address of ours to bind (int32 or unsigned; default 0 = any): the
   * endpoint receives only datagrams to it and sends from it.
   */
  localAddr?: number;
  /** Payload bytes this endpoint may queue. */
  queueBytes?: number;
  /** Datagrams this endpoint may queue. */
  queueDatagrams?: number;
}

/** Counters of the whole UDP layer. */
export interface UdpLayerStats {
  /** Datagrams queued on an endpoint. */
  rxDatagrams: number;
  /** Payload bytes queued. */
  rxBytes: number;
  /** Dropped: shorter than a UDP header (or offsets outside the buffer). */
  rxTruncated: number;
  /** Dropped: UDP length field < 8 or beyond the IP payload. */
  rxBadLength: number;
  /** Dropped: checksum did not verify (RFC 768). */
  rxBadChecksum: number;
  /** Datagrams for a port nobody bound. */
  rxNoPort: number;
  /** Dropped: the endpoint's receive queue was full. */
  rxQueueDrops: number;
  /** Datagrams handed to IPv4. */
  txDatagrams: number;
  /** Payload bytes handed to IPv4. */
  txBytes: number;
  /** Sends that failed (returned a UdpError). */
  txErrors: number;
  /** ICMP errors delivered to an endpoint. */
  icmpErrors: number;
  /** ICMP errors whose quote matched no endpoint's 4-tuple. */
  icmpUnmatched: number;
  /** ICMP messages UDP does not report (fragmentation needed, time exceeded...). */
  icmpIgnored: number;
  /** Dropped: datagrams to a connected endpoint from another address or port than its peer. */
  rxWrongPeer: number;
  /**
   * Dropped: datagrams to another address of ours than the one their port's endpoint is
   * bound to (answered like a closed port, as Linux finds no socket for them).
   */
  rxWrongAddress: number;
  /** ICMP errors about an unconnected endpoint, ignored (Linux without `IP_RECVERR`). */
  icmpUnconnected: number;
  /** ICMP errors whose quote is not a well-formed UDP datagram (cut short, bad header, fragment). */
  icmpBadQuote: number;
  /** Datagrams received over IPv6 (also counted in rxDatagrams). */
  rxDatagrams6: number;
  /** Dropped: a zero checksum over IPv6, where it is mandatory (RFC 8200 §8.1). */
  rxZeroChecksum6: number;
  /** Datagrams sent over IPv6 (also counted in txDatagrams). */
  txDatagrams6: number;
}

let cryptoWord: Uint32Array | null = null;
function cryptoRandom(): number {
  if (cryptoWord === null) cryptoWord = new Uint32Array(1);
  crypto.getRandomValues(cryptoWord);
  return cryptoWord[0] / 0x1_0000_0000;
}

/**
 * The UDP transport: an IPv4 protocol handler (protocol 17) plus the port
 * table of bound {@link UdpEndpoint}s.
 *
 * @example
 * ```ts
 * import { UdpLayer } from "./udp_layer.ts";
 * const udp = new UdpLayer({
 *   allocate: () => null, send: () => false, sourceAddressFor: () => 0, mtuFor: () => 1500,
 * });
 * const echo = udp.bind(7);
 * console.assert(udp.bind(0).localPort >= 49152); // ephemeral
 * // 192.0.2.2:49152 → port 7, payload "hi", checksum 0 (= none, RFC 768).
 * const d = new Uint8Array([0xc0, 0x00, 0, 7, 0, 10, 0, 0, 0x68, 0x69]);
 * udp.onPacket(0, 0xc0000202 | 0, 0xc0000201 | 0, d, 0, d.length); // int32 addresses
 * const got = echo.tryReceive()!;
 * console.assert(new TextDecoder().decode(got.data) === "hi" && got.srcPort === 49152);
 * console.assert(got.srcAddr === (0xc0000202 | 0)); // 192.0.2.2
 * ```
 */
export class UdpLayer implements IpProtocolHandler, Ipv6ProtocolHandler {
  /** Where datagrams go out; may be replaced once the IP layer exists. */
  sender: UdpIpSender;
  /** Where IPv6 datagrams go out (null: no IPv6; set by the stack, issue 18). */
  sender6: UdpIpv6Sender | null = null;
  /** Who answers closed ports with ICMP (set by the interface). */
  unreachable: UdpUnreachableReporter | null;
  /** Counters. */
  readonly stats: UdpLayerStats = {
    rxDatagrams: 0,
    rxBytes: 0,
    rxTruncated: 0,
    rxBadLength: 0,
    rxBadChecksum: 0,
    rxNoPort: 0,
    rxQueueDrops: 0,
    txDatagrams: 0,
    txBytes: 0,
    txErrors: 0,
    icmpErrors: 0,
    icmpUnmatched: 0,
    icmpIgnored: 0,
    rxWrongPeer: 0,
    rxWrongAddress: 0,
    icmpUnconnected: 0,
    icmpBadQuote: 0,
    rxDatagrams6: 0,
    rxZeroChecksum6: 0,
    txDatagrams6: 0,
  };
  #ports = new Map<number, UdpEndpoint>();
  // Views and the outgoing repr are made once and re-pointed per datagram.
  /** Reads received datagrams. */
  readonly #rxDatagram = new UdpPacket(new Uint8Array(0));
  /** Matches ICMP errors to endpoints by the quoted datagram (over the live stats and ports). */
  readonly #icmpErrors = new UdpIcmpErrorMatcher(this.stats, this.#ports);
  /** The header of the datagram being sent. */
  readonly #txHeader: UdpRepr = newUdpRepr();
  #random: () => number;
  #queueBytes: number;
  #queueDatagrams: number;

  /**
   * Creates the layer; register it with the interface for protocol 17.
   *
   * @param sender the IPv4 output
   * @param opts ICMP reporter, random source, default queue bounds
   */
  constructor(sender: UdpIpSender, opts: UdpLayerOptions = {}) {
    this.sender = sender;
    this.unreachable = opts.unreachable ?? null;
    this.#random = opts.random ?? cryptoRandom;
    this.#queueBytes = opts.queueBytes ?? DEFAULT_QUEUE_BYTES;
    this.#queueDatagrams = opts.queueDatagrams ?? DEFAULT_QUEUE_DATAGRAMS;
  }

  /** Number of bound ports. */
  get boundCount(): number {
    return this.#ports.size;
  }

  /**
   * Whether `port` is bound.
   *
   * @param port a port number
   * @returns true when an endpoint holds it
   */
  isBound(port: number): boolean {
    return this.#ports.has(port);
  }

  /**
   * Binds a port. Port 0 picks a free ephemeral port in 49152–65535 starting
   * at a random point (RFC 6056 §3.3.1 style) and skipping ports in use.
   *
   * @param port 0 or 1..65535
   * @param opts receive queue bounds
   * @returns the endpoint
   * @throws {UdpError} `InvalidPort`, `AddressInUse` or `NoEphemeralPort`
   */
  bind(port: number, opts: UdpBindOptions = {}): UdpEndpoint {
    if (!Number.isInteger(port) || port < 0 || port > PORT_MAX) {
      throw new UdpError("InvalidPort", `port must be an integer 0..65535, got ${port}`);
    }
    if (port === 0) {
      port = this.#pickEphemeral();
      if (port === 0) {
        throw new UdpError("NoEphemeralPort", "all ports 49152–65535 are in use");
      }
    } else if (this.#ports.has(port)) {
      throw new UdpError("AddressInUse", `UDP port ${port} is already bound`);
    }
    const queue = new DatagramQueue(
      opts.queueBytes ?? this.#queueBytes,
      opts.queueDatagrams ?? this.#queueDatagrams,
    );
    const endpoint = new UdpEndpoint(this, port, queue, opts.family ?? "any", opts.localAddr ?? 0);
    this.#ports.set(port, endpoint);
    return endpoint;
  }

  #pickEphemeral(): number {
    const start = Math.floor(this.#random() * EPHEMERAL_PORT_COUNT) % EPHEMERAL_PORT_COUNT;
    for (let i = 0; i < EPHEMERAL_PORT_COUNT; i++) {
      const port = EPHEMERAL_PORT_MIN + ((start + i) % EPHEMERAL_PORT_COUNT);
      if (!this.#ports.has(port)) return port;
    }
    return 0;
  }

  /**
   * Frees an endpoint's port; called by {@link UdpEndpoint.close}.
   *
   * @param endpoint the endpoint closing
   */
  release(endpoint: UdpEndpoint): void {
    if (this.#ports.get(endpoint.localPort) === endpoint) this.#ports.delete(endpoint.localPort);
  }

  /**
   * IPv4 input for protocol 17 (the `IpProtocolHandler.onPacket` of
   * src/iface). Never throws; defects are counted.
   *
   * @param nowMs current time (ms)
   * @param src source IPv4 address (int32)
   * @param dst destination IPv4 address (int32)
   * @param bytes buffer holding the UDP datagram
   * @param offset start of the UDP header
   * @param length IP payload length
   * @param checksumVerified the device vouched for the checksum (receive
   *   offload, see `IpProtocolHandler.onPacket`): it is not summed again
   * @returns true when the datagram was queued on an endpoint
   */
  onPacket(
    nowMs: number,
    src: number,
    dst: number,
    bytes: Uint8Array,
    offset: number,
    length: number,
    checksumVerified = false,
  ): boolean {
    const stats = this.stats;
    if (length < UDP_HEADER_LEN || offset < 0 || offset + length > bytes.length) {
      stats.rxTruncated++;
      return false;
    }
    // Each defect has its own counter (no WireError); the view is read in bounds.
    const datagram = this.#rxDatagram.reset(bytes, offset, length);
    const srcPort = datagram.sourcePort;
    const dstPort = datagram.destinationPort;
    const udpLength = datagram.udpLength;
    // RFC 768: "Length is the length in octets of this user datagram including
    // this header"; bytes past it (IP padding) are ignored, less is malformed.
    if (udpLength < UDP_HEADER_LEN || udpLength > length) {
      stats.rxBadLength++;
      return false;
    }
    // RFC 768: an all-zero transmitted checksum means the sender computed none
    // (verifyChecksum passes it).
    if (!checksumVerified && !datagram.verifyChecksum(src, dst)) {
      stats.rxBadChecksum++;
      return false;
    }
    // RFC 768: source port 0 means "no reply expected"; destination port 0 is reserved.
    const endpoint = dstPort === 0 ? undefined : this.#ports.get(dstPort);
    if (endpoint === undefined) {
      stats.rxNoPort++;
      // RFC 1122 §4.1.3.1: no listener → ICMP port unreachable, but RFC 1122
      // §3.2.2 forbids ICMP errors about broadcast or multicast datagrams.
      if (this.unreachable !== null && !isBroadcastOrMulticast(dst)) {
        this.unreachable.portUnreachable(nowMs, src, dst, bytes, offset, length);
      }
      return false;
    }
    if (endpoint.boundAddr !== 0 && dst !== endpoint.boundAddr) {
      stats.rxWrongAddress++;
      if (this.unreachable !== null && !isBroadcastOrMulticast(dst)) {
        this.unreachable.portUnreachable(nowMs, src, dst, bytes, offset, length);
      }
      return false;
    }
    if (!endpoint.accepts(src, srcPort, dst)) {
      // Linux __udp4_lib_lookup: a connected socket matches only its peer, so for anyone else
      // the port is closed: counted, and answered with port unreachable as a closed port is
      // (staying silent would tell a prober that the port is in use).
      stats.rxWrongPeer++;
      endpoint.stats.rxWrongPeer++;
      if (this.unreachable !== null && !isBroadcastOrMulticast(dst)) {
        this.unreachable.portUnreachable(nowMs, src, dst, bytes, offset, length);
      }
      return false;
    }
    const payloadLength = datagram.payloadLength;
    if (!endpoint.deliver(bytes, datagram.payloadOffset, payloadLength, src, srcPort)) {
      stats.rxQueueDrops++;
      return false;
    }
    stats.rxDatagrams++;
    stats.rxBytes += payloadLength;
    return true;
  }

  /**
   * ICMP error input (the `IpProtocolHandler.onIcmpError` of src/iface).
   * Linux's rule (`__udp4_lib_err` without `IP_RECVERR`): the error reaches an
   * endpoint only when the quote is a well-formed UDP datagram, the endpoint
   * is connected, and the quote's full 4-tuple is the endpoint's (RFC 1122
   * §4.1.3.3 leaves the choice to the application; RFC 5927 §4.1 asks for the
   * check). It is recorded as a typed error there; everything else is counted.
   *
   * @param nowMs current time (ms)
   * @param type ICMP type
   * @param code ICMP code
   * @param nextHopMtu the MTU of a "fragmentation needed" message (unused by UDP)
   * @param quoted buffer holding the original IPv4 header + ≥ 8 bytes
   * @param quotedOffset where the quoted IPv4 header starts
   * @param quotedLength quoted bytes available
   */
  onIcmpError(
    nowMs: number,
    type: number,
    code: number,
    nextHopMtu: number,
    quoted: Uint8Array,
    quotedOffset: number,
    quotedLength: number,
  ): void {
    void nowMs;
    void nextHopMtu;
    this.#icmpErrors.onIcmpError(type, code, quoted, quotedOffset, quotedLength);
  }

  /**
   * IPv6 input for Next Header 17 (the `Ipv6ProtocolHandler.onPacket6` of
   * src/iface/types.ts). As {@link onPacket}, plus RFC 8200 §8.1: the checksum
   * is mandatory, a zero one is dropped (`rxZeroChecksum6`). Endpoints bound
   * to IPv4 only do not see it. Never throws; defects are counted.
   *
   * @param nowMs current time (ms)
   * @param src source address (the layer's object, kept per flow)
   * @param dst destination address
   * @param bytes buffer holding the UDP datagram
   * @param offset start of the UDP header
   * @param length upper-layer length
   * @param checksumVerified the device vouched for the checksum
   * @param toMulticast the destination was a multicast group (no ICMPv6 answer)
   */
  onPacket6(
    nowMs: number,
    src: Ipv6Address,
    dst: Ipv6Address,
    bytes: Uint8Array,
    offset: number,
    length: number,
    checksumVerified: boolean,
    toMulticast: boolean,
  ): void {
    const stats = this.stats;
    if (length < UDP_HEADER_LEN || offset < 0 || offset + length > bytes.length) {
      stats.rxTruncated++;
      return;
    }
    const datagram = this.#rxDatagram.reset(bytes, offset, length);
    const srcPort = datagram.sourcePort;
    const dstPort = datagram.destinationPort;
    const udpLength = datagram.udpLength;
    if (udpLength < UDP_HEADER_LEN || udpLength > length) {
      stats.rxBadLength++;
      return;
    }
    // RFC 8200 §8.1: "IPv6 receivers must discard UDP packets containing a zero checksum".
    if (datagram.checksum === 0) {
      stats.rxZeroChecksum6++;
      return;
    }
    if (!checksumVerified && !datagram.verifyChecksum(0, 0, ipv6AddressSum(src, dst))) {
      stats.rxBadChecksum++;
      return;
    }
    const endpoint = dstPort === 0 ? undefined : this.#ports.get(dstPort);
    if (endpoint === undefined || endpoint.family === "ipv4") {
      stats.rxNoPort++;
      // RFC 4443 §3.1 code 4; §2.4 (e.3): no error about a packet to a multicast group.
      if (!toMulticast) this.sender6?.portUnreachableCurrent?.(nowMs);
      return;
    }
    if (!endpoint.accepts6(src, srcPort, dst)) {
      stats.rxWrongPeer++;
      endpoint.stats.rxWrongPeer++;
      if (!toMulticast) this.sender6?.portUnreachableCurrent?.(nowMs);
      return;
    }
    const payloadLength = datagram.payloadLength;
    if (!endpoint.deliver(bytes, datagram.payloadOffset, payloadLength, 0, srcPort, src)) {
      stats.rxQueueDrops++;
      return;
    }
    stats.rxDatagrams++;
    stats.rxDatagrams6++;
    stats.rxBytes += payloadLength;
  }

  /**
   * ICMPv6 error input (`Ipv6ProtocolHandler.onIcmpv6Error`): the IPv4 rule
   * of {@link onIcmpError} — a connected endpoint only, the quote's full
   * 4-tuple, a well-formed quote (an IPv6 header, at most a first-fragment
   * Fragment header, then ≥ 8 bytes of UDP). Only Destination Unreachable is
   * reported (RFC 4443 §3.1, mapped as Linux `icmpv6_err_convert`); Packet
   * Too Big already updated the path MTU cache.
   *
   * @param nowMs current time (ms)
   * @param type ICMPv6 type
   * @param code ICMPv6 code
   * @param parameter MTU or pointer (unused)
   * @param quoted buffer holding the invoking packet
   * @param quotedOffset where its IPv6 header starts
   * @param quotedLength quoted bytes available
   */
  onIcmpv6Error(
    nowMs: number,
    type: number,
    code: number,
    parameter: number,
    quoted: Uint8Array,
    quotedOffset: number,
    quotedLength: number,
  ): void {
    void nowMs;
    void parameter;
    this.#icmpErrors.onIcmpv6Error(type, code, quoted, quotedOffset, quotedLength);
  }

  /**
   * The IPv6 send path behind {@link UdpEndpoint.send6}.
   *
   * @param _nowMs current time (ms)
   * @param endpoint the sending endpoint
   * @param data payload
   * @param dst destination address
   * @param dstPort destination port
   * @returns payload bytes sent, or the error
   */
  sendFrom6(
    _nowMs: number,
    endpoint: UdpEndpoint,
    data: Uint8Array,
    dst: Ipv6Address,
    dstPort: number,
  ): number | UdpError {
    const sender = this.sender6;
    if (sender === null) {
      return this.#sendFailed(
        endpoint,
        new UdpError("NoRoute", "IPv6 is not configured", 0, dstPort),
      );
    }
    const invalid = checkDestination6(dst, dstPort, endpoint.family);
    if (invalid !== null) return this.#sendFailed(endpoint, invalid);
    const length = data.length;
    if (length > UDP6_MAX_PAYLOAD) {
      return this.#sendFailed(
        endpoint,
        new UdpError(
          "MessageTooLong",
          `datagram of ${length} bytes exceeds the UDP/IPv6 maximum of ${UDP6_MAX_PAYLOAD}`,
          0,
          dstPort,
        ),
      );
    }
    const src = endpoint.localAddr6 ?? sender.sourceAddressFor6(dst);
    if (src === null) {
      return this.#sendFailed(endpoint, new UdpError("NoRoute", `no route to ${dst}`, 0, dstPort));
    }
    const udpLength = UDP_HEADER_LEN + length;
    let buf = sender.allocate();
    if (buf === null) {
      return this.#sendFailed(
        endpoint,
        new UdpError("NoBuffers", "packet buffer pool exhausted", 0, dstPort),
      );
    }
    let off = buf.append(udpLength);
    if (off < 0) {
      sender.release?.(buf);
      buf = sender.allocateLarge?.(udpLength) ?? null;
      off = buf === null ? -1 : buf.append(udpLength);
      if (buf === null || off < 0) {
        if (buf !== null) sender.release?.(buf);
        return this.#sendFailed(
          endpoint,
          new UdpError("MessageTooLong", `datagram of ${length} bytes does not fit`, 0, dstPort),
        );
      }
    }
    const bytes = buf.bytes;
    bytes.set(data, off + UDP_HEADER_LEN);
    const header = this.#txHeader;
    header.srcPort = endpoint.localPort;
    header.dstPort = dstPort;
    header.payloadLength = length;
    // RFC 8200 §8.1: the checksum covers the IPv6 pseudo-header and is never omitted.
    const opts = this.#send6;
    if (sender.txOffloads?.checksum === true) {
      // Transmit checksum offload, as over IPv4: the folded pseudo-header sum, completed by the
      // device (or by the IPv6 layer when the datagram cannot leave whole: fragments, unresolved).
      UdpRepr.emit(header, bytes, off, 0, 0, NO_CHECKSUM);
      write16(
        bytes,
        off + UDP_CHECKSUM_OFFSET,
        ipv6PseudoHeaderSum(src, dst, IP_PROTOCOL_UDP, udpLength),
      );
      opts.partialChecksumOffset = UDP_CHECKSUM_OFFSET;
    } else {
      this.#emit6.ipv6AddressSum = ipv6AddressSum(src, dst);
      UdpRepr.emit(header, bytes, off, 0, 0, this.#emit6);
      opts.partialChecksumOffset = 0;
    }
    opts.source = src;
    if (!sender.send6(buf, dst, IP_PROTOCOL_UDP, opts)) {
      return this.#sendFailed(
        endpoint,
        new UdpError("SendFailed", "IPv6 layer dropped the datagram", 0, dstPort),
      );
    }
    this.stats.txDatagrams++;
    this.stats.txDatagrams6++;
    this.stats.txBytes += length;
    endpoint.stats.txDatagrams++;
    endpoint.stats.txBytes += length;
    return length;
  }

  /** Emit options over IPv6 (the address sum set per datagram). */
  readonly #emit6 = { ipv6AddressSum: 0 };
  /** IPv6 send options (the source set per datagram). */
  readonly #send6: Ipv6SendOptions = { ...UDP6_SEND };

  /** Counts a failed send on the layer and the endpoint; returns the error. */
  #sendFailed(endpoint: UdpEndpoint, error: UdpError): UdpError {
    this.stats.txErrors++;
    endpoint.stats.txErrors++;
    return error;
  }

  /** Gives back a buffer we will not send: through `release` if offered, else an unroutable send. */
  #release(buf: PacketBufferLike): void {
    if (this.sender.release !== undefined) this.sender.release(buf);
    else this.sender.send(buf, 0, IP_PROTOCOL_UDP); // dst 0 never routes: the IP layer frees it
  }

  /**
   * The send path behind {@link UdpEndpoint.send} (use that instead).
   *
   * @param _nowMs current time (ms)
   * @param endpoint the sending endpoint
   * @param data payload
   * @param dstAddr destination address
   * @param dstPort destination port
   * @returns payload bytes sent, or the error
   */
  sendFrom(
    _nowMs: number,
    endpoint: UdpEndpoint,
    data: Uint8Array,
    dstAddr: number,
    dstPort: number,
  ): number | UdpError {
    const length = data.length;
    if (length > UDP_MAX_PAYLOAD) {
      return this.#sendFailed(
        endpoint,
        new UdpError(
          "MessageTooLong",
          `datagram of ${length} bytes exceeds the UDP/IPv4 maximum of ${UDP_MAX_PAYLOAD}`,
          dstAddr,
          dstPort,
        ),
      );
    }
    const invalid = checkDestination(dstAddr, dstPort);
    if (invalid !== null) return this.#sendFailed(endpoint, invalid);
    // One numeric form from here on (int32, src/wire/address.ts): errors, the IP layer, ARP.
    dstAddr |= 0;
    const route = this.sender.sourceAddressFor(dstAddr);
    // A bound endpoint sends from its address (RFC 1122 §3.3.4.2), else the egress interface's.
    const src = endpoint.boundAddr !== 0 && route !== 0 ? endpoint.boundAddr : route;
    if (src === 0) {
      return this.#sendFailed(
        endpoint,
        new UdpError("NoRoute", `no route to ${formatIpv4(dstAddr)}`, dstAddr, dstPort),
      );
    }
    const udpLength = UDP_HEADER_LEN + length;
    let buf = this.sender.allocate();
    if (buf === null) {
      return this.#sendFailed(
        endpoint,
        new UdpError("NoBuffers", "packet buffer pool exhausted", dstAddr, dstPort),
      );
    }
    let off = buf.append(udpLength);
    if (off < 0) {
      // Larger than a pool slot: ask the IP layer for a large buffer if it offers one.
      this.#release(buf);
      buf = this.sender.allocateLarge?.(udpLength) ?? null;
      off = buf === null ? -1 : buf.append(udpLength);
      if (buf === null || off < 0) {
        if (buf !== null) this.#release(buf);
        return this.#sendFailed(
          endpoint,
          new UdpError(
            "MessageTooLong",
            `datagram of ${length} bytes does not fit a packet buffer`,
            dstAddr,
            dstPort,
          ),
        );
      }
    }
    const bytes = buf.bytes;
    bytes.set(data, off + UDP_HEADER_LEN);
    // RFC 768: checksum over pseudo-header + datagram; a computed 0 is sent as all ones.
    const header = this.#txHeader;
    header.srcPort = endpoint.localPort;
    header.dstPort = dstPort;
    header.payloadLength = length;
    let sent: boolean;
    if (this.sender.txOffloads?.checksum === true) {
      // Transmit checksum offload: the field holds the folded pseudo-header sum and the device
      // (or the IP layer, when the datagram cannot leave whole) completes it, as Linux's
      // CHECKSUM_PARTIAL.
      UdpRepr.emit(header, bytes, off, src, dstAddr, NO_CHECKSUM);
      write16(
        bytes,
        off + UDP_CHECKSUM_OFFSET,
        pseudoHeaderSum(src, dstAddr, IP_PROTO_UDP, udpLength),
      );
      PARTIAL_CHECKSUM_SEND.source = src;
      sent = this.sender.send(buf, dstAddr, IP_PROTOCOL_UDP, PARTIAL_CHECKSUM_SEND);
    } else {
      UdpRepr.emit(header, bytes, off, src, dstAddr);
      SOURCE_SEND.source = src;
      sent = this.sender.send(buf, dstAddr, IP_PROTOCOL_UDP, SOURCE_SEND);
    }
    if (!sent) {
      return this.#sendFailed(
        endpoint,
        new UdpError("SendFailed", `IPv4 layer dropped the datagram`, dstAddr, dstPort),
      );
    }
    this.stats.txDatagrams++;
    this.stats.txBytes += length;
    endpoint.stats.txDatagrams++;
    endpoint.stats.txBytes += length;
    return length;
  }
}

/** Limited broadcast or class D multicast (224.0.0.0/4); `addr` is int32. */
function isBroadcastOrMulticast(addr: number): boolean {
  return addr === IPV4_LIMITED_BROADCAST || (addr >>> 28) === 0xe;
}
