/**
 * ICMPv6 (RFC 4443): echo request/reply, destination unreachable, packet
 * too big, time exceeded and parameter problem. A zero-copy
 * {@link Icmpv6Packet} view (also the entry point of the NDP and MLD codecs,
 * which share its first four bytes) and a plain {@link Icmpv6Repr}.
 *
 * ```
 *  0      8      16             31
 *  | Type | Code |   Checksum    |
 *  | Identifier  |  Sequence     |   echo (128, 129)
 *  |          unused (0)         |   destination unreachable (1), time exceeded (3)
 *  |             MTU             |   packet too big (2)
 *  |           Pointer           |   parameter problem (4)
 *  | data: echo payload, or as much of the invoking packet as fits in 1280 bytes
 * ```
 *
 * The checksum covers the IPv6 pseudo-header (RFC 8200 §8.1, Next Header
 * 58) and the whole message (RFC 4443 §2.3).
 *
 * @module
 */

import { ipv6PseudoHeaderSum, type Ipv6Words, onesComplementSum } from "./checksum.ts";
import { WireError } from "./error.ts";
import {
  ICMP_CODE_OFFSET,
  ICMP_COMMON_CHECKSUM_OFFSET,
  ICMP_COMMON_HEADER_LEN,
  ICMP_TYPE_OFFSET,
  ICMP_WORD2_OFFSET,
  ICMP_WORD_OFFSET,
  IcmpHeaderView,
} from "./icmp_header.ts";
import { IP_PROTO_ICMPV6, IPV6_HEADER_LEN, IPV6_MIN_MTU, IPV6_VERSION } from "./ipv6.ts";
import {
  type ChecksumParseOptions,
  copyPayload,
  read32,
  storeChecksum,
  write16,
  write32,
} from "./view.ts";

/** Length of the ICMPv6 header with its first 32-bit word of message body. */
export const ICMPV6_HEADER_LEN: number = ICMP_COMMON_HEADER_LEN;
/** Type: destination unreachable (RFC 4443 §3.1). */
export const ICMPV6_DEST_UNREACHABLE = 1;
/** Type: packet too big (RFC 4443 §3.2). */
export const ICMPV6_PACKET_TOO_BIG = 2;
/** Type: time exceeded (RFC 4443 §3.3). */
export const ICMPV6_TIME_EXCEEDED = 3;
/** Type: parameter problem (RFC 4443 §3.4). */
export const ICMPV6_PARAMETER_PROBLEM = 4;
/** Type: echo request (RFC 4443 §4.1). */
export const ICMPV6_ECHO_REQUEST = 128;
/** Type: echo reply (RFC 4443 §4.2). */
export const ICMPV6_ECHO_REPLY = 129;
/** Type: multicast listener query (RFC 3810 §5.1; MLDv1 RFC 2710 §3). */
export const ICMPV6_MLD_QUERY = 130;
/** Type: MLDv1 report (RFC 2710 §3). */
export const ICMPV6_MLDV1_REPORT = 131;
/** Type: MLDv1 done (RFC 2710 §3). */
export const ICMPV6_MLDV1_DONE = 132;
/** Type: router solicitation (RFC 4861 §4.1). */
export const ICMPV6_ROUTER_SOLICITATION = 133;
/** Type: router advertisement (RFC 4861 §4.2). */
export const ICMPV6_ROUTER_ADVERTISEMENT = 134;
/** Type: neighbor solicitation (RFC 4861 §4.3). */
export const ICMPV6_NEIGHBOR_SOLICITATION = 135;
/** Type: neighbor advertisement (RFC 4861 §4.4). */
export const ICMPV6_NEIGHBOR_ADVERTISEMENT = 136;
/** Type: redirect (RFC 4861 §4.5). */
export const ICMPV6_REDIRECT = 137;
/** Type: MLDv2 report (RFC 3810 §5.2). */
export const ICMPV6_MLDV2_REPORT = 143;

