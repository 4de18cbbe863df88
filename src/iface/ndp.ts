/**
 * Neighbor Discovery for a host (RFC 4861) and the multicast listener
 * reports it needs (RFC 3810): validation and processing of received RS,
 * RA, NS, NA and redirect messages, the default router list and default
 * router selection (§6.3.6), the prefix list (on-link prefixes with
 * lifetimes, §6.3.4, §5.2), the link parameters a router advertises (cur
 * hop limit, reachable time, retrans timer, MTU bounded below by 1,280),
 * router solicitations at start (§6.3.7), redirects (§8.3, a bounded
 * destination cache), and MLDv2 reports for the groups we join (RFC 3810
 * §6.1; general queries are answered with a current-state report), the M
 * and O flags of each router (§4.2, kept and listed: DHCPv6 is not
 * implemented), and the recursive DNS servers routers advertise (RFC 8106
 * §5.3.1, §6: a bounded DNS server list with lifetimes, handed to the stack's
 * resolver through {@link NdpHost.dnsServersChanged}; DNS search lists are
 * counted and ignored: the resolver has no search list).
 *
 * Every received NDP message passes the validity checks of §6.1.1, §6.1.2,
 * §7.1.1, §7.1.2 and §8.1 (hop limit 255, code 0 and the message rules in
 * `NdpRepr.parse`), and is ignored when it came fragmented (RFC 6980 §5).
 * Hostile input is bounded: at most {@link NdpOptions.maxRouters} routers,
 * {@link NdpOptions.maxPrefixes} prefixes and {@link NdpOptions.maxRedirects}
 * redirects; beyond that new ones are dropped and counted (an RA flood
 * cannot grow memory or take a working router's place).
 *
 * @module
 */

import { TAGGED_TIME_SEED } from "../time/clock.ts";
import { isWireError } from "../wire/error.ts";
import {
  ICMPV6_MLD_QUERY,
  ICMPV6_NEIGHBOR_ADVERTISEMENT,
  ICMPV6_NEIGHBOR_SOLICITATION,
  ICMPV6_REDIRECT,
  ICMPV6_ROUTER_ADVERTISEMENT,
  ICMPV6_ROUTER_SOLICITATION,
  Icmpv6Packet,
} from "../wire/icmpv6.ts";
import { IPV6_MIN_MTU } from "../wire/ipv6.ts";
import { Ipv6Address } from "../wire/ipv6_address.ts";
import {
  MLD_CHANGE_TO_EXCLUDE,
  MLD_CHANGE_TO_INCLUDE,
  MLD_MODE_IS_EXCLUDE,
  MldQueryRepr,
  type MldRecord,
} from "../wire/mld.ts";
import { NDP_HOP_LIMIT, NdpRepr, newNdpRepr } from "../wire/ndp.ts";
import type { Ipv6Words } from "../wire/checksum.ts";
import type { Ipv6AddressTable } from "./ipv6_addresses.ts";
import type { NeighbourCache } from "./neighbour_cache.ts";

/** RFC 4861 §10: MAX_RTR_SOLICITATION_DELAY (ms). */
export const MAX_RTR_SOLICITATION_DELAY_MS = 1_000;
/** RFC 4861 §10: RTR_SOLICITATION_INTERVAL (ms). */
export const RTR_SOLICITATION_INTERVAL_MS = 4_000;
/** RFC 4861 §10: MAX_RTR_SOLICITATIONS. */
export const MAX_RTR_SOLICITATIONS = 3;
/** Default routers kept (Linux keeps every one; a bound stops RA floods). */
export const DEFAULT_MAX_ROUTERS = 8;
/** Default on-link prefixes kept. */
export const DEFAULT_MAX_PREFIXES = 16;
/** Default redirected destinations kept. */
export const DEFAULT_MAX_REDIRECTS = 64;
/** RFC 3810 §9.11: Unsolicited Report Interval (ms); a state change is reported again within it. */
export const MLD_UNSOLICITED_REPORT_INTERVAL_MS = 1_000;
/** RFC 3810 §9.1: Robustness Variable: a state-change report is sent this many times. */
export const MLD_ROBUSTNESS = 2;
/** How long a redirect is followed (ms; Linux keeps it in the route cache, ≈ 10 min). */
export const REDIRECT_LIFETIME_MS = 10 * 60 * 1000;
/**
 * Default recursive DNS servers kept from RAs: RFC 8106 §5.3.1 "the ability
 * to store a total of at least three RDNSS addresses … is RECOMMENDED".
 */
export const DEFAULT_MAX_DNS_SERVERS = 3;

/** Options of {@link NeighbourDiscovery}. */
export interface NdpOptions {
  /** Routers in the default router list; default 8. */
  maxRouters?: number;
  /** Prefixes in the prefix list; default 16. */
  maxPrefixes?: number;
  /** Redirected destinations; default 64. */
  maxRedirects?: number;
  /** Recursive DNS servers kept from RAs (RFC 8106 §5.3.1); default 3, 0 ignores RDNSS. */
  maxDnsServers?: number;
  /** Accept router advertisements (autoconfiguration, default routers); default true. */
  acceptRa?: boolean;
  /** Form addresses from RA prefixes (SLAAC); default true. */
  slaac?: boolean;
  /** Router solicitations to send at start; default 3 (0 = none). */
  routerSolicitations?: number;
  /** Randomness in [0, 1) (RS delay); default Math.random. */
  random?: () => number;
}

