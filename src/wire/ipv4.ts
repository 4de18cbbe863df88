/**
 * IPv4 (RFC 791): a zero-copy {@link Ipv4Packet} view and a plain
 * {@link Ipv4Repr}. Options are skipped by the header length (IHL); the
 * header checksum is verified on parse and filled on emit.
 *
 * ```
 *  0       4       8              16    19              31
 *  |Version|  IHL  |  DSCP  |ECN |      Total Length     |
 *  |        Identification        |Flags| Fragment Offset |
 *  |  TTL  |   Protocol  |       Header Checksum         |
 *  |                 Source Address                      |
 *  |               Destination Address                   |
 *  |          Options (IHL > 5) ...                      |
 * ```
 *
 * @module
 */

import { readIpv4, writeIpv4 } from "./address.ts";
import { foldSum, onesComplementSum } from "./checksum.ts";
import { WireError } from "./error.ts";
import { type ChecksumParseOptions, read16, storeChecksum, WireView, write16 } from "./view.ts";

/** Length of an IPv4 header without options. */
export const IPV4_HEADER_LEN = 20;
/** Largest IPv4 header (IHL 15). */
export const IPV4_MAX_HEADER_LEN = 60;
/** Largest IPv4 datagram (16-bit total length). */
export const IPV4_MAX_PACKET_LEN = 0xffff;
/** IP protocol number of ICMP. */
export const IP_PROTO_ICMP = 1;
/** IP protocol number of TCP. */
export const IP_PROTO_TCP = 6;
/** IP protocol number of UDP. */
export const IP_PROTO_UDP = 17;
/** TTL our stack uses by default (RFC 1700 recommends 64). */
export const IPV4_DEFAULT_TTL = 64;
/** Fragment offsets are carried in units of this many bytes (RFC 791). */
export const IPV4_FRAGMENT_UNIT = 8;

/** The version field of every IPv4 header (RFC 791 §3.1). */
export const IPV4_VERSION = 4;

const PROTOCOL = "ipv4";
const IHL_MIN = 5;
const FLAG_RESERVED = 0x8000;
/** The Don't Fragment bit of the flags/fragment-offset word (RFC 791 §3.1). */
export const IPV4_FLAG_DF = 0x4000;
/** The More Fragments bit of the flags/fragment-offset word (RFC 791 §3.1). */
export const IPV4_FLAG_MF = 0x2000;
/** The fragment offset (in 8-byte units) in the flags/fragment-offset word (RFC 791 §3.1). */
export const IPV4_FRAGMENT_OFFSET_MASK = 0x1fff;
const FLAG_DF = IPV4_FLAG_DF;
const FLAG_MF = IPV4_FLAG_MF;
const FRAGMENT_MASK = IPV4_FRAGMENT_OFFSET_MASK;
/** Offset of the version/IHL byte; the IHL (header length in 32-bit words) is its low nibble (RFC 791 §3.1). */
export const IPV4_VERSION_IHL_OFFSET = 0;
/** Mask of the IHL in the version/IHL byte. */
export const IPV4_IHL_MASK = 0x0f;
/** Offset of the type-of-service (DSCP/ECN) byte (RFC 791 §3.1, RFC 3168 §5). */
export const IPV4_TOS_OFFSET = 1;
/** Offset of the total length field (RFC 791 §3.1). */
export const IPV4_TOTAL_LENGTH_OFFSET = 2;
/** Offset of the identification field (RFC 791 §3.1). */
export const IPV4_ID_OFFSET = 4;
/** Offset of the flags and fragment offset field (RFC 791 §3.1). */
export const IPV4_FLAGS_FRAGMENT_OFFSET = 6;
/** Offset of the time-to-live byte (RFC 791 §3.1). */
export const IPV4_TTL_OFFSET = 8;
/** Offset of the protocol byte (RFC 791 §3.1). */
export const IPV4_PROTOCOL_OFFSET = 9;
/** Offset of the header checksum field (RFC 791 §3.1). */
export const IPV4_CHECKSUM_OFFSET = 10;
/** Offset of the source address (RFC 791 §3.1). */
export const IPV4_SRC_OFFSET = 12;
/** Offset of the destination address (RFC 791 §3.1). */
export const IPV4_DST_OFFSET = 16;