/** Destination unreachable code: no route to destination. */
export const ICMPV6_UNREACH_NO_ROUTE = 0;
/** Destination unreachable code: communication administratively prohibited. */
export const ICMPV6_UNREACH_ADMIN = 1;
/** Destination unreachable code: beyond scope of source address. */
export const ICMPV6_UNREACH_BEYOND_SCOPE = 2;
/** Destination unreachable code: address unreachable. */
export const ICMPV6_UNREACH_ADDRESS = 3;
/** Destination unreachable code: port unreachable. */
export const ICMPV6_UNREACH_PORT = 4;
/** Destination unreachable code: source address failed ingress/egress policy. */
export const ICMPV6_UNREACH_POLICY = 5;
/** Destination unreachable code: reject route to destination. */
export const ICMPV6_UNREACH_REJECT_ROUTE = 6;
/** Time exceeded code: hop limit exceeded in transit. */
export const ICMPV6_TIME_EXCEEDED_HOP_LIMIT = 0;
/** Time exceeded code: fragment reassembly time exceeded. */
export const ICMPV6_TIME_EXCEEDED_REASSEMBLY = 1;
/**
 * Longest ICMPv6 message an error may be: the packet carrying it must not
 * exceed the minimum IPv6 MTU (RFC 4443 §2.4 (c)).
 */
export const ICMPV6_ERROR_MAX_LEN = IPV6_MIN_MTU - IPV6_HEADER_LEN;
/** Longest quote of the invoking packet in an error (1280 − 40 − 8). */
export const ICMPV6_ERROR_MAX_QUOTE = ICMPV6_ERROR_MAX_LEN - ICMPV6_HEADER_LEN;

const PROTOCOL = "icmpv6";
const SUM_OK = 0xffff;
/** Bytes every ICMPv6 message has: type, code, checksum (RFC 4443 §2.1). */
const ICMPV6_MIN_LEN = 4;

/**
 * True for the error types (RFC 4443 §2.1: types 0–127).
 *
 * @param type an ICMPv6 type
 * @returns true for an error message
 *
 * @example
 * ```ts
 * import { isIcmpv6Error } from "./icmpv6.ts";
 * console.assert(isIcmpv6Error(2) && !isIcmpv6Error(128));
 * ```
 */
export function isIcmpv6Error(type: number): boolean {
  return type < ICMPV6_ECHO_REQUEST;
}

/**
 * How much of an invoking packet an error quotes: all of it, or as much as
 * keeps the error within the minimum MTU (RFC 4443 §2.4 (c)).
 *
 * @param invokingLength bytes of the packet that caused the error (IPv6 header included)
 * @returns the quote length
 *
 * @example
 * ```ts
 * import { icmpv6QuoteLength } from "./icmpv6.ts";
 * console.assert(icmpv6QuoteLength(100) === 100 && icmpv6QuoteLength(9000) === 1232);
 * ```
 */
export function icmpv6QuoteLength(invokingLength: number): number {
  return Math.min(invokingLength, ICMPV6_ERROR_MAX_QUOTE);
}

/**
 * A zero-copy view of an ICMPv6 message; `length` is the whole message
 * (the upper-layer length after the extension headers).
 *
 * @example
 * ```ts
 * import { ICMPV6_ECHO_REQUEST, Icmpv6Packet } from "./icmpv6.ts";
 * import { Ipv6Address } from "./ipv6_address.ts";
 * const src = Ipv6Address.parse("2001:db8::1");
 * const dst = Ipv6Address.parse("2001:db8::2");
 * const p = new Icmpv6Packet(new Uint8Array(12));
 * p.type = ICMPV6_ECHO_REQUEST;
 * p.identifier = 7;
 * p.fillChecksum(src, dst);
 * console.assert(p.check() === null && p.verifyChecksum(src, dst) && p.dataLength === 4);
 * ```
 */
export class Icmpv6Packet extends IcmpHeaderView {
  /**
   * Validates that the 8-byte header lies inside the message and buffer.
   *
   * @returns null when valid, otherwise the defect
   */
  check(): WireError | null {
    return this.checkBounds(PROTOCOL, "message", ICMPV6_HEADER_LEN);
  }

