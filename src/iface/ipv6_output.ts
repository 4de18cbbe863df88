/**
 * The output half of the IPv6 layer ({@link Ipv6Output}, owned by
 * `Ipv6Layer`): buffers, transmit offloads, local delivery, the 40-byte
 * header ({@link writeIpv6Header}), fragments for a packet larger than the
 * path MTU (RFC 8200 §4.5, {@link fragmentIpv6}), the router's output hooks
 * and neighbour resolution; NDP and MLD messages.
 *
 * @module
 */

import { TAGGED_TIME_SEED } from "../time/clock.ts";
import { PacketBuffer } from "../buffer/packet_buffer.ts";
import { completePartialChecksum, type Ipv6Words } from "../wire/checksum.ts";
import {
  emitFragmentHeader,
  emitHopByHopRouterAlert,
  IP_PROTO_FRAGMENT,
  IP_PROTO_HOPOPTS,
  IP_PROTO_ICMPV6,
  IPV6_DST_OFFSET,
  IPV6_FRAGMENT_HEADER_LEN,
  IPV6_FRAGMENT_UNIT,
  IPV6_HEADER_LEN,
  IPV6_HOP_LIMIT_OFFSET,
  IPV6_MAX_PAYLOAD_LEN,
  IPV6_NEXT_HEADER_OFFSET,
  IPV6_PAYLOAD_LENGTH_OFFSET,
  IPV6_ROUTER_ALERT_HEADER_LEN,
  IPV6_SRC_OFFSET,
} from "../wire/ipv6.ts";
import { Ipv6Address } from "../wire/ipv6_address.ts";
import { MLD_HOP_LIMIT, type MldRecord, MldReportRepr } from "../wire/mld.ts";
import { NDP_HOP_LIMIT, NdpRepr } from "../wire/ndp.ts";
import { TCP_DATA_OFFSET_BYTE } from "../wire/tcp.ts";
import { write32 } from "../wire/view.ts";
import type { Ipv6Layer } from "./ipv6.ts";
import { offloadMac6, segmentTcp6InSoftware } from "./ipv6_offload.ts";
import type { Ipv6Link, Ipv6Stats } from "./ipv6_types.ts";
import type { LocalDeliveryQueue } from "./local_queue.ts";
import type { BufferPoolLike, IpTxOffloads, Ipv6SendOptions, PacketBufferLike } from "./types.ts";

/** No transmit offloads. */
const NO_TX_OFFLOADS: IpTxOffloads = Object.freeze({ checksum: false, gsoMaxBytes: 0 });

/**
 * Writes a 40-byte IPv6 header (flow label 0).
 *
 * @param b buffer
 * @param at where the header goes
 * @param trafficClass DSCP << 2 | ECN
 * @param payloadLength bytes after the header
 * @param nextHeader Next Header
 * @param hopLimit Hop Limit
 * @param src source
 * @param dst destination
 */
export function writeIpv6Header(
  b: Uint8Array,
  at: number,
  trafficClass: number,
  payloadLength: number,
  nextHeader: number,
  hopLimit: number,
  src: Ipv6Words,
  dst: Ipv6Words,
): void {
  write32(b, at, (6 << 28) | ((trafficClass & 0xff) << 20));
  b[at + IPV6_PAYLOAD_LENGTH_OFFSET] = payloadLength >>> 8;
  b[at + IPV6_PAYLOAD_LENGTH_OFFSET + 1] = payloadLength & 0xff;
  b[at + IPV6_NEXT_HEADER_OFFSET] = nextHeader;
  b[at + IPV6_HOP_LIMIT_OFFSET] = hopLimit;
  write32(b, at + IPV6_SRC_OFFSET, src.w0);
  write32(b, at + IPV6_SRC_OFFSET + 4, src.w1);
  write32(b, at + IPV6_SRC_OFFSET + 8, src.w2);
  write32(b, at + IPV6_SRC_OFFSET + 12, src.w3);
  write32(b, at + IPV6_DST_OFFSET, dst.w0);
  write32(b, at + IPV6_DST_OFFSET + 4, dst.w1);
  write32(b, at + IPV6_DST_OFFSET + 8, dst.w2);
  write32(b, at + IPV6_DST_OFFSET + 12, dst.w3);
}

