/**
 * Which UDP endpoint hears an ICMP or ICMPv6 error: {@link UdpIcmpErrorMatcher}
 * checks that the quoted invoking datagram is a well-formed UDP datagram (a
 * first fragment, lengths covering the UDP header), finds the endpoint by the
 * quoted source port, and records the error only on a connected endpoint whose
 * full 4-tuple the quote carries (Linux `__udp4_lib_err` / `__udp6_lib_err`
 * without `IP_RECVERR`, RFC 5927 §4.1). Also the maps from ICMP type and code
 * to {@link UdpErrorCode} (RFC 792, RFC 1122 §4.1.3.3, RFC 4443 §3.1).
 *
 * @module
 */

import { formatIpv4 } from "../wire/address.ts";
import { IP_PROTO_UDP, IPV4_HEADER_LEN, IPV4_VERSION, Ipv4Packet } from "../wire/ipv4.ts";
import { UDP_HEADER_LEN, UdpPacket } from "../wire/udp.ts";
import type { UdpEndpoint } from "./udp_endpoint.ts";
import { UdpError, type UdpErrorCode } from "./udp_error.ts";
import {
  ICMP_DEST_UNREACHABLE,
  ICMP_UNREACH_FRAG_NEEDED,
  ICMP_UNREACH_HOST,
  ICMP_UNREACH_NET,
  ICMP_UNREACH_PORT,
  ICMP_UNREACH_PROTOCOL,
} from "../wire/icmp.ts";
import {
  ICMPV6_DEST_UNREACHABLE,
  ICMPV6_UNREACH_NO_ROUTE,
  ICMPV6_UNREACH_PORT,
} from "../wire/icmpv6.ts";
import { IP_PROTO_FRAGMENT, IPV6_FRAGMENT_HEADER_LEN, IPV6_HEADER_LEN } from "../wire/ipv6.ts";

/** Destination-unreachable codes without a src/wire name (RFC 1122 §3.2.2.1, RFC 1812 §5.2.7.1). */
const UNREACH_NET_UNKNOWN = 6;
const UNREACH_NET_TOS = 11;

/** The counters of `UdpLayerStats` the matcher updates (the layer passes its own stats). */
export interface UdpIcmpErrorCounters {
  /** ICMP errors delivered to an endpoint. */
  icmpErrors: number;
  /** ICMP errors whose quote matched no endpoint's 4-tuple. */
  icmpUnmatched: number;
  /** ICMP messages UDP does not report (fragmentation needed, time exceeded...). */
  icmpIgnored: number;
  /** ICMP errors about an unconnected endpoint, ignored (Linux without `IP_RECVERR`). */
  icmpUnconnected: number;
  /** ICMP errors whose quote is not a well-formed UDP datagram (cut short, bad header, fragment). */
  icmpBadQuote: number;
}

/**
 * Delivers ICMP errors to the endpoint they concern; the ICMP half of
 * `UdpLayer.onIcmpError` / `onIcmpv6Error`, which hand it the quote. Its
 * views are made once and re-pointed per error. Never throws; every
 * rejected error is counted.
 */
export class UdpIcmpErrorMatcher {
  readonly #stats: UdpIcmpErrorCounters;
  readonly #ports: ReadonlyMap<number, UdpEndpoint>;
  /** Reads the IPv4 header an ICMP error quotes. */
  readonly #quotedHeader = new Ipv4Packet(new Uint8Array(0));
  /** Reads the UDP header after it. */
  readonly #quotedDatagram = new UdpPacket(new Uint8Array(0));

  /**
   * Creates the matcher over the layer's counters and port table (both live, not copied).
   *
   * @param stats the counters to update
   * @param ports the bound endpoints by local port
   */
  constructor(stats: UdpIcmpErrorCounters, ports: ReadonlyMap<number, UdpEndpoint>) {
    this.#stats = stats;
    this.#ports = ports;
  }

