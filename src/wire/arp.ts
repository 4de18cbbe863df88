/**
 * ARP (RFC 826) for Ethernet hardware addresses and IPv4 protocol addresses:
 * a zero-copy {@link ArpPacket} view and a plain {@link ArpRepr}.
 *
 * ```
 *  0     2     4    5    6    8       14      18      24      28
 *  |htype|ptype|hlen|plen| op | sha   | spa   | tha   | tpa   |
 * ```
 *
 * @module
 */

import { readIpv4, readMac, writeIpv4, writeMac } from "./address.ts";
import { WireError } from "./error.ts";
import { read16, WireView, write16 } from "./view.ts";

/** Length of an Ethernet/IPv4 ARP packet in bytes. */
export const ARP_PACKET_LEN = 28;
/** Hardware type Ethernet (RFC 826, IANA ARP parameters). */
export const ARP_HTYPE_ETHERNET = 1;
/** Protocol type IPv4 (the EtherType). */
export const ARP_PTYPE_IPV4 = 0x0800;
/** Hardware address length of Ethernet. */
export const ARP_HLEN_ETHERNET = 6;
/** Protocol address length of IPv4. */
export const ARP_PLEN_IPV4 = 4;
/** Operation: request (RFC 826 "ares_op$REQUEST"). */
export const ARP_REQUEST = 1;
/** Operation: reply (RFC 826 "ares_op$REPLY"). */
export const ARP_REPLY = 2;

const PROTOCOL = "arp";
const OFFSET_HTYPE = 0;
const OFFSET_PTYPE = 2;
const OFFSET_HLEN = 4;
const OFFSET_PLEN = 5;
const OFFSET_OP = 6;
const OFFSET_SHA = 8;
const OFFSET_SPA = 14;
const OFFSET_THA = 18;
const OFFSET_TPA = 24;

/**
 * A zero-copy view of an ARP packet; `length` is the bytes available (the
 * Ethernet payload, possibly padded).
 *
 * @example
 * ```ts
 * import { ArpPacket, ARP_REQUEST } from "./arp.ts";
 * const p = new ArpPacket(new Uint8Array(28));
 * p.hardwareType = 1; p.protocolType = 0x0800; p.hardwareLength = 6; p.protocolLength = 4;
 * p.operation = ARP_REQUEST;
 * p.senderIp = 0xc0000201 | 0; // 192.0.2.1; addresses are int32
 * console.assert(p.check() === null && p.senderIp === (0xc0000201 | 0));
 * ```
 */
export class ArpPacket extends WireView {
  /**
   * Validates length and that this is Ethernet/IPv4 ARP. After `null`,
   * every accessor is in bounds.
   *
   * @returns null when valid, otherwise the defect
   */
  check(): WireError | null {
    const err = this.checkBounds(PROTOCOL, "packet", ARP_PACKET_LEN);
    if (err !== null) return err;
    // RFC 826: only the Ethernet/IPv4 pairing is spoken here.
    if (this.hardwareType !== ARP_HTYPE_ETHERNET || this.hardwareLength !== ARP_HLEN_ETHERNET) {
      return new WireError(
        PROTOCOL,
        "unsupported",
        `hardware type ${this.hardwareType} length ${this.hardwareLength}, expected Ethernet (1, 6)`,
      );
    }
    if (this.protocolType !== ARP_PTYPE_IPV4 || this.protocolLength !== ARP_PLEN_IPV4) {
      return new WireError(
        PROTOCOL,
        "unsupported",
        `protocol type 0x${
          this.protocolType.toString(16)
        } length ${this.protocolLength}, expected IPv4 (0x800, 4)`,
      );
    }
    return null;
  }

  /** Hardware type (1 = Ethernet). */
  get hardwareType(): number {
    return read16(this.bytes, this.offset + OFFSET_HTYPE);
  }
  set hardwareType(v: number) {
    write16(this.bytes, this.offset + OFFSET_HTYPE, v);
  }

  /** Protocol type (0x0800 = IPv4). */
  get protocolType(): number {
    return read16(this.bytes, this.offset + OFFSET_PTYPE);
  }
  set protocolType(v: number) {
    write16(this.bytes, this.offset + OFFSET_PTYPE, v);
  }

  /** Hardware address length (6). */
  get hardwareLength(): number {
    return this.bytes[this.offset + OFFSET_HLEN];
  }
  set hardwareLength(v: number) {
    this.bytes[this.offset + OFFSET_HLEN] = v;
  }

  /** Protocol address length (4). */
  get protocolLength(): number {
    return this.bytes[this.offset + OFFSET_PLEN];
  }
  set protocolLength(v: number) {
    this.bytes[this.offset + OFFSET_PLEN] = v;
  }

  /** Operation ({@link ARP_REQUEST}, {@link ARP_REPLY}). */
  get operation(): number {
    return read16(this.bytes, this.offset + OFFSET_OP);
  }
  set operation(v: number) {
    write16(this.bytes, this.offset + OFFSET_OP, v);
  }

  /** Sender hardware address (48-bit number). */
  get senderMac(): number {
    return readMac(this.bytes, this.offset + OFFSET_SHA);
  }
  set senderMac(v: number) {
    writeMac(this.bytes, this.offset + OFFSET_SHA, v);
  }