const OFFSET_VIHL = IPV4_VERSION_IHL_OFFSET;
const OFFSET_TOS = IPV4_TOS_OFFSET;
const OFFSET_TOTAL_LEN = IPV4_TOTAL_LENGTH_OFFSET;
const OFFSET_ID = IPV4_ID_OFFSET;
const OFFSET_FLAGS_FRAG = IPV4_FLAGS_FRAGMENT_OFFSET;
const OFFSET_TTL = IPV4_TTL_OFFSET;
const OFFSET_PROTO = IPV4_PROTOCOL_OFFSET;
const OFFSET_CHECKSUM = IPV4_CHECKSUM_OFFSET;
const OFFSET_SRC = IPV4_SRC_OFFSET;
const OFFSET_DST = IPV4_DST_OFFSET;
const SUM_OK = 0xffff;

/**
 * A zero-copy view of an IPv4 packet. `length` is the number of bytes
 * available (e.g. the Ethernet payload, which may be padded); the datagram
 * itself is {@link Ipv4Packet.totalLength} bytes.
 *
 * @example
 * ```ts
 * import { Ipv4Packet } from "./ipv4.ts";
 * const p = new Ipv4Packet(new Uint8Array(28));
 * p.versionAndHeaderLength = 0x45;
 * p.totalLength = 28;
 * p.ttl = 64;
 * p.fillChecksum();
 * console.assert(p.check() === null && p.verifyChecksum() && p.payloadLength === 8);
 * ```
 */
export class Ipv4Packet extends WireView {
  /**
   * Validates version, IHL and total length against the available bytes
   * (not the checksum: see {@link Ipv4Packet.verifyChecksum}). After `null`,
   * every accessor is in bounds and the payload lies inside `length`.
   *
   * @returns null when valid, otherwise the defect
   */
  check(): WireError | null {
    const err = this.checkHeader();
    if (err !== null) return err;
    const total = this.totalLength;
    const hl = this.headerLength;
    // RFC 791 §3.1: Total Length counts header and data; it cannot be shorter than the header…
    if (total < hl) {
      return new WireError(
        PROTOCOL,
        "bad-total-length",
        `total length ${total} < header length ${hl}`,
      );
    }
    // …and it cannot claim more bytes than arrived.
    if (total > this.length) {
      return new WireError(
        PROTOCOL,
        "bad-total-length",
        `total length ${total} > ${this.length} bytes available`,
      );
    }
    // RFC 791 §3.2: a reassembled datagram is at most 65535 bytes; a fragment
    // reaching past that is hostile (the "ping of death").
    const fragmentEnd = this.fragmentOffset + total - hl;
    if (fragmentEnd > IPV4_MAX_PACKET_LEN - hl) {
      return new WireError(
        PROTOCOL,
        "bad-field",
        `fragment ends at byte ${fragmentEnd}, beyond the 65535-byte datagram limit`,
      );
    }
    return null;
  }

  /**
   * Validates only version and IHL against the available bytes: enough to
   * read the header (and the ports after it) of a datagram quoted,
   * truncated, inside an ICMP error (RFC 792), whose total length lies.
   *
   * @returns null when the header is readable, otherwise the defect
   */
  checkHeader(): WireError | null {
    const err = this.checkBounds(PROTOCOL, "packet", IPV4_HEADER_LEN);
    if (err !== null) return err;
    if (this.version !== IPV4_VERSION) {
      return new WireError(PROTOCOL, "bad-version", `version ${this.version} != 4`);
    }
    const ihl = this.bytes[this.offset + OFFSET_VIHL] & IPV4_IHL_MASK;
    // RFC 791 §3.1: the minimum value for a correct header is 5.
    if (ihl < IHL_MIN) {
      return new WireError(PROTOCOL, "bad-header-length", `IHL ${ihl} < ${IHL_MIN}`);
    }
    if (ihl * 4 > this.length) {
      return new WireError(
        PROTOCOL,
        "truncated",
        `header length ${ihl * 4} > ${this.length} bytes available`,
      );
    }
    return null;
  }

  /**
   * Verifies the header checksum (RFC 791 §3.1, RFC 1071).
   *
   * @returns true when the header checksum is correct
   */
  verifyChecksum(): boolean {
    return onesComplementSum(this.bytes, this.offset, this.headerLength) === SUM_OK;
  }

