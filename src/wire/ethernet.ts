/**
 * Ethernet II frames (IEEE 802.3 with an EtherType, RFC 894) including one
 * IEEE 802.1Q VLAN tag: a zero-copy {@link EthernetFrame} view and a plain
 * {@link EthernetRepr}.
 *
 * ```
 *  0      6      12          14 (untagged)          18 (tagged)
 *  | dst  | src  | EtherType |  payload ...
 *  | dst  | src  | 0x8100 | TCI (PCP:3 DEI:1 VID:12) | EtherType | payload ...
 * ```
 *
 * Frames arrive without preamble and FCS (as AF_PACKET and pcap give them).
 * MAC addresses travel as 48-bit numbers (see `readMac` in address.ts).
 *
 * @module
 */

import { readMac, writeMac } from "./address.ts";
import { WireError } from "./error.ts";
import { read16, WireView, write16 } from "./view.ts";

/** Length of an untagged Ethernet II header in bytes. */
export const ETHERNET_HEADER_LEN = 14;
/** Length of the 802.1Q tag (TPID + TCI) inserted after the source address. */
export const VLAN_TAG_LEN = 4;
/** Smallest Ethernet frame without the FCS: shorter frames are padded (IEEE 802.3 §4.2.3.3). */
export const ETHERNET_MIN_FRAME_LEN = 60;
/** EtherType of IPv4 (RFC 894). */
export const ETHERTYPE_IPV4 = 0x0800;
/** EtherType of ARP (RFC 826). */
export const ETHERTYPE_ARP = 0x0806;
/** Tag protocol identifier of an IEEE 802.1Q VLAN tag. */
export const ETHERTYPE_VLAN = 0x8100;
/** Tag protocol identifier of an IEEE 802.1ad service tag (QinQ). */
export const ETHERTYPE_QINQ = 0x88a8;
/** EtherType of IPv6 (RFC 2464). */
export const ETHERTYPE_IPV6 = 0x86dd;
/** Values below this in the type/length field are IEEE 802.3 lengths, not EtherTypes. */
export const ETHERTYPE_MIN = 0x0600;
/** `vlanId` of an untagged frame. */
export const VLAN_NONE: number = -1;
/** Largest VLAN identifier (12 bits; 0xfff is reserved). */
export const VLAN_ID_MAX = 0xffe;
/** The 802.1Q VID bits of a tag control information field. */
export const VLAN_VID_MASK = 0x0fff;
/** ff:ff:ff:ff:ff:ff as a 48-bit number. */
export const MAC_BROADCAST = 0xffff_ffff_ffff;
/** Offset of the destination MAC in an Ethernet II header (IEEE 802.3 §3.2). */
export const ETHERNET_DST_OFFSET = 0;
/** Offset of the source MAC in an Ethernet II header. */
export const ETHERNET_SRC_OFFSET = 6;
/** Offset of the EtherType (or the first VLAN TPID) in an Ethernet II header. */
export const ETHERTYPE_OFFSET = 12;
/** Divides a 48-bit MAC number down to its first octet (2^40). */
const MAC_FIRST_OCTET_DIVISOR = 2 ** 40;

/**
 * Whether a MAC is a group (multicast or broadcast) address: the I/G bit, the
 * least significant bit of the first octet (IEEE 802, RFC 7042 §2.1).
 *
 * @param mac a 48-bit MAC number
 * @returns true for multicast and broadcast addresses
 *
 * @example
 * ```ts
 * import { isGroupMac, MAC_BROADCAST } from "./ethernet.ts";
 * console.assert(isGroupMac(MAC_BROADCAST) && isGroupMac(0x01005e000001));
 * console.assert(!isGroupMac(0x020000000001));
 * ```
 */
export function isGroupMac(mac: number): boolean {
  return (Math.floor(mac / MAC_FIRST_OCTET_DIVISOR) & 1) !== 0;
}

const PROTOCOL = "ethernet";
const OFFSET_DST = ETHERNET_DST_OFFSET;
const OFFSET_SRC = ETHERNET_SRC_OFFSET;
const OFFSET_TYPE = ETHERTYPE_OFFSET;
const OFFSET_TCI = 14;
const OFFSET_INNER_TYPE = 16;