/** Counters of {@link NeighbourDiscovery} (the `ndp` section of the stack's stats). */
export interface NdpStats {
  /** NDP messages received (types 133–137). */
  rxMessages: number;
  /** Dropped: hop limit not 255 (RFC 4861 §6.1, §7.1, §8.1). */
  rxBadHopLimit: number;
  /** Dropped: arrived in a fragmented packet or with a Fragment header (RFC 6980 §5). */
  rxFragmented: number;
  /** Dropped: failed `NdpRepr.parse` (length, checksum, code, address and option rules). */
  rxInvalid: number;
  /** Router solicitations received (a host ignores them, §6.2.6). */
  rxRouterSolicitations: number;
  /** Router advertisements processed. */
  rxRouterAdvertisements: number;
  /** Neighbor solicitations processed. */
  rxNeighbourSolicitations: number;
  /** Neighbor advertisements processed. */
  rxNeighbourAdvertisements: number;
  /** Redirects followed. */
  rxRedirects: number;
  /** Redirects ignored: not from the current first-hop router for the destination (§8.1). */
  rxRedirectsIgnored: number;
  /** Router advertisements ignored (acceptRa false). */
  raIgnored: number;
  /** A new router not added: the router list is full. */
  routersFull: number;
  /** A new prefix not added: the prefix list is full. */
  prefixesFull: number;
  /** A redirect not kept: the table is full of live ones. */
  redirectsFull: number;
  /** RA MTU options outside 1,280..link MTU: ignored (RFC 4861 §6.3.4, RFC 8200 §5). */
  raBadMtu: number;
  /** Solicitations for an address that is not ours: ignored. */
  nsNotForUs: number;
  /** Advertisements sent (solicited answers and unsolicited announcements). */
  txAdvertisements: number;
  /** Solicitations sent (resolution, NUD, DAD). */
  txSolicitations: number;
  /** Router solicitations sent. */
  txRouterSolicitations: number;
  /** MLDv2 reports sent. */
  txMldReports: number;
  /** MLD queries answered. */
  rxMldQueries: number;
  /** Routers whose lifetime ran out. */
  routersExpired: number;
  /** Prefixes whose lifetime ran out. */
  prefixesExpired: number;
  /** Recursive DNS servers learned from RAs (RFC 8106 §5.1; new ones, not refreshes). */
  rdnssLearned: number;
  /** RDNSS addresses ignored: multicast, unspecified or loopback. */
  rdnssInvalid: number;
  /** A server dropped for a new one: the list was full (RFC 8106 §6.2 (d): the one expiring first). */
  rdnssReplaced: number;
  /** Servers whose lifetime ran out (or an RA said lifetime 0). */
  rdnssExpired: number;
  /** DNS search list options ignored (RFC 8106 §5.2): the resolver has no search list. */
  dnsslIgnored: number;
}

/** One recursive DNS server learned from router advertisements, as listed. */
export interface DnsServerInfo {
  /** The server's address. */
  address: string;
  /** Seconds of lifetime left (Infinity for 0xffffffff). */
  lifetimeS: number;
}

/** One router of the default router list, as listed. */
export interface RouterInfo {
  /** The router's link-local address. */
  address: string;
  /** Seconds of router lifetime left. */
  lifetimeS: number;
  /** M flag of its last RA: addresses are available by DHCPv6 (RFC 4861 §4.2). */
  managed: boolean;
  /** O flag of its last RA: other configuration is available by DHCPv6 (RFC 4861 §4.2). */
  other: boolean;
}

/** One on-link prefix, as listed. */
export interface PrefixInfo {
  /** The prefix. */
  prefix: string;
  /** Its length. */
  prefixLength: number;
  /** Seconds of valid lifetime left (Infinity for a static one). */
  validLifetimeS: number;
}

/** What Neighbor Discovery needs from the IPv6 layer. */
export interface NdpHost {
  /**
   * Send an NDP message (hop limit 255) from `src` to `dst`; to `mac` when ≥ 0,
   * to the group's MAC for a multicast `dst`, else through neighbour resolution.
   */
  sendNdp(repr: NdpRepr, src: Ipv6Address, dst: Ipv6Address, mac: number): void;
  /** Send an MLDv2 report (hop limit 1, router alert) with `records` to ff02::16. */
  sendMldReport(records: MldRecord[]): void;
  /** The link MTU changed (RA MTU option). */
  linkMtuChanged(mtu: number): void;
  /** The RA's Cur Hop Limit (non-zero) is the new default hop limit. */
  hopLimitChanged(hopLimit: number): void;
  /** The DNS server list learned from RAs changed (RFC 8106 §6): the servers now, best first. */
  dnsServersChanged?(servers: readonly Ipv6Address[]): void;
}

class Router {
  /** M and O flags of its last advertisement (RFC 4861 §4.2). */
  managed = false;
  other = false;
  constructor(readonly address: Ipv6Address, public expiresMs: number) {}
}

class DnsServerEntry {
  constructor(readonly address: Ipv6Address, public expiresMs: number) {}
}

class Prefix {
  constructor(
    readonly prefix: Ipv6Address,
    readonly length: number,
    public expiresMs: number,
  ) {}
}

class Redirect {
  constructor(
    readonly destination: Ipv6Address,
    public target: Ipv6Address,
    public expiresMs: number,
  ) {}
}

/** The mask of the `bits` leading bits of a 32-bit word (0 for none, −1 for all). */
function wordMask(bits: number): number {
  return bits <= 0 ? 0 : bits >= 32 ? -1 : -1 << (32 - bits);
}