  /** Sender protocol address (signed 32-bit integer, see address.ts). */
  get senderIp(): number {
    return readIpv4(this.bytes, this.offset + OFFSET_SPA);
  }
  set senderIp(v: number) {
    writeIpv4(this.bytes, this.offset + OFFSET_SPA, v);
  }

  /** Target hardware address (48-bit number; zero in requests). */
  get targetMac(): number {
    return readMac(this.bytes, this.offset + OFFSET_THA);
  }
  set targetMac(v: number) {
    writeMac(this.bytes, this.offset + OFFSET_THA, v);
  }

  /** Target protocol address (signed 32-bit integer, see address.ts). */
  get targetIp(): number {
    return readIpv4(this.bytes, this.offset + OFFSET_TPA);
  }
  set targetIp(v: number) {
    writeIpv4(this.bytes, this.offset + OFFSET_TPA, v);
  }
}

/** An Ethernet/IPv4 ARP message. */
export interface ArpRepr {
  /** {@link ARP_REQUEST} or {@link ARP_REPLY}. */
  operation: number;
  /** Sender MAC (48-bit number). */
  senderMac: number;
  /** Sender IPv4 address (signed 32-bit integer, see address.ts). */
  senderIp: number;
  /** Target MAC (48-bit number). */
  targetMac: number;
  /** Target IPv4 address (signed 32-bit integer, see address.ts). */
  targetIp: number;
}

/**
 * A fresh repr with every field zero, to reuse as `out`.
 *
 * @returns a new repr
 *
 * @example
 * ```ts
 * import { newArpRepr } from "./arp.ts";
 * console.assert(newArpRepr().operation === 0);
 * ```
 */
export function newArpRepr(): ArpRepr {
  return { operation: 0, senderMac: 0, senderIp: 0, targetMac: 0, targetIp: 0 };
}

/** The shape of {@link ArpRepr}: parse and emit ARP packets (RFC 826). */
export interface ArpCodec {
  /**
   * Reads the packet. Zero allocation when `out` is given.
   *
   * @param packet the view (checked here)
   * @param out a repr to fill
   * @returns the repr, or the defect (non-Ethernet/IPv4, truncated, unknown operation)
   */
  parse(packet: ArpPacket, out?: ArpRepr): ArpRepr | WireError;

  /**
   * The packet length `emit` writes.
   *
   * @param repr the message
   * @returns {@link ARP_PACKET_LEN}
   */
  headerLength(repr: ArpRepr): number;

  /**
   * Writes the 28-byte packet at `offset`.
   *
   * @param repr the message
   * @param bytes the buffer (room for 28 bytes at `offset`)
   * @param offset where to write
   * @returns bytes written (28)
   */
  emit(repr: ArpRepr, bytes: Uint8Array, offset: number): number;
}

/**
 * Parse and emit Ethernet/IPv4 ARP packets.
 *
 * @example
 * ```ts
 * import { ArpPacket, ArpRepr, ARP_REPLY } from "./arp.ts";
 * import { isWireError } from "./error.ts";
 * const bytes = new Uint8Array(28);
 * ArpRepr.emit({ operation: ARP_REPLY, senderMac: 2, senderIp: 0xc0000202 | 0, targetMac: 1, targetIp: 0xc0000201 | 0 }, bytes, 0);
 * const repr = ArpRepr.parse(new ArpPacket(bytes));
 * if (isWireError(repr)) throw new Error(String(repr));
 * console.assert(repr.operation === ARP_REPLY && repr.senderIp === (0xc0000202 | 0));
 * ```
 */
export const ArpRepr: ArpCodec = {
  parse(packet: ArpPacket, out?: ArpRepr): ArpRepr | WireError {
    const err = packet.check();
    if (err !== null) return err;
    const op = packet.operation;
    // RFC 826 defines request and reply; RARP (RFC 903) and InARP are not ours.
    if (op !== ARP_REQUEST && op !== ARP_REPLY) {
      return new WireError(
        PROTOCOL,
        "unsupported",
        `operation ${op} is neither request (1) nor reply (2)`,
      );
    }
    const repr = out ?? newArpRepr();
    repr.operation = op;
    repr.senderMac = packet.senderMac;
    repr.senderIp = packet.senderIp;
    repr.targetMac = packet.targetMac;
    repr.targetIp = packet.targetIp;
    return repr;
  },

  headerLength(_repr: ArpRepr): number {
    return ARP_PACKET_LEN;
  },

  emit(repr: ArpRepr, bytes: Uint8Array, offset: number): number {
    write16(bytes, offset + OFFSET_HTYPE, ARP_HTYPE_ETHERNET);
    write16(bytes, offset + OFFSET_PTYPE, ARP_PTYPE_IPV4);
    bytes[offset + OFFSET_HLEN] = ARP_HLEN_ETHERNET;
    bytes[offset + OFFSET_PLEN] = ARP_PLEN_IPV4;
    write16(bytes, offset + OFFSET_OP, repr.operation);
    writeMac(bytes, offset + OFFSET_SHA, repr.senderMac);
    writeIpv4(bytes, offset + OFFSET_SPA, repr.senderIp);
    writeMac(bytes, offset + OFFSET_THA, repr.targetMac);
    writeIpv4(bytes, offset + OFFSET_TPA, repr.targetIp);
    return ARP_PACKET_LEN;
  },
};
