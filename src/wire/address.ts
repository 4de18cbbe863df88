/**
 * Link and network addresses: {@link MacAddress}, {@link Ipv4Address} and
 * {@link Ipv4Cidr}. Each carries a cheap numeric form (`value`) used as a
 * hash key and on the hot path, where addresses travel as plain numbers
 * read with {@link readIpv4} / {@link readMac}.
 *
 * Numeric IPv4 addresses are signed 32-bit integers (`x | 0`), so V8 keeps
 * them as small integers instead of boxing every address at or above
 * 128.0.0.0 as a heap number (this V8 has no pointer compression: its small
 * integers are exactly the int32 range). 192.0.2.1 is `0xc0000201 | 0`
 * (-1073741311) and 255.255.255.255 is -1. Format with {@link formatIpv4};
 * `writeIpv4`, `>>> 24`, `& mask` and `===` work unchanged; anything that
 * orders addresses (`<`, sorting, range checks) converts with `>>> 0` first.
 * APIs that take a number ({@link Ipv4Address}'s constructor, route
 * gateways) also accept the unsigned form 0..2^32-1 and normalise it.
 *
 * @module
 */

import { readI32 } from "./view.ts";

/** 255.255.255.255 (RFC 919) as an int32 address (`0xffffffff | 0`). */
export const IPV4_LIMITED_BROADCAST: number = -1;
const IPV4_BROADCAST = IPV4_LIMITED_BROADCAST;
/** Shortest and longest dotted quads: "0.0.0.0" and "255.255.255.255". */
const IPV4_TEXT_MIN_LEN = 7;
const IPV4_TEXT_MAX_LEN = 15;
const CHAR_0 = 0x30;
const CHAR_DOT = 0x2e;
/** Smallest number an IPv4 address is accepted as (the int32 form of 128.0.0.0). */
const IPV4_MIN_INPUT = -0x8000_0000;
/** Largest number an IPv4 address is accepted as (the unsigned form of 255.255.255.255). */
const IPV4_MAX_INPUT = 0xffff_ffff;
const MAC_BYTES = 6;
const TWO_POW_32 = 0x1_0000_0000;

/**
 * Reads a big-endian IPv4 address as a signed 32-bit integer (see the module
 * docs: addresses at or above 128.0.0.0 are negative).
 *
 * @param bytes the buffer
 * @param offset where the 4 address bytes start
 * @returns the address, -2^31..2^31-1
 *
 * @example
 * ```ts
 * import { formatIpv4, readIpv4 } from "./address.ts";
 * const a = readIpv4(new Uint8Array([192, 0, 2, 1]), 0);
 * console.assert(a === (0xc0000201 | 0) && formatIpv4(a) === "192.0.2.1");
 * console.assert(readIpv4(new Uint8Array([10, 0, 0, 1]), 0) === 0x0a000001);
 * ```
 */
export function readIpv4(bytes: Uint8Array, offset: number): number {
  return readI32(bytes, offset);
}

/**
 * Writes an IPv4 address big-endian.
 *
 * @param bytes the buffer
 * @param offset where to write the 4 bytes
 * @param value the address, int32 (or its unsigned form: the low 32 bits are written)
 *
 * @example
 * ```ts
 * import { writeIpv4 } from "./address.ts";
 * const b = new Uint8Array(4);
 * writeIpv4(b, 0, 0xc0000201);
 * console.assert(b.join(".") === "192.0.2.1");
 * ```
 */
export function writeIpv4(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value >>> 24;
  bytes[offset + 1] = value >>> 16;
  bytes[offset + 2] = value >>> 8;
  bytes[offset + 3] = value;
}

/**
 * Formats a numeric IPv4 address in dotted-quad notation.
 *
 * @param value the address, int32 (or its unsigned form)
 * @returns e.g. `"192.0.2.1"`
 *
 * @example
 * ```ts
 * import { formatIpv4 } from "./address.ts";
 * console.assert(formatIpv4(0xc0000201 | 0) === "192.0.2.1");
 * console.assert(formatIpv4(0xc0000201) === "192.0.2.1");
 * console.assert(formatIpv4(-1) === "255.255.255.255");
 * ```
 */
