/**
 * Neighbor Discovery messages (RFC 4861 §4): router solicitation and
 * advertisement, neighbor solicitation and advertisement, redirect, and
 * their options (§4.6): source/target link-layer address, prefix
 * information, redirected header, MTU, plus the nonce of enhanced DAD
 * (RFC 7527 §4.1) and the recursive DNS server and DNS search list options
 * (RFC 8106 §5.1, §5.2). A plain {@link NdpRepr} over the
 * {@link Icmpv6Packet} view, and an {@link NdpOptionReader} that walks the
 * options in place.
 *
 * ```
 *  RS  | 133 | 0 | checksum | reserved                              | options
 *  RA  | 134 | 0 | checksum | hop limit | M O ... | router lifetime |
 *      | reachable time | retrans timer                              | options
 *  NS  | 135 | 0 | checksum | reserved | target (16)                | options
 *  NA  | 136 | 0 | checksum | R S O ... reserved | target (16)      | options
 *  Redirect | 137 | 0 | checksum | reserved | target | destination  | options
 *  option | type | length (8-byte units, 0 is invalid) | ...
 * ```
 *
 * Parsing checks what RFC 4861 §6.1.1, §6.1.2, §7.1.1, §7.1.2 and §8.1 ask
 * of every message except the IP Hop Limit of 255, which the IPv6 layer
 * checks before dispatching (it is in the IPv6 header, not here).
 * A known option with a length that cannot hold it makes the whole message
 * invalid (as smoltcp's NdiscOption does); unknown options are skipped
 * (§4.6).
 *
 * @module
 */

import { ipv6PseudoHeaderSum, type Ipv6Words } from "./checksum.ts";
import { readMac, writeMac } from "./address.ts";
import { WireError } from "./error.ts";
import {
  checkIcmpv6Checksum,
  ICMPV6_NEIGHBOR_ADVERTISEMENT,
  ICMPV6_NEIGHBOR_SOLICITATION,
  ICMPV6_REDIRECT,
  ICMPV6_ROUTER_ADVERTISEMENT,
  ICMPV6_ROUTER_SOLICITATION,
  type Icmpv6Packet,
} from "./icmpv6.ts";
import { IP_PROTO_ICMPV6, IPV6_HEADER_LEN, IPV6_MIN_MTU } from "./ipv6.ts";
import { IPV6_ADDRESS_LEN, Ipv6Address } from "./ipv6_address.ts";
import {
  type ChecksumParseOptions,
  copyPayload,
  read16,
  read32,
  storeChecksum,
  write16,
  write32,
} from "./view.ts";

/** Option: source link-layer address (RFC 4861 §4.6.1). */
export const NDP_OPT_SOURCE_LL = 1;
/** Option: target link-layer address (RFC 4861 §4.6.1). */
export const NDP_OPT_TARGET_LL = 2;
/** Option: prefix information (RFC 4861 §4.6.2). */
export const NDP_OPT_PREFIX_INFO = 3;
/** Option: redirected header (RFC 4861 §4.6.3). */
export const NDP_OPT_REDIRECTED_HEADER = 4;
/** Option: MTU (RFC 4861 §4.6.4). */
export const NDP_OPT_MTU = 5;
/** Option: nonce (RFC 3971 §5.3.2), which Linux puts in DAD solicitations (RFC 7527 §4.1). */
export const NDP_OPT_NONCE = 14;
/** Option: recursive DNS server (RFC 8106 §5.1). */
export const NDP_OPT_RDNSS = 25;
/** Option: DNS search list (RFC 8106 §5.2). */
export const NDP_OPT_DNSSL = 31;
/** The hop limit every NDP message is sent and must be received with (RFC 4861 §6.1). */
export const NDP_HOP_LIMIT = 255;
/** A lifetime of all ones means infinity (RFC 4861 §4.6.2). */
export const NDP_INFINITE_LIFETIME = 0xffff_ffff;
/** Option lengths are in units of this many bytes (RFC 4861 §4.6). */
export const NDP_OPTION_UNIT = 8;

/** RA flag: managed address configuration (RFC 4861 §4.2). */
const RA_MANAGED = 0x80;
/** RA flag: other configuration (RFC 4861 §4.2). */
const RA_OTHER = 0x40;
/** NA flag: router (RFC 4861 §4.4). */
const NA_ROUTER = 0x80;
/** NA flag: solicited. */
const NA_SOLICITED = 0x40;
/** NA flag: override. */
const NA_OVERRIDE = 0x20;
/** Prefix information flag: on-link (RFC 4861 §4.6.2). */
const PI_ON_LINK = 0x80;
/** Prefix information flag: autonomous address configuration. */
const PI_AUTONOMOUS = 0x40;

