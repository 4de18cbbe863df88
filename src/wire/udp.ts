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
 * The checksum covers the IPv4 pseudo-header, the header and the data. On
 * receive a zero checksum means "not computed"; on transmit a computed zero
 * is sent as 0xffff (RFC 768, "Fields").
 *
 * @module
 */

import { onesComplementSum, pseudoHeaderSum, UDP_CHECKSUM_OFFSET } from "./checksum.ts";
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
): void {
  const at = offset + OFFSET_CHECKSUM;
  const initial = pseudoHeaderSum(src, dst, IP_PROTO_UDP, length);
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
   * checksum ("none", RFC 768) passes.
   *
   * @param src IPv4 source address
   * @param dst IPv4 destination address
   * @returns true when absent or correct
   */
  verifyChecksum(src: number, dst: number): boolean {
    if (this.checksum === UDP_CHECKSUM_NONE) return true;
    const len = this.udpLength;
    return onesComplementSum(
      this.bytes,
      this.offset,
      len,
      pseudoHeaderSum(src, dst, IP_PROTO_UDP, len),
    ) ===
      SUM_OK;
  }

  /**
   * Computes and stores the checksum (see {@link fillUdpChecksum}).
   *
   * @param src IPv4 source address
   * @param dst IPv4 destination address
   */
  fillChecksum(src: number, dst: number): void {
    fillUdpChecksum(this.bytes, this.offset, this.udpLength, src, dst);
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

/** Options of {@link UdpRepr.parse}: `verifyChecksum` (default true; a zero checksum always passes). */
export type UdpParseOptions = ChecksumParseOptions;

/** Options of {@link UdpRepr.emit}. */
export interface UdpEmitOptions {
  /** Compute the checksum (default true); false leaves 0 ("none"). */
  checksum?: boolean;
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
   * @param opts `verifyChecksum: false` to skip the checksum
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
   * @param opts `checksum: false` to send "no checksum"
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
    if (opts?.verifyChecksum !== false && !packet.verifyChecksum(src, dst)) {
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
    if (opts?.checksum === false) {
      write16(bytes, offset + OFFSET_CHECKSUM, UDP_CHECKSUM_NONE);
    } else {
      fillUdpChecksum(bytes, offset, udpLength, src, dst);
    }
    return UDP_HEADER_LEN;
  },
};
