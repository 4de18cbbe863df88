/**
 * The contracts between the network layer and its neighbours: what
 * transports use ({@link IpSender}, {@link IpProtocolHandler}) and the
 * buffer shapes the layer relies on ({@link PacketBufferLike},
 * {@link BufferPoolLike}, structurally satisfied by `PacketBuffer` and
 * `BufferPool` from `src/buffer/`). Header layouts and protocol numbers
 * live in the codecs of `src/wire/`.
 *
 * @module
 */

import type { Ipv6Words } from "../wire/checksum.ts";
import type { Ipv6Address } from "../wire/ipv6_address.ts";

/** A packet buffer: data lives in `bytes[head, tail)` with headroom before `head`. */
export interface PacketBufferLike {
  /** The whole slot. */
  readonly bytes: Uint8Array;
  /** First data byte. */
  head: number;
  /** One past the last data byte. */
  tail: number;
  /** `tail - head`. */
  readonly length: number;
  /** Positions an empty buffer with `headroom` free bytes in front. */
  reset(headroom: number): void;
  /** Grows the data `n` bytes to the front; returns the new head, or -1 without room. */
  prepend(n: number): number;
  /** Grows the data `n` bytes at the end; returns the old tail, or -1 without room. */
  append(n: number): number;
  /** Strips `n` bytes from the front. */
  consume(n: number): void;
  /** The pool the buffer came from (its identity), when it tells: a cheap ownership test. */
  readonly owner?: object | null;
}

/** A pool of {@link PacketBufferLike}s. */
export interface BufferPoolLike {
  /** Size of each buffer's slot in bytes. */
  readonly slotSize: number;
  /** Buffers currently allocated. */
  readonly inUse: number;
  /** A buffer with `headroom` free bytes in front, or null when exhausted. */
  alloc(headroom?: number): PacketBufferLike | null;
  /** Returns a buffer to the pool. */
  free(buf: PacketBufferLike): void;
  /** Optional: number of buffers (the interface sizes its ARP queue bound from it). */
  readonly capacity?: number;
  /** Optional: buffers free now. */
  readonly available?: number;
  /** Optional: buffers only {@link allocReserved} may take (control traffic). */
  readonly reserved?: number;
  /** Optional: like {@link alloc}, but may take a {@link reserved} buffer. */
  allocReserved?(headroom?: number): PacketBufferLike | null;
}

/** Per-datagram output options of {@link IpSender.send}. */
export interface IpSendOptions {
  /** Time to live; default the interface's TTL (64). */
  ttl?: number;
  /** Set the Don't Fragment flag (RFC 791 §3.1); oversized datagrams are then dropped. */
  dontFragment?: boolean;
  /** Type of service / DSCP+ECN byte; default 0. */
  tos?: number;
  /**
   * Transmit checksum offload (only when {@link IpSender.txOffloads} has
   * `checksum`): offset of the transport checksum field from the transport
   * header (TCP 16, UDP 6); the field holds the folded, not complemented,
   * pseudo-header sum of the whole transport segment (Linux
   * CHECKSUM_PARTIAL) and the device — or the network layer, when it cannot
   * — completes it. 0/absent: the checksum is complete.
   */
  partialChecksumOffset?: number;
  /**
   * TCP segmentation offload (only with `partialChecksumOffset` and
   * {@link IpTxOffloads.gsoMaxBytes}): the payload is one TCP super-segment
   * the link cuts into segments of `gsoSize` data bytes (the MSS). 0/absent: none.
   */
  gsoSize?: number;
  /**
   * Our address to send from (int32; one of ours): a connection's or a bound
   * socket's local address, the address a request was sent to. With several
   * interfaces it may belong to another interface than the egress one (RFC
   * 1122 §3.3.4.2: a reply goes from the specific-destination address of the
   * request). 0/absent: the egress interface's address.
   */
  source?: number;
}

/** Transmit offloads of the link below an {@link IpSender}. */
export interface IpTxOffloads {
  /** The link completes transport checksums (send with `partialChecksumOffset`). */
  readonly checksum: boolean;
  /**
   * Largest transport segment (TCP header + data, bytes) one `gsoSize` send
   * may carry (buffers from {@link IpSender.allocateSegment}); 0 = no TCP
   * segmentation offload.
   */
  readonly gsoMaxBytes: number;
}

/** What transports (UDP, TCP, ICMP) use to send IPv4 datagrams. */
export interface IpSender {
  /** A buffer whose head leaves room for the Ethernet and IPv4 headers, or null when the pool is empty. */
  allocate(): PacketBufferLike | null;
  /**
   * Sends the transport payload in `buf[head, tail)` to `dst`. Takes ownership
   * of `buf` (it is freed, now or after ARP resolution). Routes, fragments when
   * needed, queues behind ARP resolution.
   *
   * @returns false when the datagram was dropped (counted)
   */
  send(buf: PacketBufferLike, dst: number, protocol: number, opts?: IpSendOptions): boolean;
  /** Our source address toward `dst`, or 0 when there is no route. */
  sourceAddressFor(dst: number): number;
  /** The IPv4 MTU toward `dst` (TCP MSS = mtu − 40). */
  mtuFor(dst: number): number;
  /** Optional: the link's transmit offloads (absent = none); a stable object. */
  readonly txOffloads?: IpTxOffloads;
  /**
   * Optional (with `txOffloads.gsoMaxBytes > 0`): a buffer for a transport
   * segment of up to `gsoMaxBytes` bytes, headroom as {@link allocate}; null
   * when none is free (counted) — then send ordinary segments.
   */
  allocateSegment?(): PacketBufferLike | null;
}