const PROTOCOL = "ndp";
const ICMP_HEADER = 4;
const RS_LEN = 8;
const RA_LEN = 16;
const NS_LEN = 24;
const NA_LEN = 24;
const REDIRECT_LEN = 40;
const TARGET_AT = 8;
const REDIRECT_DESTINATION_AT = 24;
const LL_OPTION_LEN = 8;
const MAC_LEN = 6;
const PREFIX_OPTION_LEN = 32;
const MTU_OPTION_LEN = 8;
const NONCE_OPTION_LEN = 8;
const REDIRECTED_HEADER_PREFIX = 8;
const RDNSS_MIN_UNITS = 3;
/** RFC 8106 §5.2: "The minimum value is 2 if at least one domain name is contained". */
const DNSSL_MIN_UNITS = 2;
/** RDNSS and DNSSL: type, length, 2 reserved bytes, 4-byte lifetime, then the data. */
const DNS_OPTION_HEADER = 8;
/** RFC 1035 §2.3.4: a label has at most 63 octets, a name at most 255. */
const DNS_LABEL_MAX = 63;
const DNS_NAME_MAX = 255;
/** Redirect fits in the minimum MTU (RFC 4861 §4.6.3: "without exceeding 1280"). */
const REDIRECT_MAX_LEN = IPV6_MIN_MTU - IPV6_HEADER_LEN;

/** One Prefix Information option (RFC 4861 §4.6.2). */
export interface NdpPrefixInfo {
  /** Leading bits of {@link NdpPrefixInfo.prefix} that are valid, 0..128. */
  prefixLength: number;
  /** L: the prefix is on-link. */
  onLink: boolean;
  /** A: the prefix may be used for SLAAC (RFC 4862). */
  autonomous: boolean;
  /** Valid lifetime in seconds ({@link NDP_INFINITE_LIFETIME} = infinity). */
  validLifetime: number;
  /** Preferred lifetime in seconds. */
  preferredLifetime: number;
  /** The prefix (bits after prefixLength are zero when the sender obeys §4.6.2). */
  prefix: Ipv6Address;
}

/** One Recursive DNS Server option (RFC 8106 §5.1). */
export interface NdpRdnss {
  /** Seconds the servers may be used ({@link NDP_INFINITE_LIFETIME} = infinity, 0 = stop). */
  lifetime: number;
  /** The servers, in the router's order of preference. */
  servers: Ipv6Address[];
}

/** One DNS Search List option (RFC 8106 §5.2). */
export interface NdpDnssl {
  /** Seconds the domains may be used ({@link NDP_INFINITE_LIFETIME} = infinity, 0 = stop). */
  lifetime: number;
  /** The domain names, dotted, without the trailing dot. */
  domains: string[];
}

/** An NDP message (RFC 4861 §4.1–4.5); the fields of other types keep their defaults. */
export interface NdpRepr {
  /** ICMPV6_ROUTER_SOLICITATION … ICMPV6_REDIRECT. */
  type: number;
  /** RA: Cur Hop Limit (0 = unspecified). */
  curHopLimit: number;
  /** RA: M, managed address configuration. */
  managed: boolean;
  /** RA: O, other configuration. */
  other: boolean;
  /** RA: router lifetime in seconds (0: not a default router). */
  routerLifetime: number;
  /** RA: reachable time in milliseconds (0 = unspecified). */
  reachableTime: number;
  /** RA: retransmission timer in milliseconds (0 = unspecified). */
  retransTimer: number;
  /** NA: R, the sender is a router. */
  router: boolean;
  /** NA: S, sent in response to a solicitation. */
  solicited: boolean;
  /** NA: O, override an existing cache entry. */
  override: boolean;
  /** NS, NA, redirect: the target address. */
  target: Ipv6Address;
  /** Redirect: the destination being redirected. */
  destination: Ipv6Address;
  /** Source link-layer address option (a MAC as a number), or -1 when absent. */
  sourceLinkLayer: number;
  /** Target link-layer address option, or -1 when absent. */
  targetLinkLayer: number;
  /** NS: the 6-byte nonce option (RFC 7527 §4.1) as a number, or -1 when absent. */
  nonce: number;
  /** RA: MTU option, or -1 when absent. */
  mtu: number;
  /** RA: prefix information options (parse reuses the objects already in the array). */
  prefixes: NdpPrefixInfo[];
  /** RA: recursive DNS server options (RFC 8106 §5.1; parse reuses the objects in the array). */
  rdnss: NdpRdnss[];
  /**
   * RA: DNS search list options (RFC 8106 §5.2). An option whose names are
   * not in the uncompressed wire form §5.2 asks for is skipped.
   */
  dnssl: NdpDnssl[];
  /** Redirect: the redirected header option's data (the parsed buffer on parse). */
  redirected: Uint8Array;
  /** Where the redirected packet starts in {@link NdpRepr.redirected}. */
  redirectedOffset: number;
  /** Length of the redirected packet data (0 when the option is absent). */
  redirectedLength: number;
  /** Where the options start in the parsed buffer (absolute), for {@link NdpOptionReader}. */
  optionsOffset: number;
  /** Bytes of options. */
  optionsLength: number;
}

const EMPTY = new Uint8Array(0);

