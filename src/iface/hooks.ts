/**
 * Packet hooks of a {@link Router} (`router.ts`): TypeScript functions run at
 * the five points Linux's netfilter names — prerouting (every datagram
 * received, before the routing decision), input (for this host), forward
 * (being routed through), output (originated here) and postrouting (leaving
 * on an interface, forwarded or originated). A hook sees the IPv4 datagram in
 * place through one reused {@link HookPacket} (no allocation, no copy),
 * returns `"accept"` or `"drop"`, and may rewrite the bytes in place — it
 * then keeps the header and transport checksums right (see
 * {@link setIpv4Address} and `nat.ts`). Each hook point counts what it
 * accepted and dropped ({@link HookStats}).
 *
 * What hooks see: datagrams as on the wire — fragments one by one, except
 * with a masquerading interface, whose NAT needs them reassembled first (the
 * router then defragments IPv4 before prerouting, as Linux's conntrack
 * does); at output and postrouting a datagram this host originates is
 * complete (the router's interfaces send without transmit checksum or
 * segmentation offload). IPv6 packets come through the same hooks
 * (`router6.ts`): {@link HookPacket.version} tells the family, and the
 * IPv4-only getters read 0 for them. A forwarded datagram may be a TCP
 * super-frame (up to 64 KiB, as Linux hooks see a GSO skb) and its
 * transport checksum may be partial ({@link HookPacket.checksumPartial}).
 *
 * @module
 */

import { readI32, write32 } from "../wire/view.ts";
import { updateChecksum32 } from "../wire/checksum.ts";
import {
  IP_PROTO_ICMP,
  IP_PROTO_TCP,
  IP_PROTO_UDP,
  IPV4_CHECKSUM_OFFSET,
  IPV4_DST_OFFSET,
  IPV4_FLAGS_FRAGMENT_OFFSET,
  IPV4_PROTOCOL_OFFSET,
  IPV4_SRC_OFFSET,
  IPV4_TTL_OFFSET,
} from "../wire/ipv4.ts";
import {
  IP_PROTO_FRAGMENT,
  IPV6_DST_OFFSET,
  IPV6_HEADER_LEN,
  IPV6_HOP_LIMIT_OFFSET,
  IPV6_NEXT_HEADER_OFFSET,
  IPV6_SRC_OFFSET,
} from "../wire/ipv6.ts";
import { Ipv6Address } from "../wire/ipv6_address.ts";

/** The five hook points, in the order a forwarded datagram meets three of them. */
export const HOOK_NAMES = ["prerouting", "input", "forward", "output", "postrouting"] as const;
/** One hook point. */
export type HookName = typeof HOOK_NAMES[number];
/** A hook's verdict. */
export type HookVerdict = "accept" | "drop";
/** A packet hook: inspect (and maybe rewrite in place) the datagram, then accept or drop it. */
export type PacketHook = (packet: HookPacket) => HookVerdict;
/** Hooks per point, as given to the router (one function or several, run in order). */
export type PacketHooks = { [K in HookName]?: PacketHook | PacketHook[] };

/** What one hook point did. */
export interface HookCounters {
  /** Datagrams every hook at this point accepted. */
  accepted: number;
  /** Datagrams a hook at this point dropped. */
  dropped: number;
}

/** Counters of every hook point (only points with a hook count). */
export type HookStats = { [K in HookName]: HookCounters };

const FRAGMENT_OFFSET_MASK = 0x1fff;
/** IP version of an IPv6 packet. */
const IPV6_VERSION = 6;
/** The offset field's place in an IPv6 Fragment header (RFC 8200 §4.5). */
const IPV6_FRAGMENT_OFFSET_FIELD = 2;
/** The 13-bit offset in that field (the low 3 bits: reserved and M). */
const IPV6_FRAGMENT_OFFSET_MASK = 0xfff8;

/**
 * The datagram a hook is looking at: an IPv4 (or IPv6) header at
 * `bytes[offset]`, `length` bytes in all (its total length). Valid only
 * during the hook call (the bytes may be a device's receive ring).
 */
