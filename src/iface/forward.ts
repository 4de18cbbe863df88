/**
 * The per-datagram rules of forwarding (RFC 1812) used by `router.ts`: which
 * datagrams a router must not forward (§5.3.7 martians, §4.2.2.11 and RFC
 * 2644 directed broadcasts, RFC 3927 §7 link-local, multicast without
 * multicast routing), the TTL decrement with an incremental header checksum
 * update (§5.3.1, RFC 1624), the fragmentation of a datagram larger than the
 * egress MTU (§5.2.6, RFC 791 §3.2), the counters, and the hand-off of a
 * forwarded datagram both routers (`router.ts`, `router6.ts`) share: from
 * the receive buffer (zero copy) or copied once into a pool buffer.
 *
 * @module
 */

import { readI32 } from "../wire/view.ts";
import { internetChecksum, updateChecksum16 } from "../wire/checksum.ts";
import {
  IPV4_CHECKSUM_OFFSET,
  IPV4_FLAG_DF,
  IPV4_FLAG_MF,
  IPV4_FLAGS_FRAGMENT_OFFSET,
  IPV4_FRAGMENT_OFFSET_MASK,
  IPV4_FRAGMENT_UNIT,
  IPV4_HEADER_LEN,
  IPV4_TOTAL_LENGTH_OFFSET,
} from "../wire/ipv4.ts";
import { writeMac } from "../wire/address.ts";
import { ETHERNET_HEADER_LEN } from "../wire/ethernet.ts";
import type { NetworkInterface } from "./interface.ts";
import type { BufferPoolLike, PacketBufferLike } from "./types.ts";

/** An IPv4 option's copied flag: it goes into every fragment (RFC 791 §3.1). */
const OPTION_COPIED = 0x80;
/** End of Option List (RFC 791 §3.1). */
const OPTION_END = 0;
/** No Operation (RFC 791 §3.1). */
const OPTION_NOP = 1;

/** ICMP destination unreachable (RFC 792). */
export const FORWARD_ICMP_DEST_UNREACHABLE = 3;
/** Code: network unreachable (RFC 1812 §5.2.7.1). */
export const FORWARD_ICMP_NET_UNREACHABLE = 0;
/** Code: fragmentation needed and DF set (RFC 1191 §4). */
export const FORWARD_ICMP_FRAG_NEEDED = 4;
/** ICMP time exceeded (RFC 792). */
export const FORWARD_ICMP_TIME_EXCEEDED = 11;
/** Code: time to live exceeded in transit. */
export const FORWARD_ICMP_TTL_EXCEEDED = 0;

/** {@link martianReason}: forward it. */
export const MARTIAN_NONE = 0;
/** {@link martianReason}: bad source (0/8, 127/8, class E, one of ours). */
export const MARTIAN_SOURCE = 1;
/** {@link martianReason}: bad destination (0/8, 127/8, class E). */
export const MARTIAN_DESTINATION = 2;
/** {@link martianReason}: link-local source or destination (169.254/16). */
export const MARTIAN_LINK_LOCAL = 3;
/** {@link martianReason}: a directed broadcast of an attached network. */
export const MARTIAN_BROADCAST = 4;
/** {@link martianReason}: multicast (we do not route multicast). */
export const MARTIAN_MULTICAST = 5;