/** A transport protocol registered with the interface for one IP protocol number. */
export interface IpProtocolHandler {
  /**
   * A datagram for this protocol arrived; the bytes are valid only during the
   * call. `checksumVerified` (optional, default false): the device already
   * vouched for the transport checksum (receive checksum offload, see
   * `rxChecksumTrusted` in src/phy/device.ts) — the handler may skip it.
   * `toBroadcast` (optional, default false): `dst` is a broadcast address — the
   * limited broadcast or the interface's directed broadcast — or a multicast
   * group, which a unicast-only transport such as TCP must not answer (RFC
   * 1122 §4.2.3.10). `ipTos` (optional, default 0): the datagram's TOS byte, whose ECN
   * field (RFC 3168 §5) TCP reads.
   */
  onPacket(
    nowMs: number,
    src: number,
    dst: number,
    bytes: Uint8Array,
    offset: number,
    length: number,
    checksumVerified?: boolean,
    toBroadcast?: boolean,
    ipTos?: number,
  ): void;
  /**
   * An ICMP error concerning a datagram this protocol sent (RFC 1122 §3.2.2.1):
   * `quoted` holds the original IPv4 header and at least 8 bytes after it.
   * Also called with type 3 code 1 (host unreachable) when ARP resolution of
   * the next hop failed for a datagram we queued.
   */
  onIcmpError?(
    nowMs: number,
    type: number,
    code: number,
    nextHopMtu: number,
    quoted: Uint8Array,
    quotedOffset: number,
    quotedLength: number,
  ): void;
}

// ---- IPv6 (issue 18): the contract TCP and UDP use next ----
//
// Addresses are `Ipv6Address` objects (four int32 words, src/wire/ipv6_address.ts);
// the layer hands handlers the same objects for packets of one flow (no allocation per
// packet), so a transport may keep them. Transport checksums use the IPv6 pseudo-header
// (RFC 8200 §8.1): `ipv6PseudoHeaderSum(src, dst, protocol, length)` from
// src/wire/checksum.ts, and UDP checksums are mandatory (a zero one is dropped). TCP's MSS
// is `pathMtu(dst) − 60` (RFC 8200 §8.3; 40 IPv6 + 20 TCP), re-read when a Packet Too Big
// arrives (`onIcmpv6Error` type 2).

/** Per-packet output options of {@link Ipv6Sender.send6}. */
export interface Ipv6SendOptions {
  /** Hop limit; default the router-advertised Cur Hop Limit or 64. */
  hopLimit?: number;
  /** Traffic class (DSCP << 2 | ECN); default 0. */
  trafficClass?: number;
  /** Source address (one of ours); default RFC 6724 selection for the destination. */
  source?: Ipv6Address;
  /**
   * Do not fragment at the source: a packet larger than the path MTU is
   * dropped (counted) instead (TCP, which sizes segments by `pathMtu`).
   */
  dontFragment?: boolean;
  /**
   * Transmit checksum offload, as {@link IpSendOptions.partialChecksumOffset}:
   * the field holds the folded IPv6 pseudo-header sum (RFC 8200 §8.1, with the
   * upper-layer length of the whole segment, as Linux's CHECKSUM_PARTIAL) and
   * the device — or the IPv6 layer, when the packet cannot leave offloaded —
   * completes it. Only when {@link Ipv6Sender.txOffloads} has `checksum`.
   */
  partialChecksumOffset?: number;
  /** TCP segmentation offload, as {@link IpSendOptions.gsoSize} (GSO_TCPV6). */
  gsoSize?: number;
}

/** What transports use to send IPv6 packets (implemented by `Ipv6Layer`). */
export interface Ipv6Sender {
  /** A buffer whose head leaves room for the IPv6 and link headers, or null when the pool is empty. */
  allocate(): PacketBufferLike | null;
  /**
   * Sends the transport payload in `buf[head, tail)` to `dst` (ownership
   * taken): source selection, next hop (on-link, redirect, default router),
   * neighbour resolution, fragmentation with a Fragment header when larger
   * than the path MTU (RFC 8200 §5).
   *
   * @returns false when dropped (counted)
   */
  send6(
    buf: PacketBufferLike,
    dst: Ipv6Address,
    protocol: number,
    opts?: Ipv6SendOptions,
  ): boolean;
  /** Our source address toward `dst` (RFC 6724), or null when we have none usable. */
  sourceAddressFor6(
    dst: Ipv6Address,
  ): Ipv6Address | null;
  /** The path MTU toward `dst` (RFC 8201; ≥ 1280). */
  pathMtu(dst: Ipv6Words): number;
  /** Optional: the link's transmit offloads for IPv6 packets (absent = none). */
  readonly txOffloads?: IpTxOffloads;
  /**
   * Optional (with `txOffloads.gsoMaxBytes > 0`): a buffer for a TCP
   * super-segment of up to `gsoMaxBytes`, headroom as {@link allocate}; null
   * when none is free.
   */
  allocateSegment?(): PacketBufferLike | null;
}

/** A transport registered with the IPv6 layer for one Next Header value. */
export interface Ipv6ProtocolHandler {
  /**
   * A packet for this protocol arrived (extension headers processed, fragments
   * reassembled); bytes valid during the call only. `toMulticast`: the
   * destination was a multicast group (TCP must not answer).
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
  ): void;
  /**
   * An ICMPv6 error about a packet this protocol sent (RFC 4443 §3):
   * `parameter` is the MTU of a Packet Too Big (type 2; the path MTU cache is
   * already updated) or the pointer of a Parameter Problem; `quoted` holds the
   * original IPv6 packet (as much as fitted). Also called with type 1 code 3
   * (address unreachable) when neighbour resolution failed for a queued packet.
   */
  onIcmpv6Error?(
    nowMs: number,
    type: number,
    code: number,
    parameter: number,
    quoted: Uint8Array,
    quotedOffset: number,
    quotedLength: number,
  ): void;
}