export class HookPacket {
  /** The buffer holding the datagram. */
  bytes: Uint8Array = new Uint8Array(0);
  /** Start of the IPv4 header. */
  offset = 0;
  /** Total length of the datagram. */
  length = 0;
  /** The hook point running. */
  hook: HookName = "prerouting";
  /** Index of the interface it arrived on, or -1 (originated here). */
  inInterface: number = -1;
  /** Index of the interface it leaves on, or -1 (not routed yet, or for this host). */
  outInterface: number = -1;
  /**
   * The TCP/UDP checksum field holds only the folded pseudo-header sum, to be
   * completed by the egress device (a local sender's checksum offload: Linux
   * CHECKSUM_PARTIAL, virtio_net_hdr NEEDS_CSUM). A hook that rewrites an
   * address passes it to {@link setIpv4Address}; ports need no checksum update then.
   */
  checksumPartial = false;

  /** IP version: 4, or 6 for an IPv6 packet. */
  get version(): number {
    return this.bytes[this.offset] >>> 4;
  }
  /** Source address (int32); 0 for IPv6 (see {@link source6}). */
  get source(): number {
    return this.version === IPV6_VERSION ? 0 : readI32(this.bytes, this.offset + IPV4_SRC_OFFSET);
  }
  /** Destination address (int32); 0 for IPv6 (see {@link destination6}). */
  get destination(): number {
    return this.version === IPV6_VERSION ? 0 : readI32(this.bytes, this.offset + IPV4_DST_OFFSET);
  }
  /** An IPv6 packet's source (allocates), else null. */
  get source6(): Ipv6Address | null {
    return this.version === IPV6_VERSION
      ? Ipv6Address.fromBytes(this.bytes, this.offset + IPV6_SRC_OFFSET)
      : null;
  }
  /** An IPv6 packet's destination (allocates), else null. */
  get destination6(): Ipv6Address | null {
    return this.version === IPV6_VERSION
      ? Ipv6Address.fromBytes(this.bytes, this.offset + IPV6_DST_OFFSET)
      : null;
  }
  /** IP protocol number (IPv6: the fixed header's Next Header). */
  get protocol(): number {
    return this.bytes[
      this.offset + (this.version === IPV6_VERSION ? IPV6_NEXT_HEADER_OFFSET : IPV4_PROTOCOL_OFFSET)
    ];
  }
  /** Time to live (IPv6: the hop limit). */
  get ttl(): number {
    return this.bytes[
      this.offset + (this.version === IPV6_VERSION ? IPV6_HOP_LIMIT_OFFSET : IPV4_TTL_OFFSET)
    ];
  }
  /** Header length in bytes (IPv6: the fixed 40). */
  get headerLength(): number {
    return this.version === IPV6_VERSION ? IPV6_HEADER_LEN : (this.bytes[this.offset] & 0x0f) << 2;
  }
  /** Whether this is a fragment after the first (no transport header in it). */
  get laterFragment(): boolean {
    const b = this.bytes;
    if (this.version === IPV6_VERSION) {
      // A Fragment header right after the fixed header (RFC 8200 §4.5), with a non-zero offset.
      const f = this.offset + IPV6_HEADER_LEN;
      return b[this.offset + IPV6_NEXT_HEADER_OFFSET] === IP_PROTO_FRAGMENT &&
        f + IPV6_FRAGMENT_OFFSET_FIELD + 2 <= this.offset + this.length &&
        (((b[f + IPV6_FRAGMENT_OFFSET_FIELD] << 8) | b[f + IPV6_FRAGMENT_OFFSET_FIELD + 1]) &
            IPV6_FRAGMENT_OFFSET_MASK) !== 0;
    }
    const o = this.offset + IPV4_FLAGS_FRAGMENT_OFFSET;
    return (((b[o] << 8) | b[o + 1]) & FRAGMENT_OFFSET_MASK) !== 0;
  }
  /**
   * Source port of a TCP or UDP datagram (first fragment), else -1.
   *
   * @returns the port or -1
   */
  get sourcePort(): number {
    return this.#port(0);
  }
  /** Destination port of a TCP or UDP datagram (first fragment), else -1. */
  get destinationPort(): number {
    return this.#port(2);
  }

  #port(at: number): number {
    const p = this.protocol;
    if ((p !== 6 && p !== 17) || this.laterFragment) return -1;
    const o = this.offset + this.headerLength + at;
    if (o + 2 > this.offset + this.length) return -1;
    return (this.bytes[o] << 8) | this.bytes[o + 1];
  }
}