/**
 * RFC 8200 §4.5: cuts `buf`'s payload into fragments: the unfragmentable part
 * (our 40-byte header) in every one, then a Fragment header and a multiple of
 * 8 data bytes (the last one: the rest), each in a pool buffer handed to
 * `send`. Counts `txFragments`, and `txPackets` once; stops at the first
 * buffer it cannot get (counted). Does not release `buf`.
 *
 * @param pool the buffer pool
 * @param headroom room before the IPv6 header in a pool buffer (link + 40 bytes)
 * @param stats the layer's counters
 * @param buf the payload
 * @param src source
 * @param dst destination
 * @param protocol the payload's Next Header
 * @param hopLimit Hop Limit
 * @param tc traffic class
 * @param mtu the path MTU
 * @param id the packet's identification
 * @param send routes one fragment (ownership taken)
 * @param release returns a fragment not sent
 * @returns false when a fragment was not made or not sent
 */
export function fragmentIpv6(
  pool: BufferPoolLike,
  headroom: number,
  stats: Ipv6Stats,
  buf: PacketBufferLike,
  src: Ipv6Words,
  dst: Ipv6Words,
  protocol: number,
  hopLimit: number,
  tc: number,
  mtu: number,
  id: number,
  send: (frag: PacketBufferLike) => boolean,
  release: (frag: PacketBufferLike) => void,
): boolean {
  const room = headroom + IPV6_FRAGMENT_HEADER_LEN;
  const slotRoom = pool.slotSize - room;
  const maxData = Math.min(mtu - IPV6_HEADER_LEN - IPV6_FRAGMENT_HEADER_LEN, slotRoom) &
    ~(IPV6_FRAGMENT_UNIT - 1);
  const payload = buf.length;
  const from = buf.head;
  let ok = true;
  for (let off = 0; off < payload; off += maxData) {
    const chunk = Math.min(maxData, payload - off);
    const more = off + chunk < payload;
    const frag = pool.alloc(room);
    if (frag === null) {
      stats.txNoBuffer++;
      return false;
    }
    const at = frag.append(chunk);
    frag.bytes.set(buf.bytes.subarray(from + off, from + off + chunk), at);
    const fh = frag.prepend(IPV6_FRAGMENT_HEADER_LEN);
    const ip = frag.prepend(IPV6_HEADER_LEN);
    if (at < 0 || fh < 0 || ip < 0) {
      stats.txNoHeadroom++;
      release(frag);
      return false;
    }
    emitFragmentHeader(frag.bytes, fh, protocol, off, more, id);
    writeIpv6Header(
      frag.bytes,
      ip,
      tc,
      IPV6_FRAGMENT_HEADER_LEN + chunk,
      IP_PROTO_FRAGMENT,
      hopLimit,
      src,
      dst,
    );
    stats.txFragments++;
    if (!send(frag)) ok = false;
  }
  stats.txPackets++;
  return ok;
}

/**
 * The output half of one interface's IPv6 layer ({@link Ipv6Layer}): its
 * buffers (pool, reserve for control traffic, standalone large ones), and
 * the way a packet leaves — transmit offloads (`ipv6_offload.ts`), local
 * delivery to our own addresses, fragmentation above the path MTU (RFC 8200
 * §4.5), the router's output hooks, then the other end of a point-to-point
 * link, a multicast MAC or neighbour resolution (RFC 4861 §7.2.2) — and
 * the NDP and MLD messages neighbour discovery sends.
 */
export class Ipv6Output {
  /** Time of the packet or poll being handled (tagged: see TAGGED_TIME_SEED, src/time/clock.ts). */
  nowMs: number = TAGGED_TIME_SEED;
  /** The hop limit of packets we originate (RA Cur Hop Limit or the default). */
  hopLimit: number;

  readonly #layer: Ipv6Layer;
  readonly #link: Ipv6Link;
  readonly #pool: BufferPoolLike;
  readonly #stats: Ipv6Stats;
  readonly #localQueue: LocalDeliveryQueue;
  /** A point-to-point IP link (see `Ipv6LayerOptions.pointToPoint`). */
  readonly #pointToPoint: boolean;
  readonly #large = new WeakSet<PacketBufferLike>();
  #fragmentId: number;
  /** Options of the segments `segmentTcp6InSoftware` cuts (made once). */
  readonly #segmentOpts: Ipv6SendOptions = { hopLimit: 0, trafficClass: 0, dontFragment: false };