/** Prefix match of `a` against `p`/`len` (allocates nothing: it runs per packet sent). */
function inPrefix(a: Ipv6Words, p: Ipv6Words, len: number): boolean {
  return ((a.w0 ^ p.w0) & wordMask(len)) === 0 && ((a.w1 ^ p.w1) & wordMask(len - 32)) === 0 &&
    ((a.w2 ^ p.w2) & wordMask(len - 64)) === 0 && ((a.w3 ^ p.w3) & wordMask(len - 96)) === 0;
}

function wordsEqual(a: Ipv6Words, b: Ipv6Words): boolean {
  return a.w0 === b.w0 && a.w1 === b.w1 && a.w2 === b.w2 && a.w3 === b.w3;
}

/** Seconds (0xffffffff = infinity) to an expiry time. */
function expiry(nowMs: number, seconds: number): number {
  return seconds === 0xffff_ffff ? Infinity : nowMs + seconds * 1000;
}

/**
 * Neighbor Discovery for one interface. See the module documentation.
 *
 * @example
 * ```ts
 * import { NeighbourDiscovery } from "./ndp.ts";
 * console.assert(typeof NeighbourDiscovery === "function"); // see tests/iface/ndp_test.ts
 * ```
 */
export class NeighbourDiscovery {
  /**
   * Our advertisements carry the Router flag (RFC 4861 §4.4): set on the
   * interfaces of a forwarding router.
   */
  advertiseRouter = false;
  /** Counters. */
  readonly stats: NdpStats = {
    rxMessages: 0,
    rxBadHopLimit: 0,
    rxFragmented: 0,
    rxInvalid: 0,
    rxRouterSolicitations: 0,
    rxRouterAdvertisements: 0,
    rxNeighbourSolicitations: 0,
    rxNeighbourAdvertisements: 0,
    rxRedirects: 0,
    rxRedirectsIgnored: 0,
    raIgnored: 0,
    routersFull: 0,
    prefixesFull: 0,
    redirectsFull: 0,
    raBadMtu: 0,
    nsNotForUs: 0,
    txAdvertisements: 0,
    txSolicitations: 0,
    txRouterSolicitations: 0,
    txMldReports: 0,
    rxMldQueries: 0,
    routersExpired: 0,
    prefixesExpired: 0,
    rdnssLearned: 0,
    rdnssInvalid: 0,
    rdnssReplaced: 0,
    rdnssExpired: 0,
    dnsslIgnored: 0,
  };
  /** The link's MAC. */
  readonly mac: number;
  readonly #host: NdpHost;
  readonly #addresses: Ipv6AddressTable;
  readonly #neighbours: NeighbourCache;
  readonly #routers: Router[] = [];
  readonly #prefixes: Prefix[] = [];
  readonly #redirects: Redirect[] = [];
  /**
   * The last destination {@link nextHop} found on-link by a rule that does not age (see
   * there), and the address table's version then.
   */
  #onLinkDst: Ipv6Address | null = null;
  #onLinkVersion = -1;
  /** RFC 8106 §6.1: the DNS Server List, in the order the servers were learned. */
  readonly #dnsServers: DnsServerEntry[] = [];
  readonly #maxDnsServers: number;
  /** Multicast groups we listen to (besides ff02::1), with reference counts. */
  readonly #groups: { group: Ipv6Address; refs: number }[] = [];
  readonly #maxRouters: number;
  readonly #maxPrefixes: number;
  readonly #maxRedirects: number;
  readonly #acceptRa: boolean;
  readonly #slaac: boolean;
  readonly #random: () => number;
  #rsLeft: number;
  /** State changes to report again (RFC 3810 §6.1), at most one record per group. */
  readonly #pendingChanges: MldRecord[] = [];
  readonly #maxPendingChanges = DEFAULT_MAX_PREFIXES * 2;
  #changesLeft = 0;
  #changeAtMs = Infinity;
  /**
   * The time of the last poll or input (state changes are timed from it);
   * tagged like every cached time (TAGGED_TIME_SEED, src/time/clock.ts).
   */
  #nowMs: number = TAGGED_TIME_SEED;
  #rsNextMs = Infinity;
  #deviceMtu: number;
  #linkMtu: number;
  /** The last default router chosen (§6.3.6: stick with it while reachable). */
  #current: Router | null = null;
  #deadlineMs = Infinity;
  /** Parsed messages (one repr reused). */
  readonly #rx: NdpRepr = newNdpRepr();
  readonly #rxView = new Icmpv6Packet(new Uint8Array(0));
  readonly #tx: NdpRepr = newNdpRepr();

  /**
   * Creates neighbour discovery for one interface.
   *
   * @param mac our MAC
   * @param deviceMtu the link's MTU (an RA may lower, never raise it)
   * @param host transmission and link parameter callbacks
   * @param addresses our address table
   * @param neighbours the neighbour cache
   * @param options bounds and behaviour
   */
  constructor(
    mac: number,
    deviceMtu: number,
    host: NdpHost,
    addresses: Ipv6AddressTable,
    neighbours: NeighbourCache,
    options: NdpOptions = {},
  ) {
    this.#nowMs = 0;
    this.mac = mac;
    this.#host = host;
    this.#addresses = addresses;
    this.#neighbours = neighbours;
    this.#deviceMtu = deviceMtu;
    this.#linkMtu = deviceMtu;
    this.#maxRouters = options.maxRouters ?? DEFAULT_MAX_ROUTERS;
    this.#maxPrefixes = options.maxPrefixes ?? DEFAULT_MAX_PREFIXES;
    this.#maxRedirects = options.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
    this.#maxDnsServers = options.maxDnsServers ?? DEFAULT_MAX_DNS_SERVERS;
    this.#acceptRa = options.acceptRa ?? true;
    this.#slaac = options.slaac ?? true;
    this.#random = options.random ?? Math.random;
    this.#rsLeft = this.#acceptRa ? (options.routerSolicitations ?? MAX_RTR_SOLICITATIONS) : 0;
  }

