/**
 * {@link Ipv6Router}: the IPv6 side of a {@link Router} — an IPv6 routing
 * table across the interfaces (longest prefix, then the lowest metric; the
 * connected prefixes of their static addresses and the routes given), the
 * output of packets the host originates by that table, and forwarding (RFC
 * 8200, RFC 4443) with `forwarding: true`:
 *
 * - never forwarded (`forward6.ts`): unspecified, loopback or link-local
 *   source or destination (RFC 4291 §2.5.2, §2.5.3, §2.5.6), multicast;
 * - the hop limit is decremented (no header checksum, RFC 8200 §3); one that
 *   would reach 0 gets ICMPv6 Time Exceeded, code 0 (RFC 4443 §3.3);
 * - no route: Destination Unreachable, code 0 (RFC 4443 §3.1);
 * - a packet larger than the next link's MTU gets Packet Too Big with that
 *   MTU (RFC 4443 §3.2): a router never fragments IPv6 (RFC 8200 §5);
 * - the hooks (`hooks.ts`) see IPv6 packets at all five points too
 *   (`HookPacket.version` is 6).
 *
 * Like IPv4's forwarding it transmits in place from the receive buffer when
 * the next hop's link-layer address is known (the neighbour cache's NUD runs
 * as for our own packets) and both links carry plain Ethernet, else copies
 * once into a pool buffer for the neighbour cache to resolve.
 *
 * @module
 */

import { ETHERNET_HEADER_LEN, ETHERNET_MIN_FRAME_LEN } from "../wire/ethernet.ts";
import {
  ICMPV6_DEST_UNREACHABLE,
  ICMPV6_PACKET_TOO_BIG,
  ICMPV6_TIME_EXCEEDED,
  ICMPV6_TIME_EXCEEDED_HOP_LIMIT,
  ICMPV6_UNREACH_NO_ROUTE,
} from "../wire/icmpv6.ts";
import {
  IPV6_DST_OFFSET,
  IPV6_HEADER_LEN,
  IPV6_HOP_LIMIT_OFFSET,
  IPV6_NEXT_HEADER_OFFSET,
  IPV6_PAYLOAD_LENGTH_OFFSET,
  IPV6_SRC_OFFSET,
} from "../wire/ipv6.ts";
import { TCP_DATA_OFFSET_BYTE, TCP_FLAGS_OFFSET, TCP_SEQ_OFFSET } from "../wire/tcp.ts";
import { IP_PROTO_TCP } from "../wire/ipv4.ts";
import { Ipv6Address, Ipv6Cidr } from "../wire/ipv6_address.ts";
import type { Ipv6Words } from "../wire/checksum.ts";
import { readI32, write16 } from "../wire/view.ts";
import type { HookTable } from "./hooks.ts";
import type { NetworkInterface } from "./interface.ts";
import { type Ipv6Layer, type Ipv6RouterPort, writeTcp6Segment } from "./ipv6.ts";
import { ROUTER_CONSUMED, ROUTER_CONTINUE, ROUTER_LOCAL } from "./ipv4.ts";
import {
  FORWARD6_BAD_DESTINATION,
  FORWARD6_BAD_SOURCE,
  FORWARD6_LINK_LOCAL,
  FORWARD6_OK,
  forward6Reason,
  type Forward6Stats,
  newForward6Stats,
} from "./forward6.ts";
import {
  copyForwarded,
  countInPlace,
  countLinkSend,
  plainEthernetLinks,
  readdressFrame,
} from "./forward.ts";
import type { BufferPoolLike, Ipv6SendOptions, PacketBufferLike } from "./types.ts";

export type { Forward6Stats } from "./forward6.ts";

/** Largest number of IPv6 routes in a router's table. */
export const ROUTER6_MAX_ROUTES = 1024;
/** Bits in a word of an address. */
const WORD_BITS = 32;