  /**
   * ICMP error input (the `IpProtocolHandler.onIcmpError` of src/iface).
   * Linux's rule (`__udp4_lib_err` without `IP_RECVERR`): the error reaches an
   * endpoint only when the quote is a well-formed UDP datagram, the endpoint
   * is connected, and the quote's full 4-tuple is the endpoint's (RFC 1122
   * §4.1.3.3 leaves the choice to the application; RFC 5927 §4.1 asks for the
   * check). It is recorded as a typed error there; everything else is counted.
   *
   * @param type ICMP type
   * @param code ICMP code
   * @param quoted buffer holding the original IPv4 header + ≥ 8 bytes
   * @param quotedOffset where the quoted IPv4 header starts
   * @param quotedLength quoted bytes available
   */
  onIcmpError(
    type: number,
    code: number,
    quoted: Uint8Array,
    quotedOffset: number,
    quotedLength: number,
  ): void {
    const stats = this.#stats;
    const errorCode = icmpErrorCode(type, code);
    if (errorCode === null) {
      stats.icmpIgnored++;
      return;
    }
    if (
      quotedOffset < 0 || quotedLength < IPV4_HEADER_LEN ||
      quotedOffset + quotedLength > quoted.length
    ) {
      stats.icmpBadQuote++;
      return;
    }
    const header = this.#quotedHeader.reset(quoted, quotedOffset, quotedLength);
    const ihlBytes = header.headerLength;
    // RFC 792: the quote holds the internet header + the first 64 data bits. Only a first
    // fragment (offset 0) starts with the UDP header, and the header's lengths must cover it.
    if (
      header.version !== IPV4_VERSION || ihlBytes < IPV4_HEADER_LEN ||
      quotedLength < ihlBytes + UDP_HEADER_LEN || header.protocol !== IP_PROTO_UDP ||
      header.fragmentOffset !== 0 || header.totalLength < ihlBytes + UDP_HEADER_LEN
    ) {
      stats.icmpBadQuote++;
      return;
    }
    const datagram = this.#quotedDatagram.reset(
      quoted,
      quotedOffset + ihlBytes,
      quotedLength - ihlBytes,
    );
    if (datagram.udpLength < UDP_HEADER_LEN) {
      stats.icmpBadQuote++;
      return;
    }
    const localAddr = header.source;
    const remoteAddr = header.destination;
    const localPort = datagram.sourcePort;
    const remotePort = datagram.destinationPort;
    const endpoint = this.#ports.get(localPort);
    if (endpoint === undefined) {
      stats.icmpUnmatched++;
      return;
    }
    if (!endpoint.connected) {
      // Linux: "if (!inet->recverr) { if (!harderr || sk->sk_state != TCP_ESTABLISHED) goto out; }"
      stats.icmpUnconnected++;
      return;
    }
    if (
      remoteAddr !== endpoint.remoteAddr || remotePort !== endpoint.remotePort ||
      localAddr !== endpoint.localAddr
    ) {
      stats.icmpUnmatched++;
      return;
    }
    stats.icmpErrors++;
    endpoint.setError(
      new UdpError(
        errorCode,
        `${icmpErrorText(errorCode)} (ICMP type ${type} code ${code}) for ${
          formatIpv4(remoteAddr)
        }:${remotePort}`,
        remoteAddr,
        remotePort,
      ),
    );
  }

  /**
   * ICMPv6 error input (`Ipv6ProtocolHandler.onIcmpv6Error`): the IPv4 rule
   * of {@link UdpIcmpErrorMatcher.onIcmpError} — a connected endpoint only, the quote's full
   * 4-tuple, a well-formed quote (an IPv6 header, at most a first-fragment
   * Fragment header, then ≥ 8 bytes of UDP). Only Destination Unreachable is
   * reported (RFC 4443 §3.1, mapped as Linux `icmpv6_err_convert`); Packet
   * Too Big already updated the path MTU cache.
   *
   * @param type ICMPv6 type
   * @param code ICMPv6 code
   * @param quoted buffer holding the invoking packet
   * @param quotedOffset where its IPv6 header starts
   * @param quotedLength quoted bytes available
   */
  onIcmpv6Error(
    type: number,
    code: number,
    quoted: Uint8Array,
    quotedOffset: number,
    quotedLength: number,
  ): void {
    const stats = this.#stats;
    const errorCode = icmpv6ErrorCode(type, code);
    if (errorCode === null) {
      stats.icmpIgnored++;
      return;
    }
    if (
      quotedOffset < 0 || quotedLength < IPV6_HEADER_LEN + UDP_HEADER_LEN ||
      quotedOffset + quotedLength > quoted.length || (quoted[quotedOffset] >>> 4) !== 6
    ) {
      stats.icmpBadQuote++;
      return;
    }
    let nextHeader = quoted[quotedOffset + 6];
    let udpAt = quotedOffset + IPV6_HEADER_LEN;
    if (nextHeader === IP_PROTO_FRAGMENT) {
      // Only a first fragment (offset 0) quotes the UDP header (RFC 8200 §4.5).
      const fragmentOffset = ((quoted[udpAt + 2] << 8) | quoted[udpAt + 3]) >>> 3;
      if (
        quotedLength < IPV6_HEADER_LEN + IPV6_FRAGMENT_HEADER_LEN + UDP_HEADER_LEN ||
        fragmentOffset !== 0
      ) {
        stats.icmpBadQuote++;
        return;
      }
      nextHeader = quoted[udpAt];
      udpAt += IPV6_FRAGMENT_HEADER_LEN;
    }
    if (nextHeader !== IP_PROTO_UDP) {
      stats.icmpBadQuote++;
      return;
    }
    const datagram = this.#quotedDatagram.reset(
      quoted,
      udpAt,
      quotedOffset + quotedLength - udpAt,
    );
    if (datagram.udpLength < UDP_HEADER_LEN) {
      stats.icmpBadQuote++;
      return;
    }
    const localPort = datagram.sourcePort;
    const remotePort = datagram.destinationPort;
    const endpoint = this.#ports.get(localPort);
    if (endpoint === undefined) {
      stats.icmpUnmatched++;
      return;
    }
    if (!endpoint.connected) {
      stats.icmpUnconnected++;
      return;
    }
    const local6 = endpoint.localAddr6;
    const remote6 = endpoint.remoteAddr6;
    if (
      local6 === null || remote6 === null || remotePort !== endpoint.remotePort ||
      !local6.equalsAt(quoted, quotedOffset + 8) || !remote6.equalsAt(quoted, quotedOffset + 24)
    ) {
      stats.icmpUnmatched++;
      return;
    }
    stats.icmpErrors++;
    endpoint.setError(
      new UdpError(
        errorCode,
        `${
          icmpErrorText(errorCode)
        } (ICMPv6 type ${type} code ${code}) for [${remote6}]:${remotePort}`,
        0,
        remotePort,
      ),
    );
  }
}

