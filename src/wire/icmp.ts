/**
 * ICMPv4 (RFC 792): echo request/reply, destination unreachable (including
 * "fragmentation needed" with the next-hop MTU of RFC 1191 §4) and time
 * exceeded. A zero-copy {@link IcmpPacket} view and a plain {@link IcmpRepr}.
 *
 * ```
 *  0      8      16             31
 *  | Type | Code |   Checksum    |
 *  | Identifier  |  Sequence     |   echo (types 0, 8)
 *  |  unused (0) | Next-hop MTU  |   destination unreachable (type 3; MTU for code 4)
 *  |        unused (0)           |   time exceeded (type 11)
 *  | data: echo payload, or the quoted original IPv4 header + ≥ 8 bytes
 * ```
 *
 * The checksum covers the whole ICMP message (RFC 792).
 *
 * @module
 */

import { onesComplementSum } from "./checksum.ts";
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
import { IPV4_HEADER_LEN, IPV4_VERSION, Ipv4Packet } from "./ipv4.ts";
import { type ChecksumParseOptions, copyPayload, read16, storeChecksum, write16 } from "./view.ts";

/** Length of the fixed ICMP header (type, code, checksum, 4 more bytes). */
export const ICMP_HEADER_LEN: number = ICMP_COMMON_HEADER_LEN;
/** Type: echo reply (RFC 792). */
export const ICMP_ECHO_REPLY = 0;
/** Type: destination unreachable (RFC 792). */
export const ICMP_DEST_UNREACHABLE = 3;
/** Type: echo request (RFC 792). */
export const ICMP_ECHO_REQUEST = 8;
/** Type: time exceeded (RFC 792). */
export const ICMP_TIME_EXCEEDED = 11;
/** Destination unreachable code: net unreachable. */
export const ICMP_UNREACH_NET = 0;
/** Destination unreachable code: host unreachable. */
export const ICMP_UNREACH_HOST = 1;
/** Destination unreachable code: protocol unreachable. */
export const ICMP_UNREACH_PROTOCOL = 2;
/** Destination unreachable code: port unreachable. */
export const ICMP_UNREACH_PORT = 3;
/** Destination unreachable code: fragmentation needed and DF set (RFC 1191 §4). */
export const ICMP_UNREACH_FRAG_NEEDED = 4;
/** Time exceeded code: TTL exceeded in transit. */
export const ICMP_TIME_EXCEEDED_TTL = 0;
/** Time exceeded code: fragment reassembly time exceeded. */
export const ICMP_TIME_EXCEEDED_REASSEMBLY = 1;
/** Bytes of the original datagram's data an error quotes at least: 64 bits (RFC 792). */
export const ICMP_MIN_QUOTED_DATA_LEN = 8;
/** Shortest quote an error must carry: an IPv4 header plus 64 bits of data (RFC 792). */
export const ICMP_MIN_QUOTE_LEN = 28;
/** Offset of the checksum field in an ICMP header (RFC 792). */
export const ICMP_CHECKSUM_OFFSET: number = ICMP_COMMON_CHECKSUM_OFFSET;
/** Offset of the echo identifier (the first half of the rest-of-header word) in an ICMP header (RFC 792). */
export const ICMP_ID_OFFSET: number = ICMP_WORD_OFFSET;

const PROTOCOL = "icmp";
const SUM_OK = 0xffff;
/** Bytes of transport header an error quote must include after the IP header (RFC 792). */
const QUOTED_DATA_MIN = 8;

/**
 * True for the error types whose data quote the original datagram.
 *
 * @param type an ICMP type
 * @returns true for destination unreachable and time exceeded
 *
 * @example
 * ```ts
 * import { isIcmpError } from "./icmp.ts";
 * console.assert(isIcmpError(3) && isIcmpError(11) && !isIcmpError(8));
 * ```
 */
export function isIcmpError(type: number): boolean {
  return type === ICMP_DEST_UNREACHABLE || type === ICMP_TIME_EXCEEDED;
}

/**
 * A zero-copy view of an ICMP message; `length` is the whole message (the
 * IPv4 payload length).
 *
 * @example
 * ```ts
 * import { ICMP_ECHO_REQUEST, IcmpPacket } from "./icmp.ts";
 * const p = new IcmpPacket(new Uint8Array(12));
 * p.type = ICMP_ECHO_REQUEST;
 * p.identifier = 0x1234;
 * p.sequence = 1;
 * p.fillChecksum();
 * console.assert(p.check() === null && p.verifyChecksum() && p.dataLength === 4);
 * ```
 */
export class IcmpPacket extends IcmpHeaderView {
  /**
   * Validates that the 8-byte header lies inside the message and buffer.
   * After `null`, every accessor is in bounds.
   *
   * @returns null when valid, otherwise the defect
   */
  check(): WireError | null {
    return this.checkBounds(PROTOCOL, "message", ICMP_HEADER_LEN);
  }

