/**
 * The per-datagram rules of forwarding (RFC 1812) used by `router.ts`: which
 * datagrams a router must not forward (§5.3.7 martians, §4.2.2.11 and RFC
 * 2644 directed broadcasts, RFC 3927 §7 link-local, multicast without
 * multicast routing), the TTL decrement with an incremental header checksum
 * update (§5.3.1, RFC 1624), and the counters.
 *
 * @module
 */

import { readI32 } from "../wire/view.ts";
import { updateChecksum16 } from "../wire/checksum.ts";

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
