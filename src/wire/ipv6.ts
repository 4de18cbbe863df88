/**
 * IPv6 (RFC 8200): a zero-copy {@link Ipv6Packet} view, a plain
 * {@link Ipv6Repr}, the extension-header chain walker
 * {@link walkIpv6Chain} (Hop-by-Hop and Destination Options with the §4.2
 * option actions, Routing (type 0 refused, RFC 5095), Fragment (§4.5,
 * RFC 6946 atomic fragments, RFC 7112 header chain in the first fragment))
 * and emitters for the two extension headers rawstack sends: a Hop-by-Hop
 * Router Alert for MLD (RFC 2711) and a Fragment header.
 *
 * ```
 *  0       4              12                      31
 *  |Version| Traffic Class |       Flow Label      |
 *  |      Payload Length    | Next Hdr | Hop Limit  |
 *  |              Source Address (128 bits)        |
 *  |           Destination Address (128 bits)      |
 * ```
 *
 * @module
 */

import { Ipv6Address } from "./ipv6_address.ts";
import { WireError } from "./error.ts";
import { read16, read32, readI32, WireView, write16, write32 } from "./view.ts";

/** Length of the fixed IPv6 header (RFC 8200 §3). */
export const IPV6_HEADER_LEN = 40;
/** The version field of every IPv6 header. */
export const IPV6_VERSION = 6;
/** Every link carries at least this many bytes (RFC 8200 §5). */
export const IPV6_MIN_MTU = 1280;
/** Hop limit rawstack uses by default (Linux's `hop_limit`, as IPv4's TTL). */
export const IPV6_DEFAULT_HOP_LIMIT = 64;
/** Largest payload without a Jumbo Payload option (16-bit length, RFC 8200 §3). */
export const IPV6_MAX_PAYLOAD_LEN = 0xffff;
/** Fragment offsets are carried in units of this many bytes (RFC 8200 §4.5). */
export const IPV6_FRAGMENT_UNIT = 8;
/** Length of the Fragment header (RFC 8200 §4.5). */
export const IPV6_FRAGMENT_HEADER_LEN = 8;
/** Length of the Hop-by-Hop header {@link emitHopByHopRouterAlert} writes. */
export const IPV6_ROUTER_ALERT_HEADER_LEN = 8;
/** Offset of the payload length field in the fixed IPv6 header (RFC 8200 §3). */
export const IPV6_PAYLOAD_LENGTH_OFFSET = 4;
/** Offset of the next-header byte in the fixed IPv6 header (RFC 8200 §3). */
export const IPV6_NEXT_HEADER_OFFSET = 6;
/** Offset of the source address in the fixed IPv6 header (RFC 8200 §3). */
export const IPV6_SRC_OFFSET = 8;
/** Offset of the destination address in the fixed IPv6 header (RFC 8200 §3). */
export const IPV6_DST_OFFSET = 24;
/** Offset of the hop limit byte in the fixed IPv6 header (RFC 8200 §3). */
export const IPV6_HOP_LIMIT_OFFSET = 7;

/** Next Header: Hop-by-Hop Options (RFC 8200 §4.3). */
export const IP_PROTO_HOPOPTS = 0;
/** Next Header: Routing (RFC 8200 §4.4). */
export const IP_PROTO_ROUTING = 43;
/** Next Header: Fragment (RFC 8200 §4.5). */
export const IP_PROTO_FRAGMENT = 44;
/** Next Header: Encapsulating Security Payload (RFC 4303). */
export const IP_PROTO_ESP = 50;
/** Next Header: Authentication Header (RFC 4302). */
export const IP_PROTO_AH = 51;
/** Next Header: ICMPv6 (RFC 4443). */
export const IP_PROTO_ICMPV6 = 58;
/** Next Header: No Next Header (RFC 8200 §4.7). */
export const IP_PROTO_NONE = 59;
/** Next Header: Destination Options (RFC 8200 §4.6). */
export const IP_PROTO_DSTOPTS = 60;

/** Option type Pad1 (RFC 8200 §4.2). */
export const IPV6_OPT_PAD1 = 0;
/** Option type PadN (RFC 8200 §4.2). */
export const IPV6_OPT_PADN = 1;
/** Option type Router Alert (RFC 2711 §2.1); action bits 00. */
export const IPV6_OPT_ROUTER_ALERT = 5;
/** Router Alert value: the datagram contains an MLD message (RFC 2711 §2.1). */
export const IPV6_ROUTER_ALERT_MLD = 0;

/** ICMPv6 Parameter Problem code 0: erroneous header field (RFC 4443 §3.4). */
export const ICMPV6_PARAM_HEADER_FIELD = 0;
/** ICMPv6 Parameter Problem code 1: unrecognized Next Header type (RFC 4443 §3.4). */
export const ICMPV6_PARAM_NEXT_HEADER = 1;
/** ICMPv6 Parameter Problem code 2: unrecognized IPv6 option (RFC 4443 §3.4). */
export const ICMPV6_PARAM_OPTION = 2;
/** ICMPv6 Parameter Problem code 3: first fragment has an incomplete header chain (RFC 7112 §5). */
export const ICMPV6_PARAM_INCOMPLETE_CHAIN = 3;