  /**
   * Verifies the checksum over the whole message (RFC 792).
   *
   * @returns true when correct
   */
  verifyChecksum(): boolean {
    return onesComplementSum(this.bytes, this.offset, this.length) === SUM_OK;
  }

  /** Computes and stores the checksum over the whole message (RFC 792). */
  fillChecksum(): void {
    storeChecksum(this.bytes, this.offset, this.length, this.offset + ICMP_COMMON_CHECKSUM_OFFSET);
  }

  /** Next-hop MTU of "fragmentation needed" (bytes 6–7, RFC 1191 §4). */
  get nextHopMtu(): number {
    return read16(this.bytes, this.offset + ICMP_WORD2_OFFSET);
  }
  set nextHopMtu(v: number) {
    write16(this.bytes, this.offset + ICMP_WORD2_OFFSET, v);
  }

  /** The four bytes after the checksum as one unsigned 32-bit number. */
  get restOfHeader(): number {
    return (read16(this.bytes, this.offset + ICMP_WORD_OFFSET) * 0x10000) +
      read16(this.bytes, this.offset + ICMP_WORD2_OFFSET);
  }
}

/**
 * An ICMP message. For echo, `data*` is the echo payload; for errors it is
 * the quoted original datagram (IPv4 header + leading data).
 */
export interface IcmpRepr {
  /** ICMP_* type. */
  type: number;
  /** Code. */
  code: number;
  /** Echo identifier (0 for errors). */
  identifier: number;
  /** Echo sequence number (0 for errors). */
  sequence: number;
  /** Next-hop MTU for destination unreachable code 4, else 0 (RFC 1191 §4). */
  nextHopMtu: number;
  /** Buffer holding the data (zero-copy: the parsed buffer). */
  data: Uint8Array;
  /** Where the data start in {@link IcmpRepr.data}. */
  dataOffset: number;
  /** Data length. */
  dataLength: number;
}

const EMPTY = new Uint8Array(0);
/** Reads the IPv4 header an error quotes (re-pointed by each parse; parsing is synchronous). */
const quotedHeader = new Ipv4Packet(EMPTY);

/**
 * A fresh echo-request repr with no data, to reuse as `out`.
 *
 * @returns a new repr
 *
 * @example
 * ```ts
 * import { ICMP_ECHO_REQUEST, newIcmpRepr } from "./icmp.ts";
 * console.assert(newIcmpRepr().type === ICMP_ECHO_REQUEST);
 * ```
 */
export function newIcmpRepr(): IcmpRepr {
  return {
    type: ICMP_ECHO_REQUEST,
    code: 0,
    identifier: 0,
    sequence: 0,
    nextHopMtu: 0,
    data: EMPTY,
    dataOffset: 0,
    dataLength: 0,
  };
}

/** Options of {@link IcmpRepr.parse}: `verifyChecksum` (default true). */
export type IcmpParseOptions = ChecksumParseOptions;

/** The shape of {@link IcmpRepr}: parse and emit ICMP messages (RFC 792). */
export interface IcmpCodec {
  /**
   * Checks the message (length, checksum, a readable quote for errors) and
   * reads it. Zero allocation when `out` is given; `out.data` aliases the
   * packet's buffer. Types other than echo, destination unreachable and
   * time exceeded are reported as "unsupported".
   *
   * @param packet the view; its length must be the whole message
   * @param out a repr to fill
   * @param opts `verifyChecksum: false` to skip the checksum
   * @returns the repr, or the defect
   */
  parse(packet: IcmpPacket, out?: IcmpRepr, opts?: IcmpParseOptions): IcmpRepr | WireError;

  /**
   * The header length `emit` writes before the data.
   *
   * @param repr the message
   * @returns {@link ICMP_HEADER_LEN}
   */
  headerLength(repr: IcmpRepr): number;

  /**
   * The whole message length `emit` writes.
   *
   * @param repr the message
   * @returns 8 + `repr.dataLength`
   */
  bufferLength(repr: IcmpRepr): number;

  /**
   * Writes header and data (copied from `repr.data[dataOffset, +dataLength)`,
   * unless they already sit right after the header in `bytes`) and the
   * checksum over the whole message.
   *
   * @param repr the message
   * @param bytes the buffer (room for {@link IcmpRepr.bufferLength} bytes)
   * @param offset where the message starts
   * @returns bytes written (8 + data length)
   */
  emit(repr: IcmpRepr, bytes: Uint8Array, offset: number): number;
}

/**
 * Parse and emit ICMP messages.
 *
 * @example
 * ```ts
 * import { ICMP_ECHO_REPLY, IcmpPacket, IcmpRepr, newIcmpRepr } from "./icmp.ts";
 * import { isWireError } from "./error.ts";
 * const payload = new TextEncoder().encode("ping");
 * const repr = { ...newIcmpRepr(), type: ICMP_ECHO_REPLY, identifier: 7, sequence: 1, data: payload, dataLength: 4 };
 * const bytes = new Uint8Array(IcmpRepr.bufferLength(repr));
 * IcmpRepr.emit(repr, bytes, 0);
 * const back = IcmpRepr.parse(new IcmpPacket(bytes));
 * if (isWireError(back)) throw new Error(String(back));
 * console.assert(back.identifier === 7 && back.dataLength === 4 && back.data[back.dataOffset] === 0x70);
 * ```
 */