  /** The link MTU (device MTU, or lower as an RA said). */
  get linkMtu(): number {
    return this.#linkMtu;
  }

  /**
   * Starts router solicitation (§6.3.7: after a random delay of up to 1 s).
   *
   * @param nowMs current time
   */
  start(nowMs: number): void {
    this.#nowMs = nowMs;
    if (this.#rsLeft > 0) {
      this.#rsNextMs = nowMs + Math.floor(this.#random() * MAX_RTR_SOLICITATION_DELAY_MS);
      this.#schedule(this.#rsNextMs);
    }
  }

  // ---- multicast groups ----

  /**
   * Joins (or leaves) a group; the first join and the last leave send an MLDv2 report.
   *
   * @param group the group (ff02::1 is implicit and never reported, RFC 3810 §6)
   * @param join true to join, false to leave
   */
  setGroup(group: Ipv6Address, join: boolean): void {
    if (wordsEqual(group, Ipv6Address.ALL_NODES)) return;
    const i = this.#groups.findIndex((g) => g.group.equals(group));
    if (join) {
      if (i >= 0) {
        this.#groups[i].refs++;
        return;
      }
      this.#groups.push({ group, refs: 1 });
      this.#stateChange({ type: MLD_CHANGE_TO_EXCLUDE, group, sources: [] });
    } else if (i >= 0 && --this.#groups[i].refs === 0) {
      this.#groups.splice(i, 1);
      this.#stateChange({ type: MLD_CHANGE_TO_INCLUDE, group, sources: [] });
    }
  }

  /**
   * Whether we listen to the group at `bytes[offset..+16)` (ff02::1 always).
   *
   * @param bytes buffer
   * @param offset where the address starts
   * @returns true when joined
   */
  isMemberAt(bytes: Uint8Array, offset: number): boolean {
    if (Ipv6Address.ALL_NODES.equalsAt(bytes, offset)) return true;
    const groups = this.#groups;
    for (let i = 0; i < groups.length; i++) {
      if (groups[i].group.equalsAt(bytes, offset)) return true;
    }
    return false;
  }

  /**
   * Whether a multicast MAC (33:33:xx:xx:xx:xx) belongs to a group we listen to.
   *
   * @param mac the destination MAC
   * @returns true when accepted
   */
  acceptsMac(mac: number): boolean {
    if (mac === Ipv6Address.ALL_NODES.multicastMac()) return true;
    for (const g of this.#groups) if (g.group.multicastMac() === mac) return true;
    return false;
  }

  /** The groups joined (for listings and tests). */
  get groups(): Ipv6Address[] {
    return this.#groups.map((g) => g.group);
  }

  // ---- routing ----

  /**
   * Whether `dst` is on-link (§5.2): link-local, inside a prefix of the
   * prefix list or of a static address of ours.
   *
   * @param nowMs current time
   * @param dst the destination
   * @returns true when on-link
   */
  isOnLink(nowMs: number, dst: Ipv6Words): boolean {
    return this.#onLinkForever(dst) || this.#inLivePrefix(nowMs, dst);
  }

  /** In an advertised on-link prefix whose lifetime runs (§6.3.4). */
  #inLivePrefix(nowMs: number, dst: Ipv6Words): boolean {
    for (const p of this.#prefixes) {
      if (p.expiresMs > nowMs && inPrefix(dst, p.prefix, p.length)) return true;
    }
    return false;
  }

