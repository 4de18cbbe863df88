/**
 * TCP over IPv6 (issue 18): the per-connection bridge between the IPv4-shaped
 * connection engine and the IPv6 layer.
 *
 * The engine (tcb.ts, connection_send.ts, connection_receive.ts) holds
 * addresses as int32 words — the hot path of ARCHITECTURE.md "Numbers on the
 * hot path" — and sends through an {@link IpSender}. A connection over IPv6
 * keeps that engine unchanged: its `localAddr`/`remoteAddr` are *tags*, a
 * keyed SipHash-2-4 of each 128-bit address ({@link ipv6Tag}, never 0), and
 * its context's `ip` is a {@link Tcp6Path} made for it. So
 *
 * - the ISN (RFC 6528 §3), the timestamp offset (RFC 7323 §5.4) and SYN
 *   cookies are F(tag(local), port, tag(remote), port, secret): a keyed hash
 *   of the whole IPv6 4-tuple (the tags are themselves keyed by the secret);
 * - the checksum the engine computes over the IPv4 pseudo-header of the tags
 *   is turned into the RFC 8200 §8.1 one by an RFC 1624 incremental update in
 *   {@link Tcp6Path.send}: both pseudo-headers sum addresses + protocol +
 *   length, so only the address part differs — a per-path constant;
 * - the MSS is the path MTU − 60 (RFC 8200 §8.3: `mtuFor` answers
 *   `pathMtu − 20` and the engine subtracts its 40), and a Packet Too Big
 *   becomes the IPv4 "fragmentation needed" the engine already handles
 *   (RFC 8201 §4: lower the MSS of live connections, resend).
 *
 * Segments leave with `dontFragment` (TCP sizes them by the path MTU) and
 * our source fixed for the connection's life.
 *
 * @module
 */

import type {
  IpSender,
  IpSendOptions,
  IpTxOffloads,
  Ipv6Sender,
  Ipv6SendOptions,
  PacketBufferLike,
} from "../iface/types.ts";
import { ipv6AddressSum } from "../wire/checksum.ts";
import type { Ipv6Address } from "../wire/ipv6_address.ts";
import { sipHash24Int32 } from "../wire/siphash.ts";
import { TCP_CHECKSUM_OFFSET, TCP_HEADER_LEN } from "../wire/tcp.ts";
import { IPV4_TCP_HEADERS_LEN } from "./config.ts";
import { IPV6_HEADER_LEN } from "../wire/ipv6.ts";

/** IPv6 header + TCP header without options (RFC 8200 §8.3: MSS = path MTU − 60). */
export const IPV6_TCP_HEADERS_LEN: number = IPV6_HEADER_LEN + TCP_HEADER_LEN;

/** The IPv6 output TCP needs: `Ipv6Sender` and a way to give back an unsent buffer. */
export interface Tcp6Sender extends Ipv6Sender {
  /** Returns a buffer that will not be sent. */
  release(buf: PacketBufferLike): void;
}

const tagScratch = new Uint8Array(16);
/** No transmit offloads. */
const NO_TX_OFFLOADS: IpTxOffloads = Object.freeze({ checksum: false, gsoMaxBytes: 0 });

/**
 * A keyed 32-bit tag of an IPv6 address: SipHash-2-4 (src/wire/siphash.ts)
 * of its 16 bytes under the stack's secret, never 0 (0 means "no address" to
 * the engine).
 *
 * @param secret the TCP layer's 16-byte secret
 * @param a the address
 * @returns a non-zero int32
 *
 * @example
 * ```ts
 * import { ipv6Tag } from "./tcp6.ts";
 * import { Ipv6Address } from "../wire/ipv6_address.ts";
 * const s = new Uint8Array(16);
 * const a = Ipv6Address.parse("2001:db8::1");
 * console.assert(ipv6Tag(s, a) === ipv6Tag(s, Ipv6Address.parse("2001:db8::1")));
 * console.assert(ipv6Tag(s, a) !== ipv6Tag(s, Ipv6Address.parse("2001:db8::2")));
 * ```
 */
export function ipv6Tag(secret: Uint8Array, a: Ipv6Address): number {
  a.writeTo(tagScratch, 0);
  return sipHash24Int32(secret, tagScratch, 0, 16) || 1;
}

/** One's-complement fold of a sum to 16 bits. */
function fold(x: number): number {
  x = (x & 0xffff) + (x >>> 16);
  return (x & 0xffff) + (x >>> 16);
}

/**
 * The IPv6 side of one TCP connection (or of one control segment): an
 * {@link IpSender} for the engine that sends over IPv6 from `local6` to
 * `remote6`. See the module docs.
 *
 * @example
 * ```ts
 * import { Tcp6Path } from "./tcp6.ts";
 * import { Ipv6Address } from "../wire/ipv6_address.ts";
 * const ip6 = {
 *   allocate: () => null, send6: () => true, sourceAddressFor6: () => null,
 *   pathMtu: () => 1280, release: () => {},
 * };
 * const p = new Tcp6Path(ip6, new Uint8Array(16));
 * p.set(Ipv6Address.parse("2001:db8::2"), Ipv6Address.parse("2001:db8::1"));
 * console.assert(p.mtuFor() - 40 === 1220); // MSS = 1280 − 60
 * ```
 */