/**
 * Rewrites the source (`which` 12) or destination (`which` 16) address of the
 * IPv4 header at `offset`, updating the header checksum and, for a first
 * fragment of TCP or UDP, the transport checksum (its pseudo-header holds the
 * addresses) incrementally (RFC 1624 eqn. 3). A UDP checksum of 0 (none,
 * RFC 768) stays 0. With `partial` (see {@link HookPacket.checksumPartial})
 * the transport field holds the folded pseudo-header sum, not a checksum: it
 * gets the plain sum update (Linux inet_proto_csum_replace4 on
 * CHECKSUM_PARTIAL), and no UDP zero rule applies.
 *
 * @param bytes buffer
 * @param offset start of the IPv4 header
 * @param length total length of the datagram
 * @param which {@link IPV4_SOURCE_OFFSET} or {@link IPV4_DESTINATION_OFFSET}
 * @param address the new address (int32)
 * @param partial the transport checksum field is a partial (pseudo-header) sum
 *
 * @example
 * ```ts
 * import { IPV4_SOURCE_OFFSET, setIpv4Address } from "./hooks.ts";
 * import { internetChecksum } from "../wire/checksum.ts";
 * import { writeIpv4Header } from "./ipv4.ts";
 * const b = new Uint8Array(28);
 * writeIpv4Header(b, 0, 0, 28, 1, 0, 64, 17, 0xc0000201, 0xc0000202);
 * setIpv4Address(b, 0, 28, IPV4_SOURCE_OFFSET, 0xcb007101 | 0);
 * console.assert(internetChecksum(b, 0, 20) === 0 && b[12] === 203);
 * ```
 */
export function setIpv4Address(
  bytes: Uint8Array,
  offset: number,
  length: number,
  which: number,
  address: number,
  partial = false,
): void {
  const old = readI32(bytes, offset + which);
  if (old === (address | 0)) return;
  write32(bytes, offset + which, address);
  const ck = offset + IPV4_CHECKSUM_OFFSET;
  const hc = (bytes[ck] << 8) | bytes[ck + 1];
  const nhc = updateChecksum32(hc, old >>> 0, address >>> 0);
  bytes[ck] = nhc >>> 8;
  bytes[ck + 1] = nhc & 0xff;
  const fo = ((bytes[offset + IPV4_FLAGS_FRAGMENT_OFFSET] << 8) |
    bytes[offset + IPV4_FLAGS_FRAGMENT_OFFSET + 1]) &
    FRAGMENT_OFFSET_MASK;
  if (fo !== 0) return;
  const protocol = bytes[offset + IPV4_PROTOCOL_OFFSET];
  const hl = (bytes[offset] & 0x0f) << 2;
  const field = transportChecksumOffset(protocol);
  if (field < 0) return;
  const at = offset + hl + field;
  if (at + 2 > offset + length) return;
  const tc = (bytes[at] << 8) | bytes[at + 1];
  if (partial) {
    // The field is the sum itself: new = old - oldAddress + newAddress (RFC 1624 eqn. 3 on ~sum).
    const sum = ~updateChecksum32(~tc & 0xffff, old >>> 0, address >>> 0) & 0xffff;
    bytes[at] = sum >>> 8;
    bytes[at + 1] = sum & 0xff;
    return;
  }
  if (protocol === IP_PROTOCOL_UDP && tc === 0) return; // no checksum (RFC 768)
  let ntc = updateChecksum32(tc, old >>> 0, address >>> 0);
  if (protocol === IP_PROTOCOL_UDP && ntc === 0) ntc = 0xffff; // RFC 768: 0 means none
  bytes[at] = ntc >>> 8;
  bytes[at + 1] = ntc & 0xff;
}

/** Offset of the source address in the IPv4 header (for {@link setIpv4Address}). */
export const IPV4_SOURCE_OFFSET: number = IPV4_SRC_OFFSET;
/** Offset of the destination address in the IPv4 header (for {@link setIpv4Address}). */
export const IPV4_DESTINATION_OFFSET: number = IPV4_DST_OFFSET;
/** TCP (RFC 9293). */
export const IP_PROTOCOL_TCP: typeof IP_PROTO_TCP = IP_PROTO_TCP;
/** UDP (RFC 768). */
export const IP_PROTOCOL_UDP: typeof IP_PROTO_UDP = IP_PROTO_UDP;
/** ICMP (RFC 792). */
export const IP_PROTOCOL_ICMP: typeof IP_PROTO_ICMP = IP_PROTO_ICMP;