/** Counters of forwarding; every drop has its reason (and `dropped` sums them). */
export interface ForwardStats {
  /** Datagrams sent on (whole or as fragments). */
  forwarded: number;
  /** Of those, transmitted from the receive buffer in place. */
  zeroCopy: number;
  /** Of those, copied once into a pool buffer (ARP pending, other link header). */
  copied: number;
  /** Datagrams cut into fragments for a smaller next link. */
  fragmented: number;
  /** Fragments sent. */
  fragmentsSent: number;
  /** Forwarded back out of the interface they came in on. */
  sameInterface: number;
  /** Datagrams not forwarded, all reasons. */
  dropped: number;
  /** TTL would reach 0: time exceeded sent (RFC 1812 §5.3.1). */
  ttlExceeded: number;
  /** Too big for the next link with DF set: fragmentation needed sent (RFC 1191). */
  fragNeeded: number;
  /** No route: network unreachable sent. */
  noRoute: number;
  /** Martian source (RFC 1812 §5.3.7). */
  martianSource: number;
  /** Martian destination (RFC 1812 §5.3.7). */
  martianDestination: number;
  /** Link-local source or destination (RFC 3927 §7). */
  linkLocal: number;
  /** Directed broadcast (RFC 2644: not forwarded by default). */
  broadcast: number;
  /** Multicast destination (no multicast routing). */
  multicast: number;
  /** Refused by NAT (see the NAT counters). */
  natDropped: number;
  /** The pool had no buffer for a copy or a fragment. */
  noBuffer: number;
  /** The egress link refused it (device, ARP queue). */
  linkDropped: number;
  /**
   * TCP super-frames (received with GSO metadata: a local sender's TSO/GSO,
   * or GRO) forwarded whole with a segmentation request to the egress
   * device, as Linux forwards a GSO skb.
   */
  superFrames: number;
  /** Super-frames cut into segments here (egress without GSO, or DF clear and segments too big). */
  superFramesSegmented: number;
  /** Datagrams forwarded with their partial (NEEDS_CSUM) checksum left to the egress device. */
  checksumOffloaded: number;
  /** Partial checksums completed here (egress without checksum offload, fragmentation, odd offsets). */
  checksumsCompleted: number;
  /** Dropped: offload metadata that does not fit the datagram (GSO type, offsets). */
  badOffload: number;
}

/**
 * Fresh forwarding counters.
 *
 * @returns every counter 0
 */
export function newForwardStats(): ForwardStats {
  return {
    forwarded: 0,
    zeroCopy: 0,
    copied: 0,
    fragmented: 0,
    fragmentsSent: 0,
    sameInterface: 0,
    dropped: 0,
    ttlExceeded: 0,
    fragNeeded: 0,
    noRoute: 0,
    martianSource: 0,
    martianDestination: 0,
    linkLocal: 0,
    broadcast: 0,
    multicast: 0,
    natDropped: 0,
    noBuffer: 0,
    linkDropped: 0,
    superFrames: 0,
    superFramesSegmented: 0,
    checksumOffloaded: 0,
    checksumsCompleted: 0,
    badOffload: 0,
  };
}

/** What {@link martianReason} needs of an interface. */
export interface ForwardInterfaceLike {
  /** Its address and directed broadcast (int32, 0 = none). */
  readonly config: { readonly address: number; readonly directedBroadcast: number };
}

/**
 * Why a datagram must not be forwarded, or {@link MARTIAN_NONE}.
 *
 * @param bytes buffer
 * @param offset IPv4 header
 * @param interfaces the router's interfaces (their addresses and broadcasts)
 * @returns a MARTIAN_* reason
 *
 * @example
 * ```ts
 * import { MARTIAN_LINK_LOCAL, martianReason } from "./forward.ts";
 * import { writeIpv4Header } from "./ipv4.ts";
 * const b = new Uint8Array(20);
 * writeIpv4Header(b, 0, 0, 20, 1, 0, 64, 17, 0xa9fe0001 | 0, 0xcb007102 | 0);
 * console.assert(martianReason(b, 0, []) === MARTIAN_LINK_LOCAL);
 * ```
 */
