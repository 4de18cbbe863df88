/**
 * The IPv6 layer's interfaces: its counters, options, what it needs from the
 * link and what a router attaches to it (re-exported by `ipv6.ts`).
 *
 * @module
 */

import type { Ipv6Words } from "../wire/checksum.ts";
import type { Ipv6Address, Ipv6Cidr } from "../wire/ipv6_address.ts";
import type { IcmpRateLimitOptions } from "./icmp_rate_limit.ts";
import type { Ipv6AddressOptions, Ipv6AddressTable } from "./ipv6_addresses.ts";
import type { Ipv6Reassembler } from "./ipv6_reassembly.ts";
import type { NeighbourCacheOptions, NeighbourStats } from "./neighbour_cache.ts";
import type { NdpOptions, NdpStats } from "./ndp.ts";
import type { PmtuCache, PmtuOptions } from "./pmtu_cache.ts";
import type { ReassemblyOptions } from "./reassembly.ts";
import type { Ipv6Layer } from "./ipv6.ts";
import type { IpTxOffloads, Ipv6SendOptions, PacketBufferLike } from "./types.ts";

/**
 * What a router (`router6.ts`) attaches to each interface's IPv6 layer
 * ({@link Ipv6Layer.router}), as `Ipv4RouterPort` (`ipv4.ts`) does for IPv4. Absent
 * (null) on a single-interface host.
 */
export interface Ipv6RouterPort {
  /**
   * A received unicast packet whose header passed the checks (`length`
   * bytes available, `total` its own): prerouting hooks, then local delivery
   * (input hooks) or forwarding.
   *
   * @returns ROUTER_CONTINUE, ROUTER_LOCAL or ROUTER_CONSUMED of `ipv4.ts`
   */
  receive6(
    nowMs: number,
    bytes: Uint8Array,
    offset: number,
    length: number,
    total: number,
  ): number;
  /** A packet we originate to a unicast, not link-local `dst`: the router picks the egress interface. */
  output6(
    from: Ipv6Layer,
    src: Ipv6Address,
    buf: PacketBufferLike,
    dst: Ipv6Address,
    protocol: number,
    opts?: Ipv6SendOptions,
  ): boolean;
  /** A packet we originate, header written, about to leave: output and postrouting hooks. */
  localOut6(layer: Ipv6Layer, buf: PacketBufferLike): boolean;
  /** Our source toward `dst`: by the egress interface's addresses (RFC 6724). */
  sourceFor6(dst: Ipv6Address): Ipv6Address | null;
  /** The path MTU toward `dst`, by the egress interface's cache. */
  pathMtu6(dst: Ipv6Words): number;
}

/** Counters of the IPv6 layer (the `ipv6` section of the stack's stats). */
export interface Ipv6Stats {
  /** Packets received (reassembled ones again). */
  rxPackets: number;
  /** Dropped: shorter than the 40-byte header. */
  rxTooShort: number;
  /** Dropped: version not 6. */
  rxBadVersion: number;
  /** Dropped: payload length beyond the frame. */
  rxBadLength: number;
  /**
   * TCP super-frames above 64 KiB taken as jumbograms (RFC 2675; Linux BIG
   * TCP): Payload Length 0 in a frame the device marked as GSO/GRO.
   */
  rxJumbograms: number;
  /** Dropped: such a super-frame with a malformed or unsupported jumbogram (RFC 2675 §3). */
  rxBadJumbograms: number;
  /** Dropped: multicast or loopback source (RFC 4291 §2.7, §2.5.3). */
  rxBadSource: number;
  /** Dropped: unicast destination not ours (or still tentative). */
  rxNotForUs: number;
  /** Dropped: multicast group we do not listen to. */
  rxNotMember: number;
  /** Dropped: truncated or malformed extension-header chain. */
  rxBadHeader: number;
  /** Dropped with a Parameter Problem (when RFC 4443 §2.4 allowed one): unknown header/option, routing type, incomplete first fragment. */
  rxParameterProblem: number;
  /** Dropped silently by the chain rules (option action 01, No Next Header, action 11 to a group). */
  rxDiscarded: number;
  /** Fragments handed to reassembly. */
  rxFragments: number;
  /** Packets reassembled. */
  rxReassembled: number;
  /** Dropped: a reassembled packet held another Fragment header. */
  rxNestedFragment: number;
  /** Packets delivered to ICMPv6 or a transport. */
  rxDelivered: number;
  /** Packets delivered from the local queue (sent to our own address). */
  rxLocal: number;
  /** Packets sent (fragments count once per fragment in txFragments). */
  txPackets: number;
  /** Fragments sent. */
  txFragments: number;
  /** Dropped: payload above 65,535 bytes. */
  txTooLong: number;
  /** Dropped: larger than the path MTU with `dontFragment`. */
  txTooBig: number;
  /** Dropped: no route (no default router, RFC 5942 §4). */
  txNoRoute: number;
  /** Dropped: no usable source address. */
  txNoSource: number;
  /** Dropped: pool empty. */
  txNoBuffer: number;
  /** Dropped: no headroom for the headers. */
  txNoHeadroom: number;
  /** Dropped by the link or the neighbour cache (full). */
  txLinkDropped: number;
  /** Packets queued for local delivery. */
  txLocal: number;
  /** Dropped: the local queue was full. */
  txLocalDropped: number;
  /** Control messages sent in a buffer from the pool's reserve. */
  txControlReserve: number;
  /**
   * Offload requests (partial checksum, TCP super-segment) done in software:
   * the packet could not leave offloaded now (next hop unresolved, multicast,
   * local, too big for the path) — checksum completed or super-segment cut here.
   */
  txOffloadSoftware: number;
}