/** Maps an ICMP error to the UDP error it means, or null when UDP ignores it. */
function icmpErrorCode(type: number, code: number): UdpErrorCode | null {
  if (type !== ICMP_DEST_UNREACHABLE) return null; // time exceeded etc.: soft errors (RFC 1122 §4.2.3.9)
  switch (code) {
    case ICMP_UNREACH_PORT:
    case ICMP_UNREACH_PROTOCOL:
      return "PortUnreachable";
    case ICMP_UNREACH_FRAG_NEEDED:
      return null; // path MTU discovery is the IP layer's business (RFC 1191)
    case ICMP_UNREACH_NET:
    case UNREACH_NET_UNKNOWN:
    case UNREACH_NET_TOS:
      return "NetworkUnreachable";
    case ICMP_UNREACH_HOST:
    default:
      return "HostUnreachable";
  }
}

/**
 * Maps an ICMPv6 error to the UDP error it means, or null when UDP ignores it
 * (Linux `icmpv6_err_convert`: no route → ENETUNREACH, port → ECONNREFUSED,
 * the rest of Destination Unreachable → EHOSTUNREACH/EACCES; Packet Too Big,
 * Time Exceeded and Parameter Problem are not reported without `IPV6_RECVERR`).
 */
function icmpv6ErrorCode(type: number, code: number): UdpErrorCode | null {
  if (type !== ICMPV6_DEST_UNREACHABLE) return null;
  if (code === ICMPV6_UNREACH_PORT) return "PortUnreachable";
  if (code === ICMPV6_UNREACH_NO_ROUTE) return "NetworkUnreachable";
  return "HostUnreachable";
}

/** What an ICMP error means for a connected endpoint, in the words of the errno it maps to. */
function icmpErrorText(code: UdpErrorCode): string {
  switch (code) {
    case "PortUnreachable":
      return "connection refused: port unreachable"; // ECONNREFUSED
    case "NetworkUnreachable":
      return "network unreachable"; // ENETUNREACH
    default:
      return "host unreachable"; // EHOSTUNREACH
  }
}