export function martianReason(
  bytes: Uint8Array,
  offset: number,
  interfaces: readonly ForwardInterfaceLike[],
): number {
  const src = readI32(bytes, offset + 12);
  const dst = readI32(bytes, offset + 16);
  const s8 = src >>> 24;
  const d8 = dst >>> 24;
  // RFC 1812 §5.3.7: {0,*}, {127,*} and class E are never forwarded; RFC 3927 §7: 169.254/16.
  if (s8 === 0 || s8 === 127 || s8 >= 240) return MARTIAN_SOURCE;
  if (d8 === 0 || d8 === 127 || d8 >= 240) return MARTIAN_DESTINATION;
  if ((src >>> 16) === 0xa9fe || (dst >>> 16) === 0xa9fe) return MARTIAN_LINK_LOCAL;
  if (d8 >= 224) return MARTIAN_MULTICAST;
  for (let i = 0; i < interfaces.length; i++) {
    const c = interfaces[i].config;
    if (c.address !== 0 && src === c.address) return MARTIAN_SOURCE; // our own address, spoofed
    if (c.directedBroadcast !== 0 && dst === c.directedBroadcast) return MARTIAN_BROADCAST;
  }
  return MARTIAN_NONE;
}

/**
 * Decrements the TTL of the IPv4 header at `offset` by one and updates the
 * header checksum incrementally (RFC 1624 eqn. 3 over the TTL/protocol word,
 * RFC 1812 §5.3.1). The caller made sure the TTL is above 1.
 *
 * @param bytes buffer
 * @param offset IPv4 header
 *
 * @example
 * ```ts
 * import { decrementTtl } from "./forward.ts";
 * import { writeIpv4Header } from "./ipv4.ts";
 * import { internetChecksum } from "../wire/checksum.ts";
 * const b = new Uint8Array(20);
 * writeIpv4Header(b, 0, 0, 20, 7, 0, 64, 6, 0xc6336402 | 0, 0xcb007102 | 0);
 * decrementTtl(b, 0);
 * console.assert(b[8] === 63 && internetChecksum(b, 0, 20) === 0);
 * ```
 */
export function decrementTtl(bytes: Uint8Array, offset: number): void {
  const ttlAt = offset + 8;
  const old = (bytes[ttlAt] << 8) | bytes[ttlAt + 1];
  bytes[ttlAt] = bytes[ttlAt] - 1;
  const ck = offset + 10;
  const n = updateChecksum16((bytes[ck] << 8) | bytes[ck + 1], old, old - 0x100);
  bytes[ck] = n >>> 8;
  bytes[ck + 1] = n & 0xff;
}

/** What {@link fragmentForwarded} needs of the egress interface. */
export interface ForwardEgress {
  /** Bytes of link header its buffers need in front of the IPv4 header. */
  readonly linkHeadroom: number;
  /** Sends a datagram in a pool buffer to `nextHop` on the link (behind ARP); takes the buffer. */
  sendToNeighbour(buf: PacketBufferLike, nextHop: number): boolean;
}

/**
 * RFC 791 §3.2 / RFC 1812 §5.2.6: cuts a forwarded datagram (DF clear) into
 * fragments in pool buffers that fit `mtu` and sends them to `nextHop` — the
 * first keeps every option, later ones only those with the copied flag; a
 * fragment's fragments keep its offset and its MF on the last one. Counted in
 * `stats` (`fragmented`, `fragmentsSent`, `forwarded`; `noBuffer`, `linkDropped`).
 *
 * @param pool where the fragments' buffers come from
 * @param stats the forwarding counters
 * @param egress the interface they leave by
 * @param bytes buffer holding the datagram
 * @param offset its IPv4 header
 * @param total its length
 * @param flags its flags/fragment-offset word
 * @param nextHop the next hop's address (int32)
 * @param mtu the largest fragment
 */