export function formatIpv4(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 0xff}.${(value >>> 8) & 0xff}.${value & 0xff}`;
}

/**
 * Parses dotted-quad notation into a number, or `null` when it is not exactly
 * four decimal octets 0..255 without leading zeros.
 *
 * @param text e.g. `"192.0.2.1"`
 * @returns the address as a signed 32-bit integer, or null
 *
 * @example
 * ```ts
 * import { parseIpv4 } from "./address.ts";
 * console.assert(parseIpv4("192.0.2.1") === (0xc0000201 | 0));
 * console.assert(parseIpv4("255.255.255.255") === -1);
 * console.assert(parseIpv4("10.0.0.1") === 0x0a000001);
 * console.assert(parseIpv4("192.0.2") === null);
 * ```
 */
export function parseIpv4(text: string): number | null {
  // One pass over the character codes: no split, no RegExp, nothing allocated (UdpConn.send
  // parses its destination on every call).
  const n = text.length;
  if (n < IPV4_TEXT_MIN_LEN || n > IPV4_TEXT_MAX_LEN) return null;
  let value = 0;
  let octets = 0;
  let i = 0;
  while (octets < 4) {
    const start = i;
    let octet = 0;
    while (i < n) {
      const digit = text.charCodeAt(i) - CHAR_0;
      if (digit < 0 || digit > 9) break;
      octet = octet * 10 + digit;
      i++;
    }
    const digits = i - start;
    // Decimal octets only: 0..255 without leading zeros.
    if (
      digits === 0 || digits > 3 || octet > 255 || (digits > 1 && text.charCodeAt(start) === CHAR_0)
    ) {
      return null;
    }
    value = (value << 8) | octet;
    octets++;
    if (octets < 4) {
      if (i >= n || text.charCodeAt(i) !== CHAR_DOT) return null;
      i++;
    }
  }
  return i === n ? value : null;
}

/**
 * Tells whether `value` can name an IPv4 address: an integer in either
 * 32-bit form, -2^31..2^32-1 (the int32 form used inside rawstack, or the
 * unsigned form a user may write). Normalise an accepted value with `| 0`.
 *
 * @param value anything
 * @returns true for an integer in -2^31..2^32-1
 *
 * @example
 * ```ts
 * import { isIpv4Number } from "./address.ts";
 * console.assert(isIpv4Number(0xc0000201) && isIpv4Number(0xc0000201 | 0));
 * console.assert(!isIpv4Number(2 ** 32) && !isIpv4Number(1.5) && !isIpv4Number("1"));
 * ```
 */
export function isIpv4Number(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= IPV4_MIN_INPUT &&
    value <= IPV4_MAX_INPUT;
}

/**
 * Reads a 6-byte MAC address as a number (48 bits fit exactly in a double).
 *
 * @param bytes the buffer
 * @param offset where the 6 bytes start
 * @returns the address as a number 0..2^48-1
 *
 * @example
 * ```ts
 * import { readMac } from "./address.ts";
 * console.assert(readMac(new Uint8Array([0, 0, 0, 0, 0, 1]), 0) === 1);
 * ```
 */
export function readMac(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] << 8) | bytes[offset + 1]) * TWO_POW_32 +
    (readIpv4(bytes, offset + 2) >>> 0);
}

/**
 * Writes a numeric MAC address as 6 bytes.
 *
 * @param bytes the buffer
 * @param offset where to write
 * @param value the address as a number 0..2^48-1
 *
 * @example
 * ```ts
 * import { readMac, writeMac } from "./address.ts";
 * const b = new Uint8Array(6);
 * writeMac(b, 0, 0x020000000001);
 * console.assert(readMac(b, 0) === 0x020000000001);
 * ```
 */
export function writeMac(bytes: Uint8Array, offset: number, value: number): void {
  // value < 2^48: dividing by 2^32 is exact, and the high 16 bits truncate with `>>> 0`.
  const high = (value / TWO_POW_32) >>> 0;
  const low = (value - high * TWO_POW_32) | 0;
  bytes[offset] = high >>> 8;
  bytes[offset + 1] = high;
  bytes[offset + 2] = low >>> 24;
  bytes[offset + 3] = low >>> 16;
  bytes[offset + 4] = low >>> 8;
  bytes[offset + 5] = low;
}

/**
 * An Ethernet MAC address.
 *
 * @example
 * ```ts
 * import { MacAddress } from "./address.ts";
 * const mac = MacAddress.parse("02:00:00:00:00:01");
 * console.assert(mac.toString() === "02:00:00:00:00:01");
 * console.assert(!mac.isMulticast() && MacAddress.BROADCAST.isBroadcast());
 * ```
 */
export class MacAddress {
  /** ff:ff:ff:ff:ff:ff */
  static readonly BROADCAST: MacAddress = new MacAddress(0xffff_ffff_ffff);
  /** 00:00:00:00:00:00 */
  static readonly ZERO: MacAddress = new MacAddress(0);

  /** The address as a number 0..2^48-1 (a cheap hash key). */
  readonly value: number;

  /**
   * Makes an address from its numeric value.
   *
   * @param value the address as a number 0..2^48-1
   * @throws {RangeError} when `value` is not an integer in range
   */
  constructor(value: number) {
    if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff_ffff) {
      throw new RangeError(`MAC address value out of range: ${value}`);
    }
    this.value = value;
  }

  /**
   * Parses `"02:00:00:00:00:01"` (colons or dashes, either case).
   *
   * @param text the address
   * @returns the address
   * @throws {TypeError} when the text is not six hexadecimal octets
   */
  static parse(text: string): MacAddress {
    if (!/^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$/.test(text)) {
      throw new TypeError(
        `invalid MAC address "${text}": expected six hex octets like 02:00:00:00:00:01`,
      );
    }
    return new MacAddress(parseInt(text.replace(/[:-]/g, ""), 16));
  }

  /**
   * Reads six bytes.
   *
   * @param bytes the buffer
   * @param offset where the address starts
   * @returns the address
   */
  static fromBytes(bytes: Uint8Array, offset = 0): MacAddress {
    return new MacAddress(readMac(bytes, offset));
  }

  /**
   * Writes the address as six bytes.
   *
   * @param bytes the buffer
   * @param offset where to write
   */
  writeTo(bytes: Uint8Array, offset = 0): void {
    writeMac(bytes, offset, this.value);
  }

  /**
   * The six bytes of the address.
   *
   * @returns a new 6-byte array
   */
  toBytes(): Uint8Array {
    const bytes = new Uint8Array(MAC_BYTES);
    this.writeTo(bytes);
    return bytes;
  }

  /**
   * Tells whether this is the broadcast address.
   *
   * @returns true for ff:ff:ff:ff:ff:ff
   */
  isBroadcast(): boolean {
    return this.value === 0xffff_ffff_ffff;
  }

  /**
   * Tells whether this is a group address.
   *
   * @returns true when the group bit (least significant bit of the first octet) is set
   */
  isMulticast(): boolean {
    return (Math.floor(this.value / 2 ** 40) & 1) === 1;
  }

  /**
   * Tells whether this is an individual address.
   *
   * @returns true for an individual (not group) address other than all zeros
   */
  isUnicast(): boolean {
    return !this.isMulticast() && this.value !== 0;
  }

  /**
   * Compares two addresses.
   *
   * @param other the address to compare with
   * @returns true when both name the same address
   */
  equals(other: MacAddress): boolean {
    return this.value === other.value;
  }

  /**
   * Formats the address.
   *
   * @returns lower-case colon notation, e.g. `"02:00:00:00:00:01"`
   */
  toString(): string {
    return this.value.toString(16).padStart(12, "0").replace(/(..)(?!$)/g, "$1:");
  }
}

/**
 * An IPv4 address. Its numeric `value` is a signed 32-bit integer (see the
 * module docs); the constructor also accepts the unsigned form.
 *
 * @example
 * ```ts
 * import { Ipv4Address } from "./address.ts";
 * const a = Ipv4Address.parse("192.0.2.1");
 * console.assert(a.value === (0xc0000201 | 0) && a.toString() === "192.0.2.1");
 * console.assert(new Ipv4Address(0xc0000201).value === -1073741311);
 * console.assert(new Ipv4Address(0xc0000201).equals(a));
 * console.assert(Ipv4Address.parse("224.0.0.1").isMulticast());
 * ```
 */
export class Ipv4Address {
  /** 0.0.0.0 */
  static readonly UNSPECIFIED: Ipv4Address = new Ipv4Address(0);
  /** 255.255.255.255 */
  static readonly BROADCAST: Ipv4Address = new Ipv4Address(IPV4_BROADCAST);

  /** The address as a signed 32-bit integer (a cheap hash key, a V8 small integer). */
  readonly value: number;

  /**
   * Makes an address from its numeric value.
   *
   * @param value the address: an integer -2^31..2^32-1, either the int32
   *   form or the unsigned form (both name the same address); stored as `value | 0`
   * @throws {RangeError} when `value` is not an integer in that range
   */
  constructor(value: number) {
    if (!isIpv4Number(value)) {
      throw new RangeError(`IPv4 address value out of range: ${value}`);
    }
    this.value = value | 0;
  }

  /**
   * Parses dotted-quad notation.
   *
   * @param text e.g. `"192.0.2.1"`
   * @returns the address
   * @throws {TypeError} when the text is not four decimal octets 0..255
   */
  static parse(text: string): Ipv4Address {
    const value = parseIpv4(text);
    if (value === null) {
      throw new TypeError(`invalid IPv4 address "${text}": expected four octets like 192.0.2.1`);
    }
    return new Ipv4Address(value);
  }

  /**
   * Reads four bytes, big-endian.
   *
   * @param bytes the buffer
   * @param offset where the address starts
   * @returns the address
   */
  static fromBytes(bytes: Uint8Array, offset = 0): Ipv4Address {
    return new Ipv4Address(readIpv4(bytes, offset));
  }

  /**
   * Writes the four bytes, big-endian.
   *
   * @param bytes the buffer
   * @param offset where to write
   */
  writeTo(bytes: Uint8Array, offset = 0): void {
    writeIpv4(bytes, offset, this.value);
  }

  /**
   * Tells whether this is the limited broadcast address.
   *
   * @returns true for 255.255.255.255
   */
  isBroadcast(): boolean {
    return this.value === IPV4_BROADCAST;
  }

  /**
   * Tells whether this is a multicast address.
   *
   * @returns true for 224.0.0.0/4
   */
  isMulticast(): boolean {
    return (this.value >>> 28) === 0xe;
  }

  /**
   * Tells whether this is the unspecified address.
   *
   * @returns true for 0.0.0.0
   */
  isUnspecified(): boolean {
    return this.value === 0;
  }

  /**
   * Tells whether this is a loopback address.
   *
   * @returns true for 127.0.0.0/8
   */
  isLoopback(): boolean {
    return (this.value >>> 24) === 127;
  }

  /**
   * Compares two addresses.
   *
   * @param other the address to compare with
   * @returns true when both name the same address
   */
  equals(other: Ipv4Address): boolean {
    return this.value === other.value;
  }

  /**
   * Formats the address.
   *
   * @returns dotted-quad notation
   */
  toString(): string {
    return formatIpv4(this.value);
  }
}

/**
 * An IPv4 address with a prefix length: an interface address such as
 * `192.0.2.2/24`, or a network in a route table.
 *
 * @example
 * ```ts
 * import { Ipv4Address, Ipv4Cidr } from "./address.ts";
 * const net = Ipv4Cidr.parse("192.0.2.2/24");
 * console.assert(net.contains(Ipv4Address.parse("192.0.2.77")));
 * console.assert(!net.contains(Ipv4Address.parse("198.51.100.1")));
 * console.assert(net.broadcast.toString() === "192.0.2.255");
 * ```
 */
export class Ipv4Cidr {
  /** The address part, as given (host bits kept). */
  readonly address: Ipv4Address;
  /** The prefix length, 0..32. */
  readonly prefixLength: number;
  /** The netmask as a signed 32-bit integer (/24 is `0xffffff00 | 0`, i.e. -256). */
  readonly mask: number;

  /**
   * Pairs an address with a prefix length.
   *
   * @param address the address
   * @param prefixLength 0..32
   * @throws {RangeError} when the prefix length is out of range
   */
  constructor(address: Ipv4Address, prefixLength: number) {
    if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > 32) {
      throw new RangeError(`IPv4 prefix length must be 0..32, got ${prefixLength}`);
    }
    this.address = address;
    this.prefixLength = prefixLength;
    this.mask = prefixLength === 0 ? 0 : IPV4_BROADCAST << (32 - prefixLength);
  }

  /**
   * Parses `"192.0.2.2/24"`; a bare address means /32.
   *
   * @param text the address and prefix
   * @returns the CIDR
   * @throws {TypeError} when the text is malformed
   */
  static parse(text: string): Ipv4Cidr {
    const slash = text.indexOf("/");
    if (slash < 0) return new Ipv4Cidr(Ipv4Address.parse(text), 32);
    const prefix = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]?)$/.test(prefix) || Number(prefix) > 32) {
      throw new TypeError(`invalid IPv4 prefix in "${text}": expected /0 to /32`);
    }
    return new Ipv4Cidr(Ipv4Address.parse(text.slice(0, slash)), Number(prefix));
  }

  /** The network address (host bits cleared). */
  get network(): Ipv4Address {
    return new Ipv4Address(this.address.value & this.mask);
  }

  /** The directed broadcast address (host bits set). */
  get broadcast(): Ipv4Address {
    return new Ipv4Address(this.address.value | ~this.mask);
  }

  /**
   * Tests membership of the network.
   *
   * @param address an address or its numeric value (int32 or unsigned form)
   * @returns true when the address lies inside this network
   */
  contains(address: Ipv4Address | number): boolean {
    const value = typeof address === "number" ? address : address.value;
    return ((value ^ this.address.value) & this.mask) === 0;
  }

  /**
   * Compares two CIDRs.
   *
   * @param other the CIDR to compare with
   * @returns true when address and prefix length are equal
   */
  equals(other: Ipv4Cidr): boolean {
    return this.address.equals(other.address) && this.prefixLength === other.prefixLength;
  }

  /**
   * Formats address and prefix.
   *
   * @returns e.g. `"192.0.2.2/24"`
   */
  toString(): string {
    return `${this.address}/${this.prefixLength}`;
  }
}