  /**
   * The next hop toward a unicast `dst` (§5.2 conceptual sending): a
   * redirect, on-link, or the default router (§6.3.6); null when there is
   * none (RFC 5942 §4: without a router, off-link destinations are unreachable).
   *
   * @param nowMs current time
   * @param dst the destination
   * @returns the next hop, or null
   */
  nextHop(nowMs: number, dst: Ipv6Address): Ipv6Address | null {
    const redirects = this.#redirects;
    if (redirects.length === 0) {
      // A one-entry cache for the sending path (a connection sends to one address object):
      // a link-local destination, or one in the prefix of a static address of ours, is
      // on-link whatever the time (§5.2; neither ages), so the answer holds while no redirect
      // exists and the address table is unchanged.
      const version = this.#addresses.version;
      if (dst === this.#onLinkDst && version === this.#onLinkVersion) return dst;
      if (this.#onLinkForever(dst)) {
        this.#onLinkDst = dst;
        this.#onLinkVersion = version;
        return dst;
      }
      if (this.#inLivePrefix(nowMs, dst)) return dst;
      return this.defaultRouter(nowMs)?.address ?? null;
    }
    for (const r of redirects) {
      if (r.expiresMs > nowMs && wordsEqual(r.destination, dst)) return r.target;
    }
    if (this.isOnLink(nowMs, dst)) return dst;
    return this.defaultRouter(nowMs)?.address ?? null;
  }

  /** The rules of {@link isOnLink} that do not age: link-local, a static address's prefix. */
  #onLinkForever(dst: Ipv6Words): boolean {
    if ((dst.w0 & (0xffc0_0000 | 0)) === (0xfe80_0000 | 0)) return true;
    for (const e of this.#addresses.entries) {
      if (e.origin === "static" && inPrefix(dst, e.address, e.prefixLength)) return true;
    }
    return false;
  }

  /**
   * Default router selection (§6.3.6): routers known reachable (or probably:
   * STALE/DELAY/PROBE, not INCOMPLETE) first; stay with the current one while
   * it qualifies; else round-robin to the next.
   *
   * @param nowMs current time
   * @returns the router or null
   */
  defaultRouter(nowMs: number): { address: Ipv6Address } | null {
    const routers = this.#routers;
    if (routers.length === 0) return null;
    const cur = this.#current;
    if (cur !== null && cur.expiresMs > nowMs && this.#reachable(nowMs, cur)) return cur;
    let start = cur === null ? 0 : routers.indexOf(cur) + 1;
    if (start < 0) start = 0;
    for (let k = 0; k < routers.length; k++) {
      const r = routers[(start + k) % routers.length];
      if (r.expiresMs > nowMs && this.#reachable(nowMs, r)) return this.#current = r;
    }
    // None known reachable: round-robin (§6.3.6 "SHOULD be selected in a round-robin fashion").
    for (let k = 0; k < routers.length; k++) {
      const r = routers[(start + k) % routers.length];
      if (r.expiresMs > nowMs) return this.#current = r;
    }
    return null;
  }

  /** Known reachable or probably so (§6.3.6: not INCOMPLETE, not unknown). */
  #reachable(nowMs: number, r: Router): boolean {
    const s = this.#neighbours.stateOf(nowMs, r.address);
    return s !== null && s !== "incomplete";
  }

  /**
   * Whether `a` is in the default router list (never evicted from the neighbour cache).
   *
   * @param a an address
   * @returns true for a router
   */
  isRouter(a: Ipv6Words): boolean {
    return this.#routers.some((r) => wordsEqual(r.address, a));
  }

  /**
   * Drops a router (NUD failed or its advertisement said R = 0, §7.2.5, §7.3.3).
   *
   * @param a the router
   */
  removeRouter(a: Ipv6Words): void {
    const i = this.#routers.findIndex((r) => wordsEqual(r.address, a));
    if (i < 0) return;
    if (this.#current === this.#routers[i]) this.#current = null;
    this.#routers.splice(i, 1);
  }

  // ---- input ----

  /**
   * Processes an NDP message (ICMPv6 types 133–137) or an MLD query (130).
   * Never throws; drops are counted.
   *
   * @param nowMs current time
   * @param src IPv6 source
   * @param dst IPv6 destination
   * @param hopLimit the IPv6 hop limit
   * @param fragmented the packet had a Fragment header or was reassembled
   * @param bytes buffer
   * @param offset start of the ICMPv6 message
   * @param length its length
   * @param checksumVerified the device vouched for the checksum
   */
  input(
    nowMs: number,
    src: Ipv6Address,
    dst: Ipv6Address,
    hopLimit: number,
    fragmented: boolean,
    bytes: Uint8Array,
    offset: number,
    length: number,
    checksumVerified: boolean,
  ): void {
    const packet = this.#rxView.reset(bytes, offset, length);
    if (bytes[offset] === ICMPV6_MLD_QUERY) {
      this.#mldQuery(src, dst, packet, checksumVerified);
      return;
    }
    this.#nowMs = nowMs;
    const stats = this.stats;
    stats.rxMessages++;
    // RFC 6980 §5: NDP messages in fragments are silently ignored.
    if (fragmented) {
      stats.rxFragmented++;
      return;
    }
    if (hopLimit !== NDP_HOP_LIMIT) {
      stats.rxBadHopLimit++;
      return;
    }
    const m = NdpRepr.parse(packet, src, dst, this.#rx, { verifyChecksum: !checksumVerified });
    if (isWireError(m)) {
      stats.rxInvalid++;
      return;
    }
    switch (m.type) {
      case ICMPV6_ROUTER_SOLICITATION:
        stats.rxRouterSolicitations++; // §6.2.6: only routers answer
        return;
      case ICMPV6_ROUTER_ADVERTISEMENT:
        this.#routerAdvertisement(nowMs, src, m);
        return;
      case ICMPV6_NEIGHBOR_SOLICITATION:
        this.#neighbourSolicitation(nowMs, src, m);
        return;
      case ICMPV6_NEIGHBOR_ADVERTISEMENT:
        this.#neighbourAdvertisement(nowMs, m);
        return;
      case ICMPV6_REDIRECT:
        this.#redirect(nowMs, src, m);
        return;
    }
  }

  // ---- output ----

  /**
   * Sends a Neighbor Solicitation for `target` (§7.2.2): to its
   * solicited-node group, or unicast to `mac` (NUD probe), from our best source.
   *
   * @param target the address to resolve
   * @param mac the neighbour's MAC for a unicast probe, or -1
   */
  solicit(target: Ipv6Address, mac: number): void {
    const src = this.#addresses.selectSource(target);
    if (src === null) return; // no usable address yet: nothing may be sent (§7.2.2)
    const tx = this.#reset(ICMPV6_NEIGHBOR_SOLICITATION);
    tx.target = target;
    tx.sourceLinkLayer = this.mac;
    this.stats.txSolicitations++;
    this.#host.sendNdp(tx, src, mac >= 0 ? target : target.solicitedNode(), mac);
  }

  /**
   * Sends a DAD Neighbor Solicitation (RFC 4862 §5.4.2): from ::, to the
   * target's solicited-node group, no link-layer option, with a nonce (RFC 7527).
   *
   * @param target the tentative address
   * @param nonce 48-bit nonce
   */
  solicitDad(target: Ipv6Address, nonce: number): void {
    const tx = this.#reset(ICMPV6_NEIGHBOR_SOLICITATION);
    tx.target = target;
    tx.nonce = nonce;
    this.stats.txSolicitations++;
    this.#host.sendNdp(tx, Ipv6Address.UNSPECIFIED, target.solicitedNode(), -1);
  }

  /**
   * Announces a new address with an unsolicited advertisement to all nodes
   * (§7.2.6, Override set), so caches holding an old MAC update.
   *
   * @param address our address, now preferred
   */
  announce(address: Ipv6Address): void {
    const tx = this.#reset(ICMPV6_NEIGHBOR_ADVERTISEMENT);
    tx.target = address;
    tx.router = this.advertiseRouter;
    tx.override = true;
    tx.targetLinkLayer = this.mac;
    this.stats.txAdvertisements++;
    this.#host.sendNdp(tx, address, Ipv6Address.ALL_NODES, -1);
  }

  // ---- time ----

  /**
   * Runs due work: router solicitations, router/prefix/redirect expiry.
   *
   * @param nowMs current time
   */
  poll(nowMs: number): void {
    this.#nowMs = nowMs;
    if (nowMs < this.#deadlineMs) return;
    let next = Infinity;
    if (this.#changeAtMs <= nowMs) {
      if (this.#pendingChanges.length > 0) this.#report(this.#pendingChanges.slice());
      if (--this.#changesLeft > 0) {
        this.#changeAtMs = nowMs + Math.floor(this.#random() * MLD_UNSOLICITED_REPORT_INTERVAL_MS);
      } else {
        this.#changeAtMs = Infinity;
        this.#pendingChanges.length = 0;
      }
    }
    next = this.#changeAtMs;
    if (this.#rsLeft > 0 && nowMs >= this.#rsNextMs) {
      const src = this.#linkLocal();
      const tx = this.#reset(ICMPV6_ROUTER_SOLICITATION);
      // §6.3.7: with the link-local address known, include the source link-layer option.
      if (src !== null) tx.sourceLinkLayer = this.mac;
      this.#rsLeft--;
      this.stats.txRouterSolicitations++;
      this.#host.sendNdp(tx, src ?? Ipv6Address.UNSPECIFIED, Ipv6Address.ALL_ROUTERS, -1);
      this.#rsNextMs = this.#rsLeft > 0 ? nowMs + RTR_SOLICITATION_INTERVAL_MS : Infinity;
    }
    if (this.#rsLeft > 0) next = Math.min(next, this.#rsNextMs);
    for (let i = 0; i < this.#routers.length; i++) {
      const r = this.#routers[i];
      if (nowMs >= r.expiresMs) {
        this.removeRouter(r.address);
        i--;
        this.stats.routersExpired++;
        continue;
      }
      next = Math.min(next, r.expiresMs);
    }
    for (let i = 0; i < this.#prefixes.length; i++) {
      const p = this.#prefixes[i];
      if (nowMs >= p.expiresMs) {
        this.#prefixes.splice(i--, 1);
        this.stats.prefixesExpired++;
        continue;
      }
      next = Math.min(next, p.expiresMs);
    }
    for (let i = 0; i < this.#redirects.length; i++) {
      if (nowMs >= this.#redirects[i].expiresMs) this.#redirects.splice(i--, 1);
      else next = Math.min(next, this.#redirects[i].expiresMs);
    }
    let serversExpired = false;
    for (let i = 0; i < this.#dnsServers.length; i++) {
      const e = this.#dnsServers[i];
      if (nowMs >= e.expiresMs) {
        this.#dnsServers.splice(i--, 1);
        this.stats.rdnssExpired++;
        serversExpired = true;
      } else {
        next = Math.min(next, e.expiresMs);
      }
    }
    if (serversExpired) this.#dnsServersChanged();
    this.#deadlineMs = next;
  }

  /**
   * When {@link poll} next has work.
   *
   * @returns the earliest timer, or Infinity
   */
  nextDeadline(): number {
    return this.#deadlineMs;
  }

  /**
   * The default router list (allocates).
   *
   * @param nowMs current time
   * @returns one record per router
   */
  routers(nowMs: number): RouterInfo[] {
    return this.#routers.map((r) => ({
      address: r.address.toString(),
      lifetimeS: Math.max(0, Math.floor((r.expiresMs - nowMs) / 1000)),
      managed: r.managed,
      other: r.other,
    }));
  }

  /**
   * The recursive DNS servers learned from RAs (RFC 8106 §6.1; allocates).
   *
   * @param nowMs current time
   * @returns one record per server, in the order learned
   */
  dnsServers(nowMs: number): DnsServerInfo[] {
    return this.#dnsServers.map((e) => ({
      address: e.address.toString(),
      lifetimeS: e.expiresMs === Infinity
        ? Infinity
        : Math.max(0, Math.floor((e.expiresMs - nowMs) / 1000)),
    }));
  }

  /**
   * The prefix list (allocates).
   *
   * @param nowMs current time
   * @returns one record per prefix
   */
  prefixes(nowMs: number): PrefixInfo[] {
    return this.#prefixes.map((p) => ({
      prefix: p.prefix.toString(),
      prefixLength: p.length,
      validLifetimeS: p.expiresMs === Infinity
        ? Infinity
        : Math.max(0, Math.floor((p.expiresMs - nowMs) / 1000)),
    }));
  }