/** An IPv6 route of a router's table given by the user. */
export interface RouterRoute6Options {
  /** Destination network, e.g. `"2001:db8:c::/48"` or `"::/0"`. */
  destination: string;
  /** Next hop; omit for on-link. A link-local one needs {@link interface}. */
  gateway?: string | null;
  /** Index of the interface (default: the one whose prefix holds the gateway). */
  interface?: number;
  /** Lower wins between routes of the same prefix (default 0). */
  metric?: number;
}

/** One route of the IPv6 table, as {@link Ipv6Router.routes} lists it. */
export interface RouterRoute6Info {
  /** Destination network. */
  destination: string;
  /** Next hop, or null on-link. */
  gateway: string | null;
  /** Interface index. */
  interface: number;
  /** Metric. */
  metric: number;
}

/** The bits of a `prefixLength`-bit prefix that fall in the word starting at bit `from`. */
function wordMask(prefixLength: number, from: number): number {
  const bits = prefixLength - from;
  if (bits <= 0) return 0;
  if (bits >= WORD_BITS) return -1;
  return (-1 << (WORD_BITS - bits)) | 0;
}

/** One interface's IPv6 layer as the router sees it (its index is its position). */
class Ipv6Port implements Ipv6RouterPort {
  readonly #router: Ipv6Router;
  readonly #index: number;
  constructor(router: Ipv6Router, index: number) {
    this.#router = router;
    this.#index = index;
  }
  receive6(nowMs: number, bytes: Uint8Array, offset: number, length: number, total: number) {
    return this.#router.receive6(this.#index, nowMs, bytes, offset, length, total);
  }
  output6(
    from: Ipv6Layer,
    src: Ipv6Address,
    buf: PacketBufferLike,
    dst: Ipv6Address,
    protocol: number,
    opts?: Ipv6SendOptions,
  ): boolean {
    return this.#router.output6(from, src, buf, dst, protocol, opts);
  }
  localOut6(_layer: Ipv6Layer, buf: PacketBufferLike): boolean {
    return this.#router.localOut6(this.#index, buf);
  }
  sourceFor6(dst: Ipv6Address): Ipv6Address | null {
    return this.#router.sourceFor6(dst);
  }
  pathMtu6(dst: Ipv6Words): number {
    return this.#router.pathMtu6(dst);
  }
}

/** A route row before sorting. */
interface Row {
  cidr: Ipv6Cidr;
  gateway: Ipv6Address | null;
  iface: number;
  metric: number;
}

/**
 * The IPv6 routing table, output and forwarding of a {@link Router} (see the
 * module documentation). The router makes one when an interface has IPv6.
 *
 * @example
 * ```ts
 * import { Stack } from "../stack.ts";
 * import { MemoryLink } from "../phy/memory_link.ts";
 * import { Ipv6Address } from "../wire/ipv6_address.ts";
 * const [a] = MemoryLink.pair();
 * const [b] = MemoryLink.pair();
 * const s = new Stack({
 *   interfaces: [
 *     { device: a, ipv4: "198.51.100.1/24", ipv6: "2001:db8:a::1/64" },
 *     { device: b, ipv4: "203.0.113.1/24", ipv6: "2001:db8:b::1/64" },
 *   ],
 *   forwarding: true,
 * });
 * const r6 = s.router!.ipv6!;
 * console.assert(r6.interfaceFor6(Ipv6Address.parse("2001:db8:b::9")) === s.interfaces[1]);
 * await s.close();
 * ```
 */
export class Ipv6Router {
  /** Forwarding counters. */
  readonly stats: Forward6Stats = newForward6Stats();

