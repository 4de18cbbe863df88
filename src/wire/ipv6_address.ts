/**
 * IPv6 addresses (RFC 4291): {@link Ipv6Address} and {@link Ipv6Cidr}, text
 * in and out (RFC 4291 §2.2 accepted, RFC 5952 canonical form written),
 * classification (§2.4), solicited-node groups (§2.7.1) and the Ethernet
 * multicast MAC of a group (RFC 2464 §7).
 *
 * The compact form: an address is four signed 32-bit integers, `w0` (bytes
 * 0–3, most significant) to `w3` (bytes 12–15), read big-endian with the
 * same `readI32` as IPv4 addresses, so V8 keeps each as a small integer and
 * an address costs one object of four Smis. Comparing a packet's address
 * with one of ours is four 32-bit loads and compares on the packet's bytes
 * ({@link Ipv6Address.equalsAt}) — no object, no string; the classification
 * tests look at `w0` (or one byte) only; {@link ipv6HashAt} mixes the four
 * words into an int32 for hash tables. Strings (a `Map` key of 32+
 * characters) and a `Uint8Array(16)` per address were rejected: both
 * allocate per packet and compare byte by byte. Ordering (`compare`) uses
 * `>>> 0` per word, like IPv4 addresses.
 *
 * @module
 */

import { parseIpv4 } from "./address.ts";
import { readI32, write32 } from "./view.ts";

/** Bytes in an IPv6 address. */
export const IPV6_ADDRESS_LEN = 16;
/** Longest textual form accepted (INET6_ADDRSTRLEN − 1, e.g. `ffff:…:255.255.255.255`). */
const IPV6_TEXT_MAX_LEN = 45;
const GROUPS = 8;
const CHAR_COLON = 0x3a;
const CHAR_DOT = 0x2e;
/** The Ethernet multicast MAC prefix 33:33 (RFC 2464 §7) as the top 16 of 48 bits. */
const MULTICAST_MAC_PREFIX = 0x3333 * 0x1_0000_0000;
/** ff02::1:ff00:0/104's third word (RFC 4291 §2.7.1): 0x00000001 … */
const SOLICITED_NODE_W2 = 1;
/** … and the top byte of its fourth word. */
const SOLICITED_NODE_W3 = 0xff00_0000 | 0;
/** fe80::/10 (RFC 4291 §2.5.6) on the first word. */
const LINK_LOCAL_MASK = 0xffc0_0000 | 0;
const LINK_LOCAL_PREFIX = 0xfe80_0000 | 0;
/** fc00::/7, unique local (RFC 4193 §3.1). */
const UNIQUE_LOCAL_MASK = 0xfe00_0000 | 0;
const UNIQUE_LOCAL_PREFIX = 0xfc00_0000 | 0;
/** ::ffff:0:0/96, IPv4-mapped (RFC 4291 §2.5.5.2): third word. */
const IPV4_MAPPED_W2 = 0x0000_ffff;
/** Multicast scope values (RFC 4291 §2.7, RFC 7346). */
export const IPV6_SCOPE_INTERFACE_LOCAL = 1;
/** Link-local multicast scope. */
export const IPV6_SCOPE_LINK_LOCAL = 2;
/** Admin-local multicast scope (RFC 7346). */
export const IPV6_SCOPE_ADMIN_LOCAL = 4;
/** Site-local multicast scope. */
export const IPV6_SCOPE_SITE_LOCAL = 5;
/** Organization-local multicast scope. */
export const IPV6_SCOPE_ORGANIZATION_LOCAL = 8;
/** Global multicast scope. */
export const IPV6_SCOPE_GLOBAL = 0xe;