export const IcmpRepr: IcmpCodec = {
  parse(packet: IcmpPacket, out?: IcmpRepr, opts?: IcmpParseOptions): IcmpRepr | WireError {
    const err = packet.check();
    if (err !== null) return err;
    if (opts?.verifyChecksum !== false && !packet.verifyChecksum()) {
      return new WireError(
        PROTOCOL,
        "bad-checksum",
        `checksum 0x${
          packet.checksum.toString(16).padStart(4, "0")
        } does not verify over ${packet.length} bytes`,
      );
    }
    const type = packet.type;
    let identifier = 0;
    let sequence = 0;
    let nextHopMtu = 0;
    if (type === ICMP_ECHO_REQUEST || type === ICMP_ECHO_REPLY) {
      // RFC 792 "Echo or Echo Reply Message": code 0, identifier, sequence number.
      identifier = packet.identifier;
      sequence = packet.sequence;
    } else if (isIcmpError(type)) {
      // RFC 792: errors quote "the internet header plus the first 64 bits of
      // the original datagram's data". Make sure that much is readable.
      const quoted = packet.dataOffset;
      const quotedLength = packet.dataLength;
      if (quotedLength < ICMP_MIN_QUOTE_LEN) {
        return new WireError(
          PROTOCOL,
          "truncated",
          `quoted datagram of ${quotedLength} bytes < ${ICMP_MIN_QUOTE_LEN} (IPv4 header + 8)`,
        );
      }
      // The quote is read through the IPv4 view (made once, re-pointed here).
      const quote = quotedHeader.reset(packet.bytes, quoted, quotedLength);
      if (quote.version !== IPV4_VERSION) {
        return new WireError(
          PROTOCOL,
          "bad-version",
          `quoted datagram has IP version ${quote.version}`,
        );
      }
      const headerLength = quote.headerLength;
      if (headerLength < IPV4_HEADER_LEN || headerLength + QUOTED_DATA_MIN > quotedLength) {
        return new WireError(
          PROTOCOL,
          "bad-header-length",
          `quoted IHL ${
            headerLength / 4
          } does not leave ${QUOTED_DATA_MIN} data bytes in a ${quotedLength}-byte quote`,
        );
      }
      // RFC 1191 §4: the low-order 16 bits of the unused field carry the next-hop MTU.
      if (type === ICMP_DEST_UNREACHABLE && packet.code === ICMP_UNREACH_FRAG_NEEDED) {
        nextHopMtu = packet.nextHopMtu;
      }
    } else {
      return new WireError(PROTOCOL, "unsupported", `type ${type} code ${packet.code}`);
    }
    const repr = out ?? newIcmpRepr();
    repr.type = type;
    repr.code = packet.code;
    repr.identifier = identifier;
    repr.sequence = sequence;
    repr.nextHopMtu = nextHopMtu;
    repr.data = packet.bytes;
    repr.dataOffset = packet.dataOffset;
    repr.dataLength = packet.dataLength;
    return repr;
  },

  headerLength(_repr: IcmpRepr): number {
    return ICMP_HEADER_LEN;
  },

  bufferLength(repr: IcmpRepr): number {
    return ICMP_HEADER_LEN + repr.dataLength;
  },

  emit(repr: IcmpRepr, bytes: Uint8Array, offset: number): number {
    // Data first: they may share the buffer with (and overlap) the header area.
    const n = repr.dataLength;
    copyPayload(repr.data, repr.dataOffset, bytes, offset + ICMP_HEADER_LEN, n);
    bytes[offset + ICMP_TYPE_OFFSET] = repr.type;
    bytes[offset + ICMP_CODE_OFFSET] = repr.code;
    if (repr.type === ICMP_ECHO_REQUEST || repr.type === ICMP_ECHO_REPLY) {
      write16(bytes, offset + ICMP_WORD_OFFSET, repr.identifier);
      write16(bytes, offset + ICMP_WORD2_OFFSET, repr.sequence);
    } else {
      // RFC 792: "unused" must be zero; RFC 1191 §4 puts the next-hop MTU in its low 16 bits.
      write16(bytes, offset + ICMP_WORD_OFFSET, 0);
      write16(
        bytes,
        offset + ICMP_WORD2_OFFSET,
        repr.type === ICMP_DEST_UNREACHABLE && repr.code === ICMP_UNREACH_FRAG_NEEDED
          ? repr.nextHopMtu
          : 0,
      );
    }
    const total = ICMP_HEADER_LEN + n;
    storeChecksum(bytes, offset, total, offset + ICMP_COMMON_CHECKSUM_OFFSET);
    return total;
  },
};