  /**
   * Creates the output half of `layer`.
   *
   * @param layer the IPv6 layer (its stats, addresses, path MTUs, neighbours, router)
   * @param link the interface below
   * @param pool the buffer pool
   * @param localQueue where packets to our own addresses wait for the layer's poll
   * @param pointToPoint a point-to-point IP link (every packet to MAC 0)
   * @param hopLimit the hop limit of packets we originate
   * @param fragmentId the first Fragment header identification (random, RFC 7739 §5)
   */
  constructor(
    layer: Ipv6Layer,
    link: Ipv6Link,
    pool: BufferPoolLike,
    localQueue: LocalDeliveryQueue,
    pointToPoint: boolean,
    hopLimit: number,
    fragmentId: number,
  ) {
    this.nowMs = 0;
    this.#layer = layer;
    this.#link = link;
    this.#pool = pool;
    this.#stats = layer.stats;
    this.#localQueue = localQueue;
    this.#pointToPoint = pointToPoint;
    this.hopLimit = hopLimit;
    this.#fragmentId = fragmentId;
  }

  /** Bytes in front of the transport header in a buffer from {@link allocate}. */
  get headroom(): number {
    return this.#link.linkHeadroom + IPV6_HEADER_LEN;
  }

  // ---- buffers ----

  /**
   * A pool buffer with headroom for the IPv6 and link headers.
   *
   * @returns the buffer, or null when the pool is empty (counted)
   */
  allocate(): PacketBufferLike | null {
    const buf = this.#pool.alloc(this.headroom);
    if (buf === null) this.#stats.txNoBuffer++;
    return buf;
  }

  /**
   * A buffer for our own control traffic (NDP, MLD, ICMPv6): may take the pool's reserve.
   *
   * @returns the buffer, or null (counted)
   */
  allocateControl(): PacketBufferLike | null {
    const pool = this.#pool;
    const headroom = this.headroom + IPV6_ROUTER_ALERT_HEADER_LEN;
    const buf = pool.allocReserved !== undefined
      ? pool.allocReserved(headroom)
      : pool.alloc(headroom);
    if (buf === null) {
      this.#stats.txNoBuffer++;
      return null;
    }
    if (pool.available !== undefined && pool.available < (pool.reserved ?? 0)) {
      this.#stats.txControlReserve++;
    }
    return buf;
  }

  /**
   * A standalone buffer for a payload larger than a pool slot (fragmented on send).
   *
   * @param payloadBytes transport bytes
   * @returns the buffer, or null above 65,535 bytes
   */
  allocateLarge(payloadBytes: number): PacketBufferLike | null {
    if (payloadBytes > IPV6_MAX_PAYLOAD_LEN) {
      this.#stats.txTooLong++;
      return null;
    }
    const buf = new PacketBuffer(new Uint8Array(this.headroom + payloadBytes));
    buf.reset(this.headroom);
    this.#large.add(buf);
    return buf;
  }

  /** The link's transmit offloads for IPv6 packets (none when it has none). */
  get txOffloads(): IpTxOffloads {
    return this.#link.txOffloads6 ?? NO_TX_OFFLOADS;
  }

  /**
   * A buffer for one TCP super-segment of up to `txOffloads.gsoMaxBytes`
   * transport bytes, headroom for the IPv6 and link headers.
   *
   * @returns the buffer, or null without GSO or when none is free
   */
  allocateSegment(): PacketBufferLike | null {
    return this.#link.allocateSegment6?.() ?? null;
  }