const PROTOCOL = "ipv6";
const IP_PROTO_TCP = 6;
const IP_PROTO_UDP = 17;
const OFFSET_VTC = 0;
const OFFSET_PAYLOAD_LEN = IPV6_PAYLOAD_LENGTH_OFFSET;
const OFFSET_NEXT_HEADER = IPV6_NEXT_HEADER_OFFSET;
const OFFSET_HOP_LIMIT = IPV6_HOP_LIMIT_OFFSET;
const OFFSET_SRC = IPV6_SRC_OFFSET;
const OFFSET_DST = IPV6_DST_OFFSET;
const FLOW_LABEL_MASK = 0xfffff;
const FRAGMENT_OFFSET_MASK = 0xfff8;
const FRAGMENT_MORE = 1;
/** Extension headers (other than Fragment) are multiples of 8 bytes, at least 8. */
const EXT_UNIT = 8;
/** The AH length field counts 4-byte units minus 2 (RFC 4302 §2.2). */
const AH_UNIT = 4;
const AH_LEN_BIAS = 2;
/** Option action: the two high-order bits of the option type (RFC 8200 §4.2). */
const OPT_ACTION_SKIP = 0;
const OPT_ACTION_DISCARD = 1;
const OPT_ACTION_ICMP = 2;
const ROUTER_ALERT_LEN = 2;
/**
 * Bytes of the upper-layer header a first fragment must hold (RFC 7112 §5,
 * RFC 8200 §4.5): the fixed TCP, UDP and ICMPv6 headers, one byte for any
 * other protocol — Linux's ipv6frag_thdr_truncated().
 */
const TCP_MIN = 20;
const UDP_MIN = 8;
const ICMPV6_MIN = 8;

/**
 * A zero-copy view of an IPv6 packet. `length` is the number of bytes
 * available (e.g. the Ethernet payload, which may be padded); the packet
 * itself is 40 + {@link Ipv6Packet.payloadLength} bytes.
 *
 * @example
 * ```ts
 * import { Ipv6Packet } from "./ipv6.ts";
 * const p = new Ipv6Packet(new Uint8Array(48));
 * p.setVersion();
 * p.payloadLength = 8;
 * console.assert(p.check() === null && p.payloadOffset === 40);
 * ```
 */
export class Ipv6Packet extends WireView {
  /**
   * Validates version and payload length against the available bytes.
   * After `null`, every accessor is in bounds and the payload lies inside
   * `length`. (A payload length of 0 with a Jumbo Payload option, RFC
   * 2675, is not supported: it reads as an empty payload.)
   *
   * @returns null when valid, otherwise the defect
   */
  check(): WireError | null {
    const err = this.checkBounds(PROTOCOL, "packet", IPV6_HEADER_LEN);
    if (err !== null) return err;
    if (this.version !== IPV6_VERSION) {
      return new WireError(PROTOCOL, "bad-version", `version ${this.version} != 6`);
    }
    const payload = this.payloadLength;
    if (payload > this.length - IPV6_HEADER_LEN) {
      return new WireError(
        PROTOCOL,
        "bad-total-length",
        `payload length ${payload} > ${this.length - IPV6_HEADER_LEN} bytes available`,
      );
    }
    return null;
  }

  /**
   * Validates only that a 40-byte version-6 header is readable: enough for
   * the header of a packet quoted, truncated, inside an ICMPv6 error.
   *
   * @returns null when the header is readable, otherwise the defect
   */
  checkHeader(): WireError | null {
    const err = this.checkBounds(PROTOCOL, "packet", IPV6_HEADER_LEN);
    if (err !== null) return err;
    if (this.version !== IPV6_VERSION) {
      return new WireError(PROTOCOL, "bad-version", `version ${this.version} != 6`);
    }
    return null;
  }

  /** Writes version 6, traffic class 0 and flow label 0 into the first word. */
  setVersion(): void {
    write32(this.bytes, this.offset + OFFSET_VTC, IPV6_VERSION << 28);
  }

  /** IP version (6). */
  get version(): number {
    return this.bytes[this.offset + OFFSET_VTC] >>> 4;
  }

  /** Traffic class: DSCP (6 bits) and ECN (2 bits), RFC 8200 §7. */
  get trafficClass(): number {
    return (read16(this.bytes, this.offset + OFFSET_VTC) >>> 4) & 0xff;
  }
  set trafficClass(v: number) {
    const at = this.offset + OFFSET_VTC;
    const word = read16(this.bytes, at);
    write16(this.bytes, at, (word & 0xf00f) | ((v & 0xff) << 4));
  }

  /** Flow label, 20 bits (RFC 6437). */
  get flowLabel(): number {
    return readI32(this.bytes, this.offset + OFFSET_VTC) & FLOW_LABEL_MASK;
  }
  set flowLabel(v: number) {
    const at = this.offset + OFFSET_VTC;
    const word = readI32(this.bytes, at);
    write32(this.bytes, at, (word & ~FLOW_LABEL_MASK) | (v & FLOW_LABEL_MASK));
  }

  /** Payload length: extension headers and upper-layer data after the 40-byte header. */
  get payloadLength(): number {
    return read16(this.bytes, this.offset + OFFSET_PAYLOAD_LEN);
  }
  set payloadLength(v: number) {
    write16(this.bytes, this.offset + OFFSET_PAYLOAD_LEN, v);
  }

  /** Next Header: the first extension header or the upper-layer protocol. */
  get nextHeader(): number {
    return this.bytes[this.offset + OFFSET_NEXT_HEADER];
  }
  set nextHeader(v: number) {
    this.bytes[this.offset + OFFSET_NEXT_HEADER] = v;
  }

  /** Hop limit. */
  get hopLimit(): number {
    return this.bytes[this.offset + OFFSET_HOP_LIMIT];
  }
  set hopLimit(v: number) {
    this.bytes[this.offset + OFFSET_HOP_LIMIT] = v;
  }

  /** Where the source address starts in {@link Ipv6Packet.bytes} (absolute index). */
  get sourceOffset(): number {
    return this.offset + OFFSET_SRC;
  }

  /** Where the destination address starts (absolute index). */
  get destinationOffset(): number {
    return this.offset + OFFSET_DST;
  }

