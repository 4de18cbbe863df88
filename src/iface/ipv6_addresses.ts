/**
 * Our IPv6 addresses (RFC 4862, RFC 7217, RFC 6724): the link-local address
 * (always, fe80::/64 with a stable interface identifier), static addresses
 * and addresses autoconfigured from router advertisements (SLAAC), each
 * going through Duplicate Address Detection before use, with valid and
 * preferred lifetimes; and source address selection.
 *
 * - Interface identifiers (RFC 7217 §5): `F(Prefix, Net_Iface, Network_ID,
 *   DAD_Counter, secret_key)` with SipHash-2-4 as the PRF (RFC 7217 §5 allows
 *   any PRF; SipHash is the keyed one rawstack already has, src/tcp/isn.ts),
 *   the MAC as Net_Iface and no Network_ID: the same prefix on the same
 *   interface under the same secret always gives the same address, another
 *   prefix an unrelated one. Reserved identifiers (RFC 5453) are skipped by
 *   counting DAD_Counter up.
 * - DAD (RFC 4862 §5.4): a new address is tentative; the table asks the host
 *   to join its solicited-node group and to send DupAddrDetectTransmits (1)
 *   Neighbor Solicitations from :: , RetransTimer (1 s) apart, after a random
 *   delay of up to MAX_RTR_SOLICITATION_DELAY (§5.4.2); an advertisement for
 *   it, or a solicitation from :: for it with another nonce (RFC 7527), marks
 *   it "duplicate" (reported, never used). A stable address that is
 *   duplicate is generated again with DAD_Counter + 1, up to IDGEN_RETRIES
 *   (RFC 7217 §6); a static one stays duplicate.
 * - SLAAC (RFC 4862 §5.5.3): prefix information with the A flag and a /64
 *   prefix forms an address; lifetimes follow (e), the two-hour rule.
 * - Source selection (RFC 6724 §5): rules 1 (same address), 2 (appropriate
 *   scope), 3 (avoid deprecated) and 8 (longest matching prefix) — the ones
 *   that matter with one interface and no policy table.
 *
 * Bounded: at most {@link Ipv6AddressOptions.maxAddresses} addresses.
 *
 * @module
 */

import type { Ipv6Words } from "../wire/checksum.ts";
import { Ipv6Address, Ipv6Cidr } from "../wire/ipv6_address.ts";
import { sipHash24, sipHashHigh } from "../wire/siphash.ts";
import { readI32 } from "../wire/view.ts";

/** RFC 4862 §5.1: DupAddrDetectTransmits default. */
export const DUP_ADDR_DETECT_TRANSMITS = 1;
/** RFC 4861 §10: MAX_RTR_SOLICITATION_DELAY (ms), the DAD start delay bound (RFC 4862 §5.4.2). */
export const MAX_DAD_DELAY_MS = 1_000;
/** RFC 7217 §7: IDGEN_RETRIES. */
export const IDGEN_RETRIES = 3;
/** RFC 4862 §5.5.3 (e): two hours (ms). */
export const TWO_HOURS_MS = 2 * 3600 * 1000;
/** Default maximum addresses (link-local, static, SLAAC, duplicates). */
export const DEFAULT_MAX_ADDRESSES = 16;
/** SLAAC needs a 64-bit interface identifier (RFC 4291 §2.5.1, RFC 4862 §5.5.3 (d)). */
const IID_PREFIX_LENGTH = 64;
/** The link-local prefix fe80::/64 (RFC 4291 §2.5.6). */
const LINK_LOCAL_W0 = 0xfe80_0000 | 0;

/** RFC 6164 §6: a /127 (or /128) has no Subnet-Router anycast address. */
const SUBNET_ANYCAST_MAX_PREFIX = 127;
/** RFC 2526 §2: reserved subnet anycast addresses in a /64 with EUI-64 format identifiers. */
const RESERVED_ANYCAST_PREFIX = 64;
/** …their interface identifier's high word: fdff:ffff (the u/l bit 0, all else 1). */
const RESERVED_ANYCAST_IID_HIGH = 0xfdff_ffff | 0;
/** …its low word without the 7-bit anycast ID: ffff:ff80. */
const RESERVED_ANYCAST_IID_LOW = 0xffff_ff80 | 0;
/** The 7-bit anycast ID (RFC 2526 §2). */
const RESERVED_ANYCAST_ID_MASK = 0x7f;