  /**
   * Verifies the checksum over the pseudo-header and the whole message
   * (RFC 4443 §2.3). Needs at least the 4-byte type/code/checksum.
   *
   * @param src IPv6 source address
   * @param dst IPv6 destination address
   * @returns true when correct
   */
  verifyChecksum(src: Ipv6Words, dst: Ipv6Words): boolean {
    if (this.length < ICMPV6_MIN_LEN || this.outsideBuffer()) return false;
    const initial = ipv6PseudoHeaderSum(src, dst, IP_PROTO_ICMPV6, this.length);
    return onesComplementSum(this.bytes, this.offset, this.length, initial) === SUM_OK;
  }

  /**
   * Computes and stores the checksum over the pseudo-header and the whole message.
   *
   * @param src IPv6 source address
   * @param dst IPv6 destination address
   */
  fillChecksum(src: Ipv6Words, dst: Ipv6Words): void {
    const initial = ipv6PseudoHeaderSum(src, dst, IP_PROTO_ICMPV6, this.length);
    storeChecksum(
      this.bytes,
      this.offset,
      this.length,
      this.offset + ICMP_COMMON_CHECKSUM_OFFSET,
      initial,
    );
  }

  /** Bytes 4–7 as an unsigned 32-bit number: the MTU of packet too big, the pointer of parameter problem. */
  get word(): number {
    return read32(this.bytes, this.offset + ICMP_WORD_OFFSET);
  }
  set word(v: number) {
    write32(this.bytes, this.offset + ICMP_WORD_OFFSET, v);
  }
}

/**
 * An ICMPv6 echo or error message. For echo, `data*` is the echo payload;
 * for errors it is the quoted invoking packet (IPv6 header first).
 */
export interface Icmpv6Repr {
  /** ICMPV6_* type. */
  type: number;
  /** Code. */
  code: number;
  /** Echo identifier (0 for errors). */
  identifier: number;
  /** Echo sequence number (0 for errors). */
  sequence: number;
  /** MTU of packet too big (RFC 4443 §3.2), else 0. */
  mtu: number;
  /** Pointer of parameter problem: offset in the invoking packet (RFC 4443 §3.4), else 0. */
  pointer: number;
  /** Buffer holding the data (zero-copy: the parsed buffer). */
  data: Uint8Array;
  /** Where the data start in {@link Icmpv6Repr.data}. */
  dataOffset: number;
  /** Data length. */
  dataLength: number;
}

const EMPTY = new Uint8Array(0);

/**
 * A fresh echo-request repr with no data, to reuse as `out`.
 *
 * @returns a new repr
 *
 * @example
 * ```ts
 * import { ICMPV6_ECHO_REQUEST, newIcmpv6Repr } from "./icmpv6.ts";
 * console.assert(newIcmpv6Repr().type === ICMPV6_ECHO_REQUEST);
 * ```
 */
export function newIcmpv6Repr(): Icmpv6Repr {
  return {
    type: ICMPV6_ECHO_REQUEST,
    code: 0,
    identifier: 0,
    sequence: 0,
    mtu: 0,
    pointer: 0,
    data: EMPTY,
    dataOffset: 0,
    dataLength: 0,
  };
}

/** Options of {@link Icmpv6Repr.parse}: `verifyChecksum` (default true). */
export type Icmpv6ParseOptions = ChecksumParseOptions;

/** The shape of {@link Icmpv6Repr}: parse and emit ICMPv6 echo and error messages (RFC 4443). */
export interface Icmpv6Codec {
  /**
   * Checks the message (length, checksum, for errors a quote holding an
   * IPv6 header) and reads it. Zero allocation when `out` is given;
   * `out.data` aliases the packet's buffer. Other types (NDP, MLD: see
   * ndp.ts and mld.ts; unknown ones) are "unsupported".
   *
   * @param packet the view; its length must be the whole message
   * @param src IPv6 source address (pseudo-header)
   * @param dst IPv6 destination address (pseudo-header)
   * @param out a repr to fill
   * @param opts `verifyChecksum: false` to skip the checksum
   * @returns the repr, or the defect
   */
  parse(
    packet: Icmpv6Packet,
    src: Ipv6Words,
    dst: Ipv6Words,
    out?: Icmpv6Repr,
    opts?: Icmpv6ParseOptions,
  ): Icmpv6Repr | WireError;