  /** Source address (a new object; compare with `Ipv6Address.equalsAt` to avoid it). */
  get source(): Ipv6Address {
    return Ipv6Address.fromBytes(this.bytes, this.offset + OFFSET_SRC);
  }
  set source(v: Ipv6Address) {
    v.writeTo(this.bytes, this.offset + OFFSET_SRC);
  }

  /** Destination address (a new object). */
  get destination(): Ipv6Address {
    return Ipv6Address.fromBytes(this.bytes, this.offset + OFFSET_DST);
  }
  set destination(v: Ipv6Address) {
    v.writeTo(this.bytes, this.offset + OFFSET_DST);
  }

  /** True when the destination is multicast (ff00::/8), read from one byte. */
  get destinationIsMulticast(): boolean {
    return this.bytes[this.offset + OFFSET_DST] === 0xff;
  }

  /** Where the payload starts (absolute index). */
  get payloadOffset(): number {
    return this.offset + IPV6_HEADER_LEN;
  }
}

/** The fields of the fixed IPv6 header. */
export interface Ipv6Repr {
  /** Source address. */
  source: Ipv6Address;
  /** Destination address. */
  destination: Ipv6Address;
  /** Next Header (first extension header or upper-layer protocol). */
  nextHeader: number;
  /** Hop limit. */
  hopLimit: number;
  /** Traffic class (DSCP << 2 | ECN). */
  trafficClass: number;
  /** Flow label (20 bits). */
  flowLabel: number;
  /** Payload length in bytes (extension headers included). */
  payloadLength: number;
  /** Where the payload starts in the parsed buffer (absolute index; 0 for a built repr). */
  payloadOffset: number;
}

/**
 * A fresh repr (hop limit 64, unspecified addresses), to reuse as `out`.
 *
 * @returns a new repr
 *
 * @example
 * ```ts
 * import { newIpv6Repr } from "./ipv6.ts";
 * console.assert(newIpv6Repr().hopLimit === 64);
 * ```
 */
export function newIpv6Repr(): Ipv6Repr {
  return {
    source: Ipv6Address.UNSPECIFIED,
    destination: Ipv6Address.UNSPECIFIED,
    nextHeader: IP_PROTO_NONE,
    hopLimit: IPV6_DEFAULT_HOP_LIMIT,
    trafficClass: 0,
    flowLabel: 0,
    payloadLength: 0,
    payloadOffset: 0,
  };
}

/** The shape of {@link Ipv6Repr}: parse and emit the fixed IPv6 header (RFC 8200 §3). */
export interface Ipv6Codec {
  /**
   * Checks the packet and reads its fixed header. With `out`, the address
   * objects already in it are kept when the packet carries the same
   * addresses (one flow: no allocation); otherwise new ones replace them
   * (the old objects are never changed, so holding one is safe).
   *
   * @param packet the view (checked here)
   * @param out a repr to fill
   * @returns the repr, or the defect
   */
  parse(packet: Ipv6Packet, out?: Ipv6Repr): Ipv6Repr | WireError;

  /**
   * Writes the 40-byte header at `offset`. The payload is not touched.
   *
   * @param repr the header
   * @param bytes the buffer (room for 40 bytes at `offset`)
   * @param offset where the packet starts
   * @returns bytes written (40)
   */
  emit(repr: Ipv6Repr, bytes: Uint8Array, offset: number): number;
}

/**
 * Parse and emit the fixed IPv6 header.
 *
 * @example
 * ```ts
 * import { IP_PROTO_ICMPV6, Ipv6Packet, Ipv6Repr, newIpv6Repr } from "./ipv6.ts";
 * import { Ipv6Address } from "./ipv6_address.ts";
 * import { isWireError } from "./error.ts";
 * const bytes = new Uint8Array(48);
 * const repr = { ...newIpv6Repr(), source: Ipv6Address.parse("2001:db8::1"),
 *   destination: Ipv6Address.parse("2001:db8::2"), nextHeader: IP_PROTO_ICMPV6, payloadLength: 8 };
 * Ipv6Repr.emit(repr, bytes, 0);
 * const back = Ipv6Repr.parse(new Ipv6Packet(bytes));
 * if (isWireError(back)) throw new Error(String(back));
 * console.assert(back.destination.toString() === "2001:db8::2" && back.payloadLength === 8);
 * ```
 */
export const Ipv6Repr: Ipv6Codec = {
  parse(packet: Ipv6Packet, out?: Ipv6Repr): Ipv6Repr | WireError {
    const err = packet.check();
    if (err !== null) return err;
    const repr = out ?? newIpv6Repr();
    const bytes = packet.bytes;
    const src = packet.sourceOffset;
    const dst = packet.destinationOffset;
    if (!repr.source.equalsAt(bytes, src)) repr.source = Ipv6Address.fromBytes(bytes, src);
    if (!repr.destination.equalsAt(bytes, dst)) {
      repr.destination = Ipv6Address.fromBytes(bytes, dst);
    }
    repr.nextHeader = packet.nextHeader;
    repr.hopLimit = packet.hopLimit;
    repr.trafficClass = packet.trafficClass;
    repr.flowLabel = packet.flowLabel;
    repr.payloadLength = packet.payloadLength;
    repr.payloadOffset = packet.payloadOffset;
    return repr;
  },

  emit(repr: Ipv6Repr, bytes: Uint8Array, offset: number): number {
    write32(
      bytes,
      offset + OFFSET_VTC,
      (IPV6_VERSION << 28) | ((repr.trafficClass & 0xff) << 20) |
        (repr.flowLabel & FLOW_LABEL_MASK),
    );
    write16(bytes, offset + OFFSET_PAYLOAD_LEN, repr.payloadLength);
    bytes[offset + OFFSET_NEXT_HEADER] = repr.nextHeader;
    bytes[offset + OFFSET_HOP_LIMIT] = repr.hopLimit;
    repr.source.writeTo(bytes, offset + OFFSET_SRC);
    repr.destination.writeTo(bytes, offset + OFFSET_DST);
    return IPV6_HEADER_LEN;
  },
};

