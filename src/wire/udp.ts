/**
 * UDP (RFC 768): a zero-copy {@link UdpPacket} view, a plain
 * {@link UdpRepr}, and {@link fillUdpChecksum}.
 *
 * ```
 *  0              16             31
 *  |  Source Port  |  Dest Port   |
 *  |    Length     |  Checksum    |
 *  | data ...
 * ```
 *
 * Over IPv6 (the `ipv6AddressSum` parameters and options) the checksum
 * covers the RFC 8200 §8.1 pseudo-header instead and is mandatory: a zero
 * checksum is refused on receive and never sent.
 *
 * The checksum covers the IPv4 pseudo-header, the header and the data. On
 * receive a zero checksum means "not computed"; on transmit a computed zero
 * is sent as 0xffff (RFC 768, "Fields").
 *
 * @module
 */

import { onesComplementSum, transportPseudoHeaderSum, UDP_CHECKSUM_OFFSET } from "./checksum.ts";
import { WireError } from "./error.ts";
import { IP_PROTO_UDP } from "./ipv4.ts";
import { type ChecksumParseOptions, read16, storeChecksum, WireView, write16 } from "./view.ts";

/** Length of the UDP header. */
export const UDP_HEADER_LEN = 8;
/** The checksum field value meaning "no checksum" (RFC 768). */
export const UDP_CHECKSUM_NONE = 0;
/** Largest UDP length (16-bit field). */
export const UDP_MAX_LEN = 0xffff;

const PROTOCOL = "udp";
const OFFSET_SRC_PORT = 0;
const OFFSET_DST_PORT = 2;
const OFFSET_LENGTH = 4;
const OFFSET_CHECKSUM = UDP_CHECKSUM_OFFSET;
const SUM_OK = 0xffff;
const CHECKSUM_ZERO_SENT_AS = 0xffff;

/**
 * Computes and stores the UDP checksum of a datagram already laid out at
 * `[offset, offset + length)` (header with its length field, then data).
 * A computed 0 is stored as 0xffff (RFC 768).
 *
 * @param bytes the buffer
 * @param offset where the UDP header starts
 * @param length UDP length (header + data)
 * @param src IPv4 source address (int32, see address.ts), for the pseudo-header
 * @param dst IPv4 destination address
 * @param ipv6AddressSum over IPv6: `ipv6AddressSum` of the IPv6 addresses
 *   (RFC 8200 §8.1; src and dst are then ignored); omit for IPv4
 *
 * @example
 * ```ts
 * import { fillUdpChecksum, UdpPacket } from "./udp.ts";
 * const b = new Uint8Array([0x9c, 0x40, 0x27, 0x0f, 0, 9, 0, 0, 0x41]);
 * fillUdpChecksum(b, 0, 9, 0xc0000201 | 0, 0xc0000202 | 0);
 * console.assert(new UdpPacket(b).verifyChecksum(0xc0000201 | 0, 0xc0000202 | 0));
 * ```
 */
export function fillUdpChecksum(
  bytes: Uint8Array,
  offset: number,
  length: number,
  src: number,
  dst: number,
  ipv6AddressSum?: number,
): void {
  const at = offset + OFFSET_CHECKSUM;
  const initial = transportPseudoHeaderSum(src, dst, IP_PROTO_UDP, length, ipv6AddressSum);
  if (storeChecksum(bytes, offset, length, at, initial) === 0) {
    write16(bytes, at, CHECKSUM_ZERO_SENT_AS);
  }
}

/**
 * A zero-copy view of a UDP datagram; `length` is the bytes available (the
 * IPv4 payload length).
 *
 * @example
 * ```ts
 * import { UdpPacket } from "./udp.ts";
 * const p = new UdpPacket(new Uint8Array(12));
 * p.sourcePort = 40000; p.destinationPort = 53; p.udpLength = 12;
 * console.assert(p.check() === null && p.payloadLength === 4);
 * ```
 */
export class UdpPacket extends WireView {
  /**
   * Validates the header and the length field against the available bytes
   * (not the checksum). After `null`, every accessor is in bounds.
   *
   * @returns null when valid, otherwise the defect
   */
  check(): WireError | null {
    const err = this.checkBounds(PROTOCOL, "datagram", UDP_HEADER_LEN);
    if (err !== null) return err;
    const udpLength = this.udpLength;
    // RFC 768: Length counts header and data, so the minimum is eight.
    if (udpLength < UDP_HEADER_LEN) {
      return new WireError(PROTOCOL, "bad-length", `length field ${udpLength} < ${UDP_HEADER_LEN}`);
    }
    if (udpLength > this.length) {
      return new WireError(
        PROTOCOL,
        "bad-length",
        `length field ${udpLength} > ${this.length} bytes available`,
      );
    }
    return null;
  }