  /**
   * The whole message length `emit` writes.
   *
   * @param repr the message
   * @returns 8 + `repr.dataLength`
   */
  bufferLength(repr: Icmpv6Repr): number;

  /**
   * Writes header and data (copied from `repr.data[dataOffset, +dataLength)`
   * unless already in place) and the checksum. An error's data should be
   * at most {@link ICMPV6_ERROR_MAX_QUOTE} bytes ({@link icmpv6QuoteLength}).
   *
   * @param repr the message
   * @param bytes the buffer (room for {@link Icmpv6Codec.bufferLength} bytes)
   * @param offset where the message starts
   * @param src IPv6 source address (pseudo-header)
   * @param dst IPv6 destination address (pseudo-header)
   * @returns bytes written
   */
  emit(
    repr: Icmpv6Repr,
    bytes: Uint8Array,
    offset: number,
    src: Ipv6Words,
    dst: Ipv6Words,
  ): number;
}

/**
 * Checks the checksum of an ICMPv6 message (any type): the shared first
 * step of {@link Icmpv6Repr}, `NdpRepr` and `MldRepr` parsing.
 *
 * @param packet the view (bounds checked by the caller)
 * @param src IPv6 source address
 * @param dst IPv6 destination address
 * @param protocol the codec name for the error
 * @returns null when correct, otherwise the defect
 *
 * @example
 * ```ts
 * import { checkIcmpv6Checksum, Icmpv6Packet } from "./icmpv6.ts";
 * import { Ipv6Address } from "./ipv6_address.ts";
 * const a = Ipv6Address.LOOPBACK;
 * console.assert(checkIcmpv6Checksum(new Icmpv6Packet(new Uint8Array(8)), a, a, "icmpv6")?.kind === "bad-checksum");
 * ```
 */
export function checkIcmpv6Checksum(
  packet: Icmpv6Packet,
  src: Ipv6Words,
  dst: Ipv6Words,
  protocol: string,
): WireError | null {
  if (packet.verifyChecksum(src, dst)) return null;
  return new WireError(
    protocol,
    "bad-checksum",
    `checksum 0x${
      packet.checksum.toString(16).padStart(4, "0")
    } does not verify over ${packet.length} bytes`,
  );
}

/**
 * Parse and emit ICMPv6 echo and error messages.
 *
 * @example
 * ```ts
 * import { ICMPV6_PACKET_TOO_BIG, Icmpv6Packet, Icmpv6Repr, newIcmpv6Repr } from "./icmpv6.ts";
 * import { Ipv6Address } from "./ipv6_address.ts";
 * import { isWireError } from "./error.ts";
 * const router = Ipv6Address.parse("2001:db8::ff");
 * const me = Ipv6Address.parse("2001:db8::2");
 * const quote = new Uint8Array(48);
 * quote[0] = 0x60;
 * const repr = { ...newIcmpv6Repr(), type: ICMPV6_PACKET_TOO_BIG, mtu: 1280, data: quote, dataLength: 48 };
 * const bytes = new Uint8Array(Icmpv6Repr.bufferLength(repr));
 * Icmpv6Repr.emit(repr, bytes, 0, router, me);
 * const back = Icmpv6Repr.parse(new Icmpv6Packet(bytes), router, me);
 * if (isWireError(back)) throw new Error(String(back));
 * console.assert(back.mtu === 1280 && back.dataLength === 48);
 * ```
 */