/** The `ndp` section of the stack's stats: neighbour discovery, the neighbour cache, addresses. */
export interface NdpSectionStats extends NdpStats {
  /** Neighbour cache counters. */
  neighbours: NeighbourStats;
  /** Address table counters (DAD, SLAAC, lifetimes). */
  addresses: Ipv6AddressTable["stats"];
  /** Path MTU cache counters. */
  pmtu: PmtuCache["stats"];
  /** Reassembly counters. */
  reassembly: Ipv6Reassembler["stats"];
}

/** What the IPv6 layer needs from the link (the `NetworkInterface`). */
export interface Ipv6Link {
  /** Bytes in front of the IPv6 header: device headroom + Ethernet (+ VLAN). */
  readonly linkHeadroom: number;
  /**
   * Transmits an IPv6 packet (`buf` starts with the IPv6 header, no extension
   * headers when offloaded) to `mac`; takes ownership. With
   * `partialChecksumOffset > 0` through the device's transmit offload (the
   * transport header follows the 40-byte header), with `gsoSize > 0` as a TCP
   * super-segment (GSO_TCPV6).
   */
  transmitIpv6(
    buf: PacketBufferLike,
    mac: number,
    partialChecksumOffset?: number,
    gsoSize?: number,
  ): boolean;
  /** Returns a pool buffer. */
  releaseBuffer(buf: PacketBufferLike): void;
  /** Optional: the device's transmit offloads for IPv6 packets (absent = none). */
  readonly txOffloads6?: IpTxOffloads;
  /** Optional (with `txOffloads6.gsoMaxBytes > 0`): a buffer for a TCP super-segment. */
  allocateSegment6?(): PacketBufferLike | null;
}

/** Options of an {@link Ipv6Layer}. */
export interface Ipv6LayerOptions {
  /** Our MAC. */
  mac: number;
  /** The link MTU (≥ 1280). */
  mtu: number;
  /** Static addresses, e.g. `"2001:db8::2/64"`. */
  addresses?: readonly (string | Ipv6Cidr)[];
  /** Form addresses from router advertisements (SLAAC); default true. */
  slaac?: boolean;
  /** Default hop limit until an RA says otherwise; default 64. */
  hopLimit?: number;
  /** Neighbour cache bounds. */
  neighbours?: NeighbourCacheOptions;
  /** Neighbor discovery bounds and behaviour. */
  ndp?: NdpOptions;
  /** Address table bounds, DAD, RFC 7217 secret. */
  addressOptions?: Ipv6AddressOptions;
  /** Path MTU cache bounds. */
  pmtu?: PmtuOptions;
  /** Reassembly bounds (timeout default 60 s). */
  reassembly?: ReassemblyOptions;
  /** ICMPv6 error rate limits. */
  icmp?: IcmpRateLimitOptions;
  /** Randomness in [0, 1) for every timer jitter and nonce (default Math.random). */
  random?: () => number;
  /** Bound of the local delivery queue; default 256. */
  localQueueLength?: number;
  /**
   * A point-to-point IP link without link-layer addresses (a TUN device): NDP
   * messages carry no link-layer address options (RFC 4861 §4.3–4.6: none on
   * links without addresses), nothing is resolved (every packet goes to the
   * other end) and addresses skip DAD, as Linux does on an IFF_NOARP device
   * (addrconf_dad_begin completes at once). Default false.
   */
  pointToPoint?: boolean;
}