  /** Computes and stores the header checksum over {@link Ipv4Packet.headerLength} bytes. */
  fillChecksum(): void {
    storeChecksum(this.bytes, this.offset, this.headerLength, this.offset + OFFSET_CHECKSUM);
  }

  /** The first byte: version (high nibble) and IHL (low nibble). */
  get versionAndHeaderLength(): number {
    return this.bytes[this.offset + OFFSET_VIHL];
  }
  set versionAndHeaderLength(v: number) {
    this.bytes[this.offset + OFFSET_VIHL] = v;
  }

  /** IP version (4). */
  get version(): number {
    return this.bytes[this.offset + OFFSET_VIHL] >>> 4;
  }

  /** Header length in bytes (IHL × 4), options included. */
  get headerLength(): number {
    return (this.bytes[this.offset + OFFSET_VIHL] & IPV4_IHL_MASK) * 4;
  }
  set headerLength(bytes: number) {
    this.bytes[this.offset + OFFSET_VIHL] = (IPV4_VERSION << 4) | ((bytes >>> 2) & IPV4_IHL_MASK);
  }

  /** The type-of-service byte: DSCP (6 bits) and ECN (2 bits), RFC 2474 / RFC 3168. */
  get tos(): number {
    return this.bytes[this.offset + OFFSET_TOS];
  }
  set tos(v: number) {
    this.bytes[this.offset + OFFSET_TOS] = v;
  }

  /** Differentiated services code point (RFC 2474). */
  get dscp(): number {
    return this.tos >>> 2;
  }

  /** Explicit congestion notification bits (RFC 3168). */
  get ecn(): number {
    return this.tos & 3;
  }

  /** Total length of the datagram (header and data). */
  get totalLength(): number {
    return read16(this.bytes, this.offset + OFFSET_TOTAL_LEN);
  }
  set totalLength(v: number) {
    write16(this.bytes, this.offset + OFFSET_TOTAL_LEN, v);
  }

  /** Identification. */
  get identification(): number {
    return read16(this.bytes, this.offset + OFFSET_ID);
  }
  set identification(v: number) {
    write16(this.bytes, this.offset + OFFSET_ID, v);
  }

  /** The 3-bit flags field (reserved, DF, MF). */
  get flags(): number {
    return this.bytes[this.offset + OFFSET_FLAGS_FRAG] >>> 5;
  }

  /** The reserved flag bit (must be zero, RFC 791). */
  get reservedFlag(): boolean {
    return (read16(this.bytes, this.offset + OFFSET_FLAGS_FRAG) & FLAG_RESERVED) !== 0;
  }

  /** Don't Fragment. */
  get dontFragment(): boolean {
    return (read16(this.bytes, this.offset + OFFSET_FLAGS_FRAG) & FLAG_DF) !== 0;
  }
  set dontFragment(v: boolean) {
    const at = this.offset + OFFSET_FLAGS_FRAG;
    const word = read16(this.bytes, at);
    write16(this.bytes, at, v ? word | FLAG_DF : word & ~FLAG_DF);
  }

  /** More Fragments. */
  get moreFragments(): boolean {
    return (read16(this.bytes, this.offset + OFFSET_FLAGS_FRAG) & FLAG_MF) !== 0;
  }
  set moreFragments(v: boolean) {
    const at = this.offset + OFFSET_FLAGS_FRAG;
    const word = read16(this.bytes, at);
    write16(this.bytes, at, v ? word | FLAG_MF : word & ~FLAG_MF);
  }

  /** Fragment offset in bytes (the field × 8). */
  get fragmentOffset(): number {
    return (read16(this.bytes, this.offset + OFFSET_FLAGS_FRAG) & FRAGMENT_MASK) *
      IPV4_FRAGMENT_UNIT;
  }
  set fragmentOffset(bytes: number) {
    const at = this.offset + OFFSET_FLAGS_FRAG;
    const word = read16(this.bytes, at);
    write16(
      this.bytes,
      at,
      (word & ~FRAGMENT_MASK) | ((bytes / IPV4_FRAGMENT_UNIT) & FRAGMENT_MASK),
    );
  }

  /** True for any fragment (MF set or non-zero offset). */
  get isFragment(): boolean {
    return (read16(this.bytes, this.offset + OFFSET_FLAGS_FRAG) & (FLAG_MF | FRAGMENT_MASK)) !== 0;
  }