/**
 * Writes the Hop-by-Hop Options header MLD messages carry (RFC 3810 §5,
 * RFC 2711): a Router Alert option (value 0, MLD) padded with a 2-byte
 * PadN to 8 bytes, as Linux sends it: `NH 00 05 02 00 00 01 00`.
 *
 * @param bytes the buffer
 * @param offset where the header starts (right after the IPv6 header)
 * @param nextHeader the protocol after it (58, ICMPv6)
 * @param value the Router Alert value (default {@link IPV6_ROUTER_ALERT_MLD})
 * @returns bytes written ({@link IPV6_ROUTER_ALERT_HEADER_LEN})
 *
 * @example
 * ```ts
 * import { emitHopByHopRouterAlert } from "./ipv6.ts";
 * const b = new Uint8Array(8);
 * emitHopByHopRouterAlert(b, 0, 58);
 * console.assert(b.join() === "58,0,5,2,0,0,1,0");
 * ```
 */
export function emitHopByHopRouterAlert(
  bytes: Uint8Array,
  offset: number,
  nextHeader: number,
  value: number = IPV6_ROUTER_ALERT_MLD,
): number {
  bytes[offset] = nextHeader;
  bytes[offset + 1] = 0; // Hdr Ext Len: 8-octet units beyond the first
  bytes[offset + 2] = IPV6_OPT_ROUTER_ALERT;
  bytes[offset + 3] = ROUTER_ALERT_LEN;
  write16(bytes, offset + 4, value);
  bytes[offset + 6] = IPV6_OPT_PADN;
  bytes[offset + 7] = 0;
  return IPV6_ROUTER_ALERT_HEADER_LEN;
}

/**
 * Writes a Fragment header (RFC 8200 §4.5).
 *
 * @param bytes the buffer
 * @param offset where the header starts
 * @param nextHeader the first header of the fragmentable part
 * @param fragmentOffset offset of this fragment's data in bytes (a multiple of 8)
 * @param moreFragments the M flag
 * @param identification the 32-bit identification (int32 or unsigned)
 * @returns bytes written (8)
 *
 * @example
 * ```ts
 * import { emitFragmentHeader } from "./ipv6.ts";
 * const b = new Uint8Array(8);
 * emitFragmentHeader(b, 0, 17, 1232, true, 0x12345678);
 * console.assert(b.join() === "17,0,4,209,18,52,86,120");
 * ```
 */
export function emitFragmentHeader(
  bytes: Uint8Array,
  offset: number,
  nextHeader: number,
  fragmentOffset: number,
  moreFragments: boolean,
  identification: number,
): number {
  bytes[offset] = nextHeader;
  bytes[offset + 1] = 0;
  write16(
    bytes,
    offset + 2,
    (fragmentOffset & FRAGMENT_OFFSET_MASK) | (moreFragments ? FRAGMENT_MORE : 0),
  );
  write32(bytes, offset + 4, identification);
  return IPV6_FRAGMENT_HEADER_LEN;
}

/**
 * What the chain walker decided (RFC 8200 §4):
 * - `"deliver"`: hand {@link Ipv6Chain.upperOffset} to {@link Ipv6Chain.protocol}'s handler;
 * - `"reassemble"`: a fragment (not atomic): reassemble using the fragment fields;
 * - `"discard"`: drop silently (an option whose action says so, No Next Header, an
 *   option of action 11 for a multicast destination);
 * - `"parameter-problem"`: drop, and send an ICMPv6 Parameter Problem with
 *   {@link Ipv6Chain.icmpCode} and {@link Ipv6Chain.pointer} when
 *   {@link Ipv6Chain.icmpAllowed}.
 */
export type Ipv6ChainVerdict = "deliver" | "reassemble" | "discard" | "parameter-problem";

/**
 * The result of {@link walkIpv6Chain}: a plain object made once and refilled
 * per packet. `upperOffset`/`upperLength` are meaningful for "deliver",
 * "reassemble" and No Next Header; the ICMP fields for
 * "parameter-problem"; the fragment fields whenever `hasFragmentHeader`.
 */
export interface Ipv6Chain {
  /** What to do with the packet. */
  verdict: Ipv6ChainVerdict;
  /** The Next Header value the chain ends with (the upper-layer protocol; for "reassemble" the Fragment header's). */
  protocol: number;
  /** Where that header starts (absolute index; for "reassemble" the fragmentable data). */
  upperOffset: number;
  /** Bytes from `upperOffset` to the end of the payload. */
  upperLength: number;
  /** Offset from the IPv6 header of the Next Header field that holds `protocol` (the ICMPv6 pointer for code 1). */
  nextHeaderPointer: number;
  /** True when a Hop-by-Hop Options header is present. */
  hopByHop: boolean;
  /** The Router Alert value (RFC 2711), or -1 when there is none. */
  routerAlert: number;
  /** True when a Fragment header is present (atomic or not). */
  hasFragmentHeader: boolean;
  /** Fragment offset in bytes (0 without a Fragment header). */
  fragmentOffset: number;
  /** The M flag. */
  moreFragments: boolean;
  /** Identification, as int32 (`>>> 0` for the unsigned value). */
  fragmentId: number;
  /** Offset from the IPv6 header of the Next Header field that names the Fragment header (rewritten on reassembly, RFC 8200 §4.5). */
  fragmentNextHeaderPointer: number;
  /** Offset from the IPv6 header where the Fragment header starts (= length of the unfragmentable part). */
  fragmentHeaderPointer: number;
  /** True for an atomic fragment (offset 0, M 0: processed in isolation, RFC 6946 §4). */
  atomicFragment: boolean;
  /**
   * False only when the packet is a first fragment (offset 0, M 1) that ends
   * before its extension headers and upper-layer header do (RFC 7112 §5);
   * the verdict is then a Parameter Problem, code 3, pointer 0.
   */
  chainComplete: boolean;
  /** ICMPv6 Parameter Problem code (ICMPV6_PARAM_*) for "parameter-problem", else -1. */
  icmpCode: number;
  /** ICMPv6 Parameter Problem pointer: offset from the start of the IPv6 header. */
  pointer: number;
  /**
   * Whether RFC 4443 §2.4 (e.3) lets the error be sent as far as the
   * destination goes: not for a multicast destination, except for an
   * unrecognised option whose action bits are 10 (RFC 8200 §4.2).
   */
  icmpAllowed: boolean;
}