/** The mask of the `bits` leading bits of a 32-bit word (0 for none, −1 for all). */
function wordMask(bits: number): number {
  return bits <= 0 ? 0 : bits >= 32 ? -1 : -1 << (32 - bits);
}

/** State of an address (RFC 4862 §2), as listed. */
export type Ipv6AddressState = "tentative" | "preferred" | "deprecated" | "duplicate";

/** Where an address came from. */
export type Ipv6AddressOrigin = "link-local" | "static" | "slaac";

/** One address as listed by {@link Ipv6AddressTable.list} (and `stack.addresses()`). */
export interface Ipv6AddressInfo {
  /** Address family. */
  family: "ipv6";
  /** The address (RFC 5952). */
  address: string;
  /** Prefix length. */
  prefixLength: number;
  /** DAD / lifetime state. */
  state: Ipv6AddressState;
  /** How it was configured. */
  origin: Ipv6AddressOrigin;
  /** Seconds of valid lifetime left (Infinity for static and link-local). */
  validLifetimeS: number;
  /** Seconds of preferred lifetime left. */
  preferredLifetimeS: number;
}

/** One address of the table. */
export class Ipv6AddressEntry {
  /** The address. */
  address: Ipv6Address;
  /** Prefix length. */
  readonly prefixLength: number;
  /** How it was configured. */
  readonly origin: Ipv6AddressOrigin;
  /** The /64 prefix it was formed from (stable addresses), for regeneration. */
  readonly prefix: Ipv6Address;
  /** Current state. */
  state: Ipv6AddressState = "tentative";
  /** Valid until (ms; Infinity = forever). */
  validUntilMs: number = Infinity;
  /** Preferred until (ms). */
  preferredUntilMs: number = Infinity;
  /** DAD solicitations still to send. */
  dadLeft = 0;
  /** When the next DAD step is due. */
  dadNextMs = 0;
  /** RFC 7217 DAD_Counter of this address. */
  dadCounter = 0;
  /** The nonce of our DAD solicitations (RFC 7527), 48 bits. */
  nonce = 0;

  /**
   * Creates an empty address table.
   *
   * @param address the address
   * @param prefixLength prefix length
   * @param origin how it was configured
   * @param prefix the prefix it was formed from
   */
  constructor(
    address: Ipv6Address,
    prefixLength: number,
    origin: Ipv6AddressOrigin,
    prefix: Ipv6Address,
  ) {
    this.address = address;
    this.prefixLength = prefixLength;
    this.origin = origin;
    this.prefix = prefix;
  }

  /** Usable as a source: DAD finished, not duplicate. */
  get usable(): boolean {
    return this.state === "preferred" || this.state === "deprecated";
  }
}

/** What the table needs from the IPv6 layer. */
export interface Ipv6AddressHost {
  /** Join (or, `join` false, leave) the solicited-node group of `address` (MLDv2 report). */
  solicitedNodeGroup(address: Ipv6Address, join: boolean): void;
  /** Send a DAD Neighbor Solicitation for `target` from :: with `nonce`. */
  sendDadSolicitation(target: Ipv6Address, nonce: number): void;
  /** DAD finished for `entry` (now preferred): e.g. announce it with an unsolicited NA. */
  addressReady?(entry: Ipv6AddressEntry): void;
  /** `entry` was found duplicate (already marked). */
  duplicateFound?(entry: Ipv6AddressEntry): void;
}

/** Options of an {@link Ipv6AddressTable}. */
export interface Ipv6AddressOptions {
  /** Maximum addresses; default 16. */
  maxAddresses?: number;
  /** DupAddrDetectTransmits (0 turns DAD off); default 1. */
  dadTransmits?: number;
  /** Largest random delay before the first DAD solicitation (ms); default 1,000. */
  maxDadDelayMs?: number;
  /** RFC 7217 secret_key (16 bytes); default a random one per process (give one to keep addresses across restarts). */
  secret?: Uint8Array;
  /** Randomness in [0, 1) (DAD delay, nonces); default Math.random. */
  random?: () => number;
}