export class Tcp6Path implements IpSender {
  /** Our address. */
  local6: Ipv6Address | null = null;
  /** The peer's address. */
  remote6: Ipv6Address | null = null;
  /** {@link ipv6Tag} of {@link local6}: the engine's `localAddr`. */
  localTag = 0;
  /** {@link ipv6Tag} of {@link remote6}: the engine's `remoteAddr`. */
  remoteTag = 0;
  /** The connection this path carries (null for a control segment). */
  conn: unknown = null;
  readonly #ip6: Tcp6Sender;
  readonly #secret: Uint8Array;
  /** ~(IPv4 tag sum) + IPv6 address sum, folded: the RFC 1624 checksum correction. */
  #delta = 0;
  readonly #opts: Ipv6SendOptions = {
    dontFragment: true,
    hopLimit: undefined,
    trafficClass: 0,
    partialChecksumOffset: 0,
    gsoSize: 0,
  };

  /**
   * Makes an empty path; {@link set} gives it its addresses.
   *
   * @param ip6 the IPv6 layer
   * @param secret the TCP layer's secret (for the tags)
   */
  constructor(ip6: Tcp6Sender, secret: Uint8Array) {
    this.#ip6 = ip6;
    this.#secret = secret;
  }

  /**
   * Points the path at a 4-tuple's addresses (computes tags and the checksum correction).
   *
   * @param local6 our address
   * @param remote6 the peer's address
   */
  set(local6: Ipv6Address, remote6: Ipv6Address): void {
    this.local6 = local6;
    this.remote6 = remote6;
    const l = ipv6Tag(this.#secret, local6);
    const r = ipv6Tag(this.#secret, remote6);
    this.localTag = l;
    this.remoteTag = r;
    const tagSum = fold((l >>> 16) + (l & 0xffff) + (r >>> 16) + (r & 0xffff));
    this.#delta = fold((~tagSum & 0xffff) + ipv6AddressSum(local6, remote6));
    this.#opts.source = local6;
  }

  /**
   * A buffer with room for the IPv6 and link headers.
   *
   * @returns the buffer, or null
   */
  allocate(): PacketBufferLike | null {
    return this.#ip6.allocate();
  }

  /**
   * The IPv6 link's transmit offloads: checksum completion and TCP
   * segmentation (GSO_TCPV6) for this connection's segments.
   *
   * @returns the IPv6 layer's offloads (none when it has none)
   */
  get txOffloads(): IpTxOffloads {
    return this.#ip6.txOffloads ?? NO_TX_OFFLOADS;
  }

  /**
   * A buffer for one TCP super-segment over IPv6 (see {@link IpSender.allocateSegment}).
   *
   * @returns the buffer, or null without GSO or when none is free
   */
  allocateSegment(): PacketBufferLike | null {
    return this.#ip6.allocateSegment?.() ?? null;
  }

  /**
   * Sends a TCP segment built for the tags: corrects its checksum to the IPv6
   * pseudo-header (RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m')) and hands it to
   * IPv6. A partial checksum (`partialChecksumOffset`: the field holds the
   * folded pseudo-header sum over the tags, not complemented) becomes the
   * folded IPv6 pseudo-header sum the same way without the complements:
   * sum' = sum + ~m + m'. An empty buffer (the engine's way to give one back)
   * is released.
   *
   * @param buf the segment (ownership taken)
   * @param _dst the tag (unused: the path knows the address)
   * @param protocol 6
   * @param opts `tos` becomes the traffic class, `ttl` the hop limit
   * @returns false when dropped
   */
  send(buf: PacketBufferLike, _dst: number, protocol: number, opts?: IpSendOptions): boolean {
    if (buf.length < TCP_HEADER_LEN || this.remote6 === null) {
      this.#ip6.release(buf);
      return false;
    }
    const bytes = buf.bytes;
    const at = buf.head + TCP_CHECKSUM_OFFSET;
    const old = (bytes[at] << 8) | bytes[at + 1];
    const o = this.#opts;
    const partial = opts?.partialChecksumOffset ?? 0;
    let checksum: number;
    if (partial > 0) {
      checksum = fold(old + this.#delta);
      o.partialChecksumOffset = partial;
      o.gsoSize = opts?.gsoSize ?? 0;
    } else {
      checksum = ~fold((~old & 0xffff) + this.#delta) & 0xffff;
      o.partialChecksumOffset = 0;
      o.gsoSize = 0;
    }
    bytes[at] = checksum >>> 8;
    bytes[at + 1] = checksum & 0xff;
    o.trafficClass = opts?.tos ?? 0;
    // IP_TTL / IPV6_UNICAST_HOPS (RFC 3493 §5.1): the connection's hop limit, else the default.
    o.hopLimit = opts?.ttl;
    return this.#ip6.send6(buf, this.remote6, protocol, o);
  }

  /**
   * The engine's source address: our tag.
   *
   * @returns {@link localTag}
   */
  sourceAddressFor(): number {
    return this.localTag;
  }

  /**
   * The path MTU − 20, so the engine's MSS (mtu − 40) is the path MTU − 60.
   *
   * @returns bytes
   */
  mtuFor(): number {
    return this.remote6 === null
      ? 1280 - IPV6_TCP_HEADERS_LEN + IPV4_TCP_HEADERS_LEN
      : this.#ip6.pathMtu(this.remote6) - IPV6_TCP_HEADERS_LEN + IPV4_TCP_HEADERS_LEN;
  }
}