export const Icmpv6Repr: Icmpv6Codec = {
  parse(
    packet: Icmpv6Packet,
    src: Ipv6Words,
    dst: Ipv6Words,
    out?: Icmpv6Repr,
    opts?: Icmpv6ParseOptions,
  ): Icmpv6Repr | WireError {
    const err = packet.check();
    if (err !== null) return err;
    if (opts?.verifyChecksum !== false) {
      const bad = checkIcmpv6Checksum(packet, src, dst, PROTOCOL);
      if (bad !== null) return bad;
    }
    const type = packet.type;
    let identifier = 0;
    let sequence = 0;
    let mtu = 0;
    let pointer = 0;
    if (type === ICMPV6_ECHO_REQUEST || type === ICMPV6_ECHO_REPLY) {
      identifier = packet.identifier;
      sequence = packet.sequence;
    } else if (
      type === ICMPV6_DEST_UNREACHABLE || type === ICMPV6_PACKET_TOO_BIG ||
      type === ICMPV6_TIME_EXCEEDED || type === ICMPV6_PARAMETER_PROBLEM
    ) {
      // RFC 4443 §2.4 (c): errors quote as much of the invoking packet as fits; the
      // upper layer needs at least its IPv6 header to find whom it concerns.
      const quoted = packet.dataLength;
      if (quoted < IPV6_HEADER_LEN) {
        return new WireError(
          PROTOCOL,
          "truncated",
          `quoted packet of ${quoted} bytes < ${IPV6_HEADER_LEN} (an IPv6 header)`,
        );
      }
      const version = packet.bytes[packet.dataOffset] >>> 4;
      if (version !== IPV6_VERSION) {
        return new WireError(PROTOCOL, "bad-version", `quoted packet has IP version ${version}`);
      }
      if (type === ICMPV6_PACKET_TOO_BIG) mtu = packet.word;
      else if (type === ICMPV6_PARAMETER_PROBLEM) pointer = packet.word;
    } else {
      return new WireError(PROTOCOL, "unsupported", `type ${type} code ${packet.code}`);
    }
    const repr = out ?? newIcmpv6Repr();
    repr.type = type;
    repr.code = packet.code;
    repr.identifier = identifier;
    repr.sequence = sequence;
    repr.mtu = mtu;
    repr.pointer = pointer;
    repr.data = packet.bytes;
    repr.dataOffset = packet.dataOffset;
    repr.dataLength = packet.dataLength;
    return repr;
  },

  bufferLength(repr: Icmpv6Repr): number {
    return ICMPV6_HEADER_LEN + repr.dataLength;
  },

  emit(
    repr: Icmpv6Repr,
    bytes: Uint8Array,
    offset: number,
    src: Ipv6Words,
    dst: Ipv6Words,
  ): number {
    // Data first: they may share the buffer with (and overlap) the header area.
    const n = repr.dataLength;
    copyPayload(repr.data, repr.dataOffset, bytes, offset + ICMPV6_HEADER_LEN, n);
    bytes[offset + ICMP_TYPE_OFFSET] = repr.type;
    bytes[offset + ICMP_CODE_OFFSET] = repr.code;
    const type = repr.type;
    if (type === ICMPV6_ECHO_REQUEST || type === ICMPV6_ECHO_REPLY) {
      write16(bytes, offset + ICMP_WORD_OFFSET, repr.identifier);
      write16(bytes, offset + ICMP_WORD2_OFFSET, repr.sequence);
    } else if (type === ICMPV6_PACKET_TOO_BIG) {
      write32(bytes, offset + ICMP_WORD_OFFSET, repr.mtu);
    } else if (type === ICMPV6_PARAMETER_PROBLEM) {
      write32(bytes, offset + ICMP_WORD_OFFSET, repr.pointer);
    } else {
      write32(bytes, offset + ICMP_WORD_OFFSET, 0); // RFC 4443 §3.1, §3.3: unused, zero
    }
    const total = ICMPV6_HEADER_LEN + n;
    storeChecksum(
      bytes,
      offset,
      total,
      offset + ICMP_COMMON_CHECKSUM_OFFSET,
      ipv6PseudoHeaderSum(src, dst, IP_PROTO_ICMPV6, total),
    );
    return total;
  },
};