/** Counters of an {@link Ipv6AddressTable}. */
export interface Ipv6AddressStats {
  /** DAD solicitations sent. */
  dadSolicitationsSent: number;
  /** Addresses found duplicate. */
  duplicates: number;
  /** Stable addresses generated again after a duplicate (RFC 7217 §6). */
  regenerated: number;
  /** DAD solicitations that were our own, looped back (same nonce, RFC 7527): ignored. */
  dadLoopedBack: number;
  /** SLAAC addresses formed. */
  slaacAddresses: number;
  /** Prefix options not usable for SLAAC (length ≠ 64, link-local, preferred > valid). */
  slaacIgnored: number;
  /** Lifetime updates limited by the two-hour rule (RFC 4862 §5.5.3 (e)). */
  twoHourRule: number;
  /** Addresses whose preferred lifetime ran out. */
  deprecated: number;
  /** Addresses removed when their valid lifetime ran out. */
  expired: number;
  /** Addresses not added because the table was full. */
  tableFull: number;
  /** An advertisement claims one of our preferred addresses (logged, kept: RFC 4862 §5.4.4). */
  conflicts: number;
}

/**
 * Common prefix length of two addresses (0..128).
 *
 * @param a first address
 * @param b second address
 * @returns leading bits equal
 */
export function commonPrefixLength(a: Ipv6Words, b: Ipv6Words): number {
  let x = a.w0 ^ b.w0;
  if (x !== 0) return Math.clz32(x);
  if ((x = a.w1 ^ b.w1) !== 0) return 32 + Math.clz32(x);
  if ((x = a.w2 ^ b.w2) !== 0) return 64 + Math.clz32(x);
  if ((x = a.w3 ^ b.w3) !== 0) return 96 + Math.clz32(x);
  return 128;
}

/**
 * The scope of an address (RFC 4291 §2.7 for multicast, RFC 6724 §3.1 for
 * unicast: link-local and loopback 2, everything else global 14).
 *
 * @param a the address
 * @returns the scope value
 */
export function addressScope(a: Ipv6Address): number {
  if (a.isMulticast()) return a.multicastScope();
  if (a.isLinkLocal() || a.isLoopback()) return 2;
  return 14;
}

/** RFC 5453 reserved interface identifiers: all zeros and fdff:ffff:ffff:ff80..ffff. */
function reservedIid(w2: number, w3: number): boolean {
  if (w2 === 0 && w3 === 0) return true;
  return w2 === (0xfdff_ffff | 0) && (w3 >>> 7) === (0xffff_ff80 >>> 7);
}

const prfInput = new Uint8Array(8 + 6 + 1);

/**
 * RFC 7217 §5: the stable interface identifier for `prefix` (its first 64
 * bits) on the interface with `mac`, as words 2 and 3 of the address.
 *
 * @param secret 16-byte secret key
 * @param prefix the prefix
 * @param mac the interface's MAC (Net_Iface)
 * @param dadCounter DAD_Counter
 * @returns the address
 */
export function stableAddress(
  secret: Uint8Array,
  prefix: Ipv6Words,
  mac: number,
  dadCounter: number,
): Ipv6Address {
  for (let counter = dadCounter;; counter++) {
    const b = prfInput;
    b[0] = prefix.w0 >>> 24;
    b[1] = prefix.w0 >>> 16;
    b[2] = prefix.w0 >>> 8;
    b[3] = prefix.w0;
    b[4] = prefix.w1 >>> 24;
    b[5] = prefix.w1 >>> 16;
    b[6] = prefix.w1 >>> 8;
    b[7] = prefix.w1;
    const hi = Math.floor(mac / 0x1_0000_0000);
    b[8] = hi >>> 8;
    b[9] = hi;
    b[10] = mac >>> 24;
    b[11] = mac >>> 16;
    b[12] = mac >>> 8;
    b[13] = mac;
    b[14] = counter;
    const lo = sipHash24(secret, b, 0, b.length) | 0;
    const high = sipHashHigh() | 0;
    if (!reservedIid(high, lo)) return new Ipv6Address(prefix.w0, prefix.w1, high, lo);
  }
}

/**
 * The address table of one interface.
 *
 * @example
 * ```ts
 * import { Ipv6AddressTable } from "./ipv6_addresses.ts";
 * const groups: string[] = [];
 * const t = new Ipv6AddressTable(0x020000000002, {
 *   solicitedNodeGroup: (a) => groups.push(a.solicitedNode().toString()),
 *   sendDadSolicitation: () => {},
 * }, { secret: new Uint8Array(16), maxDadDelayMs: 0 });
 * const ll = t.addLinkLocal(0)!;
 * console.assert(ll.state === "tentative" && groups.length === 1);
 * t.poll(0);      // the DAD solicitation
 * t.poll(1000);   // no answer in RetransTimer: preferred
 * console.assert(ll.state === "preferred" && ll.address.isLinkLocal());
 * ```
 */