/**
 * A fresh repr of `type` with no options, to reuse as `out`.
 *
 * @param type the message type (default router solicitation)
 * @returns a new repr
 *
 * @example
 * ```ts
 * import { newNdpRepr } from "./ndp.ts";
 * import { ICMPV6_NEIGHBOR_SOLICITATION } from "./icmpv6.ts";
 * console.assert(newNdpRepr(ICMPV6_NEIGHBOR_SOLICITATION).sourceLinkLayer === -1);
 * ```
 */
export function newNdpRepr(type: number = ICMPV6_ROUTER_SOLICITATION): NdpRepr {
  return {
    type,
    curHopLimit: 0,
    managed: false,
    other: false,
    routerLifetime: 0,
    reachableTime: 0,
    retransTimer: 0,
    router: false,
    solicited: false,
    override: false,
    target: Ipv6Address.UNSPECIFIED,
    destination: Ipv6Address.UNSPECIFIED,
    sourceLinkLayer: -1,
    targetLinkLayer: -1,
    nonce: -1,
    mtu: -1,
    prefixes: [],
    rdnss: [],
    dnssl: [],
    redirected: EMPTY,
    redirectedOffset: 0,
    redirectedLength: 0,
    optionsOffset: 0,
    optionsLength: 0,
  };
}

/**
 * Walks NDP options in place (RFC 4861 §4.6), allocating nothing: call
 * {@link NdpOptionReader.next} until it returns false, then look at
 * {@link NdpOptionReader.error}. The accessors read the current option.
 *
 * @example
 * ```ts
 * import { NDP_OPT_MTU, NdpOptionReader } from "./ndp.ts";
 * const options = new Uint8Array([5, 1, 0, 0, 0, 0, 0x05, 0xdc]);
 * const r = new NdpOptionReader().reset(options, 0, 8);
 * console.assert(r.next() && r.type === NDP_OPT_MTU && r.mtu === 1500);
 * console.assert(!r.next() && r.error === null);
 * ```
 */
export class NdpOptionReader {
  /** The buffer. */
  bytes: Uint8Array = EMPTY;
  /** Where the current option starts (absolute). */
  offset = 0;
  /** The current option's length in bytes (the length field × 8). */
  length = 0;
  /** Why iteration stopped early, or null. */
  error: WireError | null = null;
  #next = 0;
  #end = 0;

  /**
   * Points the reader at an options area.
   *
   * @param bytes the buffer
   * @param offset where the options start
   * @param length bytes of options
   * @returns this reader
   */
  reset(bytes: Uint8Array, offset: number, length: number): this {
    this.bytes = bytes;
    this.#next = offset;
    this.#end = offset + length;
    this.offset = offset;
    this.length = 0;
    this.error = null;
    return this;
  }

  /**
   * Moves to the next option and validates its length: 0 is invalid (§4.6:
   * the message must be discarded), an option may not overrun the area, and
   * a known option must be long enough to hold its fields.
   *
   * @returns true when positioned on a valid option
   */
  next(): boolean {
    const at = this.#next;
    if (this.error !== null || at >= this.#end) return false;
    if (at + 2 > this.#end || at + 2 > this.bytes.length) {
      return this.#fail("truncated", `option header at ${at} overruns the message`);
    }
    const units = this.bytes[at + 1];
    const type = this.bytes[at];
    if (units === 0) return this.#fail("bad-option", `option ${type} has length 0`);
    const length = units * NDP_OPTION_UNIT;
    if (at + length > this.#end) {
      return this.#fail("truncated", `option ${type} of ${length} bytes overruns the message`);
    }
    let ok = true;
    switch (type) {
      case NDP_OPT_PREFIX_INFO:
        ok = length === PREFIX_OPTION_LEN;
        break;
      case NDP_OPT_MTU:
        ok = length === MTU_OPTION_LEN;
        break;
      case NDP_OPT_RDNSS:
        // RFC 8106 §5.1: 8 bytes plus one or more addresses: length 3, 5, 7, …
        ok = units >= RDNSS_MIN_UNITS && (units & 1) === 1;
        break;
      case NDP_OPT_DNSSL:
        ok = units >= DNSSL_MIN_UNITS;
        break;
      default:
        break; // LLA options: any length ≥ 8 holds a MAC; redirected header ≥ 8
    }
    if (!ok) return this.#fail("bad-option", `option ${type} has impossible length ${length}`);
    this.offset = at;
    this.length = length;
    this.#next = at + length;
    return true;
  }

  #fail(kind: "truncated" | "bad-option", message: string): boolean {
    this.error = new WireError(PROTOCOL, kind, message);
    this.length = 0;
    return false;
  }

  /** The current option's type. */
  get type(): number {
    return this.bytes[this.offset];
  }

  /** Source/target link-layer address option: the MAC as a number. */
  get linkLayerAddress(): number {
    return readMac(this.bytes, this.offset + 2);
  }

