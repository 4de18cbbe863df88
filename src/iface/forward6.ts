/**
 * The per-packet rules of IPv6 forwarding used by `router6.ts`, apart from
 * IPv4's (`forward.ts`): which packets a router must not forward (RFC 4291
 * §2.5.2 the unspecified source, §2.5.3 loopback, §2.5.6 link-local source
 * or destination — Linux ip6_forward drops these silently —, multicast
 * without multicast routing), and the counters. The hop limit has no header
 * checksum to update (RFC 8200 §3); a router never fragments (RFC 8200 §5:
 * a packet larger than the next link's MTU gets an ICMPv6 Packet Too Big,
 * RFC 4443 §3.2).
 *
 * @module
 */

import { IPV6_DST_OFFSET, IPV6_SRC_OFFSET } from "../wire/ipv6.ts";
import { readI32 } from "../wire/view.ts";

/** {@link forward6Reason}: forward it. */
export const FORWARD6_OK = 0;
/** {@link forward6Reason}: unspecified (::) or loopback source (RFC 4291 §2.5.2, §2.5.3). */
export const FORWARD6_BAD_SOURCE = 1;
/** {@link forward6Reason}: unspecified or loopback destination. */
export const FORWARD6_BAD_DESTINATION = 2;
/** {@link forward6Reason}: link-local source or destination (RFC 4291 §2.5.6). */
export const FORWARD6_LINK_LOCAL = 3;
/** {@link forward6Reason}: multicast destination (we do not route multicast). */
export const FORWARD6_MULTICAST = 4;

/** Counters of IPv6 forwarding; every drop has its reason (and `dropped` sums them). */
export interface Forward6Stats {
  /** Packets sent on. */
  forwarded: number;
  /** Of those, transmitted from the receive buffer in place. */
  zeroCopy: number;
  /** Of those, copied once into a pool buffer (neighbour resolution, another link header). */
  copied: number;
  /** Forwarded back out of the interface they came in on. */
  sameInterface: number;
  /** Packets not forwarded, all reasons. */
  dropped: number;
  /** Hop limit would reach 0: Time Exceeded sent (RFC 4443 §3.3). */
  hopLimitExceeded: number;
  /** Larger than the next link's MTU: Packet Too Big sent (RFC 4443 §3.2, RFC 8200 §5). */
  tooBig: number;
  /** No route: Destination Unreachable, no route, sent (RFC 4443 §3.1 code 0). */
  noRoute: number;
  /** Unspecified or loopback source (RFC 4291 §2.5.2, §2.5.3). */
  badSource: number;
  /** Unspecified or loopback destination. */
  badDestination: number;
  /** Link-local source or destination (RFC 4291 §2.5.6). */
  linkLocal: number;
  /** Multicast destination (no multicast routing). */
  multicast: number;
  /** Dropped by a forward or postrouting hook. */
  hookDropped: number;
  /** The pool had no buffer for a copy. */
  noBuffer: number;
  /** The egress link refused it (device, neighbour cache). */
  linkDropped: number;
  /**
   * TCP super-frames (the ingress device's GRO/GSO: `rxInfo.gsoSize > 0`) larger than the
   * next link's MTU, cut into segments of `gsoSize` data bytes here (as Linux's
   * skb_gso_segment on the forwarding path) instead of a Packet Too Big.
   */
  superFramesSegmented: number;
}

/**
 * Fresh IPv6 forwarding counters.
 *
 * @returns every counter 0
 */
export function newForward6Stats(): Forward6Stats {
  return {
    forwarded: 0,
    zeroCopy: 0,
    copied: 0,
    sameInterface: 0,
    dropped: 0,
    hopLimitExceeded: 0,
    tooBig: 0,
    superFramesSegmented: 0,
    noRoute: 0,
    badSource: 0,
    badDestination: 0,
    linkLocal: 0,
    multicast: 0,
    hookDropped: 0,
    noBuffer: 0,
    linkDropped: 0,
  };
}

/** Whether the 16 bytes at `at` are :: (0) or ::1 (1), else -1. */
function unspecifiedOrLoopback(bytes: Uint8Array, at: number): number {
  if (readI32(bytes, at) !== 0 || readI32(bytes, at + 4) !== 0 || readI32(bytes, at + 8) !== 0) {
    return -1;
  }
  const w3 = readI32(bytes, at + 12);
  return w3 === 0 ? 0 : w3 === 1 ? 1 : -1;
}

/** Whether the address at `at` is in fe80::/10. */
function isLinkLocalAt(bytes: Uint8Array, at: number): boolean {
  return bytes[at] === 0xfe && (bytes[at + 1] & 0xc0) === 0x80;
}

/**
 * Why an IPv6 packet must not be forwarded, or {@link FORWARD6_OK}.
 *
 * @param bytes buffer
 * @param offset IPv6 header
 * @returns a FORWARD6_* reason
 *
 * @example
 * ```ts
 * import { FORWARD6_LINK_LOCAL, FORWARD6_OK, forward6Reason } from "./forward6.ts";
 * import { Ipv6Address } from "../wire/ipv6_address.ts";
 * const b = new Uint8Array(40);
 * b[0] = 0x60;
 * Ipv6Address.parse("2001:db8:a::2").writeTo(b, 8);
 * Ipv6Address.parse("2001:db8:b::2").writeTo(b, 24);
 * console.assert(forward6Reason(b, 0) === FORWARD6_OK);
 * Ipv6Address.parse("fe80::1").writeTo(b, 8);
 * console.assert(forward6Reason(b, 0) === FORWARD6_LINK_LOCAL);
 * ```
 */
export function forward6Reason(bytes: Uint8Array, offset: number): number {
  const src = offset + IPV6_SRC_OFFSET;
  const dst = offset + IPV6_DST_OFFSET;
  if (bytes[dst] === 0xff) return FORWARD6_MULTICAST;
  if (unspecifiedOrLoopback(bytes, src) >= 0) return FORWARD6_BAD_SOURCE;
  if (unspecifiedOrLoopback(bytes, dst) >= 0) return FORWARD6_BAD_DESTINATION;
  if (isLinkLocalAt(bytes, src) || isLinkLocalAt(bytes, dst)) return FORWARD6_LINK_LOCAL;
  return FORWARD6_OK;
}