/**
 * Offset of the transport checksum in its header: TCP 16, UDP 6, ICMP 2
 * (ICMP's has no pseudo-header: address changes leave it alone), else -1.
 *
 * @param protocol IP protocol number
 * @returns the offset, or -1 when addresses are not in the checksum
 */
function transportChecksumOffset(protocol: number): number {
  if (protocol === IP_PROTOCOL_TCP) return 16;
  if (protocol === IP_PROTOCOL_UDP) return 6;
  return -1;
}

/** The hooks of every point and their counters. */
export class HookTable {
  /** Counters per point. */
  readonly stats: HookStats = {
    prerouting: { accepted: 0, dropped: 0 },
    input: { accepted: 0, dropped: 0 },
    forward: { accepted: 0, dropped: 0 },
    output: { accepted: 0, dropped: 0 },
    postrouting: { accepted: 0, dropped: 0 },
  };
  readonly #hooks: { [K in HookName]: PacketHook[] } = {
    prerouting: [],
    input: [],
    forward: [],
    output: [],
    postrouting: [],
  };
  /** The packet view handed to hooks (one, reused). */
  readonly packet = new HookPacket();

  /**
   * Adds the hooks given per point.
   *
   * @param hooks functions per point
   * @throws {TypeError} on an unknown point or a hook that is not a function
   */
  addAll(hooks: PacketHooks | undefined): void {
    if (hooks === undefined) return;
    if (hooks === null || typeof hooks !== "object") {
      throw new TypeError(`hooks must be an object like { forward: (packet) => "accept" }`);
    }
    for (const [name, value] of Object.entries(hooks)) {
      if (value === undefined) continue;
      for (const fn of Array.isArray(value) ? value : [value]) this.add(name as HookName, fn);
    }
  }

  /**
   * Adds a hook at the end of a point's list.
   *
   * @param name the point
   * @param hook the function
   * @returns a function that removes it
   * @throws {TypeError} on an unknown point or a hook that is not a function
   */
  add(name: HookName, hook: PacketHook): () => void {
    const list = this.#hooks[name];
    if (list === undefined) {
      throw new TypeError(`unknown hook point "${name}"; use one of ${HOOK_NAMES.join(", ")}`);
    }
    if (typeof hook !== "function") throw new TypeError(`the ${name} hook must be a function`);
    list.push(hook);
    return () => {
      const i = list.indexOf(hook);
      if (i >= 0) list.splice(i, 1);
    };
  }

  /**
   * Whether a point has hooks.
   *
   * @param name the point
   * @returns true when at least one hook is there
   */
  has(name: HookName): boolean {
    return this.#hooks[name].length > 0;
  }

  /**
   * Runs a point's hooks in order over the datagram until one drops it.
   * A hook that throws drops the datagram (counted as dropped).
   *
   * @param name the point
   * @param bytes buffer
   * @param offset IPv4 header
   * @param length total length
   * @param inInterface arrival interface or -1
   * @param outInterface departure interface or -1
   * @returns true when accepted (also when the point has no hook)
   */
  run(
    name: HookName,
    bytes: Uint8Array,
    offset: number,
    length: number,
    inInterface: number,
    outInterface: number,
    partial = false,
  ): boolean {
    const list = this.#hooks[name];
    if (list.length === 0) return true;
    const p = this.packet;
    p.bytes = bytes;
    p.offset = offset;
    p.length = length;
    p.hook = name;
    p.inInterface = inInterface;
    p.outInterface = outInterface;
    p.checksumPartial = partial;
    let ok = true;
    for (let i = 0; i < list.length && ok; i++) {
      try {
        ok = list[i](p) === "accept";
      } catch {
        ok = false;
      }
    }
    p.bytes = EMPTY; // hold no ring slot between calls
    if (ok) this.stats[name].accepted++;
    else this.stats[name].dropped++;
    return ok;
  }
}

const EMPTY = new Uint8Array(0);