export function fragmentForwarded(
  pool: BufferPoolLike,
  stats: ForwardStats,
  egress: ForwardEgress,
  bytes: Uint8Array,
  offset: number,
  total: number,
  flags: number,
  nextHop: number,
  mtu: number,
): void {
  const hl = (bytes[offset] & 0x0f) << 2;
  const later = laterOptionsLength(bytes, offset, hl);
  const payload = total - hl;
  const baseOffset = (flags & IPV4_FRAGMENT_OFFSET_MASK) * IPV4_FRAGMENT_UNIT;
  const lastMf = flags & IPV4_FLAG_MF;
  stats.fragmented++;
  let sent = 0;
  for (let off = 0; off < payload;) {
    const headerLength = off === 0 ? hl : IPV4_HEADER_LEN + later;
    const room = (mtu - headerLength) & ~(IPV4_FRAGMENT_UNIT - 1);
    const chunk = Math.min(room, payload - off);
    const last = off + chunk >= payload;
    const buf = pool.alloc(egress.linkHeadroom);
    const at = buf === null ? -1 : buf.append(headerLength + chunk);
    if (buf === null || at < 0) {
      if (buf !== null) pool.free(buf);
      stats.noBuffer++;
      stats.dropped++;
      return;
    }
    const b = buf.bytes;
    if (off === 0) b.set(bytes.subarray(offset, offset + hl), at);
    else {
      b.set(bytes.subarray(offset, offset + IPV4_HEADER_LEN), at);
      copyCopiedOptions(bytes, offset, hl, b, at + IPV4_HEADER_LEN, later);
      b[at] = 0x40 | (headerLength >>> 2);
    }
    const data = offset + hl + off;
    b.set(bytes.subarray(data, data + chunk), at + headerLength);
    const len = headerLength + chunk;
    b[at + IPV4_TOTAL_LENGTH_OFFSET] = len >>> 8;
    b[at + IPV4_TOTAL_LENGTH_OFFSET + 1] = len & 0xff;
    const fw = (flags & IPV4_FLAG_DF) | (last ? lastMf : IPV4_FLAG_MF) |
      (((baseOffset + off) / IPV4_FRAGMENT_UNIT) & IPV4_FRAGMENT_OFFSET_MASK);
    b[at + IPV4_FLAGS_FRAGMENT_OFFSET] = fw >>> 8;
    b[at + IPV4_FLAGS_FRAGMENT_OFFSET + 1] = fw & 0xff;
    b[at + IPV4_CHECKSUM_OFFSET] = 0;
    b[at + IPV4_CHECKSUM_OFFSET + 1] = 0;
    const ck = internetChecksum(b, at, headerLength);
    b[at + IPV4_CHECKSUM_OFFSET] = ck >>> 8;
    b[at + IPV4_CHECKSUM_OFFSET + 1] = ck & 0xff;
    if (egress.sendToNeighbour(buf, nextHop)) sent++;
    else stats.linkDropped++;
    stats.fragmentsSent++;
    off += chunk;
  }
  if (sent > 0) stats.forwarded++;
}

/** Bytes of the options with the copied flag, padded to 4 (the header of later fragments). */
function laterOptionsLength(bytes: Uint8Array, offset: number, hl: number): number {
  return (copiedOptions(bytes, offset, hl, null, 0, 0) + 3) & ~3;
}

/** Copies the options with the copied flag (RFC 791 §3.1), padding with End of Option List. */
function copyCopiedOptions(
  bytes: Uint8Array,
  offset: number,
  hl: number,
  out: Uint8Array,
  at: number,
  room: number,
): void {
  out.fill(OPTION_END, at + copiedOptions(bytes, offset, hl, out, at, room), at + room);
}

/**
 * Walks the options of the IPv4 header at `offset` (`hl` bytes) and, when `out` is given,
 * copies those with the copied flag (RFC 791 §3.1) to `out` at `at` while they fit `room`.
 *
 * @returns the bytes of the copied-flag options: all of them without `out`, those copied
 *   with it
 */
function copiedOptions(
  bytes: Uint8Array,
  offset: number,
  hl: number,
  out: Uint8Array | null,
  at: number,
  room: number,
): number {
  let n = 0;
  for (let i = offset + IPV4_HEADER_LEN; i < offset + hl;) {
    const type = bytes[i];
    if (type === OPTION_END) break;
    if (type === OPTION_NOP) {
      i++;
      continue;
    }
    const len = i + 1 < offset + hl ? bytes[i + 1] : 0;
    if (len < 2) break;
    if ((type & OPTION_COPIED) !== 0) {
      if (out === null) n += len;
      else if (n + len <= room) {
        out.set(bytes.subarray(i, i + len), at + n);
        n += len;
      }
    }
    i += len;
  }
  return n;
}