/**
 * A zero-copy view of an Ethernet II frame at `offset` in `bytes`; `length`
 * is the frame length without FCS. Make it once, re-point it per frame with
 * {@link EthernetFrame.reset}, call {@link EthernetFrame.check} before
 * reading fields.
 *
 * @example
 * ```ts
 * import { ETHERTYPE_ARP, EthernetFrame } from "./ethernet.ts";
 * const bytes = new Uint8Array(42);
 * const frame = new EthernetFrame(bytes);
 * frame.destination = 0xffffffffffff;
 * frame.source = 0x020000000001;
 * frame.etherType = ETHERTYPE_ARP;
 * console.assert(frame.check() === null && frame.headerLength === 14);
 * console.assert(bytes[12] === 0x08 && bytes[13] === 0x06 && frame.payloadLength === 28);
 * ```
 */
export class EthernetFrame extends WireView {
  /**
   * Validates that the header (and the VLAN tag, if any) lies inside the
   * frame and the buffer. After `null`, every accessor is in bounds.
   *
   * @returns null when valid, otherwise the defect
   */
  check(): WireError | null {
    const err = this.checkBounds(PROTOCOL, "frame", ETHERNET_HEADER_LEN);
    if (err !== null) return err;
    if (this.isTagged && this.length < ETHERNET_HEADER_LEN + VLAN_TAG_LEN) {
      return new WireError(
        PROTOCOL,
        "truncated",
        `802.1Q-tagged frame of ${this.length} bytes < ${ETHERNET_HEADER_LEN + VLAN_TAG_LEN}`,
      );
    }
    return null;
  }

  /** Destination MAC address as a 48-bit number. */
  get destination(): number {
    return readMac(this.bytes, this.offset + OFFSET_DST);
  }
  set destination(mac: number) {
    writeMac(this.bytes, this.offset + OFFSET_DST, mac);
  }

  /** Source MAC address as a 48-bit number. */
  get source(): number {
    return readMac(this.bytes, this.offset + OFFSET_SRC);
  }
  set source(mac: number) {
    writeMac(this.bytes, this.offset + OFFSET_SRC, mac);
  }

  /** The type field right after the source address (0x8100 when tagged). */
  get outerEtherType(): number {
    return read16(this.bytes, this.offset + OFFSET_TYPE);
  }

  /** True when the frame carries an IEEE 802.1Q tag. */
  get isTagged(): boolean {
    return this.outerEtherType === ETHERTYPE_VLAN;
  }

  /** The 16-bit tag control information (0 when untagged). */
  get tci(): number {
    if (!this.isTagged) return 0;
    return read16(this.bytes, this.offset + OFFSET_TCI);
  }
  set tci(value: number) {
    write16(this.bytes, this.offset + OFFSET_TCI, value);
  }

  /** VLAN identifier (12 bits), or {@link VLAN_NONE} (-1) when untagged. */
  get vlanId(): number {
    return this.isTagged ? this.tci & VLAN_VID_MASK : VLAN_NONE;
  }

  /** The EtherType of the payload (after the VLAN tag when tagged). */
  get etherType(): number {
    return read16(this.bytes, this.offset + (this.isTagged ? OFFSET_INNER_TYPE : OFFSET_TYPE));
  }
  set etherType(value: number) {
    write16(this.bytes, this.offset + (this.isTagged ? OFFSET_INNER_TYPE : OFFSET_TYPE), value);
  }

  /** Header length: 14, or 18 with a VLAN tag. */
  get headerLength(): number {
    return this.isTagged ? ETHERNET_HEADER_LEN + VLAN_TAG_LEN : ETHERNET_HEADER_LEN;
  }

  /** Where the payload starts in {@link EthernetFrame.bytes} (absolute index). */
  get payloadOffset(): number {
    return this.offset + this.headerLength;
  }

  /** Payload length in bytes (may include padding up to the 60-byte minimum). */
  get payloadLength(): number {
    return this.length - this.headerLength;
  }
}

/** The fields of an Ethernet II header. */
export interface EthernetRepr {
  /** Destination MAC as a 48-bit number. */
  destination: number;
  /** Source MAC as a 48-bit number. */
  source: number;
  /** EtherType of the payload (inner type when tagged). */
  etherType: number;
  /** 802.1Q VLAN id 0..4095, or {@link VLAN_NONE} (-1) when untagged. */
  vlanId: number;
  /** 802.1Q priority code point 0..7 (0 when untagged). */
  vlanPriority: number;
  /** 802.1Q drop eligible indicator (false when untagged). */
  vlanDropEligible: boolean;
  /** Header length: 14, or 18 when tagged. */
  headerLength: number;
  /** Where the payload starts in the parsed buffer (absolute index; 0 for a built repr). */
  payloadOffset: number;
  /** Payload length in bytes (0 for a built repr). */
  payloadLength: number;
}