export class Ipv6AddressTable {
  /** Counters. */
  readonly stats: Ipv6AddressStats = {
    dadSolicitationsSent: 0,
    duplicates: 0,
    regenerated: 0,
    dadLoopedBack: 0,
    slaacAddresses: 0,
    slaacIgnored: 0,
    twoHourRule: 0,
    deprecated: 0,
    expired: 0,
    tableFull: 0,
    conflicts: 0,
  };
  /** RetransTimer (ms) between DAD solicitations and before the verdict (RA may change it). */
  retransTimerMs = 1_000;
  readonly #entries: Ipv6AddressEntry[] = [];
  /** Bumped whenever an entry is added, removed or changes state (see {@link version}). */
  #version = 0;
  /** The last address object {@link isUsable} found not ours, and {@link version} then. */
  #notOurs: Ipv6Address | null = null;
  #notOursVersion = -1;
  readonly #mac: number;
  readonly #host: Ipv6AddressHost;
  readonly #max: number;
  readonly #dadTransmits: number;
  readonly #maxDelayMs: number;
  readonly #secret: Uint8Array;
  readonly #random: () => number;
  #deadline = Infinity;

  /**
   * Creates an empty address table.
   *
   * @param mac the interface's MAC
   * @param host group membership and DAD transmission
   * @param options bounds, DAD, secret, randomness
   */
  constructor(mac: number, host: Ipv6AddressHost, options: Ipv6AddressOptions = {}) {
    this.#mac = mac;
    this.#host = host;
    this.#max = options.maxAddresses ?? DEFAULT_MAX_ADDRESSES;
    this.#dadTransmits = options.dadTransmits ?? DUP_ADDR_DETECT_TRANSMITS;
    this.#maxDelayMs = options.maxDadDelayMs ?? MAX_DAD_DELAY_MS;
    this.#secret = options.secret ?? defaultSecret();
    if (this.#secret.length < 16) throw new TypeError("IPv6 stable address secret needs 16 bytes");
    this.#random = options.random ?? Math.random;
  }

  /** Every address (read-only use). */
  get entries(): readonly Ipv6AddressEntry[] {
    return this.#entries;
  }

  /**
   * A number that changes whenever an address is added or removed or changes
   * state: an answer derived from the table (e.g. the next-hop cache of
   * `NeighbourDiscovery.nextHop`) stays valid while it is the same.
   */
  get version(): number {
    return this.#version;
  }

  /**
   * Adds the link-local address fe80::/64 with a stable identifier.
   *
   * @param nowMs current time
   * @returns the entry, or null when the table is full
   */
  addLinkLocal(nowMs: number): Ipv6AddressEntry | null {
    const prefix = new Ipv6Address(LINK_LOCAL_W0, 0, 0, 0);
    return this.#add(
      nowMs,
      stableAddress(this.#secret, prefix, this.#mac, 0),
      64,
      "link-local",
      prefix,
    );
  }

  /**
   * Adds a static address.
   *
   * @param nowMs current time
   * @param cidr address and prefix length
   * @returns the entry (an existing one for the same address), or null when full
   */
  addStatic(nowMs: number, cidr: Ipv6Cidr): Ipv6AddressEntry | null {
    const existing = this.find(cidr.address);
    if (existing !== null) return existing;
    return this.#add(nowMs, cidr.address, cidr.prefixLength, "static", cidr.network);
  }

  /**
   * RFC 4862 §5.5.3: a Prefix Information option with the A flag.
   *
   * @param nowMs current time
   * @param prefix the prefix
   * @param prefixLength its length
   * @param validS valid lifetime (s; 0xffffffff = infinity)
   * @param preferredS preferred lifetime (s)
   */
  autoconfigure(
    nowMs: number,
    prefix: Ipv6Address,
    prefixLength: number,
    validS: number,
    preferredS: number,
  ): void {
    // (b) link-local prefix, (c) preferred > valid, (d) prefix + IID ≠ 128 bits: ignore.
    if (prefix.isLinkLocal() || preferredS > validS || prefixLength !== IID_PREFIX_LENGTH) {
      this.stats.slaacIgnored++;
      return;
    }
    const validMs = lifetimeMs(validS);
    const preferredMs = lifetimeMs(preferredS);
    let e: Ipv6AddressEntry | null = null;
    for (const x of this.#entries) {
      if (x.origin === "slaac" && x.prefix.w0 === prefix.w0 && x.prefix.w1 === prefix.w1) {
        if (x.state !== "duplicate") e = x;
      }
    }
    if (e === null) {
      if (validS === 0) return; // (d): only a non-zero valid lifetime forms an address
      const net = new Ipv6Address(prefix.w0, prefix.w1, 0, 0);
      e = this.#add(nowMs, stableAddress(this.#secret, net, this.#mac, 0), 64, "slaac", net);
      if (e === null) return;
      this.stats.slaacAddresses++;
      e.validUntilMs = nowMs + validMs;
      e.preferredUntilMs = nowMs + preferredMs;
      this.#schedule(Math.min(e.validUntilMs, e.preferredUntilMs));
      return;
    }
    // (e): the preferred lifetime is reset; the valid lifetime only by the two-hour rule.
    e.preferredUntilMs = nowMs + preferredMs;
    if (e.state === "deprecated" && preferredMs > 0) {
      e.state = "preferred";
      this.#version++;
    }
    const remaining = e.validUntilMs - nowMs;
    if (validMs > TWO_HOURS_MS || validMs > remaining) {
      e.validUntilMs = nowMs + validMs;
    } else if (remaining > TWO_HOURS_MS) {
      this.stats.twoHourRule++;
      e.validUntilMs = nowMs + TWO_HOURS_MS;
    } else {
      this.stats.twoHourRule++;
    }
    this.#schedule(Math.min(e.validUntilMs, e.preferredUntilMs));
  }

  /**
   * Our entry for `a` (any state), or null.
   *
   * @param a an address
   * @returns the entry or null
   */
  find(a: Ipv6Words): Ipv6AddressEntry | null {
    for (const e of this.#entries) {
      const x = e.address;
      if (x.w3 === a.w3 && x.w2 === a.w2 && x.w1 === a.w1 && x.w0 === a.w0) return e;
    }
    return null;
  }

  /**
   * Whether `a` is a usable address of ours (`find(a)?.usable`), remembering the last
   * address object found not to be while the table is unchanged ({@link version}): the
   * sending path asks about one peer object per packet of a connection.
   *
   * @param a an address
   * @returns true for a preferred or deprecated address of ours
   */
  isUsable(a: Ipv6Address): boolean {
    if (a === this.#notOurs && this.#version === this.#notOursVersion) return false;
    if (this.find(a)?.usable === true) return true;
    this.#notOurs = a;
    this.#notOursVersion = this.#version;
    return false;
  }

  /**
   * Whether `bytes[offset..+16)` is one of our usable addresses (packet input).
   *
   * @param bytes buffer
   * @param offset where the address starts
   * @returns true for a preferred or deprecated address of ours
   */
  isOursAt(bytes: Uint8Array, offset: number): boolean {
    const entries = this.#entries;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      if (e.usable && e.address.equalsAt(bytes, offset)) return true;
    }
    return false;
  }

  /**
   * Whether the address at `bytes[offset]` is one we know to be anycast (RFC
   * 4443 §2.4 (e.6)): the Subnet-Router anycast address of the prefix of an
   * address of ours (the bits after the prefix all zero, RFC 4291 §2.6.1; not
   * for /127 and /128, RFC 6164 §6), or in such a /64 a reserved subnet
   * anycast address (interface identifier fdff:ffff:ffff:ff80 to …:ffff, RFC
   * 2526 §2). Runs only when an error is about to be sent.
   *
   * @param bytes buffer
   * @param offset address start
   * @returns true when anycast
   */
  isAnycastAt(bytes: Uint8Array, offset: number): boolean {
    const w0 = readI32(bytes, offset);
    const w1 = readI32(bytes, offset + 4);
    const w2 = readI32(bytes, offset + 8);
    const w3 = readI32(bytes, offset + 12);
    for (const e of this.#entries) {
      const len = e.prefixLength;
      if (len <= 0 || len >= SUBNET_ANYCAST_MAX_PREFIX) continue;
      const a = e.address;
      const m0 = wordMask(len), m1 = wordMask(len - 32);
      const m2 = wordMask(len - 64), m3 = wordMask(len - 96);
      if (
        ((w0 ^ a.w0) & m0) !== 0 || ((w1 ^ a.w1) & m1) !== 0 || ((w2 ^ a.w2) & m2) !== 0 ||
        ((w3 ^ a.w3) & m3) !== 0
      ) {
        continue;
      }
      if ((w0 & ~m0) === 0 && (w1 & ~m1) === 0 && (w2 & ~m2) === 0 && (w3 & ~m3) === 0) {
        return true;
      }
      if (
        len === RESERVED_ANYCAST_PREFIX && w2 === RESERVED_ANYCAST_IID_HIGH &&
        (w3 & ~RESERVED_ANYCAST_ID_MASK) === RESERVED_ANYCAST_IID_LOW
      ) {
        return true;
      }
    }
    return false;
  }

  /**
   * A Neighbor Solicitation from :: for `target` (another node's DAD, RFC
   * 4862 §5.4.3): our tentative address is then duplicate, unless the nonce
   * is ours (our own solicitation looped back, RFC 7527 §4).
   *
   * @param nowMs current time
   * @param target the solicited address
   * @param nonce the nonce option, or -1
   * @returns true when `target` was a tentative address of ours
   */
  dadSolicitationReceived(nowMs: number, target: Ipv6Words, nonce: number): boolean {
    const e = this.find(target);
    if (e === null || e.state !== "tentative") return false;
    if (nonce >= 0 && nonce === e.nonce) {
      this.stats.dadLoopedBack++;
      return true;
    }
    this.#duplicate(nowMs, e);
    return true;
  }

  /**
   * A Neighbor Advertisement for `target` (RFC 4862 §5.4.4): a tentative
   * address of ours is duplicate; a preferred one is in conflict (counted).
   *
   * @param nowMs current time
   * @param target the advertised address
   * @returns true when `target` is one of our addresses
   */
  advertisementReceived(nowMs: number, target: Ipv6Words): boolean {
    const e = this.find(target);
    if (e === null) return false;
    if (e.state === "tentative") this.#duplicate(nowMs, e);
    else if (e.state !== "duplicate") this.stats.conflicts++;
    return true;
  }

  /**
   * RFC 6724 §5 source selection for `dst`: rules 1, 2, 3 and 8 among the usable addresses.
   *
   * @param dst the destination
   * @returns our best source, or null without a usable address
   */
  selectSource(dst: Ipv6Address): Ipv6Address | null {
    const dstScope = addressScope(dst);
    let best: Ipv6AddressEntry | null = null;
    let bestScope = 0;
    let bestCommon = 0;
    for (const e of this.#entries) {
      if (!e.usable) continue;
      const a = e.address;
      // Rule 1: prefer the same address.
      if (a.equals(dst)) return a;
      const scope = addressScope(a);
      const common = Math.min(commonPrefixLength(a, dst), IID_PREFIX_LENGTH);
      if (best === null) {
        best = e;
        bestScope = scope;
        bestCommon = common;
        continue;
      }
      // Rule 2: prefer appropriate scope.
      if (scope !== bestScope) {
        const better = scope < bestScope ? scope >= dstScope : bestScope < dstScope;
        if (better) {
          best = e;
          bestScope = scope;
          bestCommon = common;
        }
        continue;
      }
      // Rule 3: avoid deprecated addresses.
      const dep = e.state === "deprecated";
      const bestDep = best.state === "deprecated";
      if (dep !== bestDep) {
        if (!dep) {
          best = e;
          bestCommon = common;
        }
        continue;
      }
      // Rule 8: use the longest matching prefix.
      if (common > bestCommon) {
        best = e;
        bestCommon = common;
      }
    }
    return best?.address ?? null;
  }

  /**
   * Runs due work: DAD steps, deprecation, expiry.
   *
   * @param nowMs current time
   */
  poll(nowMs: number): void {
    if (nowMs < this.#deadline) return;
    let next = Infinity;
    const entries = this.#entries;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      if (e.state === "tentative" && nowMs >= e.dadNextMs) {
        if (e.dadLeft > 0) {
          e.dadLeft--;
          e.dadNextMs = nowMs + this.retransTimerMs;
          this.stats.dadSolicitationsSent++;
          this.#host.sendDadSolicitation(e.address, e.nonce);
        } else {
          // RFC 4862 §5.4: no duplicate seen within RetransTimer of the last solicitation.
          e.state = nowMs >= e.preferredUntilMs ? "deprecated" : "preferred";
          this.#version++;
          this.#host.addressReady?.(e);
        }
      }
      if (e.state === "preferred" && nowMs >= e.preferredUntilMs) {
        e.state = "deprecated";
        this.#version++;
        this.stats.deprecated++;
      }
      if (nowMs >= e.validUntilMs) {
        // RFC 4862 §5.5.4: an invalid address is removed.
        entries.splice(i--, 1);
        this.#version++;
        this.stats.expired++;
        if (e.state !== "duplicate") this.#host.solicitedNodeGroup(e.address, false);
        continue;
      }
      if (e.state === "tentative") next = Math.min(next, e.dadNextMs);
      if (e.state === "preferred") next = Math.min(next, e.preferredUntilMs);
      next = Math.min(next, e.validUntilMs);
    }
    this.#deadline = next;
  }

