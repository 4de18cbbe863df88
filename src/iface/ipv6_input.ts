/**
 * The input half of the IPv6 layer ({@link Ipv6Input}, owned by
 * `Ipv6Layer`, RFC 8200): the fixed header's checks, jumbograms in device
 * super-frames (RFC 2675), the router's prerouting verdict, ours or a joined
 * group, the extension-header chain (via `walkIpv6Chain`: unknown headers
 * and options get an ICMPv6 Parameter Problem with the RFC 8200 §4 pointer
 * when RFC 4443 §2.4 allows one; Routing type 0 is refused, RFC 5095),
 * reassembly (RFC 8200 §4.5) and demultiplexing to ICMPv6 and the
 * transports ({@link Ipv6ProtocolHandler}).
 *
 * @module
 */

import { isWireError } from "../wire/error.ts";
import {
  ICMPV6_DEST_UNREACHABLE,
  ICMPV6_PARAMETER_PROBLEM,
  ICMPV6_UNREACH_PORT,
} from "../wire/icmpv6.ts";
import { IP_PROTO_TCP, IP_PROTO_UDP } from "../wire/ipv4.ts";
import {
  ICMPV6_PARAM_HEADER_FIELD,
  IP_PROTO_ICMPV6,
  IPV6_DST_OFFSET,
  IPV6_HEADER_LEN,
  IPV6_HOP_LIMIT_OFFSET,
  IPV6_NEXT_HEADER_OFFSET,
  IPV6_PAYLOAD_LENGTH_OFFSET,
  IPV6_SRC_OFFSET,
  type Ipv6Chain,
  type Ipv6Jumbogram,
  Ipv6Packet,
  newIpv6Chain,
  newIpv6Jumbogram,
  readIpv6Jumbogram,
  walkIpv6Chain,
} from "../wire/ipv6.ts";
import { Ipv6Address } from "../wire/ipv6_address.ts";
import type { Ipv6Layer } from "./ipv6.ts";
import type { Ipv6Stats } from "./ipv6_types.ts";
import { ROUTER_CONSUMED, ROUTER_LOCAL } from "./ipv4.ts";
import type { Ipv6ProtocolHandler } from "./types.ts";

const EMPTY = new Uint8Array(0);

/**
 * The input half of one interface's IPv6 layer: the per-packet views and
 * chain records (made once), and the packet being handed to a transport.
 */
export class Ipv6Input {
  readonly #layer: Ipv6Layer;
  readonly #stats: Ipv6Stats;
  readonly #handlers: readonly (Ipv6ProtocolHandler | undefined)[];
  readonly #rxView = new Ipv6Packet(EMPTY);
  readonly #chain: Ipv6Chain = newIpv6Chain();
  readonly #jumbo: Ipv6Jumbogram = newIpv6Jumbogram();
  readonly #walk: { isUpperLayer: (nh: number) => boolean };
  /** The packet being handed to a transport (for {@link portUnreachableCurrent}). */
  #curBytes: Uint8Array | null = null;
  #curOffset = 0;
  #curLength = 0;
  #curLinkMulticast = false;
  #rxSrc: Ipv6Address = Ipv6Address.UNSPECIFIED;
  #rxDst: Ipv6Address = Ipv6Address.UNSPECIFIED;