  /**
   * Returns a buffer (pool or large).
   *
   * @param buf the buffer
   */
  release(buf: PacketBufferLike): void {
    if (this.#large.has(buf)) this.#large.delete(buf);
    else this.#link.releaseBuffer(buf);
  }

  // ---- sending ----

  /**
   * Sends `buf`'s payload from `src` to `dst` on this interface (see
   * {@link Ipv6Layer.sendRouted6}): offloaded when the device can take it,
   * else completed or cut in software; to our own address through the local
   * queue; fragmented above the path MTU; routed to `hop` or neighbour
   * discovery's next hop.
   *
   * @param src source address
   * @param buf payload (ownership taken)
   * @param dst destination
   * @param protocol Next Header
   * @param opts hop limit, traffic class, dontFragment, offload requests
   * @param hop the neighbour to send to, or null
   * @param from the output that allocated `buf` (its large buffers move here)
   * @returns false when dropped (counted)
   */
  sendRouted6(
    src: Ipv6Address,
    buf: PacketBufferLike,
    dst: Ipv6Address,
    protocol: number,
    opts: Ipv6SendOptions | undefined,
    hop: Ipv6Address | null,
    from: Ipv6Output,
  ): boolean {
    if (from !== this && from.#large.has(buf)) {
      from.#large.delete(buf);
      this.#large.add(buf);
    }
    const stats = this.#stats;
    const layer = this.#layer;
    const payload = buf.length;
    if (payload > IPV6_MAX_PAYLOAD_LEN) {
      stats.txTooLong++;
      this.release(buf);
      return false;
    }
    const hopLimit = opts?.hopLimit ?? this.hopLimit;
    const tc = opts?.trafficClass ?? 0;
    const partial = opts?.partialChecksumOffset ?? 0;
    if (partial > 0) {
      const gsoSize = opts?.gsoSize ?? 0;
      const mac = offloadMac6(layer, this.nowMs, this.#pointToPoint, dst, payload, gsoSize);
      if (mac >= 0) {
        if (!this.#prependHeader(buf, tc, protocol, hopLimit, src, dst)) return false;
        if (this.#link.transmitIpv6(buf, mac, partial, gsoSize)) return true;
        stats.txLinkDropped++;
        return false;
      }
      stats.txOffloadSoftware++;
      if (gsoSize > 0) {
        const headerLength = (buf.bytes[buf.head + TCP_DATA_OFFSET_BYTE] >>> 4) << 2;
        if (payload - headerLength > gsoSize) {
          const segOpts = this.#segmentOpts;
          segOpts.hopLimit = hopLimit;
          segOpts.trafficClass = tc;
          segOpts.dontFragment = opts!.dontFragment;
          return segmentTcp6InSoftware(layer, src, buf, dst, protocol, gsoSize, segOpts);
        }
      }
      completePartialChecksum(buf.bytes, buf.head, payload, partial);
    }
    if (!dst.isMulticast() && layer.addresses.isUsable(dst)) {
      return this.#sendLocal(src, buf, dst, protocol, hopLimit, tc);
    }
    const now = this.nowMs;
    const mtu = dst.isMulticast() ? layer.pmtu.linkMtu : layer.pmtu.pathMtu(now, dst);
    // (The path MTU of this, the egress, interface: its cache learnt the Packet Too Bigs.)
    const large = this.#large.has(buf);
    if (IPV6_HEADER_LEN + payload > mtu || large) {
      if (opts?.dontFragment === true) {
        stats.txTooBig++;
        this.release(buf);
        return false;
      }
      const ok = this.#fragment(src, buf, dst, protocol, hopLimit, tc, mtu, hop);
      this.release(buf);
      return ok;
    }
    if (!this.#prependHeader(buf, tc, protocol, hopLimit, src, dst)) return false;
    return this.#route(buf, dst, -1, hop);
  }

  /**
   * Hands a finished packet to the link toward `mac` (neighbour resolution done).
   *
   * @param buf the packet (ownership taken)
   * @param mac the link-layer destination
   * @returns false when the link dropped it (counted)
   */
  transmit(buf: PacketBufferLike, mac: number): boolean {
    if (this.#link.transmitIpv6(buf, mac)) return true;
    this.#stats.txLinkDropped++;
    return false;
  }

  /**
   * Sends a neighbour discovery message (RFC 4861 §7.1: hop limit 255) in a
   * control buffer, to `mac` when known (≥ 0), else resolved as any packet.
   *
   * @param repr the message
   * @param src source
   * @param dst destination
   * @param mac link-layer destination, or -1
   */
  sendNdp(repr: NdpRepr, src: Ipv6Address, dst: Ipv6Address, mac: number): void {
    const buf = this.allocateControl();
    if (buf === null) return;
    const length = NdpRepr.bufferLength(repr);
    const at = buf.append(length);
    const ip = at < 0 ? -1 : buf.prepend(IPV6_HEADER_LEN);
    if (ip < 0) {
      this.#stats.txNoHeadroom++;
      this.release(buf);
      return;
    }
    NdpRepr.emit(repr, buf.bytes, at, src, dst);
    writeIpv6Header(buf.bytes, ip, 0, length, IP_PROTO_ICMPV6, NDP_HOP_LIMIT, src, dst);
    this.#stats.txPackets++;
    this.#route(buf, dst, mac);
  }

  /**
   * RFC 3810 §5.2: a report to ff02::16, hop limit 1, Router Alert, from our link-local (or ::).
   *
   * @param records the report's multicast address records
   */
  sendMldReport(records: MldRecord[]): void {
    const buf = this.allocateControl();
    if (buf === null) return;
    const report = { records };
    const length = MldReportRepr.bufferLength(report);
    const at = buf.append(length);
    const hbh = at < 0 ? -1 : buf.prepend(IPV6_ROUTER_ALERT_HEADER_LEN);
    const ip = hbh < 0 ? -1 : buf.prepend(IPV6_HEADER_LEN);
    if (ip < 0) {
      this.#stats.txNoHeadroom++;
      this.release(buf);
      return;
    }
    let src = Ipv6Address.UNSPECIFIED;
    for (const e of this.#layer.addresses.entries) {
      if (e.origin === "link-local" && e.usable) src = e.address;
    }
    const dst = Ipv6Address.ALL_MLDV2_ROUTERS;
    MldReportRepr.emit(report, buf.bytes, at, src, dst);
    emitHopByHopRouterAlert(buf.bytes, hbh, IP_PROTO_ICMPV6);
    writeIpv6Header(
      buf.bytes,
      ip,
      0,
      IPV6_ROUTER_ALERT_HEADER_LEN + length,
      IP_PROTO_HOPOPTS,
      MLD_HOP_LIMIT,
      src,
      dst,
    );
    this.#stats.txPackets++;
    this.transmit(buf, dst.multicastMac());
  }

  /**
   * Sends a finished packet (header at `buf.head`) toward `dst`: the other end
   * of a point-to-point link, multicast MAC, `mac`, or resolution of `routed`
   * (the router's next hop) or of neighbour discovery's; a router's output and
   * postrouting hooks first.
   */
  #route(
    buf: PacketBufferLike,
    dst: Ipv6Address,
    mac: number,
    routed: Ipv6Address | null = null,
  ): boolean {
    const layer = this.#layer;
    if (layer.router !== null && !layer.router.localOut6(layer, buf)) {
      this.release(buf);
      return false;
    }
    // A point-to-point IP link: every packet goes to the other end, nothing to resolve.
    if (this.#pointToPoint) return this.transmit(buf, 0);
    if (dst.isMulticast()) return this.transmit(buf, dst.multicastMac());
    if (mac >= 0) return this.transmit(buf, mac);
    const hop = routed ?? layer.ndp.nextHop(this.nowMs, dst);
    if (hop === null) {
      this.#stats.txNoRoute++;
      this.release(buf);
      return false;
    }
    if (layer.neighbours.send(this.nowMs, hop, buf)) return true;
    this.#stats.txLinkDropped++;
    return false;
  }

  /**
   * RFC 8200 §4.5 fragmentation ({@link fragmentIpv6}) with the next
   * identification of this layer (a random start and a counter: RFC 7739 §5
   * asks for unpredictable values); each fragment is routed as `buf` would be.
   */
  #fragment(
    src: Ipv6Address,
    buf: PacketBufferLike,
    dst: Ipv6Address,
    protocol: number,
    hopLimit: number,
    tc: number,
    mtu: number,
    hop: Ipv6Address | null,
  ): boolean {
    const id = this.#fragmentId;
    this.#fragmentId = (id + 1) | 0;
    return fragmentIpv6(
      this.#pool,
      this.headroom,
      this.#stats,
      buf,
      src,
      dst,
      protocol,
      hopLimit,
      tc,
      mtu,
      id,
      (frag) => this.#route(frag, dst, -1, hop),
      (frag) => this.release(frag),
    );
  }

  /** To one of our own addresses: header written, queued for the layer's next poll. */
  #sendLocal(
    src: Ipv6Address,
    buf: PacketBufferLike,
    dst: Ipv6Address,
    protocol: number,
    hopLimit: number,
    tc: number,
  ): boolean {
    const queue = this.#localQueue;
    if (queue.full || this.#large.has(buf)) {
      this.#stats.txLocalDropped++;
      this.release(buf);
      return false;
    }
    if (!this.#prependHeader(buf, tc, protocol, hopLimit, src, dst)) return false;
    this.#stats.txLocal++;
    queue.push(buf);
    return true;
  }

  /**
   * Puts the 40-byte header in front of `buf`'s payload (counted in
   * `txPackets`); false when `buf` has no room for it (counted, released).
   */
  #prependHeader(
    buf: PacketBufferLike,
    tc: number,
    protocol: number,
    hopLimit: number,
    src: Ipv6Address,
    dst: Ipv6Address,
  ): boolean {
    const payload = buf.length;
    const at = buf.prepend(IPV6_HEADER_LEN);
    if (at < 0) {
      this.#stats.txNoHeadroom++;
      this.release(buf);
      return false;
    }
    writeIpv6Header(buf.bytes, at, tc, payload, protocol, hopLimit, src, dst);
    this.#stats.txPackets++;
    return true;
  }
}