/** Scratch groups of one parse (parsing is synchronous). */
const groups = new Uint16Array(GROUPS);

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/** Parses RFC 4291 §2.2 text into {@link groups}; false when malformed. */
function parseGroups(text: string): boolean {
  const n = text.length;
  if (n < 2 || n > IPV6_TEXT_MAX_LEN) return false;
  let i = 0;
  let count = 0;
  let gap = -1;
  if (text.charCodeAt(0) === CHAR_COLON) {
    // Form 2: a leading "::" (a single leading colon is malformed).
    if (text.charCodeAt(1) !== CHAR_COLON) return false;
    gap = 0;
    i = 2;
  }
  while (i < n) {
    if (count === GROUPS) return false;
    const start = i;
    let value = 0;
    let h: number;
    while (i < n && i - start < 5 && (h = hexValue(text.charCodeAt(i))) >= 0) {
      value = value * 16 + h;
      i++;
    }
    const digits = i - start;
    if (digits === 0) return false;
    if (i < n && text.charCodeAt(i) === CHAR_DOT) {
      // Form 3: x:x:x:x:x:x:d.d.d.d — the dotted quad is the last 32 bits.
      if (count > GROUPS - 2) return false;
      const v4 = parseIpv4(text.slice(start));
      if (v4 === null) return false;
      groups[count++] = v4 >>> 16;
      groups[count++] = v4 & 0xffff;
      i = n;
      break;
    }
    if (digits > 4) return false;
    groups[count++] = value;
    if (i === n) break;
    if (text.charCodeAt(i) !== CHAR_COLON) return false;
    i++;
    if (i < n && text.charCodeAt(i) === CHAR_COLON) {
      if (gap >= 0) return false; // "::" at most once
      gap = count;
      i++;
    } else if (i === n) {
      return false; // a trailing single colon
    }
  }
  if (gap < 0) return count === GROUPS;
  // "::" stands for one or more zero groups (RFC 4291 §2.2 form 2).
  if (count === GROUPS) return false;
  const tail = count - gap;
  for (let k = 0; k < tail; k++) groups[GROUPS - 1 - k] = groups[count - 1 - k];
  for (let k = gap; k < GROUPS - tail; k++) groups[k] = 0;
  return true;
}

/**
 * Mixes four address words into a signed 32-bit hash (for open-addressing
 * tables keyed by address: neighbour cache, connection demux).
 *
 * @param w0 bytes 0–3 as int32
 * @param w1 bytes 4–7
 * @param w2 bytes 8–11
 * @param w3 bytes 12–15
 * @returns an int32 hash
 *
 * @example
 * ```ts
 * import { ipv6Hash, Ipv6Address } from "./ipv6_address.ts";
 * const a = Ipv6Address.parse("2001:db8::1");
 * console.assert(ipv6Hash(a.w0, a.w1, a.w2, a.w3) === a.hash());
 * ```
 */