  /**
   * When {@link poll} next has work.
   *
   * @returns the earliest timer, or Infinity
   */
  nextDeadline(): number {
    return this.#deadline;
  }

  /**
   * Lists the addresses (allocates).
   *
   * @param nowMs current time
   * @returns one record per address
   */
  list(nowMs: number): Ipv6AddressInfo[] {
    return this.#entries.map((e) => ({
      family: "ipv6" as const,
      address: e.address.toString(),
      prefixLength: e.prefixLength,
      state: e.state,
      origin: e.origin,
      validLifetimeS: e.validUntilMs === Infinity
        ? Infinity
        : Math.max(0, Math.floor((e.validUntilMs - nowMs) / 1000)),
      preferredLifetimeS: e.preferredUntilMs === Infinity
        ? Infinity
        : Math.max(0, Math.floor((e.preferredUntilMs - nowMs) / 1000)),
    }));
  }

  #add(
    nowMs: number,
    address: Ipv6Address,
    prefixLength: number,
    origin: Ipv6AddressOrigin,
    prefix: Ipv6Address,
  ): Ipv6AddressEntry | null {
    if (this.#entries.length >= this.#max) {
      this.stats.tableFull++;
      return null;
    }
    const e = new Ipv6AddressEntry(address, prefixLength, origin, prefix);
    this.#entries.push(e);
    this.#version++;
    this.#startDad(nowMs, e);
    return e;
  }

  #startDad(nowMs: number, e: Ipv6AddressEntry): void {
    e.state = "tentative";
    this.#version++;
    e.dadLeft = this.#dadTransmits;
    e.nonce = Math.floor(this.#random() * 0x1_0000_0000_0000);
    // §5.4.2: join the solicited-node group first, then wait a random delay.
    this.#host.solicitedNodeGroup(e.address, true);
    e.dadNextMs = nowMs + Math.floor(this.#random() * this.#maxDelayMs);
    this.#schedule(e.dadNextMs);
  }

  #duplicate(nowMs: number, e: Ipv6AddressEntry): void {
    e.state = "duplicate";
    this.#version++;
    this.stats.duplicates++;
    this.#host.solicitedNodeGroup(e.address, false);
    this.#host.duplicateFound?.(e);
    // RFC 7217 §6: a stable address is generated again with the next DAD_Counter.
    if (e.origin !== "static" && e.dadCounter < IDGEN_RETRIES && this.#entries.length < this.#max) {
      const again = new Ipv6AddressEntry(
        stableAddress(this.#secret, e.prefix, this.#mac, e.dadCounter + 1),
        e.prefixLength,
        e.origin,
        e.prefix,
      );
      again.dadCounter = e.dadCounter + 1;
      again.validUntilMs = e.validUntilMs;
      again.preferredUntilMs = e.preferredUntilMs;
      this.#entries.push(again);
      this.#version++;
      this.stats.regenerated++;
      this.#startDad(nowMs, again);
    }
  }

  #schedule(t: number): void {
    if (t < this.#deadline) this.#deadline = t;
  }
}

/** The secret of tables made without one: random, one per process (like TCP's ISN secret). */
let processStableSecret: Uint8Array | null = null;

function defaultSecret(): Uint8Array {
  return processStableSecret ??= crypto.getRandomValues(new Uint8Array(16));
}

/** Seconds (0xffffffff = infinity) to ms. */
function lifetimeMs(seconds: number): number {
  return seconds === 0xffff_ffff ? Infinity : seconds * 1000;
}