  /**
   * Verifies the checksum over pseudo-header, header and data; a zero
   * checksum ("none", RFC 768) passes over IPv4 and fails over IPv6 (RFC
   * 8200 §8.1: "IPv6 receivers must discard UDP packets containing a zero
   * checksum").
   *
   * @param src IPv4 source address
   * @param dst IPv4 destination address
   * @param ipv6AddressSum over IPv6: `ipv6AddressSum` of the IPv6 addresses
   *   (src and dst are then ignored); omit for IPv4
   * @returns true when absent (IPv4 only) or correct
   */
  verifyChecksum(src: number, dst: number, ipv6AddressSum?: number): boolean {
    const ipv6 = ipv6AddressSum !== undefined && ipv6AddressSum >= 0;
    if (this.checksum === UDP_CHECKSUM_NONE) return !ipv6;
    const len = this.udpLength;
    return onesComplementSum(
      this.bytes,
      this.offset,
      len,
      transportPseudoHeaderSum(src, dst, IP_PROTO_UDP, len, ipv6AddressSum),
    ) ===
      SUM_OK;
  }

  /**
   * Computes and stores the checksum (see {@link fillUdpChecksum}).
   *
   * @param src IPv4 source address
   * @param dst IPv4 destination address
   * @param ipv6AddressSum over IPv6: `ipv6AddressSum` of the IPv6 addresses; omit for IPv4
   */
  fillChecksum(src: number, dst: number, ipv6AddressSum?: number): void {
    fillUdpChecksum(this.bytes, this.offset, this.udpLength, src, dst, ipv6AddressSum);
  }

  /** Source port. */
  get sourcePort(): number {
    return read16(this.bytes, this.offset + OFFSET_SRC_PORT);
  }
  set sourcePort(v: number) {
    write16(this.bytes, this.offset + OFFSET_SRC_PORT, v);
  }

  /** Destination port. */
  get destinationPort(): number {
    return read16(this.bytes, this.offset + OFFSET_DST_PORT);
  }
  set destinationPort(v: number) {
    write16(this.bytes, this.offset + OFFSET_DST_PORT, v);
  }

  /** The length field: header + data. */
  get udpLength(): number {
    return read16(this.bytes, this.offset + OFFSET_LENGTH);
  }
  set udpLength(v: number) {
    write16(this.bytes, this.offset + OFFSET_LENGTH, v);
  }

  /** The stored checksum (0 = none). */
  get checksum(): number {
    return read16(this.bytes, this.offset + OFFSET_CHECKSUM);
  }
  set checksum(v: number) {
    write16(this.bytes, this.offset + OFFSET_CHECKSUM, v);
  }

  /** Where the data starts (absolute index). */
  get payloadOffset(): number {
    return this.offset + UDP_HEADER_LEN;
  }

  /** Data length per the length field (valid after a null check()). */
  get payloadLength(): number {
    return this.udpLength - UDP_HEADER_LEN;
  }
}

/** The fields of a UDP header. */
export interface UdpRepr {
  /** Source port. */
  srcPort: number;
  /** Destination port. */
  dstPort: number;
  /** Data length in bytes. */
  payloadLength: number;
  /** Where the data start in the parsed buffer (absolute index; 0 for a built repr). */
  payloadOffset: number;
  /** True when the received checksum was zero ("none", RFC 768). */
  checksumAbsent: boolean;
}

/**
 * A fresh repr with every field zero, to reuse as `out`.
 *
 * @returns a new repr
 *
 * @example
 * ```ts
 * import { newUdpRepr } from "./udp.ts";
 * console.assert(newUdpRepr().payloadLength === 0);
 * ```
 */
export function newUdpRepr(): UdpRepr {
  return { srcPort: 0, dstPort: 0, payloadLength: 0, payloadOffset: 0, checksumAbsent: false };
}

/**
 * Options of {@link UdpRepr.parse}: `verifyChecksum` (default true; a zero
 * checksum passes over IPv4) and, for a datagram that came over IPv6, the
 * `ipv6AddressSum` of its addresses (RFC 8200 §8.1: the IPv4 `src`/`dst`
 * are then ignored, and a zero checksum is refused even when
 * `verifyChecksum` is false).
 */
export interface UdpParseOptions extends ChecksumParseOptions {
  /** `ipv6AddressSum(src, dst)` (checksum.ts) of the IPv6 addresses; omit for IPv4. */
  ipv6AddressSum?: number;
}

/** Options of {@link UdpRepr.emit}. */
export interface UdpEmitOptions {
  /** Compute the checksum (default true); false leaves 0 ("none"), over IPv4 only. */
  checksum?: boolean;
  /**
   * `ipv6AddressSum(src, dst)` (checksum.ts) of the IPv6 addresses for a
   * datagram sent over IPv6 (RFC 8200 §8.1; the checksum is then always
   * computed); omit for IPv4.
   */
  ipv6AddressSum?: number;
}