export function ipv6Hash(w0: number, w1: number, w2: number, w3: number): number {
  // Multiply-xorshift per word (the 32-bit finaliser of MurmurHash3).
  let h = Math.imul(w0 ^ (w0 >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ w1 ^ (w1 >>> 13), 0xc2b2ae35);
  h = Math.imul(h ^ w2 ^ (w2 >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ w3 ^ (w3 >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * {@link ipv6Hash} of the 16 address bytes at `offset` (no object made).
 *
 * @param bytes the buffer (a packet)
 * @param offset where the address starts
 * @returns an int32 hash, equal to `Ipv6Address.fromBytes(bytes, offset).hash()`
 *
 * @example
 * ```ts
 * import { ipv6HashAt, Ipv6Address } from "./ipv6_address.ts";
 * const a = Ipv6Address.parse("fe80::1");
 * console.assert(ipv6HashAt(a.toBytes(), 0) === a.hash());
 * ```
 */
export function ipv6HashAt(bytes: Uint8Array, offset: number): number {
  return ipv6Hash(
    readI32(bytes, offset),
    readI32(bytes, offset + 4),
    readI32(bytes, offset + 8),
    readI32(bytes, offset + 12),
  );
}

/**
 * Parses IPv6 text (RFC 4291 §2.2: full, `::`-compressed, or with a
 * trailing dotted quad; hexadecimal in either case; no zone index) into an
 * address, or `null` when malformed.
 *
 * @param text e.g. `"2001:db8::1"`, `"::ffff:192.0.2.1"`
 * @returns the address, or null
 *
 * @example
 * ```ts
 * import { parseIpv6 } from "./ipv6_address.ts";
 * console.assert(parseIpv6("2001:DB8:0:0:0:0:0:1")?.toString() === "2001:db8::1");
 * console.assert(parseIpv6("2001:db8::1::2") === null);
 * ```
 */
export function parseIpv6(text: string): Ipv6Address | null {
  if (!parseGroups(text)) return null;
  return new Ipv6Address(
    (groups[0] << 16) | groups[1],
    (groups[2] << 16) | groups[3],
    (groups[4] << 16) | groups[5],
    (groups[6] << 16) | groups[7],
  );
}

/**
 * Formats four address words in RFC 5952 canonical text: lowercase, no
 * leading zeros (§4.1), the longest run of two or more zero groups (the
 * first on a tie) compressed to `::` (§4.2), and IPv4-mapped addresses
 * (::ffff:0:0/96, RFC 4291 §2.5.5.2) with a dotted quad (§5), as Deno,
 * Rust and Go print them.
 *
 * @param w0 bytes 0–3 as int32 (or unsigned)
 * @param w1 bytes 4–7
 * @param w2 bytes 8–11
 * @param w3 bytes 12–15
 * @returns the canonical text
 *
 * @example
 * ```ts
 * import { formatIpv6Words } from "./ipv6_address.ts";
 * console.assert(formatIpv6Words(0x20010db8, 0, 0, 1) === "2001:db8::1");
 * console.assert(formatIpv6Words(0, 0, 0xffff, 0xc0000201) === "::ffff:192.0.2.1");
 * ```
 */
export function formatIpv6Words(w0: number, w1: number, w2: number, w3: number): string {
  if (w0 === 0 && w1 === 0 && (w2 | 0) === IPV4_MAPPED_W2) {
    return `::ffff:${w3 >>> 24}.${(w3 >>> 16) & 0xff}.${(w3 >>> 8) & 0xff}.${w3 & 0xff}`;
  }
  const g = [
    w0 >>> 16,
    w0 & 0xffff,
    w1 >>> 16,
    w1 & 0xffff,
    w2 >>> 16,
    w2 & 0xffff,
    w3 >>> 16,
    w3 & 0xffff,
  ];
  // RFC 5952 §4.2.1–4.2.3: the longest zero run of length ≥ 2, the first of equals.
  let bestStart = -1;
  let bestLen = 1;
  for (let k = 0; k < GROUPS;) {
    if (g[k] !== 0) {
      k++;
      continue;
    }
    let end = k;
    while (end < GROUPS && g[end] === 0) end++;
    if (end - k > bestLen) {
      bestStart = k;
      bestLen = end - k;
    }
    k = end;
  }
  let text = "";
  for (let k = 0; k < GROUPS; k++) {
    if (k === bestStart) {
      text += "::";
      k += bestLen - 1;
      continue;
    }
    if (text !== "" && !text.endsWith(":")) text += ":";
    text += g[k].toString(16);
  }
  return text;
}

/**
 * An IPv6 address as four int32 words (see the module docs). Immutable.
 *
 * @example
 * ```ts
 * import { Ipv6Address } from "./ipv6_address.ts";
 * const a = Ipv6Address.parse("2001:db8::2");
 * console.assert(a.toString() === "2001:db8::2" && a.isGlobalUnicast());
 * console.assert(a.solicitedNode().toString() === "ff02::1:ff00:2");
 * console.assert(a.solicitedNode().multicastMac() === 0x3333ff000002);
 * ```
 */
export class Ipv6Address {
  /** :: (RFC 4291 §2.5.2) */
  static readonly UNSPECIFIED: Ipv6Address = new Ipv6Address(0, 0, 0, 0);
  /** ::1 (RFC 4291 §2.5.3) */
  static readonly LOOPBACK: Ipv6Address = new Ipv6Address(0, 0, 0, 1);
  /** ff02::1, all nodes on the link (RFC 4291 §2.7.1). */
  static readonly ALL_NODES: Ipv6Address = new Ipv6Address(0xff02_0000 | 0, 0, 0, 1);
  /** ff02::2, all routers on the link (RFC 4291 §2.7.1). */
  static readonly ALL_ROUTERS: Ipv6Address = new Ipv6Address(0xff02_0000 | 0, 0, 0, 2);
  /** ff02::16, all MLDv2-capable routers: where MLDv2 reports go (RFC 3810 §5.2.14). */
  static readonly ALL_MLDV2_ROUTERS: Ipv6Address = new Ipv6Address(0xff02_0000 | 0, 0, 0, 0x16);

  /** Bytes 0–3, big-endian, as a signed 32-bit integer. */
  readonly w0: number;
  /** Bytes 4–7. */
  readonly w1: number;
  /** Bytes 8–11. */
  readonly w2: number;
  /** Bytes 12–15. */
  readonly w3: number;

  /**
   * Makes an address from its four words.
   *
   * @param w0 bytes 0–3 (int32 or unsigned; stored as `| 0`, so only the low
   *   32 bits of an integer count — no range check, this is the hot-path constructor)
   * @param w1 bytes 4–7
   * @param w2 bytes 8–11
   * @param w3 bytes 12–15
   */
  constructor(w0: number, w1: number, w2: number, w3: number) {
    this.w0 = w0 | 0;
    this.w1 = w1 | 0;
    this.w2 = w2 | 0;
    this.w3 = w3 | 0;
  }

  /**
   * Parses RFC 4291 §2.2 text.
   *
   * @param text e.g. `"2001:db8::2"`
   * @returns the address
   * @throws {TypeError} when the text is not an IPv6 address
   */
  static parse(text: string): Ipv6Address {
    const a = parseIpv6(text);
    if (a === null) {
      throw new TypeError(`invalid IPv6 address "${text}": expected e.g. 2001:db8::1`);
    }
    return a;
  }

  /**
   * Reads 16 bytes.
   *
   * @param bytes the buffer
   * @param offset where the address starts
   * @returns the address
   */
  static fromBytes(bytes: Uint8Array, offset = 0): Ipv6Address {
    return new Ipv6Address(
      readI32(bytes, offset),
      readI32(bytes, offset + 4),
      readI32(bytes, offset + 8),
      readI32(bytes, offset + 12),
    );
  }

  /**
   * The IPv4-mapped address ::ffff:a.b.c.d (RFC 4291 §2.5.5.2).
   *
   * @param ipv4 an IPv4 address (int32 or unsigned)
   * @returns the mapped address
   */
  static fromIpv4Mapped(ipv4: number): Ipv6Address {
    return new Ipv6Address(0, 0, IPV4_MAPPED_W2, ipv4);
  }

  /**
   * Writes the 16 bytes.
   *
   * @param bytes the buffer
   * @param offset where to write
   */
  writeTo(bytes: Uint8Array, offset = 0): void {
    write32(bytes, offset, this.w0);
    write32(bytes, offset + 4, this.w1);
    write32(bytes, offset + 8, this.w2);
    write32(bytes, offset + 12, this.w3);
  }

  /**
   * The 16 bytes of the address.
   *
   * @returns a new 16-byte array
   */
  toBytes(): Uint8Array {
    const b = new Uint8Array(IPV6_ADDRESS_LEN);
    this.writeTo(b);
    return b;
  }

  /**
   * Compares with another address.
   *
   * @param other the address
   * @returns true when all 128 bits are equal
   */
  equals(other: Ipv6Address): boolean {
    return this.w0 === other.w0 && this.w1 === other.w1 && this.w2 === other.w2 &&
      this.w3 === other.w3;
  }

  /**
   * Compares with the 16 bytes at `offset` (a packet's address) without
   * making an object. The caller keeps `offset + 16 <= bytes.length`.
   *
   * @param bytes the buffer
   * @param offset where the address starts
   * @returns true when equal
   */
  equalsAt(bytes: Uint8Array, offset: number): boolean {
    return readI32(bytes, offset + 12) === this.w3 && readI32(bytes, offset + 8) === this.w2 &&
      readI32(bytes, offset + 4) === this.w1 && readI32(bytes, offset) === this.w0;
  }

  /**
   * Orders addresses as unsigned 128-bit numbers.
   *
   * @param other the address
   * @returns negative, zero or positive
   */
  compare(other: Ipv6Address): number {
    if (this.w0 !== other.w0) return (this.w0 >>> 0) - (other.w0 >>> 0);
    if (this.w1 !== other.w1) return (this.w1 >>> 0) - (other.w1 >>> 0);
    if (this.w2 !== other.w2) return (this.w2 >>> 0) - (other.w2 >>> 0);
    return (this.w3 >>> 0) - (other.w3 >>> 0);
  }

  /**
   * An int32 hash of the address ({@link ipv6Hash}).
   *
   * @returns the hash
   */
  hash(): number {
    return ipv6Hash(this.w0, this.w1, this.w2, this.w3);
  }

  /**
   * Tells whether this is the unspecified address.
   *
   * @returns true for :: (RFC 4291 §2.5.2)
   */
  isUnspecified(): boolean {
    return (this.w0 | this.w1 | this.w2 | this.w3) === 0;
  }

  /**
   * Tells whether this is the loopback address.
   *
   * @returns true for ::1 (RFC 4291 §2.5.3)
   */
  isLoopback(): boolean {
    return (this.w0 | this.w1 | this.w2) === 0 && this.w3 === 1;
  }

  /**
   * Tells whether this is a multicast address.
   *
   * @returns true for ff00::/8 (RFC 4291 §2.7)
   */
  isMulticast(): boolean {
    return (this.w0 >>> 24) === 0xff;
  }

  /**
   * The scope of a multicast address (RFC 4291 §2.7), e.g.
   * {@link IPV6_SCOPE_LINK_LOCAL} for ff02::1.
   *
   * @returns the 4-bit scope, or -1 for a unicast address
   */
  multicastScope(): number {
    return this.isMulticast() ? (this.w0 >>> 16) & 0xf : -1;
  }

  /**
   * Tells whether this is a link-local unicast address.
   *
   * @returns true for fe80::/10 (RFC 4291 §2.5.6)
   */
  isLinkLocal(): boolean {
    return (this.w0 & LINK_LOCAL_MASK) === LINK_LOCAL_PREFIX;
  }

  /**
   * Tells whether this is a unique local address.
   *
   * @returns true for fc00::/7 (RFC 4193 §3.1)
   */
  isUniqueLocal(): boolean {
    return (this.w0 & UNIQUE_LOCAL_MASK) === UNIQUE_LOCAL_PREFIX;
  }

  /**
   * Tells whether this is an IPv4-mapped address.
   *
   * @returns true for ::ffff:0:0/96 (RFC 4291 §2.5.5.2)
   */
  isIpv4Mapped(): boolean {
    return this.w0 === 0 && this.w1 === 0 && this.w2 === IPV4_MAPPED_W2;
  }

  /**
   * Tells whether this is a solicited-node multicast address.
   *
   * @returns true for ff02::1:ff00:0/104 (RFC 4291 §2.7.1)
   */
  isSolicitedNodeMulticast(): boolean {
    return this.w0 === (0xff02_0000 | 0) && this.w1 === 0 && this.w2 === SOLICITED_NODE_W2 &&
      (this.w3 & SOLICITED_NODE_W3) === SOLICITED_NODE_W3;
  }

  /**
   * Tells whether this is a global unicast address: every unicast address
   * that is not unspecified, loopback, IPv4-mapped, link-local or unique
   * local (RFC 4291 §2.4, "everything else"; RFC 4193 ULAs are not global
   * in scope).
   *
   * @returns true for a global unicast address
   */
  isGlobalUnicast(): boolean {
    return !this.isMulticast() && !this.isUnspecified() && !this.isLoopback() &&
      !this.isLinkLocal() && !this.isUniqueLocal() && !this.isIpv4Mapped();
  }

  /**
   * The solicited-node multicast group of this address: ff02::1:ff00:0/104
   * with the low 24 bits of this address (RFC 4291 §2.7.1), the group a
   * Neighbor Solicitation for it is sent to (RFC 4861 §7.2.2).
   *
   * @returns the group
   */
  solicitedNode(): Ipv6Address {
    return new Ipv6Address(
      0xff02_0000,
      0,
      SOLICITED_NODE_W2,
      SOLICITED_NODE_W3 | (this.w3 & 0x00ff_ffff),
    );
  }

  /**
   * The Ethernet destination of a packet sent to this (multicast) address:
   * 33:33 followed by its low 32 bits (RFC 2464 §7).
   *
   * @returns the MAC as a number 0..2^48-1
   */
  multicastMac(): number {
    return MULTICAST_MAC_PREFIX + (this.w3 >>> 0);
  }

  /**
   * Formats the address (RFC 5952).
   *
   * @returns e.g. `"2001:db8::1"`
   */
  toString(): string {
    return formatIpv6Words(this.w0, this.w1, this.w2, this.w3);
  }
}

/**
 * An IPv6 address with a prefix length: an interface address such as
 * `2001:db8::2/64`, an on-link prefix, a route.
 *
 * @example
 * ```ts
 * import { Ipv6Address, Ipv6Cidr } from "./ipv6_address.ts";
 * const net = Ipv6Cidr.parse("2001:db8::2/64");
 * console.assert(net.contains(Ipv6Address.parse("2001:db8::77")));
 * console.assert(!net.contains(Ipv6Address.parse("2001:db8:1::1")));
 * console.assert(net.network.toString() === "2001:db8::");
 * ```
 */
export class Ipv6Cidr {
  /** The address part, as given (host bits kept). */
  readonly address: Ipv6Address;
  /** The prefix length, 0..128. */
  readonly prefixLength: number;
  readonly #m0: number;
  readonly #m1: number;
  readonly #m2: number;
  readonly #m3: number;

  /**
   * Pairs an address with a prefix length.
   *
   * @param address the address
   * @param prefixLength 0..128
   * @throws {RangeError} when the prefix length is out of range
   */
  constructor(address: Ipv6Address, prefixLength: number) {
    if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > 128) {
      throw new RangeError(`IPv6 prefix length must be 0..128, got ${prefixLength}`);
    }
    this.address = address;
    this.prefixLength = prefixLength;
    this.#m0 = wordMask(prefixLength);
    this.#m1 = wordMask(prefixLength - 32);
    this.#m2 = wordMask(prefixLength - 64);
    this.#m3 = wordMask(prefixLength - 96);
  }

  /**
   * Parses `"2001:db8::2/64"`; a bare address means /128.
   *
   * @param text the address and prefix
   * @returns the CIDR
   * @throws {TypeError} when the text is malformed
   */
  static parse(text: string): Ipv6Cidr {
    const slash = text.indexOf("/");
    if (slash < 0) return new Ipv6Cidr(Ipv6Address.parse(text), 128);
    const prefix = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(prefix) || Number(prefix) > 128) {
      throw new TypeError(`invalid IPv6 prefix in "${text}": expected /0 to /128`);
    }
    return new Ipv6Cidr(Ipv6Address.parse(text.slice(0, slash)), Number(prefix));
  }

  /** The network address (host bits cleared). */
  get network(): Ipv6Address {
    const a = this.address;
    return new Ipv6Address(a.w0 & this.#m0, a.w1 & this.#m1, a.w2 & this.#m2, a.w3 & this.#m3);
  }

  /**
   * Tests membership of the prefix.
   *
   * @param address the address
   * @returns true when its first {@link Ipv6Cidr.prefixLength} bits match
   */
  contains(address: Ipv6Address): boolean {
    const a = this.address;
    return ((address.w0 ^ a.w0) & this.#m0) === 0 && ((address.w1 ^ a.w1) & this.#m1) === 0 &&
      ((address.w2 ^ a.w2) & this.#m2) === 0 && ((address.w3 ^ a.w3) & this.#m3) === 0;
  }

  /**
   * Tests membership of the 16 address bytes at `offset` (a packet's
   * address) without making an object.
   *
   * @param bytes the buffer
   * @param offset where the address starts
   * @returns true when its first {@link Ipv6Cidr.prefixLength} bits match
   */
  containsAt(bytes: Uint8Array, offset: number): boolean {
    const a = this.address;
    return ((readI32(bytes, offset) ^ a.w0) & this.#m0) === 0 &&
      ((readI32(bytes, offset + 4) ^ a.w1) & this.#m1) === 0 &&
      ((readI32(bytes, offset + 8) ^ a.w2) & this.#m2) === 0 &&
      ((readI32(bytes, offset + 12) ^ a.w3) & this.#m3) === 0;
  }

  /**
   * Compares two CIDRs.
   *
   * @param other the CIDR to compare with
   * @returns true when address and prefix length are equal
   */
  equals(other: Ipv6Cidr): boolean {
    return this.address.equals(other.address) && this.prefixLength === other.prefixLength;
  }

  /**
   * Formats address and prefix.
   *
   * @returns e.g. `"2001:db8::2/64"`
   */
  toString(): string {
    return `${this.address}/${this.prefixLength}`;
  }
}

/** The mask of one 32-bit word given the prefix bits that remain for it (≤ 0: none, ≥ 32: all). */
function wordMask(bits: number): number {
  if (bits <= 0) return 0;
  if (bits >= 32) return -1;
  return -1 << (32 - bits);
}