  readonly #interfaces: readonly NetworkInterface[];
  readonly #hooks: HookTable;
  readonly #forwarding: () => boolean;
  readonly #pool: BufferPoolLike;
  readonly #metrics: readonly number[];
  readonly #extra: readonly RouterRoute6Options[];
  readonly #plainEthernet: boolean[];
  // The table: 4 words of network and mask per row, sorted by prefix length (longest first),
  // then metric.
  #nets = new Int32Array(0);
  #masks = new Int32Array(0);
  #rows: Row[] = [];
  /** The next hop's words while forwarding (filled in place: no allocation per packet). */
  readonly #hop = { w0: 0, w1: 0, w2: 0, w3: 0 };

  /**
   * Attaches to the IPv6 layers of `interfaces` (those with one).
   *
   * @param interfaces the router's interfaces, in order
   * @param hooks the router's hooks
   * @param forwarding tells whether forwarding is on (the router's flag)
   * @param metrics per interface, the metric of its connected routes
   * @param routes extra IPv6 routes
   * @throws {TypeError} on a bad route
   */
  constructor(
    interfaces: readonly NetworkInterface[],
    hooks: HookTable,
    forwarding: () => boolean,
    metrics: readonly number[],
    routes: readonly RouterRoute6Options[] = [],
  ) {
    this.#interfaces = interfaces;
    this.#hooks = hooks;
    this.#forwarding = forwarding;
    this.#pool = interfaces[0].pool;
    this.#metrics = metrics;
    this.#extra = routes;
    this.#plainEthernet = plainEthernetLinks(interfaces);
    this.rebuildRoutes();
    interfaces.forEach((iface, n) => {
      if (iface.ipv6 === null) return;
      iface.ipv6.router = new Ipv6Port(this, n);
      // RFC 4861 §4.4: a router's advertisements carry R.
      iface.ipv6.ndp.advertiseRouter = forwarding();
    });
  }