/**
 * A fresh chain result, to reuse as `out`.
 *
 * @returns a new result
 *
 * @example
 * ```ts
 * import { newIpv6Chain } from "./ipv6.ts";
 * console.assert(newIpv6Chain().routerAlert === -1);
 * ```
 */
export function newIpv6Chain(): Ipv6Chain {
  return {
    verdict: "discard",
    protocol: IP_PROTO_NONE,
    upperOffset: 0,
    upperLength: 0,
    nextHeaderPointer: OFFSET_NEXT_HEADER,
    hopByHop: false,
    routerAlert: -1,
    hasFragmentHeader: false,
    fragmentOffset: 0,
    moreFragments: false,
    fragmentId: 0,
    fragmentNextHeaderPointer: -1,
    fragmentHeaderPointer: -1,
    atomicFragment: false,
    chainComplete: true,
    icmpCode: -1,
    pointer: 0,
    icmpAllowed: false,
  };
}

/** Options of {@link walkIpv6Chain}. */
export interface Ipv6WalkOptions {
  /**
   * The upper-layer protocols the caller handles; any other Next Header
   * (including extension headers rawstack does not process: AH, ESP,
   * Mobility…) gets a Parameter Problem code 1 (RFC 8200 §4). Default:
   * TCP, UDP and ICMPv6.
   */
  isUpperLayer?: (nextHeader: number) => boolean;
}

/**
 * The default upper layers of {@link walkIpv6Chain}.
 *
 * @param nextHeader a Next Header value
 * @returns true for TCP (6), UDP (17) and ICMPv6 (58)
 *
 * @example
 * ```ts
 * import { isDefaultUpperLayer } from "./ipv6.ts";
 * console.assert(isDefaultUpperLayer(58) && !isDefaultUpperLayer(51));
 * ```
 */
export function isDefaultUpperLayer(nextHeader: number): boolean {
  return nextHeader === IP_PROTO_TCP || nextHeader === IP_PROTO_UDP ||
    nextHeader === IP_PROTO_ICMPV6;
}

function problem(
  out: Ipv6Chain,
  code: number,
  pointer: number,
  icmpAllowed: boolean,
): Ipv6Chain {
  out.verdict = "parameter-problem";
  out.icmpCode = code;
  out.pointer = pointer;
  out.icmpAllowed = icmpAllowed;
  return out;
}

function truncatedChain(what: string, at: number, need: number, end: number): WireError {
  return new WireError(
    PROTOCOL,
    "truncated",
    `${what} at payload byte ${at} needs ${need} bytes, ${Math.max(0, end - at)} left`,
  );
}

/** Upper-layer bytes a first fragment must hold (RFC 7112 §5; Linux ipv6frag_thdr_truncated). */
function upperHeaderMin(nextHeader: number): number {
  switch (nextHeader) {
    case IP_PROTO_TCP:
      return TCP_MIN;
    case IP_PROTO_UDP:
      return UDP_MIN;
    case IP_PROTO_ICMPV6:
      return ICMPV6_MIN;
    case IP_PROTO_NONE:
      return 0;
    default:
      return 1;
  }
}

/**
 * Processes the TLV options of a Hop-by-Hop or Destination Options header
 * (RFC 8200 §4.2) in `[start, end)`. Returns null to go on, the result when
 * an option ends processing, or a WireError for options that overrun the
 * header.
 *
 * A Jumbo Payload option in the Hop-by-Hop header of a packet walked here
 * (its Payload Length is not 0: a jumbogram is read by `readIpv6Jumbogram`)
 * is one of RFC 2675 §3's errors, each a Parameter Problem code 0, checked
 * in the order of Linux's `ipv6_hop_jumbo`: misaligned (not 4n+2, RFC 2675
 * §2) or an Opt Data Len other than 4 (pointer: the Opt Data Len); a Jumbo
 * Payload Length below 65,536 (pointer: its high octet); else "Payload
 * Length ≠ 0 and Jumbo Payload option present" (pointer: the Option Type).
 * In a Destination Options header it is an unrecognised option.
 */