/** The shape of {@link UdpRepr}: parse and emit UDP datagrams (RFC 768). */
export interface UdpCodec {
  /**
   * Checks the datagram (length field, checksum unless zero) and reads it.
   * Zero allocation when `out` is given.
   *
   * @param packet the view; `length` = the IPv4 payload length
   * @param src IPv4 source address (for the pseudo-header)
   * @param dst IPv4 destination address
   * @param out a repr to fill
   * @param opts `verifyChecksum: false` to skip the checksum; `ipv6AddressSum` over IPv6
   * @returns the repr, or the defect
   */
  parse(
    packet: UdpPacket,
    src: number,
    dst: number,
    out?: UdpRepr,
    opts?: UdpParseOptions,
  ): UdpRepr | WireError;

  /**
   * The header length `emit` writes.
   *
   * @param repr the header
   * @returns {@link UDP_HEADER_LEN}
   */
  headerLength(repr: UdpRepr): number;

  /**
   * Writes the 8-byte header at `offset` with length `8 + payloadLength`
   * and, unless `opts.checksum === false`, the checksum over pseudo-header,
   * header and the payload, which must already sit at `offset + 8`.
   *
   * @param repr the header
   * @param bytes the buffer
   * @param offset where the datagram starts
   * @param src IPv4 source address
   * @param dst IPv4 destination address
   * @param opts `checksum: false` to send "no checksum" (IPv4); `ipv6AddressSum` over IPv6
   * @returns bytes written (the 8-byte header)
   */
  emit(
    repr: UdpRepr,
    bytes: Uint8Array,
    offset: number,
    src: number,
    dst: number,
    opts?: UdpEmitOptions,
  ): number;
}

/**
 * Parse and emit UDP headers.
 *
 * @example
 * ```ts
 * import { UdpPacket, UdpRepr } from "./udp.ts";
 * import { isWireError } from "./error.ts";
 * const bytes = new Uint8Array(8 + 3);
 * bytes.set([1, 2, 3], 8);                          // the payload is already in place
 * UdpRepr.emit({ srcPort: 40000, dstPort: 9999, payloadLength: 3, payloadOffset: 0, checksumAbsent: false },
 *   bytes, 0, 0xc0000201 | 0, 0xc0000202 | 0);
 * const back = UdpRepr.parse(new UdpPacket(bytes), 0xc0000201 | 0, 0xc0000202 | 0);
 * if (isWireError(back)) throw new Error(String(back));
 * console.assert(back.dstPort === 9999 && back.payloadLength === 3);
 * ```
 */
export const UdpRepr: UdpCodec = {
  parse(
    packet: UdpPacket,
    src: number,
    dst: number,
    out?: UdpRepr,
    opts?: UdpParseOptions,
  ): UdpRepr | WireError {
    const err = packet.check();
    if (err !== null) return err;
    const ipv6AddressSum = opts?.ipv6AddressSum;
    if (
      ipv6AddressSum !== undefined && ipv6AddressSum >= 0 &&
      packet.checksum === UDP_CHECKSUM_NONE
    ) {
      return new WireError(PROTOCOL, "bad-checksum", "zero checksum over IPv6 (RFC 8200 §8.1)");
    }
    if (opts?.verifyChecksum !== false && !packet.verifyChecksum(src, dst, ipv6AddressSum)) {
      return new WireError(
        PROTOCOL,
        "bad-checksum",
        `checksum 0x${packet.checksum.toString(16).padStart(4, "0")} does not verify`,
      );
    }
    const repr = out ?? newUdpRepr();
    repr.srcPort = packet.sourcePort;
    repr.dstPort = packet.destinationPort;
    repr.payloadLength = packet.payloadLength;
    repr.payloadOffset = packet.payloadOffset;
    repr.checksumAbsent = packet.checksum === UDP_CHECKSUM_NONE;
    return repr;
  },

  headerLength(_repr: UdpRepr): number {
    return UDP_HEADER_LEN;
  },

  emit(
    repr: UdpRepr,
    bytes: Uint8Array,
    offset: number,
    src: number,
    dst: number,
    opts?: UdpEmitOptions,
  ): number {
    const udpLength = UDP_HEADER_LEN + repr.payloadLength;
    write16(bytes, offset + OFFSET_SRC_PORT, repr.srcPort);
    write16(bytes, offset + OFFSET_DST_PORT, repr.dstPort);
    write16(bytes, offset + OFFSET_LENGTH, udpLength);
    const ipv6AddressSum = opts?.ipv6AddressSum;
    const ipv6 = ipv6AddressSum !== undefined && ipv6AddressSum >= 0;
    if (opts?.checksum === false && !ipv6) {
      write16(bytes, offset + OFFSET_CHECKSUM, UDP_CHECKSUM_NONE);
    } else {
      fillUdpChecksum(bytes, offset, udpLength, src, dst, ipv6AddressSum);
    }
    return UDP_HEADER_LEN;
  },
};