  /**
   * Rebuilds the table from the interfaces' static addresses (connected
   * prefixes) and the extra routes.
   *
   * @throws {TypeError} on an extra route without a resolvable interface
   */
  rebuildRoutes(): void {
    const rows: Row[] = [];
    this.#interfaces.forEach((iface, n) => {
      if (iface.ipv6 === null) return;
      for (const a of iface.ipv6.staticAddresses) {
        rows.push({
          cidr: new Ipv6Cidr(a.network, a.prefixLength),
          gateway: null,
          iface: n,
          metric: this.#metrics[n],
        });
      }
    });
    for (const r of this.#extra) {
      const parsed = Ipv6Cidr.parse(r.destination);
      const cidr = new Ipv6Cidr(parsed.network, parsed.prefixLength);
      const gw = r.gateway === undefined || r.gateway === null
        ? null
        : Ipv6Address.parse(r.gateway);
      let iface = r.interface ?? -1;
      if (iface < 0 && gw !== null && !gw.isLinkLocal()) {
        iface = this.#interfaces.findIndex((i) =>
          i.ipv6 !== null && i.ipv6.staticAddresses.some((a) => a.contains(gw))
        );
      }
      if (iface < 0 || iface >= this.#interfaces.length || this.#interfaces[iface].ipv6 === null) {
        throw new TypeError(
          `route ${r.destination}: name its interface (one with IPv6), or a gateway in one interface's prefix`,
        );
      }
      rows.push({ cidr, gateway: gw, iface, metric: r.metric ?? 0 });
    }
    if (rows.length > ROUTER6_MAX_ROUTES) {
      throw new TypeError(`a router holds at most ${ROUTER6_MAX_ROUTES} IPv6 routes`);
    }
    rows.sort((a, b) => b.cidr.prefixLength - a.cidr.prefixLength || a.metric - b.metric);
    const nets = new Int32Array(rows.length * 4);
    const masks = new Int32Array(rows.length * 4);
    rows.forEach((r, i) => {
      const a = r.cidr.network;
      const len = r.cidr.prefixLength;
      const words = [a.w0, a.w1, a.w2, a.w3];
      for (let k = 0; k < 4; k++) {
        masks[i * 4 + k] = wordMask(len, k * WORD_BITS);
        nets[i * 4 + k] = words[k] & masks[i * 4 + k];
      }
    });
    this.#rows = rows;
    this.#nets = nets;
    this.#masks = masks;
  }

  /**
   * Longest-prefix match, then lowest metric.
   *
   * @param dst destination words
   * @returns the row, or -1
   */
  lookup(dst: Ipv6Words): number {
    return this.#lookupWords(dst.w0, dst.w1, dst.w2, dst.w3);
  }

  /**
   * The interface a packet to `dst` leaves on.
   *
   * @param dst destination
   * @returns the interface, or null without a route
   */
  interfaceFor6(dst: Ipv6Words): NetworkInterface | null {
    const r = this.lookup(dst);
    return r < 0 ? null : this.#interfaces[this.#rows[r].iface];
  }

  /**
   * The table.
   *
   * @returns the routes, best first (allocates)
   */
  routes(): RouterRoute6Info[] {
    return this.#rows.map((r) => ({
      destination: r.cidr.toString(),
      gateway: r.gateway === null ? null : r.gateway.toString(),
      interface: r.iface,
      metric: r.metric,
    }));
  }

  // ---- the ports' work ----

  /**
   * @internal {@link Ipv6RouterPort.receive6} of interface `n`.
   *
   * @returns a ROUTER_* verdict of `ipv4.ts`
   */
  receive6(
    n: number,
    nowMs: number,
    bytes: Uint8Array,
    offset: number,
    length: number,
    total: number,
  ): number {
    const hooks = this.#hooks;
    if (!hooks.run("prerouting", bytes, offset, total, n, -1)) return ROUTER_CONSUMED;
    const dstAt = offset + IPV6_DST_OFFSET;
    const owner = this.#ownerAt(n, bytes, dstAt);
    if (owner === OWNER_USABLE) {
      return hooks.run("input", bytes, offset, total, n, -1) ? ROUTER_LOCAL : ROUTER_CONSUMED;
    }
    // Not forwarded: off, or an address of ours still tentative (the layer drops it).
    if (owner === OWNER_TENTATIVE || !this.#forwarding()) return ROUTER_CONTINUE;
    this.#forward6(n, nowMs, bytes, offset, length, total);
    return ROUTER_CONSUMED;
  }

  /**
   * @internal {@link Ipv6RouterPort.output6}: a packet we originate to a
   * unicast, not link-local `dst` leaves by the table's interface; to an
   * address of ours it loops back on its interface; without a route, by
   * neighbour discovery on `from` (a default router it learnt, RFC 4861 §5.2).
   *
   * @returns false when dropped (counted)
   */
  output6(
    from: Ipv6Layer,
    src: Ipv6Address,
    buf: PacketBufferLike,
    dst: Ipv6Address,
    protocol: number,
    opts?: Ipv6SendOptions,
  ): boolean {
    const ifs = this.#interfaces;
    for (let i = 0; i < ifs.length; i++) {
      const l = ifs[i].ipv6;
      if (l !== null && l.addresses.find(dst)?.usable === true) {
        return l.sendRouted6(src, buf, dst, protocol, opts, null, from);
      }
    }
    const r = this.#lookupWords(dst.w0, dst.w1, dst.w2, dst.w3);
    if (r < 0) return from.sendRouted6(src, buf, dst, protocol, opts, null, from);
    const row = this.#rows[r];
    return ifs[row.iface].ipv6!.sendRouted6(
      src,
      buf,
      dst,
      protocol,
      opts,
      row.gateway ?? dst,
      from,
    );
  }

  /**
   * @internal {@link Ipv6RouterPort.localOut6}: output and postrouting hooks
   * for a packet we originate leaving on interface `n`.
   *
   * @returns false when a hook dropped it
   */
  localOut6(n: number, buf: PacketBufferLike): boolean {
    const hooks = this.#hooks;
    return hooks.run("output", buf.bytes, buf.head, buf.length, -1, n) &&
      hooks.run("postrouting", buf.bytes, buf.head, buf.length, -1, n);
  }

  /**
   * @internal Our source toward `dst` (RFC 6724) among the egress
   * interface's addresses; `dst` itself when it is ours.
   *
   * @returns the address or null
   */
  sourceFor6(dst: Ipv6Address): Ipv6Address | null {
    const ifs = this.#interfaces;
    for (const i of ifs) {
      if (i.ipv6 !== null && i.ipv6.addresses.find(dst)?.usable === true) return dst;
    }
    const layer = this.#egressLayer(dst.w0, dst.w1, dst.w2, dst.w3);
    return layer?.addresses.selectSource(dst) ?? null;
  }

  /**
   * @internal The path MTU toward `dst` by the egress interface's cache.
   *
   * @returns bytes, ≥ 1280
   */
  pathMtu6(dst: Ipv6Words): number {
    const layer = this.#egressLayer(dst.w0, dst.w1, dst.w2, dst.w3);
    return layer === null ? 1280 : layer.ownPathMtu(dst);
  }

  /** The egress interface's layer by the table, else the first with IPv6. */
  #egressLayer(w0: number, w1: number, w2: number, w3: number): Ipv6Layer | null {
    const r = this.#lookupWords(w0, w1, w2, w3);
    if (r >= 0) return this.#interfaces[this.#rows[r].iface].ipv6;
    for (const i of this.#interfaces) if (i.ipv6 !== null) return i.ipv6;
    return null;
  }

  #lookupWords(w0: number, w1: number, w2: number, w3: number): number {
    const nets = this.#nets;
    const masks = this.#masks;
    for (let i = 0, k = 0; k < nets.length; i++, k += 4) {
      if (
        (w0 & masks[k]) === nets[k] && (w1 & masks[k + 1]) === nets[k + 1] &&
        (w2 & masks[k + 2]) === nets[k + 2] && (w3 & masks[k + 3]) === nets[k + 3]
      ) return i;
    }
    return -1;
  }

  /**
   * Whether the address at `at` is ours: a usable address of any interface
   * (the weak host model, as Linux; a link-local one only of the ingress
   * interface, RFC 4291 §2.5.6), one still tentative, or none.
   */
  #ownerAt(n: number, bytes: Uint8Array, at: number): number {
    const linkLocal = bytes[at] === 0xfe && (bytes[at + 1] & 0xc0) === 0x80;
    const ifs = this.#interfaces;
    for (let i = 0; i < ifs.length; i++) {
      const l = ifs[i].ipv6;
      if (l === null || (linkLocal && i !== n)) continue;
      const entries = l.addresses.entries;
      for (let k = 0; k < entries.length; k++) {
        const e = entries[k];
        if (e.address.equalsAt(bytes, at)) return e.usable ? OWNER_USABLE : OWNER_TENTATIVE;
      }
    }
    return OWNER_NONE;
  }

  /** RFC 8200, RFC 4443: forwards a packet that arrived on interface `n`. */
  #forward6(
    n: number,
    nowMs: number,
    bytes: Uint8Array,
    offset: number,
    length: number,
    total: number,
  ): void {
    const stats = this.stats;
    const ingress = this.#interfaces[n].ipv6!;
    const reason = forward6Reason(bytes, offset);
    if (reason !== FORWARD6_OK) {
      stats.dropped++;
      if (reason === FORWARD6_BAD_SOURCE) stats.badSource++;
      else if (reason === FORWARD6_BAD_DESTINATION) stats.badDestination++;
      else if (reason === FORWARD6_LINK_LOCAL) stats.linkLocal++;
      else stats.multicast++;
      return;
    }
    // RFC 8200 §3, RFC 4443 §3.3: a hop limit that would reach 0 ends here, Time Exceeded.
    if (bytes[offset + IPV6_HOP_LIMIT_OFFSET] <= 1) {
      stats.hopLimitExceeded++;
      stats.dropped++;
      ingress.icmp.sendError(
        nowMs,
        ICMPV6_TIME_EXCEEDED,
        ICMPV6_TIME_EXCEEDED_HOP_LIMIT,
        0,
        bytes,
        offset,
        total,
      );
      return;
    }
    const dstAt = offset + IPV6_DST_OFFSET;
    const hop = this.#hop;
    hop.w0 = readI32(bytes, dstAt);
    hop.w1 = readI32(bytes, dstAt + 4);
    hop.w2 = readI32(bytes, dstAt + 8);
    hop.w3 = readI32(bytes, dstAt + 12);
    const r = this.#lookupWords(hop.w0, hop.w1, hop.w2, hop.w3);
    if (r < 0) {
      // RFC 4443 §3.1: Destination Unreachable, code 0 (no route to destination).
      stats.noRoute++;
      stats.dropped++;
      ingress.icmp.sendError(
        nowMs,
        ICMPV6_DEST_UNREACHABLE,
        ICMPV6_UNREACH_NO_ROUTE,
        0,
        bytes,
        offset,
        total,
      );
      return;
    }
    const row = this.#rows[r];
    const e = row.iface;
    const egressIface = this.#interfaces[e];
    const egress = egressIface.ipv6!;
    const mtu = egress.pmtu.linkMtu;
    // A TCP super-frame of the ingress device's GRO (its segments each fit) is cut here.
    const gsoSize = total > mtu ? this.#superFrameGsoSize(n, bytes, offset, total, mtu) : 0;
    if (total > mtu && gsoSize === 0) {
      // RFC 8200 §5, RFC 4443 §3.2: never fragmented on the way; the source learns the MTU.
      stats.tooBig++;
      stats.dropped++;
      ingress.icmp.sendError(nowMs, ICMPV6_PACKET_TOO_BIG, 0, mtu, bytes, offset, total);
      return;
    }
    // Back out of its own link: forwarded (the Redirect RFC 4861 §8.2 asks for is not sent).
    if (e === n) stats.sameInterface++;
    bytes[offset + IPV6_HOP_LIMIT_OFFSET]--;
    const hooks = this.#hooks;
    if (
      !hooks.run("forward", bytes, offset, total, n, e) ||
      !hooks.run("postrouting", bytes, offset, total, n, e)
    ) {
      stats.hookDropped++;
      stats.dropped++;
      return;
    }
    const gw = row.gateway;
    if (gw !== null) {
      hop.w0 = gw.w0;
      hop.w1 = gw.w1;
      hop.w2 = gw.w2;
      hop.w3 = gw.w3;
    }
    if (gsoSize > 0) {
      this.#segment6(nowMs, egressIface, bytes, offset, total, gsoSize, gw);
      return;
    }
    if (this.#plainEthernet[e] && this.#plainEthernet[n]) {
      const frame = Math.max(ETHERNET_HEADER_LEN + total, ETHERNET_MIN_FRAME_LEN);
      const mac = frame <= ETHERNET_HEADER_LEN + length && offset >= ETHERNET_HEADER_LEN
        ? egress.neighbours.lookup(nowMs, hop)
        : -1;
      if (mac >= 0) {
        // Zero copy: the Ethernet header in front of the packet gets the new addresses.
        const at = readdressFrame(bytes, offset, mac, egressIface);
        countInPlace(egressIface, stats, egressIface.device.transmit(bytes, at, frame));
        return;
      }
    }
    // One copy: the packet waits for neighbour resolution or needs another link header.
    const buf = copyForwarded(this.#pool, stats, egressIface.linkHeadroom, bytes, offset, total);
    if (buf === null) return;
    const next = gw ?? Ipv6Address.fromBytes(bytes, dstAt);
    countLinkSend(stats, egress.neighbours.send(nowMs, next, buf));
  }

  /**
   * The segment size of a TCP super-frame that arrived on interface `n` (the device's
   * `rxInfo`: GRO or a peer's GSO) whose segments each fit `mtu`, else 0. Only TCP right
   * after the fixed header: a super-frame is what GRO made of one flow's segments.
   */
  #superFrameGsoSize(
    n: number,
    bytes: Uint8Array,
    offset: number,
    total: number,
    mtu: number,
  ): number {
    const info = this.#interfaces[n].device.rxInfo;
    if (info === undefined || info.gsoSize <= 0) return 0;
    if (bytes[offset + IPV6_NEXT_HEADER_OFFSET] !== IP_PROTO_TCP) return 0;
    const l4 = offset + IPV6_HEADER_LEN;
    if (total < IPV6_HEADER_LEN + TCP_DATA_OFFSET_BYTE + 1) return 0;
    const headerLength = (bytes[l4 + TCP_DATA_OFFSET_BYTE] >>> 4) << 2;
    if (IPV6_HEADER_LEN + headerLength + info.gsoSize > mtu) return 0;
    return total > IPV6_HEADER_LEN + headerLength ? info.gsoSize : 0;
  }

  /**
   * Cuts a forwarded TCP super-frame (hop limit already decremented) into packets of
   * `gsoSize` data bytes in pool buffers, as Linux's tcp_gso_segment does: the same
   * IPv6 and TCP headers, the sequence number advanced, FIN/PSH only on the last and
   * CWR only on the first, the checksum computed in full over the RFC 8200 §8.1
   * pseudo-header; each sent to the next hop `gw` (or the destination).
   */
  #segment6(
    nowMs: number,
    egressIface: NetworkInterface,
    bytes: Uint8Array,
    offset: number,
    total: number,
    gsoSize: number,
    gw: Ipv6Address | null,
  ): void {
    const stats = this.stats;
    const egress = egressIface.ipv6!;
    const l4 = offset + IPV6_HEADER_LEN;
    const headerLength = (bytes[l4 + TCP_DATA_OFFSET_BYTE] >>> 4) << 2;
    const dataLength = total - IPV6_HEADER_LEN - headerLength;
    const seq = readI32(bytes, l4 + TCP_SEQ_OFFSET);
    const flags = bytes[l4 + TCP_FLAGS_OFFSET];
    const src = Ipv6Address.fromBytes(bytes, offset + IPV6_SRC_OFFSET);
    const dst = Ipv6Address.fromBytes(bytes, offset + IPV6_DST_OFFSET);
    const next = gw ?? dst;
    stats.superFramesSegmented++;
    for (let off = 0; off < dataLength; off += gsoSize) {
      const n = Math.min(gsoSize, dataLength - off);
      const length = IPV6_HEADER_LEN + headerLength + n;
      const buf = this.#pool.alloc(egressIface.linkHeadroom);
      const at = buf === null ? -1 : buf.append(length);
      if (buf === null || at < 0) {
        if (buf !== null) this.#pool.free(buf);
        stats.noBuffer++;
        stats.dropped++;
        return;
      }
      const b = buf.bytes;
      b.set(bytes.subarray(offset, l4), at);
      write16(b, at + IPV6_PAYLOAD_LENGTH_OFFSET, headerLength + n);
      const t = at + IPV6_HEADER_LEN;
      writeTcp6Segment(b, t, bytes, l4, headerLength, dataLength, off, n, seq, flags, src, dst);
      stats.copied++;
      countLinkSend(stats, egress.neighbours.send(nowMs, next, buf));
    }
  }
}

/** {@link Ipv6Router} `#ownerAt`: not ours. */
const OWNER_NONE = 0;
/** Ours and usable. */
const OWNER_USABLE = 1;
/** Ours but tentative (duplicate address detection running) or duplicate. */
const OWNER_TENTATIVE = 2;