function processOptions(
  bytes: Uint8Array,
  base: number,
  start: number,
  end: number,
  multicast: boolean,
  hopByHop: boolean,
  out: Ipv6Chain,
): Ipv6Chain | WireError | null {
  let at = start;
  while (at < end) {
    const type = bytes[at];
    if (type === IPV6_OPT_PAD1) {
      at++;
      continue;
    }
    if (at + 2 > end) {
      return new WireError(PROTOCOL, "bad-option", `option ${type} has no length byte`);
    }
    const len = bytes[at + 1];
    if (at + 2 + len > end) {
      return new WireError(
        PROTOCOL,
        "bad-option",
        `option ${type} of ${len} bytes overruns its header by ${at + 2 + len - end}`,
      );
    }
    if (type === IPV6_OPT_ROUTER_ALERT) {
      // RFC 2711 §2.1: a 2-byte value.
      if (len !== ROUTER_ALERT_LEN) {
        return new WireError(PROTOCOL, "bad-option", `router alert of length ${len} != 2`);
      }
      out.routerAlert = read16(bytes, at + 2);
    } else if (type === IPV6_OPT_JUMBO && hopByHop) {
      const pointer = at - base;
      if ((pointer & JUMBO_ALIGN_MASK) !== JUMBO_ALIGN || len !== IPV6_OPT_JUMBO_LEN) {
        return problem(out, ICMPV6_PARAM_HEADER_FIELD, pointer + 1, !multicast);
      }
      if (read32(bytes, at + 2) < IPV6_JUMBO_MIN_LENGTH) {
        return problem(out, ICMPV6_PARAM_HEADER_FIELD, pointer + 2, !multicast);
      }
      return problem(out, ICMPV6_PARAM_HEADER_FIELD, pointer, !multicast);
    } else if (type !== IPV6_OPT_PADN) {
      // RFC 8200 §4.2: the two high-order bits say what to do with an unrecognised option.
      const action = type >>> 6;
      if (action === OPT_ACTION_DISCARD) {
        out.verdict = "discard";
        return out;
      }
      if (action !== OPT_ACTION_SKIP) {
        // 10: an ICMP Parameter Problem, code 2, even to a multicast destination;
        // 11: only when the destination is not multicast.
        return problem(
          out,
          ICMPV6_PARAM_OPTION,
          at - base,
          action === OPT_ACTION_ICMP || !multicast,
        );
      }
    }
    at += 2 + len;
  }
  return null;
}

/**
 * Walks the extension-header chain of a checked packet (RFC 8200 §4) and
 * says what to do with it; allocates nothing when `out` is given.
 *
 * In order: a Hop-by-Hop header is accepted only right after the IPv6
 * header (§4.1; elsewhere: code 1); Hop-by-Hop and Destination Options are
 * processed option by option with the §4.2 actions (a Jumbo Payload option
 * in the Hop-by-Hop header: RFC 2675 §3's code 0, the Payload Length not
 * being 0); a Routing header with
 * Segments Left ≠ 0 is refused with code 0 pointing at its Routing Type —
 * rawstack implements no routing type, and RFC 5095 §3 makes type 0 one of
 * those — and one with Segments Left 0 is skipped (§4.4); a Fragment header
 * is checked (§4.5: M with a length not a multiple of 8 → code 0 at the
 * Payload Length, a reassembled payload over 65,535 → code 0 at the
 * Fragment Offset); an atomic fragment is processed in isolation (RFC 6946
 * §4); any other fragment gets "reassemble", and for the first one the rest
 * of its chain is measured (not processed, that happens after reassembly):
 * if it ends before the upper-layer header, code 3 with pointer 0 (RFC 7112
 * §5, RFC 8200 §4.5). The upper-layer protocol must satisfy
 * `opts.isUpperLayer` (else code 1 at the Next Header field that names it);
 * No Next Header (59) is discarded (§4.7).
 *
 * Bad input is a WireError: an extension header that runs past the payload
 * of an unfragmented packet ("truncated") or an option that overruns its
 * header ("bad-option"; Linux drops those silently too).
 *
 * @param packet the packet (checked here again: bounds, version, payload length)
 * @param out a result to fill
 * @param opts which upper layers the caller handles
 * @returns the result, or the defect
 *
 * @example
 * ```ts
 * import { emitHopByHopRouterAlert, Ipv6Packet, walkIpv6Chain } from "./ipv6.ts";
 * import { isWireError } from "./error.ts";
 * const b = new Uint8Array(40 + 8 + 8);
 * b[0] = 0x60; b[5] = 16; b[6] = 0; // payload 16, Next Header: Hop-by-Hop
 * emitHopByHopRouterAlert(b, 40, 58);
 * const chain = walkIpv6Chain(new Ipv6Packet(b));
 * if (isWireError(chain)) throw new Error(String(chain));
 * console.assert(chain.verdict === "deliver" && chain.protocol === 58 && chain.upperOffset === 48);
 * console.assert(chain.routerAlert === 0 && chain.nextHeaderPointer === 40);
 * ```
 */