/** The hand-off counters both routers keep ({@link ForwardStats}, `Forward6Stats`). */
export interface ForwardHandoffStats {
  /** Datagrams forwarded. */
  forwarded: number;
  /** Of those, sent from the receive buffer. */
  zeroCopy: number;
  /** Copied once into a pool buffer. */
  copied: number;
  /** Dropped: no pool buffer. */
  noBuffer: number;
  /** Dropped by the egress link or device. */
  linkDropped: number;
  /** Dropped, for any reason. */
  dropped: number;
}

/**
 * Per interface, whether it carries plain Ethernet (no VLAN tag, not an IP link): a datagram
 * between two such links is forwarded in place, its Ethernet header rewritten.
 *
 * @param interfaces the router's interfaces
 * @returns one flag per interface, same order
 */
export function plainEthernetLinks(interfaces: readonly NetworkInterface[]): boolean[] {
  return interfaces.map((i) => i.device.capabilities.link !== "ip" && i.config.vlanId === 0);
}

/**
 * Zero copy: gives the Ethernet header in front of the datagram at `offset` the next hop's MAC
 * `mac` and the egress interface's own as source.
 *
 * @param bytes the receive buffer
 * @param offset the datagram's IP header (an Ethernet header lies before it)
 * @param mac the next hop's MAC (48-bit number)
 * @param egress the interface the frame leaves by
 * @returns the frame's start
 */
export function readdressFrame(
  bytes: Uint8Array,
  offset: number,
  mac: number,
  egress: NetworkInterface,
): number {
  const at = offset - ETHERNET_HEADER_LEN;
  writeMac(bytes, at, mac);
  writeMac(bytes, at + 6, egress.config.mac);
  return at;
}

/**
 * Counts a forwarded frame handed to the egress device from the receive buffer.
 *
 * @param egress the interface it left by (its `txFrames` / `txDeviceDropped`)
 * @param stats the router's counters
 * @param ok what the device's transmit returned
 * @returns `ok`
 */
export function countInPlace(
  egress: NetworkInterface,
  stats: ForwardHandoffStats,
  ok: boolean,
): boolean {
  if (ok) {
    egress.stats.txFrames++;
    stats.forwarded++;
    stats.zeroCopy++;
  } else {
    egress.stats.txDeviceDropped++;
    stats.linkDropped++;
    stats.dropped++;
  }
  return ok;
}

/**
 * One copy: a forwarded datagram that waits for the next hop's address or needs another link
 * header goes into a pool buffer with `headroom` bytes in front.
 *
 * @param pool the router's pool
 * @param stats the router's counters (`copied`; `noBuffer` and `dropped` when none is free)
 * @param headroom the egress interface's link headroom
 * @param bytes buffer holding the datagram
 * @param offset its IP header
 * @param total its length
 * @returns the buffer, or null (counted)
 */
export function copyForwarded(
  pool: BufferPoolLike,
  stats: ForwardHandoffStats,
  headroom: number,
  bytes: Uint8Array,
  offset: number,
  total: number,
): PacketBufferLike | null {
  const buf = pool.alloc(headroom);
  const at = buf === null ? -1 : buf.append(total);
  if (buf === null || at < 0) {
    if (buf !== null) pool.free(buf);
    stats.noBuffer++;
    stats.dropped++;
    return null;
  }
  buf.bytes.set(bytes.subarray(offset, offset + total), at);
  stats.copied++;
  return buf;
}

/**
 * Counts a copied datagram handed to the egress link (ARP or neighbour discovery).
 *
 * @param stats the router's counters
 * @param ok what the link's send returned
 */
export function countLinkSend(stats: ForwardHandoffStats, ok: boolean): void {
  if (ok) stats.forwarded++;
  else {
    stats.linkDropped++;
    stats.dropped++;
  }
}