  /** Nonce option: its first 6 bytes as a number (Linux sends exactly 6). */
  get nonce(): number {
    return readMac(this.bytes, this.offset + 2);
  }

  /** MTU option: the MTU. */
  get mtu(): number {
    return read32(this.bytes, this.offset + 4);
  }

  /** Prefix information: prefix length. */
  get prefixLength(): number {
    return this.bytes[this.offset + 2];
  }

  /** Prefix information: L flag. */
  get onLink(): boolean {
    return (this.bytes[this.offset + 3] & PI_ON_LINK) !== 0;
  }

  /** Prefix information: A flag. */
  get autonomous(): boolean {
    return (this.bytes[this.offset + 3] & PI_AUTONOMOUS) !== 0;
  }

  /** Prefix information: valid lifetime in seconds. */
  get validLifetime(): number {
    return read32(this.bytes, this.offset + 4);
  }

  /** Prefix information: preferred lifetime in seconds. */
  get preferredLifetime(): number {
    return read32(this.bytes, this.offset + 8);
  }

  /** Prefix information: where the 16-byte prefix starts (absolute). */
  get prefixOffset(): number {
    return this.offset + 16;
  }

  /** Redirected header: where the quoted packet starts (absolute). */
  get redirectedOffset(): number {
    return this.offset + REDIRECTED_HEADER_PREFIX;
  }

  /** Redirected header: bytes of quoted packet (padding included). */
  get redirectedLength(): number {
    return this.length - REDIRECTED_HEADER_PREFIX;
  }

  /** RDNSS: lifetime in seconds (RFC 8106 §5.1). */
  get rdnssLifetime(): number {
    return read32(this.bytes, this.offset + 4);
  }

  /** RDNSS: number of server addresses. */
  get rdnssCount(): number {
    return (this.length - NDP_OPTION_UNIT) / IPV6_ADDRESS_LEN;
  }

  /**
   * RDNSS: where server address `index` starts (absolute).
   *
   * @param index 0 .. rdnssCount − 1
   * @returns the offset of its 16 bytes
   */
  rdnssAddressOffset(index: number): number {
    return this.offset + NDP_OPTION_UNIT + index * IPV6_ADDRESS_LEN;
  }

  /** DNSSL: lifetime in seconds (RFC 8106 §5.2). */
  get dnsslLifetime(): number {
    return read32(this.bytes, this.offset + 4);
  }

  /**
   * DNSSL: the domain names (allocates). RFC 8106 §5.2: each name in the
   * uncompressed wire form of RFC 1035 §3.1, the last one followed by zero
   * padding to the option's end.
   *
   * @returns the names, dotted, or null when one is malformed (a compression
   *   pointer, a label or name too long, a name running past the option)
   */
  dnsslDomains(): string[] | null {
    const bytes = this.bytes;
    const end = this.offset + this.length;
    const names: string[] = [];
    let at = this.offset + DNS_OPTION_HEADER;
    while (at < end && bytes[at] !== 0) {
      const labels: string[] = [];
      let nameLength = 1;
      for (;;) {
        if (at >= end) return null;
        const n = bytes[at];
        if (n === 0) break;
        nameLength += n + 1;
        if (n > DNS_LABEL_MAX || nameLength > DNS_NAME_MAX || at + 1 + n > end) return null;
        labels.push(String.fromCharCode(...bytes.subarray(at + 1, at + 1 + n)));
        at += 1 + n;
      }
      at++; // the root label ending the name
      names.push(labels.join("."));
    }
    // What follows the last name is padding: all zero (§5.2 "MUST be set to zero").
    for (; at < end; at++) if (bytes[at] !== 0) return null;
    return names;
  }
}

/** Bytes of `name` in DNS wire form (RFC 1035 §3.1): length-prefixed labels and the root. */
function dnsNameLength(name: string): number {
  return name === "" ? 1 : name.length + 2;
}

/** The DNSSL option for `domains` (padded to 8-byte units). */
function dnsslOptionLength(domains: readonly string[]): number {
  let n = DNS_OPTION_HEADER;
  for (const d of domains) n += dnsNameLength(d);
  return Math.ceil(n / NDP_OPTION_UNIT) * NDP_OPTION_UNIT;
}

/** Options of {@link NdpRepr.parse}: `verifyChecksum` (default true). */
export type NdpParseOptions = ChecksumParseOptions;

/** The shape of {@link NdpRepr}: parse and emit NDP messages (RFC 4861). */
export interface NdpCodec {
  /**
   * Checks an RS, RA, NS, NA or redirect (length, checksum, code 0, the
   * §6.1/§7.1/§8.1 rules on addresses and options) and reads it. With
   * `out`, address and prefix objects already in it are reused when
   * unchanged; nothing else is allocated. After a failure `out` may be
   * partly overwritten.
   *
   * @param packet the ICMPv6 view; its length must be the whole message
   * @param src IPv6 source address
   * @param dst IPv6 destination address
   * @param out a repr to fill
   * @param opts `verifyChecksum: false` to skip the checksum
   * @returns the repr, or the defect
   */
  parse(
    packet: Icmpv6Packet,
    src: Ipv6Address,
    dst: Ipv6Address,
    out?: NdpRepr,
    opts?: NdpParseOptions,
  ): NdpRepr | WireError;