export function walkIpv6Chain(
  packet: Ipv6Packet,
  out: Ipv6Chain = newIpv6Chain(),
  opts?: Ipv6WalkOptions,
): Ipv6Chain | WireError {
  const err = packet.check(); // cheap, and the walk never trusts a caller's view
  if (err !== null) return err;
  const bytes = packet.bytes;
  const base = packet.offset;
  const end = base + IPV6_HEADER_LEN + packet.payloadLength;
  const multicast = packet.destinationIsMulticast;
  const isUpper = opts?.isUpperLayer ?? isDefaultUpperLayer;
  out.verdict = "deliver";
  out.hopByHop = false;
  out.routerAlert = -1;
  out.hasFragmentHeader = false;
  out.fragmentOffset = 0;
  out.moreFragments = false;
  out.fragmentId = 0;
  out.fragmentNextHeaderPointer = -1;
  out.fragmentHeaderPointer = -1;
  out.atomicFragment = false;
  out.chainComplete = true;
  out.icmpCode = -1;
  out.pointer = 0;
  out.icmpAllowed = false;
  let nextHeader = packet.nextHeader;
  let pointer = OFFSET_NEXT_HEADER;
  let at = base + IPV6_HEADER_LEN;
  /** After a first fragment's Fragment header: measure the chain, do not process it. */
  let measuring = false;
  // Every header is at least 8 bytes, so the loop ends within payloadLength / 8 steps.
  for (;;) {
    if (!measuring) {
      out.protocol = nextHeader;
      out.nextHeaderPointer = pointer;
    }
    let headerLength: number;
    if (
      nextHeader === IP_PROTO_HOPOPTS || nextHeader === IP_PROTO_DSTOPTS ||
      nextHeader === IP_PROTO_ROUTING ||
      (measuring && nextHeader === IP_PROTO_AH)
    ) {
      if (!measuring && nextHeader === IP_PROTO_HOPOPTS && at !== base + IPV6_HEADER_LEN) {
        // RFC 8200 §4.1/§4.3: Hop-by-Hop only immediately after the IPv6 header; elsewhere
        // it is an unrecognised Next Header (Linux: ICMPV6_UNK_NEXTHDR).
        return problem(out, ICMPV6_PARAM_NEXT_HEADER, pointer, !multicast);
      }
      if (at + 2 > end) {
        if (measuring) break;
        return truncatedChain(`header ${nextHeader}`, at - base, EXT_UNIT, end - base);
      }
      headerLength = nextHeader === IP_PROTO_AH
        ? (bytes[at + 1] + AH_LEN_BIAS) * AH_UNIT
        : (bytes[at + 1] + 1) * EXT_UNIT;
      if (at + headerLength > end) {
        if (measuring) break;
        return truncatedChain(`header ${nextHeader}`, at - base, headerLength, end - base);
      }
      if (!measuring) {
        if (nextHeader === IP_PROTO_ROUTING) {
          // RFC 8200 §4.4: an unrecognised Routing Type with Segments Left ≠ 0 is refused
          // with code 0 at the Routing Type; RFC 5095 §3: type 0 is treated so.
          if (bytes[at + 3] !== 0) {
            return problem(out, ICMPV6_PARAM_HEADER_FIELD, at + 2 - base, !multicast);
          }
        } else {
          if (nextHeader === IP_PROTO_HOPOPTS) out.hopByHop = true;
          const hbh = nextHeader === IP_PROTO_HOPOPTS;
          const r = processOptions(bytes, base, at + 2, at + headerLength, multicast, hbh, out);
          if (r !== null) return r;
        }
      }
    } else if (nextHeader === IP_PROTO_FRAGMENT) {
      headerLength = IPV6_FRAGMENT_HEADER_LEN;
      if (at + headerLength > end) {
        if (measuring) break;
        return truncatedChain("fragment header", at - base, headerLength, end - base);
      }
      if (!measuring && !out.hasFragmentHeader) {
        const field = read16(bytes, at + 2);
        const offset = field & FRAGMENT_OFFSET_MASK;
        const more = (field & FRAGMENT_MORE) !== 0;
        const dataStart = at + IPV6_FRAGMENT_HEADER_LEN;
        const fragmentLength = end - dataStart;
        out.hasFragmentHeader = true;
        out.fragmentOffset = offset;
        out.moreFragments = more;
        out.fragmentId = readI32(bytes, at + 4);
        out.fragmentNextHeaderPointer = pointer;
        out.fragmentHeaderPointer = at - base;
        if (offset === 0 && !more) {
          // RFC 6946 §4: an atomic fragment is processed in isolation.
          out.atomicFragment = true;
        } else {
          // RFC 8200 §4.5: the checks on receipt of every fragment.
          if (more && (fragmentLength & (IPV6_FRAGMENT_UNIT - 1)) !== 0) {
            return problem(out, ICMPV6_PARAM_HEADER_FIELD, OFFSET_PAYLOAD_LEN, !multicast);
          }
          const unfragmentable = at - (base + IPV6_HEADER_LEN);
          if (unfragmentable + offset + fragmentLength > IPV6_MAX_PAYLOAD_LEN) {
            return problem(out, ICMPV6_PARAM_HEADER_FIELD, at + 2 - base, !multicast);
          }
          out.verdict = "reassemble";
          out.protocol = bytes[at];
          out.nextHeaderPointer = at - base;
          out.upperOffset = dataStart;
          out.upperLength = fragmentLength;
          if (offset !== 0) return out; // the rest is data of a later fragment
          measuring = true;
        }
      }
    } else {
      // The upper layer (or No Next Header).
      if (measuring) {
        if (at + upperHeaderMin(nextHeader) > end) break;
        return out; // "reassemble", with protocol and data of the Fragment header
      }
      out.upperOffset = at;
      out.upperLength = end - at;
      if (nextHeader === IP_PROTO_NONE) {
        out.verdict = "discard"; // RFC 8200 §4.7: nothing follows
        return out;
      }
      if (!isUpper(nextHeader)) {
        return problem(out, ICMPV6_PARAM_NEXT_HEADER, pointer, !multicast);
      }
      return out;
    }
    nextHeader = bytes[at];
    pointer = at - base;
    at += headerLength;
  }
  // Only a measured first fragment gets here: its chain ends beyond the fragment.
  out.chainComplete = false;
  out.protocol = bytes[base + out.fragmentHeaderPointer];
  out.nextHeaderPointer = out.fragmentHeaderPointer;
  return problem(out, ICMPV6_PARAM_INCOMPLETE_CHAIN, 0, !multicast);
}

// ---------------------------------------------------------------- RFC 2675 jumbograms

/** Option type Jumbo Payload (RFC 2675 §2): action bits 11, may not change en route. */
export const IPV6_OPT_JUMBO = 0xc2;
/** Opt Data Len of the Jumbo Payload option (RFC 2675 §2). */
export const IPV6_OPT_JUMBO_LEN = 4;
/** Smallest Jumbo Payload Length: a jumbogram is longer than 65,535 octets (RFC 2675 §2). */
export const IPV6_JUMBO_MIN_LENGTH = 0x10000;
/**
 * The Hop-by-Hop header a Linux BIG TCP sender inserts (`struct hop_jumbo_hdr`,
 * include/net/ipv6.h): Next Header, Hdr Ext Len 0, the Jumbo Payload option at
 * offset 2 (its 4n+2 alignment, RFC 2675 §2) and nothing else: 8 octets.
 */