  // ---- message processing ----

  /** RFC 4861 §6.3.4. */
  #routerAdvertisement(nowMs: number, src: Ipv6Address, m: NdpRepr): void {
    const stats = this.stats;
    if (!this.#acceptRa) {
      stats.raIgnored++;
      return;
    }
    stats.rxRouterAdvertisements++;
    this.#rsLeft = 0; // §6.3.7: an RA ends solicitation
    this.#rsNextMs = Infinity;
    // The default router list.
    const i = this.#routers.findIndex((r) => r.address.equals(src));
    if (m.routerLifetime === 0) {
      if (i >= 0) this.removeRouter(src); // §6.3.4: lifetime 0 times the router out at once
    } else {
      const expires = nowMs + m.routerLifetime * 1000;
      let router: Router | null = null;
      if (i >= 0) {
        router = this.#routers[i];
        router.expiresMs = expires;
      } else if (this.#routers.length < this.#maxRouters) {
        router = new Router(src, expires);
        this.#routers.push(router);
      } else {
        stats.routersFull++;
      }
      if (router !== null) {
        // §4.2: M and O say what DHCPv6 offers; kept per router for the listing.
        router.managed = m.managed;
        router.other = m.other;
      }
      this.#schedule(expires);
    }
    // Link parameters.
    if (m.curHopLimit !== 0) this.#host.hopLimitChanged(m.curHopLimit);
    this.#neighbours.setTimers(m.reachableTime, m.retransTimer);
    if (m.retransTimer > 0) this.#addresses.retransTimerMs = this.#neighbours.retransTimerMs;
    if (m.mtu >= 0) {
      // §6.3.4: an MTU option below the minimum or above the link's maximum is ignored.
      if (m.mtu < IPV6_MIN_MTU || m.mtu > this.#deviceMtu) stats.raBadMtu++;
      else if (m.mtu !== this.#linkMtu) {
        this.#linkMtu = m.mtu;
        this.#host.linkMtuChanged(m.mtu);
      }
    }
    // §6.3.4: the source link-layer option creates/updates the router's entry (IsRouter).
    if (m.sourceLinkLayer >= 0) this.#neighbours.learn(nowMs, src, m.sourceLinkLayer, true);
    if (m.rdnss.length > 0) this.#rdnss(nowMs, m);
    stats.dnsslIgnored += m.dnssl.length;
    for (const p of m.prefixes) {
      if (p.prefix.isLinkLocal()) continue; // §6.3.4: the link-local prefix is ignored
      if (p.onLink) this.#onLinkPrefix(nowMs, p.prefix, p.prefixLength, p.validLifetime);
      if (p.autonomous && this.#slaac) {
        this.#addresses.autoconfigure(
          nowMs,
          p.prefix,
          p.prefixLength,
          p.validLifetime,
          p.preferredLifetime,
        );
      }
    }
  }

  /**
   * RFC 8106 §6.2: each RDNSS address updates the DNS Server List: lifetime
   * 0 deletes it, a known one gets its new expiration time, a new one is
   * added; when the list is full, the entry that expires first makes room
   * (step (d)). The host hears of the list only when its set changes.
   */
  #rdnss(nowMs: number, m: NdpRepr): void {
    const list = this.#dnsServers;
    const stats = this.stats;
    if (this.#maxDnsServers <= 0) return;
    let changed = false;
    for (const option of m.rdnss) {
      for (const address of option.servers) {
        if (address.isMulticast() || address.isUnspecified() || address.isLoopback()) {
          stats.rdnssInvalid++;
          continue;
        }
        const i = list.findIndex((e) => e.address.equals(address));
        if (option.lifetime === 0) {
          if (i >= 0) {
            list.splice(i, 1);
            stats.rdnssExpired++;
            changed = true;
          }
          continue;
        }
        const expires = expiry(nowMs, option.lifetime);
        if (i >= 0) {
          list[i].expiresMs = expires;
        } else {
          if (list.length >= this.#maxDnsServers) {
            let first = 0;
            for (let k = 1; k < list.length; k++) {
              if (list[k].expiresMs < list[first].expiresMs) first = k;
            }
            list.splice(first, 1);
            stats.rdnssReplaced++;
          }
          list.push(new DnsServerEntry(address, expires));
          stats.rdnssLearned++;
          changed = true;
        }
        this.#schedule(expires);
      }
    }
    if (changed) this.#dnsServersChanged();
  }

  #dnsServersChanged(): void {
    this.#host.dnsServersChanged?.(this.#dnsServers.map((e) => e.address));
  }

  #onLinkPrefix(nowMs: number, prefix: Ipv6Address, length: number, validS: number): void {
    const i = this.#prefixes.findIndex((p) => p.length === length && p.prefix.equals(prefix));
    if (validS === 0) {
      if (i >= 0) this.#prefixes.splice(i, 1); // §6.3.4: time it out at once
      return;
    }
    const expires = expiry(nowMs, validS);
    if (i >= 0) this.#prefixes[i].expiresMs = expires;
    else if (this.#prefixes.length < this.#maxPrefixes) {
      this.#prefixes.push(new Prefix(prefix, length, expires));
    } else {
      this.stats.prefixesFull++;
      return;
    }
    this.#schedule(expires);
  }

  /** RFC 4861 §7.2.3 and RFC 4862 §5.4.3. */
  #neighbourSolicitation(nowMs: number, src: Ipv6Address, m: NdpRepr): void {
    this.stats.rxNeighbourSolicitations++;
    const entry = this.#addresses.find(m.target);
    if (entry === null || entry.state === "duplicate") {
      this.stats.nsNotForUs++;
      return;
    }
    if (src.isUnspecified()) {
      // Another node's DAD for an address we hold or try.
      if (entry.state === "tentative") {
        this.#addresses.dadSolicitationReceived(nowMs, m.target, m.nonce);
        return;
      }
      // §7.2.4: answer a DAD probe for our address at all nodes (S clear).
      this.#advertise(entry.address, Ipv6Address.ALL_NODES, -1, false);
      return;
    }
    // §7.2.3: a tentative target is not answered (RFC 4862 §5.4.3).
    if (entry.state === "tentative") return;
    if (m.sourceLinkLayer >= 0) this.#neighbours.learn(nowMs, src, m.sourceLinkLayer);
    // §7.2.4: solicited advertisement back to the source, Override set; without a source
    // link-layer option (a unicast NUD probe) it goes through the neighbour cache.
    this.#advertise(entry.address, src, m.sourceLinkLayer, true);
  }

  #advertise(target: Ipv6Address, to: Ipv6Address, mac: number, solicited: boolean): void {
    const tx = this.#reset(ICMPV6_NEIGHBOR_ADVERTISEMENT);
    tx.target = target;
    tx.solicited = solicited;
    tx.router = this.advertiseRouter; // §4.4: R, the sender is a router
    tx.override = true;
    tx.targetLinkLayer = this.mac;
    this.stats.txAdvertisements++;
    this.#host.sendNdp(tx, target, to, mac);
  }

  /** RFC 4861 §7.2.5 and RFC 4862 §5.4.4. */
  #neighbourAdvertisement(nowMs: number, m: NdpRepr): void {
    this.stats.rxNeighbourAdvertisements++;
    if (this.#addresses.advertisementReceived(nowMs, m.target)) return;
    const wasRouter = this.#neighbours.isRouter(m.target);
    this.#neighbours.advertisement(
      nowMs,
      m.target,
      m.targetLinkLayer,
      m.solicited,
      m.override,
      m.router,
    );
    if (wasRouter && !m.router) this.removeRouter(m.target);
  }

  /** RFC 4861 §8.3 (kept simple: a host route through the target). */
  #redirect(nowMs: number, src: Ipv6Address, m: NdpRepr): void {
    // §8.1: the source must be the current first-hop router for the destination.
    const hop = this.nextHop(nowMs, m.destination);
    if (hop === null || !hop.equals(src)) {
      this.stats.rxRedirectsIgnored++;
      return;
    }
    this.stats.rxRedirects++;
    const onLink = m.target.equals(m.destination);
    if (m.targetLinkLayer >= 0) {
      this.#neighbours.learn(nowMs, m.target, m.targetLinkLayer, !onLink);
    }
    const expires = nowMs + REDIRECT_LIFETIME_MS;
    const existing = this.#redirects.find((r) => r.destination.equals(m.destination));
    if (existing !== undefined) {
      existing.target = m.target;
      existing.expiresMs = expires;
    } else {
      if (this.#redirects.length >= this.#maxRedirects) {
        const dead = this.#redirects.findIndex((r) => r.expiresMs <= nowMs);
        if (dead < 0) {
          this.stats.redirectsFull++;
          return;
        }
        this.#redirects.splice(dead, 1);
      }
      this.#redirects.push(new Redirect(m.destination, m.target, expires));
    }
    this.#schedule(expires);
  }

  /** RFC 3810 §6.2: answer a general query (or one for a group of ours) with our groups. */
  #mldQuery(src: Ipv6Address, dst: Ipv6Address, packet: Icmpv6Packet, verified: boolean): void {
    const q = MldQueryRepr.parse(packet, src, dst, { verifyChecksum: !verified });
    if (isWireError(q) || !src.isLinkLocal()) return;
    this.stats.rxMldQueries++;
    const records: MldRecord[] = [];
    for (const g of this.#groups) {
      if (q.group.isUnspecified() || q.group.equals(g.group)) {
        records.push({ type: MLD_MODE_IS_EXCLUDE, group: g.group, sources: [] });
      }
    }
    if (records.length > 0) this.#report(records);
  }

  /**
   * RFC 3810 §6.1: a state-change report now, and again (Robustness Variable
   * − 1 times) at a random time within the Unsolicited Report Interval; the
   * pending retransmission carries each group's latest change.
   */
  #stateChange(record: MldRecord): void {
    this.#report([record]);
    const pending = this.#pendingChanges;
    const i = pending.findIndex((r) => r.group.equals(record.group));
    if (i >= 0) pending.splice(i, 1);
    if (pending.length >= this.#maxPendingChanges) pending.shift();
    pending.push(record);
    this.#changesLeft = MLD_ROBUSTNESS - 1;
    if (this.#changeAtMs === Infinity) {
      this.#changeAtMs = this.#nowMs +
        Math.floor(this.#random() * MLD_UNSOLICITED_REPORT_INTERVAL_MS);
      this.#schedule(this.#changeAtMs);
    }
  }

  #report(records: MldRecord[]): void {
    this.stats.txMldReports++;
    this.#host.sendMldReport(records);
  }

  #linkLocal(): Ipv6Address | null {
    for (const e of this.#addresses.entries) {
      if (e.origin === "link-local" && e.usable) return e.address;
    }
    return null;
  }

  #reset(type: number): NdpRepr {
    const tx = this.#tx;
    tx.type = type;
    tx.curHopLimit = 0;
    tx.router = tx.solicited = tx.override = false;
    tx.target = Ipv6Address.UNSPECIFIED;
    tx.sourceLinkLayer =
      tx.targetLinkLayer =
      tx.nonce =
      tx.mtu =
        -1;
    tx.prefixes.length = tx.rdnss.length = tx.dnssl.length = 0;
    tx.redirectedLength = 0;
    return tx;
  }

  #schedule(t: number): void {
    if (t < this.#deadlineMs) this.#deadlineMs = t;
  }
}