  /**
   * The message length `emit` writes.
   *
   * @param repr the message
   * @returns bytes, options included
   */
  bufferLength(repr: NdpRepr): number;

  /**
   * Writes the message with its options — source and target link-layer
   * addresses and the nonce when ≥ 0, MTU when ≥ 0 (RA), every prefix, RDNSS
   * and DNSSL option (RA; DNSSL names are ASCII, labels of 1–63 bytes), the
   * redirected header when its length > 0 (redirect; cut to whole 8-byte units within the
   * minimum MTU, as Linux ndisc_send_redirect does) —
   * and the checksum.
   *
   * @param repr the message
   * @param bytes the buffer (room for {@link NdpCodec.bufferLength} bytes)
   * @param offset where the message starts
   * @param src IPv6 source address (pseudo-header)
   * @param dst IPv6 destination address (pseudo-header)
   * @returns bytes written
   */
  emit(
    repr: NdpRepr,
    bytes: Uint8Array,
    offset: number,
    src: Ipv6Words,
    dst: Ipv6Words,
  ): number;
}

/** The fixed length of each NDP message type, or -1 for other types. */
function fixedLength(type: number): number {
  switch (type) {
    case ICMPV6_ROUTER_SOLICITATION:
      return RS_LEN;
    case ICMPV6_ROUTER_ADVERTISEMENT:
      return RA_LEN;
    case ICMPV6_NEIGHBOR_SOLICITATION:
      return NS_LEN;
    case ICMPV6_NEIGHBOR_ADVERTISEMENT:
      return NA_LEN;
    case ICMPV6_REDIRECT:
      return REDIRECT_LEN;
    default:
      return -1;
  }
}

function invalid(message: string): WireError {
  return new WireError(PROTOCOL, "bad-field", message);
}

/** The redirected-header data rounded up to whole options. */
function redirectedOptionLength(repr: NdpRepr): number {
  if (repr.redirectedLength <= 0) return 0;
  const room = REDIRECT_MAX_LEN - REDIRECT_LEN - REDIRECTED_HEADER_PREFIX;
  const data = Math.min(repr.redirectedLength, room) & ~(NDP_OPTION_UNIT - 1);
  return data === 0 ? 0 : REDIRECTED_HEADER_PREFIX + data;
}

/** Reads (reusing `current` when the bytes hold the same address). */
function addressAt(bytes: Uint8Array, offset: number, current: Ipv6Address): Ipv6Address {
  return current.equalsAt(bytes, offset) ? current : Ipv6Address.fromBytes(bytes, offset);
}

/** Parses the options into `repr`; returns the defect or null. */
function readOptions(
  reader: NdpOptionReader,
  repr: NdpRepr,
  bytes: Uint8Array,
  start: number,
  end: number,
): WireError | null {
  let prefixCount = 0;
  let rdnssCount = 0;
  let dnsslCount = 0;
  reader.reset(bytes, start, end - start);
  while (reader.next()) {
    switch (reader.type) {
      case NDP_OPT_SOURCE_LL:
        if (repr.sourceLinkLayer < 0) repr.sourceLinkLayer = reader.linkLayerAddress;
        break;
      case NDP_OPT_TARGET_LL:
        if (repr.targetLinkLayer < 0) repr.targetLinkLayer = reader.linkLayerAddress;
        break;
      case NDP_OPT_MTU:
        repr.mtu = reader.mtu;
        break;
      case NDP_OPT_NONCE:
        if (repr.nonce < 0) repr.nonce = reader.nonce;
        break;
      case NDP_OPT_PREFIX_INFO: {
        if (repr.type !== ICMPV6_ROUTER_ADVERTISEMENT) break; // §4.6.2: only in RAs
        let p = repr.prefixes[prefixCount];
        if (p === undefined) {
          p = {
            prefixLength: 0,
            onLink: false,
            autonomous: false,
            validLifetime: 0,
            preferredLifetime: 0,
            prefix: Ipv6Address.UNSPECIFIED,
          };
          repr.prefixes[prefixCount] = p;
        }
        p.prefixLength = reader.prefixLength;
        p.onLink = reader.onLink;
        p.autonomous = reader.autonomous;
        p.validLifetime = reader.validLifetime;
        p.preferredLifetime = reader.preferredLifetime;
        p.prefix = addressAt(bytes, reader.prefixOffset, p.prefix);
        prefixCount++;
        break;
      }
      case NDP_OPT_RDNSS: {
        if (repr.type !== ICMPV6_ROUTER_ADVERTISEMENT) break; // RFC 8106 §5: RA options
        let r = repr.rdnss[rdnssCount];
        if (r === undefined) repr.rdnss[rdnssCount] = r = { lifetime: 0, servers: [] };
        r.lifetime = reader.rdnssLifetime;
        const n = reader.rdnssCount;
        for (let i = 0; i < n; i++) {
          r.servers[i] = addressAt(
            bytes,
            reader.rdnssAddressOffset(i),
            r.servers[i] ?? Ipv6Address.UNSPECIFIED,
          );
        }
        r.servers.length = n;
        rdnssCount++;
        break;
      }
      case NDP_OPT_DNSSL: {
        if (repr.type !== ICMPV6_ROUTER_ADVERTISEMENT) break;
        const domains = reader.dnsslDomains();
        if (domains === null) break; // malformed names: the option is skipped
        repr.dnssl[dnsslCount++] = { lifetime: reader.dnsslLifetime, domains };
        break;
      }
      case NDP_OPT_REDIRECTED_HEADER:
        if (repr.type === ICMPV6_REDIRECT) {
          repr.redirected = bytes;
          repr.redirectedOffset = reader.redirectedOffset;
          repr.redirectedLength = reader.redirectedLength;
        }
        break;
      default:
        break; // RFC 4861 §4.6: unknown options are skipped
    }
  }
  repr.prefixes.length = prefixCount;
  repr.rdnss.length = rdnssCount;
  repr.dnssl.length = dnsslCount;
  return reader.error;
}