  /** Time to live. */
  get ttl(): number {
    return this.bytes[this.offset + OFFSET_TTL];
  }
  set ttl(v: number) {
    this.bytes[this.offset + OFFSET_TTL] = v;
  }

  /** Protocol of the payload (1 ICMP, 6 TCP, 17 UDP). */
  get protocol(): number {
    return this.bytes[this.offset + OFFSET_PROTO];
  }
  set protocol(v: number) {
    this.bytes[this.offset + OFFSET_PROTO] = v;
  }

  /** The stored header checksum. */
  get checksum(): number {
    return read16(this.bytes, this.offset + OFFSET_CHECKSUM);
  }
  set checksum(v: number) {
    write16(this.bytes, this.offset + OFFSET_CHECKSUM, v);
  }

  /** Source address (signed 32-bit integer, see address.ts). */
  get source(): number {
    return readIpv4(this.bytes, this.offset + OFFSET_SRC);
  }
  set source(v: number) {
    writeIpv4(this.bytes, this.offset + OFFSET_SRC, v);
  }

  /** Destination address (signed 32-bit integer, see address.ts). */
  get destination(): number {
    return readIpv4(this.bytes, this.offset + OFFSET_DST);
  }
  set destination(v: number) {
    writeIpv4(this.bytes, this.offset + OFFSET_DST, v);
  }

  /** Where the payload starts in {@link Ipv4Packet.bytes} (absolute index). */
  get payloadOffset(): number {
    return this.offset + this.headerLength;
  }

  /** Payload length: total length minus header length (valid after a null check()). */
  get payloadLength(): number {
    return this.totalLength - this.headerLength;
  }
}

/** The fields of an IPv4 header (options are not represented). */
export interface Ipv4Repr {
  /** Source address (signed 32-bit integer, see address.ts). */
  source: number;
  /** Destination address (signed 32-bit integer, see address.ts). */
  destination: number;
  /** Payload protocol (IP_PROTO_*). */
  protocol: number;
  /** Time to live. */
  ttl: number;
  /** Type-of-service byte (DSCP << 2 | ECN). */
  tos: number;
  /** Identification. */
  identification: number;
  /** Don't Fragment flag. */
  dontFragment: boolean;
  /** More Fragments flag. */
  moreFragments: boolean;
  /** Fragment offset in bytes (a multiple of 8). */
  fragmentOffset: number;
  /** Payload length in bytes (total length minus header length). */
  payloadLength: number;
  /** Header length of the parsed packet including options (emit always writes 20). */
  headerLength: number;
  /** Where the payload starts in the parsed buffer (absolute index; 0 for a built repr). */
  payloadOffset: number;
}

/**
 * A fresh repr (TTL 64, everything else zero), to reuse as `out`.
 *
 * @returns a new repr
 *
 * @example
 * ```ts
 * import { newIpv4Repr } from "./ipv4.ts";
 * console.assert(newIpv4Repr().ttl === 64);
 * ```
 */
export function newIpv4Repr(): Ipv4Repr {
  return {
    source: 0,
    destination: 0,
    protocol: 0,
    ttl: IPV4_DEFAULT_TTL,
    tos: 0,
    identification: 0,
    dontFragment: false,
    moreFragments: false,
    fragmentOffset: 0,
    payloadLength: 0,
    headerLength: IPV4_HEADER_LEN,
    payloadOffset: 0,
  };
}

/** Options of {@link Ipv4Repr.parse}: `verifyChecksum` (default true; false when the device validated it). */
export type Ipv4ParseOptions = ChecksumParseOptions;

/** The shape of {@link Ipv4Repr}: parse and emit IPv4 headers (RFC 791). */
export interface Ipv4Codec {
  /**
   * Checks the packet (version, IHL, total length, checksum) and reads its
   * header. Zero allocation when `out` is given.
   *
   * @param packet the view (checked here)
   * @param out a repr to fill
   * @param opts `verifyChecksum: false` to skip the checksum
   * @returns the repr, or the defect
   */
  parse(packet: Ipv4Packet, out?: Ipv4Repr, opts?: Ipv4ParseOptions): Ipv4Repr | WireError;