  /**
   * Creates the input half of `layer`.
   *
   * @param layer the IPv6 layer (its stats, addresses, groups, router, ICMPv6, reassembler)
   * @param handlers the layer's transports by Next Header (the same array, registered later)
   */
  constructor(layer: Ipv6Layer, handlers: readonly (Ipv6ProtocolHandler | undefined)[]) {
    this.#layer = layer;
    this.#stats = layer.stats;
    this.#handlers = handlers;
    this.#walk = {
      isUpperLayer: (nh: number) => nh === IP_PROTO_ICMPV6 || handlers[nh] !== undefined,
    };
  }

  /**
   * Processes one received IPv6 packet: see {@link Ipv6Layer.input} (the
   * layer has set the time of the output half).
   *
   * @param nowMs current time
   * @param bytes buffer
   * @param offset start of the IPv6 header
   * @param length bytes available (may include link padding)
   * @param checksumVerified the device vouched for the transport checksum
   * @param linkMulticast the frame came to a link-layer multicast or broadcast address
   * @param reassembled the packet was rebuilt from fragments
   */
  input(
    nowMs: number,
    bytes: Uint8Array,
    offset: number,
    length: number,
    checksumVerified: boolean,
    linkMulticast: boolean,
    reassembled: boolean,
  ): void {
    const stats = this.#stats;
    const layer = this.#layer;
    stats.rxPackets++;
    if (length < IPV6_HEADER_LEN) {
      stats.rxTooShort++;
      return;
    }
    if (bytes[offset] >>> 4 !== 6) {
      stats.rxBadVersion++;
      return;
    }
    let payload = (bytes[offset + IPV6_PAYLOAD_LENGTH_OFFSET] << 8) |
      bytes[offset + IPV6_PAYLOAD_LENGTH_OFFSET + 1];
    if (IPV6_HEADER_LEN + payload > length) {
      stats.rxBadLength++;
      return;
    }
    let jumbo: Ipv6Jumbogram | null = null;
    if (payload === 0 && layer.rxSuperFrame && !reassembled) {
      jumbo = this.#jumbogram(nowMs, bytes, offset, length, linkMulticast);
      if (jumbo === null) return;
      payload = jumbo.upperOffset + jumbo.upperLength - offset - IPV6_HEADER_LEN;
    }
    const srcAt = offset + IPV6_SRC_OFFSET;
    if (
      bytes[srcAt] === 0xff || (bytes[srcAt] === 0 && Ipv6Address.LOOPBACK.equalsAt(bytes, srcAt))
    ) {
      // RFC 4291 §2.7: a multicast address is never a source; §2.5.3: ::1 never comes from a link.
      stats.rxBadSource++;
      return;
    }
    const dstAt = offset + IPV6_DST_OFFSET;
    const toMulticast = bytes[dstAt] === 0xff;
    // A reassembled packet's fragments were found for this host already.
    let local = reassembled && layer.router !== null;
    if (jumbo !== null && layer.router !== null) {
      // A jumbogram is only for this host's TCP: the router's paths keep 16-bit lengths.
      stats.rxBadJumbograms++;
      return;
    }
    if (layer.router !== null && !toMulticast && !reassembled) {
      // Several interfaces: prerouting hooks, then for this host (any interface's address) or
      // forwarded (router6.ts).
      const verdict = layer.router.receive6(
        nowMs,
        bytes,
        offset,
        length,
        IPV6_HEADER_LEN + payload,
      );
      if (verdict === ROUTER_CONSUMED) return;
      local = verdict === ROUTER_LOCAL;
    }
    if (toMulticast) {
      if (!layer.ndp.isMemberAt(bytes, dstAt)) {
        stats.rxNotMember++;
        return;
      }
    } else if (!local && !layer.addresses.isOursAt(bytes, dstAt)) {
      stats.rxNotForUs++; // includes tentative addresses (RFC 4862 §5.4)
      return;
    }
    const nextHeader = bytes[offset + IPV6_NEXT_HEADER_OFFSET];
    let protocol = nextHeader;
    let upperOffset = offset + IPV6_HEADER_LEN;
    let upperLength = payload;
    let fragmented = reassembled;
    if (jumbo !== null) {
      protocol = jumbo.protocol;
      upperOffset = jumbo.upperOffset;
      upperLength = jumbo.upperLength;
      if (this.#handlers[protocol] === undefined) {
        stats.rxBadJumbograms++;
        return;
      }
    } else if (
      (nextHeader !== IP_PROTO_TCP && nextHeader !== IP_PROTO_UDP) ||
      this.#handlers[nextHeader] === undefined
    ) {
      // Extension headers, ICMPv6 or an unknown Next Header: the walk decides. (A registered
      // TCP or UDP right after the fixed header is what it delivers as is, the checks above
      // being its own: the per-packet path skips it, as Linux's ip6_protocol_deliver_rcu
      // reaches the transport at once when nexthdr is no extension header.)
      const chain = this.#walkChain(nowMs, bytes, offset, payload, linkMulticast, reassembled);
      if (chain === null) return;
      protocol = chain.protocol;
      upperOffset = chain.upperOffset;
      upperLength = chain.upperLength;
      fragmented ||= chain.hasFragmentHeader;
    }
    // "deliver": one flow keeps its address objects (no allocation per packet).
    if (!this.#rxSrc.equalsAt(bytes, srcAt)) this.#rxSrc = Ipv6Address.fromBytes(bytes, srcAt);
    if (!this.#rxDst.equalsAt(bytes, dstAt)) this.#rxDst = Ipv6Address.fromBytes(bytes, dstAt);
    stats.rxDelivered++;
    if (protocol === IP_PROTO_ICMPV6) {
      layer.icmp.input(
        nowMs,
        this.#rxSrc,
        this.#rxDst,
        bytes[offset + IPV6_HOP_LIMIT_OFFSET],
        fragmented,
        bytes,
        upperOffset,
        upperLength,
        checksumVerified,
      );
      return;
    }
    this.#curBytes = bytes;
    this.#curOffset = offset;
    this.#curLength = IPV6_HEADER_LEN + payload;
    this.#curLinkMulticast = linkMulticast;
    this.#handlers[protocol]!.onPacket6(
      nowMs,
      this.#rxSrc,
      this.#rxDst,
      bytes,
      upperOffset,
      upperLength,
      checksumVerified,
      toMulticast,
    );
    this.#curBytes = null;
  }

  /**
   * A super-frame's Payload Length of 0 read as a jumbogram
   * (`readIpv6Jumbogram`, RFC 2675): RFC 2675 §3's errors answered with a
   * Parameter Problem (when RFC 4443 §2.4 allows one), all failures counted.
   *
   * @returns the jumbogram to deliver, or null when it was dropped
   */
  #jumbogram(
    nowMs: number,
    bytes: Uint8Array,
    offset: number,
    length: number,
    linkMulticast: boolean,
  ): Ipv6Jumbogram | null {
    const stats = this.#stats;
    const jumbo = readIpv6Jumbogram(bytes, offset, length, this.#jumbo);
    if (jumbo.verdict === "deliver") {
      stats.rxJumbograms++;
      return jumbo;
    }
    stats.rxBadJumbograms++;
    if (jumbo.verdict === "parameter-problem") {
      stats.rxParameterProblem++;
      this.#layer.icmp.sendError(
        nowMs,
        ICMPV6_PARAMETER_PROBLEM,
        ICMPV6_PARAM_HEADER_FIELD,
        jumbo.pointer,
        bytes,
        offset,
        length,
        linkMulticast,
      );
    }
    return null;
  }

  /**
   * The extension-header chain of a received packet (`walkIpv6Chain`): its
   * verdicts other than "deliver" are handled here (Parameter Problem,
   * discard, reassembly).
   *
   * @returns the chain of a packet to deliver, or null when it was handled
   */
  #walkChain(
    nowMs: number,
    bytes: Uint8Array,
    offset: number,
    payload: number,
    linkMulticast: boolean,
    reassembled: boolean,
  ): Ipv6Chain | null {
    const stats = this.#stats;
    const view = this.#rxView.reset(bytes, offset, IPV6_HEADER_LEN + payload);
    const chain = walkIpv6Chain(view, this.#chain, this.#walk);
    if (isWireError(chain)) {
      stats.rxBadHeader++;
      return null;
    }
    switch (chain.verdict) {
      case "parameter-problem":
        stats.rxParameterProblem++;
        if (chain.icmpAllowed) {
          this.#layer.icmp.sendError(
            nowMs,
            ICMPV6_PARAMETER_PROBLEM,
            chain.icmpCode,
            chain.pointer,
            bytes,
            offset,
            IPV6_HEADER_LEN + payload,
            linkMulticast,
          );
        }
        return null;
      case "discard":
        stats.rxDiscarded++;
        return null;
      case "reassemble": {
        if (reassembled) {
          stats.rxNestedFragment++;
          return null;
        }
        stats.rxFragments++;
        const r = this.#layer.reassembler;
        const whole = r.input(
          nowMs,
          bytes,
          offset,
          chain.fragmentHeaderPointer,
          chain.fragmentNextHeaderPointer,
          chain.fragmentOffset,
          chain.moreFragments,
          chain.fragmentId,
          chain.protocol,
          linkMulticast,
        );
        if (whole !== null) {
          stats.rxReassembled++;
          // Like Linux (the reassembled skb is the first fragment's): its link-layer destination.
          this.input(nowMs, whole, r.headerOffset, r.length, false, r.linkMulticast, true);
        }
        return null;
      }
    }
    return chain;
  }

  /**
   * {@link Ipv6Layer.portUnreachable} for the packet being delivered to a
   * transport right now (only valid during `onPacket6`).
   *
   * @param nowMs current time
   */
  portUnreachableCurrent(nowMs: number): void {
    if (this.#curBytes === null) return;
    this.#layer.icmp.sendError(
      nowMs,
      ICMPV6_DEST_UNREACHABLE,
      ICMPV6_UNREACH_PORT,
      0,
      this.#curBytes,
      this.#curOffset,
      this.#curLength,
      this.#curLinkMulticast,
    );
  }
}