const optionReader = new NdpOptionReader();

/**
 * Parse and emit NDP messages.
 *
 * @example
 * ```ts
 * import { NdpRepr, newNdpRepr } from "./ndp.ts";
 * import { ICMPV6_NEIGHBOR_SOLICITATION, Icmpv6Packet } from "./icmpv6.ts";
 * import { Ipv6Address } from "./ipv6_address.ts";
 * import { isWireError } from "./error.ts";
 * const me = Ipv6Address.parse("fe80::1");
 * const target = Ipv6Address.parse("fe80::2");
 * const ns = { ...newNdpRepr(ICMPV6_NEIGHBOR_SOLICITATION), target, sourceLinkLayer: 0x020000000001 };
 * const bytes = new Uint8Array(NdpRepr.bufferLength(ns));
 * NdpRepr.emit(ns, bytes, 0, me, target.solicitedNode());
 * const back = NdpRepr.parse(new Icmpv6Packet(bytes), me, target.solicitedNode());
 * if (isWireError(back)) throw new Error(String(back));
 * console.assert(back.target.equals(target) && back.sourceLinkLayer === 0x020000000001);
 * ```
 */
export const NdpRepr: NdpCodec = {
  parse(
    packet: Icmpv6Packet,
    src: Ipv6Address,
    dst: Ipv6Address,
    out?: NdpRepr,
    opts?: NdpParseOptions,
  ): NdpRepr | WireError {
    const err = packet.check();
    if (err !== null) return err;
    const type = packet.type;
    const min = fixedLength(type);
    if (min < 0) return new WireError(PROTOCOL, "unsupported", `ICMPv6 type ${type} is not NDP`);
    if (packet.length < min) {
      return new WireError(PROTOCOL, "truncated", `type ${type}: ${packet.length} bytes < ${min}`);
    }
    if (opts?.verifyChecksum !== false) {
      const bad = checkIcmpv6Checksum(packet, src, dst, PROTOCOL);
      if (bad !== null) return bad;
    }
    // §6.1.1, §6.1.2, §7.1.1, §7.1.2, §8.1: ICMP Code is 0.
    if (packet.code !== 0) return invalid(`type ${type} with code ${packet.code} != 0`);
    const bytes = packet.bytes;
    const base = packet.offset;
    const repr = out ?? newNdpRepr(type);
    repr.type = type;
    repr.curHopLimit = 0;
    repr.managed = repr.other = false;
    repr.routerLifetime = repr.reachableTime = repr.retransTimer = 0;
    repr.router = repr.solicited = repr.override = false;
    repr.sourceLinkLayer =
      repr.targetLinkLayer =
      repr.nonce =
      repr.mtu =
        -1;
    repr.redirected = EMPTY;
    repr.redirectedOffset = repr.redirectedLength = 0;
    switch (type) {
      case ICMPV6_ROUTER_ADVERTISEMENT:
        // §6.1.2: the source is the router's link-local address.
        if (!src.isLinkLocal()) return invalid(`RA from non-link-local ${src}`);
        repr.curHopLimit = bytes[base + 4];
        repr.managed = (bytes[base + 5] & RA_MANAGED) !== 0;
        repr.other = (bytes[base + 5] & RA_OTHER) !== 0;
        repr.routerLifetime = read16(bytes, base + 6);
        repr.reachableTime = read32(bytes, base + 8);
        repr.retransTimer = read32(bytes, base + 12);
        break;
      case ICMPV6_NEIGHBOR_ADVERTISEMENT: {
        const flags = bytes[base + 4];
        repr.router = (flags & NA_ROUTER) !== 0;
        repr.solicited = (flags & NA_SOLICITED) !== 0;
        repr.override = (flags & NA_OVERRIDE) !== 0;
        // §7.1.2: to a multicast destination the Solicited flag is zero.
        if (repr.solicited && dst.isMulticast()) {
          return invalid("solicited NA to a multicast group");
        }
        break;
      }
      case ICMPV6_REDIRECT:
        // §8.1: from the first-hop router's link-local address.
        if (!src.isLinkLocal()) return invalid(`redirect from non-link-local ${src}`);
        break;
      default:
        break;
    }
    if (type === ICMPV6_NEIGHBOR_SOLICITATION || type === ICMPV6_NEIGHBOR_ADVERTISEMENT) {
      repr.target = addressAt(bytes, base + TARGET_AT, repr.target);
      // §7.1.1, §7.1.2: the target is not a multicast address.
      if (repr.target.isMulticast()) return invalid(`multicast target ${repr.target}`);
    } else if (type === ICMPV6_REDIRECT) {
      repr.target = addressAt(bytes, base + TARGET_AT, repr.target);
      repr.destination = addressAt(bytes, base + REDIRECT_DESTINATION_AT, repr.destination);
      // §8.1: the destination is not multicast; the target is link-local or the destination.
      if (repr.destination.isMulticast()) {
        return invalid(`redirect of multicast ${repr.destination}`);
      }
      if (!repr.target.isLinkLocal() && !repr.target.equals(repr.destination)) {
        return invalid(`redirect target ${repr.target} is neither link-local nor the destination`);
      }
    }
    repr.optionsOffset = base + min;
    repr.optionsLength = packet.length - min;
    const optErr = readOptions(optionReader, repr, bytes, base + min, base + packet.length);
    if (optErr !== null) return optErr;
    if (src.isUnspecified()) {
      // §6.1.1 (RS), §7.1.1 (NS): no source link-layer option from the unspecified address;
      // §7.1.1: a DAD solicitation goes to a solicited-node group.
      if (repr.sourceLinkLayer >= 0 && type !== ICMPV6_NEIGHBOR_ADVERTISEMENT) {
        return invalid("source link-layer option from the unspecified address");
      }
      if (type === ICMPV6_NEIGHBOR_SOLICITATION && !dst.isSolicitedNodeMulticast()) {
        return invalid(`DAD solicitation to ${dst}, not a solicited-node group`);
      }
      if (type !== ICMPV6_ROUTER_SOLICITATION && type !== ICMPV6_NEIGHBOR_SOLICITATION) {
        return invalid(`type ${type} from the unspecified address`);
      }
    }
    return repr;
  },

  bufferLength(repr: NdpRepr): number {
    const fixed = fixedLength(repr.type);
    let n = fixed < 0 ? RS_LEN : fixed;
    if (repr.sourceLinkLayer >= 0) n += LL_OPTION_LEN;
    if (repr.targetLinkLayer >= 0) n += LL_OPTION_LEN;
    if (repr.nonce >= 0) n += NONCE_OPTION_LEN;
    if (repr.type === ICMPV6_ROUTER_ADVERTISEMENT) {
      if (repr.mtu >= 0) n += MTU_OPTION_LEN;
      n += repr.prefixes.length * PREFIX_OPTION_LEN;
      for (const r of repr.rdnss) n += DNS_OPTION_HEADER + r.servers.length * IPV6_ADDRESS_LEN;
      for (const d of repr.dnssl) n += dnsslOptionLength(d.domains);
    }
    if (repr.type === ICMPV6_REDIRECT) n += redirectedOptionLength(repr);
    return n;
  },

  emit(
    repr: NdpRepr,
    bytes: Uint8Array,
    offset: number,
    src: Ipv6Words,
    dst: Ipv6Words,
  ): number {
    const type = repr.type;
    const fixed = fixedLength(type);
    const total = NdpRepr.bufferLength(repr);
    // The redirected packet first: it may sit in the same buffer.
    const redirected = type === ICMPV6_REDIRECT ? redirectedOptionLength(repr) : 0;
    if (redirected > 0) {
      const at = offset + total - redirected;
      const data = redirected - REDIRECTED_HEADER_PREFIX;
      copyPayload(
        repr.redirected,
        repr.redirectedOffset,
        bytes,
        at + REDIRECTED_HEADER_PREFIX,
        data,
      );
      bytes[at] = NDP_OPT_REDIRECTED_HEADER;
      bytes[at + 1] = redirected / NDP_OPTION_UNIT;
      bytes.fill(0, at + 2, at + REDIRECTED_HEADER_PREFIX);
    }
    bytes[offset] = type;
    bytes[offset + 1] = 0;
    bytes.fill(0, offset + ICMP_HEADER, offset + (fixed < 0 ? RS_LEN : fixed));
    switch (type) {
      case ICMPV6_ROUTER_ADVERTISEMENT:
        bytes[offset + 4] = repr.curHopLimit;
        bytes[offset + 5] = (repr.managed ? RA_MANAGED : 0) | (repr.other ? RA_OTHER : 0);
        write16(bytes, offset + 6, repr.routerLifetime);
        write32(bytes, offset + 8, repr.reachableTime);
        write32(bytes, offset + 12, repr.retransTimer);
        break;
      case ICMPV6_NEIGHBOR_ADVERTISEMENT:
        bytes[offset + 4] = (repr.router ? NA_ROUTER : 0) | (repr.solicited ? NA_SOLICITED : 0) |
          (repr.override ? NA_OVERRIDE : 0);
        repr.target.writeTo(bytes, offset + TARGET_AT);
        break;
      case ICMPV6_NEIGHBOR_SOLICITATION:
        repr.target.writeTo(bytes, offset + TARGET_AT);
        break;
      case ICMPV6_REDIRECT:
        repr.target.writeTo(bytes, offset + TARGET_AT);
        repr.destination.writeTo(bytes, offset + REDIRECT_DESTINATION_AT);
        break;
      default:
        break;
    }
    // Option order as Linux (ndisc_send_*) and radvd/dnsmasq (send_ra) write them, so their
    // messages round-trip byte for byte: RA prefixes, MTU, then the link-layer addresses.
    let at = offset + (fixed < 0 ? RS_LEN : fixed);
    if (type === ICMPV6_ROUTER_ADVERTISEMENT) {
      for (const p of repr.prefixes) {
        bytes[at] = NDP_OPT_PREFIX_INFO;
        bytes[at + 1] = PREFIX_OPTION_LEN / NDP_OPTION_UNIT;
        bytes[at + 2] = p.prefixLength;
        bytes[at + 3] = (p.onLink ? PI_ON_LINK : 0) | (p.autonomous ? PI_AUTONOMOUS : 0);
        write32(bytes, at + 4, p.validLifetime);
        write32(bytes, at + 8, p.preferredLifetime);
        write32(bytes, at + 12, 0); // Reserved2
        p.prefix.writeTo(bytes, at + 16);
        at += PREFIX_OPTION_LEN;
      }
      if (repr.mtu >= 0) {
        bytes[at] = NDP_OPT_MTU;
        bytes[at + 1] = MTU_OPTION_LEN / NDP_OPTION_UNIT;
        write16(bytes, at + 2, 0);
        write32(bytes, at + 4, repr.mtu);
        at += MTU_OPTION_LEN;
      }
      for (const r of repr.rdnss) {
        const length = DNS_OPTION_HEADER + r.servers.length * IPV6_ADDRESS_LEN;
        bytes[at] = NDP_OPT_RDNSS;
        bytes[at + 1] = length / NDP_OPTION_UNIT;
        write16(bytes, at + 2, 0);
        write32(bytes, at + 4, r.lifetime);
        for (let i = 0; i < r.servers.length; i++) {
          r.servers[i].writeTo(bytes, at + DNS_OPTION_HEADER + i * IPV6_ADDRESS_LEN);
        }
        at += length;
      }
      for (const d of repr.dnssl) at = writeDnssl(bytes, at, d);
    }
    if (repr.sourceLinkLayer >= 0) {
      at = writeLinkLayerOption(bytes, at, NDP_OPT_SOURCE_LL, repr.sourceLinkLayer);
    }
    if (repr.targetLinkLayer >= 0) {
      at = writeLinkLayerOption(bytes, at, NDP_OPT_TARGET_LL, repr.targetLinkLayer);
    }
    if (repr.nonce >= 0) writeLinkLayerOption(bytes, at, NDP_OPT_NONCE, repr.nonce);
    storeChecksum(
      bytes,
      offset,
      total,
      offset + 2,
      ipv6PseudoHeaderSum(src, dst, IP_PROTO_ICMPV6, total),
    );
    return total;
  },
};

/** Writes a DNSSL option (RFC 8106 §5.2): names in uncompressed wire form, zero padding. */
function writeDnssl(bytes: Uint8Array, at: number, d: NdpDnssl): number {
  const length = dnsslOptionLength(d.domains);
  bytes.fill(0, at, at + length);
  bytes[at] = NDP_OPT_DNSSL;
  bytes[at + 1] = length / NDP_OPTION_UNIT;
  write32(bytes, at + 4, d.lifetime);
  let p = at + DNS_OPTION_HEADER;
  for (const name of d.domains) {
    if (name !== "") {
      for (const label of name.split(".")) {
        bytes[p++] = label.length;
        for (let i = 0; i < label.length; i++) bytes[p++] = label.charCodeAt(i);
      }
    }
    bytes[p++] = 0;
  }
  return at + length;
}

/** Writes an 8-byte option carrying a 6-byte value (a link-layer address, a nonce). */
function writeLinkLayerOption(bytes: Uint8Array, at: number, type: number, mac: number): number {
  bytes[at] = type;
  bytes[at + 1] = LL_OPTION_LEN / NDP_OPTION_UNIT;
  writeMac(bytes, at + 2, mac);
  return at + 2 + MAC_LEN;
}