  /**
   * The header length `emit` writes.
   *
   * @param repr the header
   * @returns {@link IPV4_HEADER_LEN} (options are never emitted)
   */
  headerLength(repr: Ipv4Repr): number;

  /**
   * Writes a 20-byte header at `offset` with total length
   * `20 + repr.payloadLength` and a correct checksum. The payload (which
   * follows the header) is not touched.
   *
   * @param repr the header
   * @param bytes the buffer (room for 20 bytes at `offset`)
   * @param offset where the packet starts
   * @returns bytes written (20)
   */
  emit(repr: Ipv4Repr, bytes: Uint8Array, offset: number): number;
}

/**
 * Parse and emit IPv4 headers.
 *
 * @example
 * ```ts
 * import { IP_PROTO_UDP, Ipv4Packet, Ipv4Repr, newIpv4Repr } from "./ipv4.ts";
 * import { isWireError } from "./error.ts";
 * const bytes = new Uint8Array(28);
 * const repr = { ...newIpv4Repr(), source: 0xc0000201 | 0, destination: 0xc0000202 | 0, protocol: IP_PROTO_UDP, payloadLength: 8 };
 * Ipv4Repr.emit(repr, bytes, 0);
 * const back = Ipv4Repr.parse(new Ipv4Packet(bytes));
 * if (isWireError(back)) throw new Error(String(back));
 * console.assert(back.destination === (0xc0000202 | 0) && back.payloadLength === 8); // int32 addresses
 * ```
 */
export const Ipv4Repr: Ipv4Codec = {
  parse(packet: Ipv4Packet, out?: Ipv4Repr, opts?: Ipv4ParseOptions): Ipv4Repr | WireError {
    const err = packet.check();
    if (err !== null) return err;
    if (opts?.verifyChecksum !== false && !packet.verifyChecksum()) {
      return new WireError(
        PROTOCOL,
        "bad-checksum",
        `header checksum 0x${packet.checksum.toString(16).padStart(4, "0")} does not verify`,
      );
    }
    const repr = out ?? newIpv4Repr();
    repr.source = packet.source;
    repr.destination = packet.destination;
    repr.protocol = packet.protocol;
    repr.ttl = packet.ttl;
    repr.tos = packet.tos;
    repr.identification = packet.identification;
    repr.dontFragment = packet.dontFragment;
    repr.moreFragments = packet.moreFragments;
    repr.fragmentOffset = packet.fragmentOffset;
    repr.headerLength = packet.headerLength;
    repr.payloadLength = packet.payloadLength;
    repr.payloadOffset = packet.payloadOffset;
    return repr;
  },

  headerLength(_repr: Ipv4Repr): number {
    return IPV4_HEADER_LEN;
  },

  emit(repr: Ipv4Repr, bytes: Uint8Array, offset: number): number {
    const versionTos = (((IPV4_VERSION << 4) | IHL_MIN) << 8) | (repr.tos & 0xff);
    const totalLength = (IPV4_HEADER_LEN + repr.payloadLength) & 0xffff;
    const identification = repr.identification & 0xffff;
    const flagsFragment = (repr.dontFragment ? FLAG_DF : 0) | (repr.moreFragments ? FLAG_MF : 0) |
      ((repr.fragmentOffset / IPV4_FRAGMENT_UNIT) & FRAGMENT_MASK);
    const ttlProtocol = ((repr.ttl & 0xff) << 8) | (repr.protocol & 0xff);
    const src = repr.source;
    const dst = repr.destination;
    write16(bytes, offset + OFFSET_VIHL, versionTos);
    write16(bytes, offset + OFFSET_TOTAL_LEN, totalLength);
    write16(bytes, offset + OFFSET_ID, identification);
    write16(bytes, offset + OFFSET_FLAGS_FRAG, flagsFragment);
    write16(bytes, offset + OFFSET_TTL, ttlProtocol);
    writeIpv4(bytes, offset + OFFSET_SRC, src);
    writeIpv4(bytes, offset + OFFSET_DST, dst);
    // RFC 1071: the header's ten 16-bit words summed from the values just written, not read
    // back (the checksum word counts as zero).
    const sum = versionTos + totalLength + identification + flagsFragment + ttlProtocol +
      (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff);
    write16(bytes, offset + OFFSET_CHECKSUM, ~foldSum(sum) & 0xffff);
    return IPV4_HEADER_LEN;
  },
};
