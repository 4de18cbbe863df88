/**
 * The header ICMP (RFC 792) and ICMPv6 (RFC 4443 §2.1) share: type, code,
 * checksum, then a 4-byte word that echo splits into identifier and
 * sequence (RFC 792 "Echo", RFC 4443 §4.1) and errors use for an MTU, a
 * pointer or nothing. {@link IcmpHeaderView} holds these accessors once;
 * `IcmpPacket` (src/wire/icmp.ts) and `Icmpv6Packet` (src/wire/icmpv6.ts)
 * extend it with their checksum (without and with the IPv6 pseudo-header)
 * and their own readings of the word.
 *
 * ```
 *  0      1      2          4             6             8
 *  | type | code | checksum | identifier  | sequence    | data …
 * ```
 *
 * @module
 */

import { read16, WireView, write16 } from "./view.ts";

/** Bytes of the ICMP and ICMPv6 header: type, code, checksum and the 4-byte word. */
export const ICMP_COMMON_HEADER_LEN = 8;
/** Offset of the type. */
export const ICMP_TYPE_OFFSET = 0;
/** Offset of the code. */
export const ICMP_CODE_OFFSET = 1;
/** Offset of the checksum. */
export const ICMP_COMMON_CHECKSUM_OFFSET = 2;
/** Offset of the 4-byte word (the echo identifier's half first). */
export const ICMP_WORD_OFFSET = 4;
/** Offset of the word's second half (the echo sequence number). */
export const ICMP_WORD2_OFFSET = 6;

/**
 * A zero-copy view of the header ICMP and ICMPv6 messages share; the
 * subclasses validate it (`check`) and add their checksums.
 *
 * @example
 * ```ts
 * import { IcmpPacket } from "./icmp.ts";
 * import { IcmpHeaderView } from "./icmp_header.ts";
 * const p = new IcmpPacket(new Uint8Array(12));
 * p.identifier = 7;
 * console.assert(p instanceof IcmpHeaderView && p.identifier === 7 && p.dataLength === 4);
 * ```
 */
export abstract class IcmpHeaderView extends WireView {
  /** Message type. */
  get type(): number {
    return this.bytes[this.offset + ICMP_TYPE_OFFSET];
  }
  set type(v: number) {
    this.bytes[this.offset + ICMP_TYPE_OFFSET] = v;
  }

  /** Message code. */
  get code(): number {
    return this.bytes[this.offset + ICMP_CODE_OFFSET];
  }
  set code(v: number) {
    this.bytes[this.offset + ICMP_CODE_OFFSET] = v;
  }

  /** Stored checksum. */
  get checksum(): number {
    return read16(this.bytes, this.offset + ICMP_COMMON_CHECKSUM_OFFSET);
  }
  set checksum(v: number) {
    write16(this.bytes, this.offset + ICMP_COMMON_CHECKSUM_OFFSET, v);
  }

  /** Echo identifier (bytes 4–5). */
  get identifier(): number {
    return read16(this.bytes, this.offset + ICMP_WORD_OFFSET);
  }
  set identifier(v: number) {
    write16(this.bytes, this.offset + ICMP_WORD_OFFSET, v);
  }

  /** Echo sequence number (bytes 6–7). */
  get sequence(): number {
    return read16(this.bytes, this.offset + ICMP_WORD2_OFFSET);
  }
  set sequence(v: number) {
    write16(this.bytes, this.offset + ICMP_WORD2_OFFSET, v);
  }

  /** Where the data (echo payload or quoted packet) starts (absolute index). */
  get dataOffset(): number {
    return this.offset + ICMP_COMMON_HEADER_LEN;
  }

  /** Data length in bytes. */
  get dataLength(): number {
    return this.length - ICMP_COMMON_HEADER_LEN;
  }
}