/**
 * A fresh untagged repr with every field zero, to reuse as `out`.
 *
 * @returns a new repr
 *
 * @example
 * ```ts
 * import { newEthernetRepr } from "./ethernet.ts";
 * console.assert(newEthernetRepr().vlanId === -1);
 * ```
 */
export function newEthernetRepr(): EthernetRepr {
  return {
    destination: 0,
    source: 0,
    etherType: 0,
    vlanId: VLAN_NONE,
    vlanPriority: 0,
    vlanDropEligible: false,
    headerLength: ETHERNET_HEADER_LEN,
    payloadOffset: 0,
    payloadLength: 0,
  };
}

/** The shape of {@link EthernetRepr}: parse and emit Ethernet II headers (with an optional 802.1Q tag). */
export interface EthernetCodec {
  /**
   * Reads the header through a view. Zero allocation when `out` is given.
   *
   * @param frame the view (checked here)
   * @param out a repr to fill instead of allocating one
   * @returns the repr, or the defect
   */
  parse(frame: EthernetFrame, out?: EthernetRepr): EthernetRepr | WireError;

  /**
   * The header length `emit` writes.
   *
   * @param repr the header
   * @returns 14, or 18 when `repr.vlanId >= 0`
   */
  headerLength(repr: EthernetRepr): number;

  /**
   * Writes the header at `offset` (the payload follows it and is not touched).
   * The caller guarantees room for {@link EthernetRepr.headerLength} bytes.
   *
   * @param repr the header; `vlanId >= 0` writes an 802.1Q tag
   * @param bytes the buffer
   * @param offset where the frame starts
   * @returns bytes written (the header length)
   */
  emit(repr: EthernetRepr, bytes: Uint8Array, offset: number): number;
}

/**
 * Parse and emit Ethernet II headers.
 *
 * @example
 * ```ts
 * import { ETHERTYPE_IPV4, EthernetFrame, EthernetRepr, newEthernetRepr } from "./ethernet.ts";
 * import { isWireError } from "./error.ts";
 * const repr = { ...newEthernetRepr(), destination: 2, source: 1, etherType: ETHERTYPE_IPV4, vlanId: 7 };
 * const bytes = new Uint8Array(64);
 * const n = EthernetRepr.emit(repr, bytes, 0);
 * const parsed = EthernetRepr.parse(new EthernetFrame(bytes));
 * if (isWireError(parsed)) throw new Error(String(parsed));
 * console.assert(n === 18 && parsed.vlanId === 7 && parsed.etherType === ETHERTYPE_IPV4);
 * ```
 */
export const EthernetRepr: EthernetCodec = {
  parse(frame: EthernetFrame, out?: EthernetRepr): EthernetRepr | WireError {
    const err = frame.check();
    if (err !== null) return err;
    const repr = out ?? newEthernetRepr();
    repr.destination = frame.destination;
    repr.source = frame.source;
    repr.etherType = frame.etherType;
    if (frame.isTagged) {
      const tci = frame.tci;
      repr.vlanId = tci & VLAN_VID_MASK;
      repr.vlanPriority = tci >>> 13;
      repr.vlanDropEligible = (tci & 0x1000) !== 0;
    } else {
      repr.vlanId = VLAN_NONE;
      repr.vlanPriority = 0;
      repr.vlanDropEligible = false;
    }
    repr.headerLength = frame.headerLength;
    repr.payloadOffset = frame.payloadOffset;
    repr.payloadLength = frame.payloadLength;
    return repr;
  },

  headerLength(repr: EthernetRepr): number {
    return repr.vlanId >= 0 ? ETHERNET_HEADER_LEN + VLAN_TAG_LEN : ETHERNET_HEADER_LEN;
  },

  emit(repr: EthernetRepr, bytes: Uint8Array, offset: number): number {
    writeMac(bytes, offset + OFFSET_DST, repr.destination);
    writeMac(bytes, offset + OFFSET_SRC, repr.source);
    let typeAt = offset + OFFSET_TYPE;
    if (repr.vlanId >= 0) {
      write16(bytes, typeAt, ETHERTYPE_VLAN);
      const tci = ((repr.vlanPriority & 7) << 13) | (repr.vlanDropEligible ? 0x1000 : 0) |
        (repr.vlanId & VLAN_VID_MASK);
      write16(bytes, typeAt + 2, tci);
      typeAt += VLAN_TAG_LEN;
    }
    write16(bytes, typeAt, repr.etherType);
    return typeAt + 2 - offset;
  },
};