export const IPV6_JUMBO_HOPOPTS_LEN = 8;
/** The Jumbo Payload option's alignment, 4n + 2 (RFC 2675 §2): offset & 3 === 2. */
const JUMBO_ALIGN_MASK = 3;
const JUMBO_ALIGN = 2;
/** Offsets of the option's fields in that header. */
const JUMBO_OPT_TYPE_AT = 2;
const JUMBO_OPT_LEN_AT = 3;
const JUMBO_LENGTH_AT = 4;

/** What {@link readIpv6Jumbogram} found (one reused object). */
export interface Ipv6Jumbogram {
  /**
   * `"deliver"`: the upper-layer packet below; `"parameter-problem"`: RFC
   * 2675 §3 asks for an ICMPv6 Parameter Problem, code 0, at {@link pointer};
   * `"discard"`: dropped silently (truncated, or a shape this stack does not
   * take: more options in the header, another upper layer than TCP).
   */
  verdict: "deliver" | "parameter-problem" | "discard";
  /** Upper-layer protocol (deliver). */
  protocol: number;
  /** Offset of the upper-layer header in the buffer (deliver). */
  upperOffset: number;
  /** Upper-layer length (deliver). */
  upperLength: number;
  /** Octet of the invoking packet the Parameter Problem points at (RFC 4443 §3.4). */
  pointer: number;
}

/** A fresh {@link Ipv6Jumbogram} to pass to {@link readIpv6Jumbogram}. */
export function newIpv6Jumbogram(): Ipv6Jumbogram {
  return { verdict: "discard", protocol: 0, upperOffset: 0, upperLength: 0, pointer: 0 };
}

/**
 * Reads a received IPv6 packet whose Payload Length is 0 as a TCP jumbogram
 * (RFC 2675), the way Linux's BIG TCP hands over GSO/GRO super-frames above
 * 64 KiB: either with the 8-octet Hop-by-Hop header holding only the Jumbo
 * Payload option (kernels through 6.18 at least insert it on transmit:
 * `ipv6_hopopt_jumbo`), or with no Hop-by-Hop header and TCP right after the
 * fixed header, the packet then as long as the frame (newer kernels dropped
 * the insertion). Call only for a frame the device marked as a GSO
 * super-frame: on the wire a Payload Length of 0 keeps its ordinary meaning.
 *
 * RFC 2675 §3's errors, each a Parameter Problem code 0: Payload Length 0
 * with a Hop-by-Hop header but no Jumbo Payload option (pointer: the high
 * octet of Payload Length); a Jumbo Payload Length below 65,536 (pointer: its
 * high octet); a Fragment header with the option (pointer: the Fragment
 * header). An option of the Jumbo type with an Opt Data Len other than 4 is
 * malformed (pointer: that length octet). Only the first option of the
 * header is looked at, as Linux's `ipv6_hopopt_jumbo_remove()` does.
 *
 * @param bytes buffer
 * @param offset start of the IPv6 header
 * @param length bytes of the frame from `offset`
 * @param out the result object, overwritten
 * @returns `out`
 */
export function readIpv6Jumbogram(
  bytes: Uint8Array,
  offset: number,
  length: number,
  out: Ipv6Jumbogram,
): Ipv6Jumbogram {
  out.verdict = "discard";
  out.pointer = 0;
  const nextHeader = bytes[offset + OFFSET_NEXT_HEADER];
  if (nextHeader === IP_PROTO_TCP) {
    // No Hop-by-Hop header: the frame's length is the packet's.
    if (length - IPV6_HEADER_LEN < IPV6_JUMBO_MIN_LENGTH) return out;
    out.verdict = "deliver";
    out.protocol = IP_PROTO_TCP;
    out.upperOffset = offset + IPV6_HEADER_LEN;
    out.upperLength = length - IPV6_HEADER_LEN;
    return out;
  }
  if (nextHeader !== IP_PROTO_HOPOPTS) return out;
  const hbh = offset + IPV6_HEADER_LEN;
  if (length < IPV6_HEADER_LEN + IPV6_JUMBO_HOPOPTS_LEN) return out;
  if (bytes[hbh + JUMBO_OPT_TYPE_AT] !== IPV6_OPT_JUMBO) {
    out.verdict = "parameter-problem";
    out.pointer = OFFSET_PAYLOAD_LEN;
    return out;
  }
  if (bytes[hbh + JUMBO_OPT_LEN_AT] !== IPV6_OPT_JUMBO_LEN) {
    out.verdict = "parameter-problem";
    out.pointer = IPV6_HEADER_LEN + JUMBO_OPT_LEN_AT;
    return out;
  }
  const at = hbh + JUMBO_LENGTH_AT;
  const jumbo = bytes[at] * 0x1000000 +
    ((bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]);
  if (jumbo < IPV6_JUMBO_MIN_LENGTH) {
    out.verdict = "parameter-problem";
    out.pointer = IPV6_HEADER_LEN + JUMBO_LENGTH_AT;
    return out;
  }
  const inner = bytes[hbh];
  if (inner === IP_PROTO_FRAGMENT) {
    out.verdict = "parameter-problem";
    out.pointer = IPV6_HEADER_LEN + IPV6_JUMBO_HOPOPTS_LEN;
    return out;
  }
  // Truncated; more options than the jumbo one; or not TCP: not a super-frame this stack takes.
  if (IPV6_HEADER_LEN + jumbo > length || bytes[hbh + 1] !== 0 || inner !== IP_PROTO_TCP) {
    return out;
  }
  out.verdict = "deliver";
  out.protocol = IP_PROTO_TCP;
  out.upperOffset = hbh + IPV6_JUMBO_HOPOPTS_LEN;
  out.upperLength = jumbo - IPV6_JUMBO_HOPOPTS_LEN;
  return out;
}
