/**
 * Stateful NAT — masquerading (RFC 3022 NAPT) with connection tracking — for
 * a {@link Router}'s outside interfaces: datagrams forwarded out of an
 * interface with `masquerade: true` leave with that interface's address and
 * a port (TCP, UDP) or identifier (ICMP echo) of ours; replies to that
 * address and port are translated back to the inside host. ICMP errors about
 * a translated flow are translated too: the outer destination and the quoted
 * header inside (addresses, port, its header checksum and, where quoted,
 * its transport checksum), then the ICMP checksum (RFC 5508 REQ-3).
 *
 * Behaviour (RFC 4787 / RFC 5382 / RFC 5508 terms): one external port per
 * connection (endpoint-dependent mapping, as Linux's MASQUERADE when the
 * original port is taken), the inside port kept when it is free;
 * address-and-port-dependent filtering (a reply must come from the
 * connection's remote address and port); ports never collide — per
 * protocol and per external address a port belongs to one connection at a
 * time, and ICMP identifiers of the router's own pings are avoided — and a
 * connection that finds the range full is refused and counted.
 *
 * The table is bounded ({@link NatOptions.maxEntries}); a new connection
 * finding it full is refused (counted), as Linux drops when nf_conntrack_max
 * is reached. Timeouts (ms) follow Linux's nf_conntrack defaults except
 * where those are unbounded for our purpose: an established TCP connection
 * idles out after 2 h 4 min (RFC 5382 REQ-5's minimum; Linux: 5 days), a UDP
 * flow after 30 s without a reply and 5 min with one (RFC 4787 REQ-5), ICMP
 * echo after 30 s.
 *
 * Not translated (dropped, counted in `untranslatable`): fragments after the
 * first (they carry no ports: Linux reassembles before conntrack, we do not),
 * protocols other than TCP, UDP and ICMP, and truncated headers.
 *
 * @module
 */

import { internetChecksum, UDP_CHECKSUM_OFFSET, updateChecksum16 } from "../wire/checksum.ts";
import { readI32 } from "../wire/view.ts";
import { setIpv4Address } from "./hooks.ts";
import {
  IP_PROTO_ICMP,
  IP_PROTO_TCP,
  IP_PROTO_UDP,
  IPV4_DST_OFFSET,
  IPV4_FLAGS_FRAGMENT_OFFSET,
  IPV4_HEADER_LEN,
  IPV4_SRC_OFFSET,
} from "../wire/ipv4.ts";
import { TCP_CHECKSUM_OFFSET, TCP_FIN, TCP_FLAGS_OFFSET, TCP_RST, TCP_SYN } from "../wire/tcp.ts";
import {
  ICMP_CHECKSUM_OFFSET,
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  ICMP_HEADER_LEN,
  ICMP_ID_OFFSET,
} from "../wire/icmp.ts";

/** Timeouts of tracked connections, ms. */
export interface NatTimeouts {
  /** TCP before the remote answered (Linux `tcp_timeout_syn_sent`: 120 s). */
  tcpSynMs: number;
  /** TCP established, idle (RFC 5382 REQ-5: at least 2 h 4 min; Linux 5 days). */
  tcpEstablishedMs: number;
  /** TCP after a FIN (Linux `tcp_timeout_fin_wait`/`time_wait`: 120 s). */
  tcpClosingMs: number;
  /** TCP after a RST (Linux `tcp_timeout_close`: 10 s). */
  tcpClosedMs: number;
  /** UDP without a reply yet (Linux `udp_timeout`: 30 s). */
  udpMs: number;
  /** UDP with replies (RFC 4787 REQ-5 recommends 5 min; Linux `udp_timeout_stream` 120 s). */
  udpRepliedMs: number;
  /** ICMP echo (Linux `icmp_timeout`: 30 s). */
  icmpMs: number;
}

/** Default {@link NatTimeouts}. */
export const DEFAULT_NAT_TIMEOUTS: Readonly<NatTimeouts> = Object.freeze({
  tcpSynMs: 120_000,
  tcpEstablishedMs: 7_440_000,
  tcpClosingMs: 120_000,
  tcpClosedMs: 10_000,
  udpMs: 30_000,
  udpRepliedMs: 300_000,
  icmpMs: 30_000,
});

/** Default bound of the connection table. */
export const DEFAULT_NAT_MAX_ENTRIES = 16384;
/**
 * Default external port range for TCP and UDP: the registered ports, so
 * translated flows never take a port of the stack's own ephemeral range
 * (49152–65535, RFC 6335 §6) from its own connections.
 */
export const DEFAULT_NAT_PORT_MIN = 1024;
/** Upper end of the default external port range. */
export const DEFAULT_NAT_PORT_MAX = 49151;
/** How often expired entries are swept out, ms (lookups also expire what they meet). */
export const NAT_SWEEP_INTERVAL_MS = 1000;

/** Options of {@link Nat}. */
export interface NatOptions {
  /** Connections tracked at most (default {@link DEFAULT_NAT_MAX_ENTRIES}). */
  maxEntries?: number;
  /** Lowest external TCP/UDP port (default 1024). */
  portMin?: number;
  /** Highest external TCP/UDP port (default 49151). */
  portMax?: number;
  /** Timeouts (ms) to change. */
  timeouts?: Partial<NatTimeouts>;
}

/** Counters of {@link Nat}. */
export interface NatStats {
  /** Datagrams translated on the way out (inside → outside). */
  translatedOut: number;
  /** Datagrams translated on the way in (replies). */
  translatedIn: number;
  /** ICMP errors whose quoted datagram was translated (either way). */
  icmpErrorsTranslated: number;
  /** Connections created. */
  created: number;
  /** Connections expired. */
  expired: number;
  /** Dropped: a new connection found the table full. */
  tableFull: number;
  /** Dropped: no free external port (or ICMP identifier) was left. */
  portsExhausted: number;
  /** Dropped on the way out: later fragment, other protocol, truncated header, unknown ICMP error. */
  untranslatable: number;
  /** Arrived at the outside address, matching no connection: left to the host (its own traffic). */
  inboundUnmatched: number;
  /** Dropped: a reply to a translated port from another remote than the connection's (filtering). */
  inboundFiltered: number;
  /** Connections tracked now (gauge). */
  entries: number;
}

/** {@link Nat.inbound}: not ours, the host handles it. */
export const NAT_PASS = 0;
/** {@link Nat.inbound}: translated, forward it. */
export const NAT_TRANSLATED = 1;
/** {@link Nat.inbound}: drop it (counted). */
export const NAT_DROP = 2;

/** ICMP error types carrying a quoted datagram (RFC 792): unreachable, source quench, redirect, time exceeded, parameter problem. */
const ICMP_ERROR_TYPES = new Set([3, 4, 5, 11, 12]);
const FRAGMENT_OFFSET_MASK = 0x1fff;
const PORT_SPACE = 0x10000;

const enum TcpTrack {
  Syn,
  Established,
  Closing,
  Closed,
}

/** One tracked connection. */
class NatEntry {
  protocol = 0;
  insideAddr = 0;
  insidePort = 0;
  remoteAddr = 0;
  remotePort = 0;
  outside = 0;
  externalAddr = 0;
  externalPort = 0;
  replied = false;
  tcp = TcpTrack.Syn;
  expiresMs = 0;
  /** Next entry in the same forward-hash bucket. */
  next: NatEntry | null = null;
}

/** A connection as listed by {@link Nat.list}. */
export interface NatEntryInfo {
  /** `"tcp"`, `"udp"` or `"icmp"`. */
  protocol: "tcp" | "udp" | "icmp";
  /** Inside address and port (ICMP: identifier), int32 address. */
  inside: [number, number];
  /** Outside (translated) address and port. */
  external: [number, number];
  /** The remote address and port (ICMP: 0). */
  remote: [number, number];
  /** Whether the remote answered. */
  replied: boolean;
  /** When it expires (ms, the clock the router was given). */
  expiresMs: number;
}

/**
 * The masquerading engine of a router (see the module documentation).
 *
 * @example
 * ```ts
 * import { Nat, NAT_TRANSLATED } from "./nat.ts";
 * import { writeIpv4Header } from "./ipv4.ts";
 * const nat = new Nat();
 * const b = new Uint8Array(28);
 * writeIpv4Header(b, 0, 0, 28, 1, 0, 64, 17, 0xc6336402 | 0, 0xcb007102 | 0);
 * b.set([0x30, 0x39, 0, 53, 0, 8, 0, 0], 20); // UDP 12345 → 53, no checksum
 * console.assert(nat.outbound(0, b, 0, 28, 1, 0xcb007101 | 0));
 * console.assert(b[12] === 203 && ((b[20] << 8) | b[21]) === 12345);
 * // The reply comes back to 203.0.113.1:12345 and goes to the inside host again.
 * writeIpv4Header(b, 0, 0, 28, 2, 0, 64, 17, 0xcb007102 | 0, 0xcb007101 | 0);
 * b.set([0, 53, 0x30, 0x39, 0, 8, 0, 0], 20);
 * console.assert(nat.inbound(0, b, 0, 28, 1) === NAT_TRANSLATED && b[16] === 198);
 * ```
 */
export class Nat {
  /** Counters. */
  readonly stats: NatStats = {
    translatedOut: 0,
    translatedIn: 0,
    icmpErrorsTranslated: 0,
    created: 0,
    expired: 0,
    tableFull: 0,
    portsExhausted: 0,
    untranslatable: 0,
    inboundUnmatched: 0,
    inboundFiltered: 0,
    entries: 0,
  };
  /**
   * Asked whether an ICMP echo identifier is in use by the router's own
   * pings on an outside interface (those identifiers are not handed out).
   */
  localIcmpIdInUse: ((outside: number, id: number) => boolean) | null = null;
  readonly #timeouts: NatTimeouts;
  readonly #maxEntries: number;
  readonly #portMin: number;
  readonly #portMax: number;
  /** Forward lookup: hash of (protocol, inside, remote) → bucket chain. */
  readonly #forward = new Map<number, NatEntry>();
  /** Reverse lookup: (outside interface, protocol, external port) → entry. */
  readonly #reverse = new Map<number, NatEntry>();
  /** Every entry (for sweeps and listing). */
  readonly #all = new Set<NatEntry>();
  /** Where the next port search starts, per protocol (RFC 6056 §3.3.1-like rolling start). */
  readonly #cursor = [0, 0, 0];
  #nextSweepMs = Infinity;

  /**
   * Creates the engine.
   *
   * @param options bounds, port range, timeouts
   * @throws {TypeError} on a bad bound or port range
   */
  constructor(options: NatOptions = {}) {
    this.#maxEntries = options.maxEntries ?? DEFAULT_NAT_MAX_ENTRIES;
    this.#portMin = options.portMin ?? DEFAULT_NAT_PORT_MIN;
    this.#portMax = options.portMax ?? DEFAULT_NAT_PORT_MAX;
    if (!Number.isInteger(this.#maxEntries) || this.#maxEntries < 1) {
      throw new TypeError(`nat.maxEntries must be a positive integer, got ${this.#maxEntries}`);
    }
    if (
      !Number.isInteger(this.#portMin) || !Number.isInteger(this.#portMax) || this.#portMin < 1 ||
      this.#portMax > 0xffff || this.#portMin > this.#portMax
    ) {
      throw new TypeError(
        `nat port range must satisfy 1 ≤ portMin ≤ portMax ≤ 65535, got ${this.#portMin}..${this.#portMax}`,
      );
    }
    this.#timeouts = { ...DEFAULT_NAT_TIMEOUTS, ...options.timeouts };
    for (const [k, v] of Object.entries(this.#timeouts)) {
      if (typeof v !== "number" || !(v > 0)) {
        throw new TypeError(`nat timeout ${k} must be a positive number of ms, got ${v}`);
      }
    }
    this.#cursor[0] = this.#cursor[1] = this.#portMin;
  }

  /** Connections tracked now. */
  get size(): number {
    return this.#all.size;
  }

  /**
   * Translates a datagram forwarded out of masquerading interface `outside`
   * (postrouting): its source becomes `externalAddr` and a port of ours.
   *
   * @param nowMs current time
   * @param bytes buffer
   * @param offset IPv4 header
   * @param length total length
   * @param outside index of the outside interface
   * @param externalAddr that interface's address (int32)
   * @param partial the TCP/UDP checksum field is a partial pseudo-header sum
   *   (NEEDS_CSUM, see `HookPacket.checksumPartial`): only the address part is updated
   * @returns false when the datagram must be dropped (counted)
   */
  outbound(
    nowMs: number,
    bytes: Uint8Array,
    offset: number,
    length: number,
    outside: number,
    externalAddr: number,
    partial = false,
  ): boolean {
    const stats = this.stats;
    const hl = (bytes[offset] & 0x0f) << 2;
    if (laterFragment(bytes, offset)) {
      stats.untranslatable++;
      return false;
    }
    const protocol = bytes[offset + 9];
    const l4 = offset + hl;
    const end = offset + length;
    const src = readI32(bytes, offset + IPV4_SRC_OFFSET);
    const dst = readI32(bytes, offset + IPV4_DST_OFFSET);
    if (src === externalAddr) return true; // already ours (the router's own address)
    if (protocol === IP_PROTO_TCP || protocol === IP_PROTO_UDP) {
      const need = protocol === IP_PROTO_TCP ? TCP_CHECKSUM_OFFSET + 2 : UDP_CHECKSUM_OFFSET + 2;
      if (l4 + need > end) {
        stats.untranslatable++;
        return false;
      }
      const sport = (bytes[l4] << 8) | bytes[l4 + 1];
      const dport = (bytes[l4 + 2] << 8) | bytes[l4 + 3];
      const e = this.#track(nowMs, protocol, src, sport, dst, dport, outside, externalAddr);
      if (e === null) return false;
      if (protocol === IP_PROTO_TCP) this.#tcpSeen(nowMs, e, bytes[l4 + TCP_FLAGS_OFFSET]);
      else this.#refresh(nowMs, e);
      setIpv4Address(bytes, offset, length, IPV4_SRC_OFFSET, externalAddr, partial);
      setPort(bytes, l4, 0, e.externalPort, protocol, partial);
      stats.translatedOut++;
      return true;
    }
    if (protocol === IP_PROTO_ICMP) {
      if (l4 + ICMP_HEADER_LEN > end) {
        stats.untranslatable++;
        return false;
      }
      const type = bytes[l4];
      if (type === ICMP_ECHO_REQUEST) {
        const id = (bytes[l4 + ICMP_ID_OFFSET] << 8) | bytes[l4 + ICMP_ID_OFFSET + 1];
        const e = this.#track(nowMs, protocol, src, id, dst, 0, outside, externalAddr);
        if (e === null) return false;
        this.#refresh(nowMs, e);
        setIpv4Address(bytes, offset, length, IPV4_SRC_OFFSET, externalAddr);
        setIcmpId(bytes, l4, e.externalPort);
        stats.translatedOut++;
        return true;
      }
      if (ICMP_ERROR_TYPES.has(type)) {
        // An inside host's error about a datagram that came in through us (quoted: remote →
        // inside): the quote's destination goes back to the external address and port.
        if (this.#translateError(nowMs, bytes, offset, length, outside, false)) {
          setIpv4Address(bytes, offset, length, IPV4_SRC_OFFSET, externalAddr);
          stats.translatedOut++;
          return true;
        }
      }
    }
    stats.untranslatable++;
    return false;
  }

  /**
   * Translates a datagram that arrived on masquerading interface `outside`
   * addressed to its address (prerouting), when it belongs to a tracked
   * connection: its destination becomes the inside host.
   *
   * @param nowMs current time
   * @param bytes buffer
   * @param offset IPv4 header
   * @param length total length
   * @param outside index of the interface it arrived on
   * @param partial the TCP/UDP checksum field is a partial pseudo-header sum (see {@link outbound})
   * @returns {@link NAT_PASS}, {@link NAT_TRANSLATED} or {@link NAT_DROP}
   */
  inbound(
    nowMs: number,
    bytes: Uint8Array,
    offset: number,
    length: number,
    outside: number,
    partial = false,
  ): number {
    if (this.#all.size === 0 || laterFragment(bytes, offset)) return NAT_PASS;
    const stats = this.stats;
    const hl = (bytes[offset] & 0x0f) << 2;
    const protocol = bytes[offset + 9];
    const l4 = offset + hl;
    const end = offset + length;
    const src = readI32(bytes, offset + IPV4_SRC_OFFSET);
    if (protocol === IP_PROTO_TCP || protocol === IP_PROTO_UDP) {
      const need = protocol === IP_PROTO_TCP ? TCP_CHECKSUM_OFFSET + 2 : UDP_CHECKSUM_OFFSET + 2;
      if (l4 + need > end) return NAT_PASS;
      const sport = (bytes[l4] << 8) | bytes[l4 + 1];
      const dport = (bytes[l4 + 2] << 8) | bytes[l4 + 3];
      const e = this.#byExternal(nowMs, outside, protocol, dport);
      if (e === null) {
        stats.inboundUnmatched++;
        return NAT_PASS;
      }
      if (e.remoteAddr !== src || e.remotePort !== sport) {
        stats.inboundFiltered++;
        return NAT_DROP;
      }
      e.replied = true;
      if (protocol === IP_PROTO_TCP) this.#tcpSeen(nowMs, e, bytes[l4 + TCP_FLAGS_OFFSET]);
      else this.#refresh(nowMs, e);
      setIpv4Address(bytes, offset, length, IPV4_DST_OFFSET, e.insideAddr, partial);
      setPort(bytes, l4, 2, e.insidePort, protocol, partial);
      stats.translatedIn++;
      return NAT_TRANSLATED;
    }
    if (protocol !== IP_PROTO_ICMP || l4 + ICMP_HEADER_LEN > end) return NAT_PASS;
    const type = bytes[l4];
    if (type === ICMP_ECHO_REPLY) {
      const id = (bytes[l4 + ICMP_ID_OFFSET] << 8) | bytes[l4 + ICMP_ID_OFFSET + 1];
      const e = this.#byExternal(nowMs, outside, IP_PROTO_ICMP, id);
      if (e === null) {
        stats.inboundUnmatched++;
        return NAT_PASS;
      }
      if (e.remoteAddr !== src) {
        stats.inboundFiltered++;
        return NAT_DROP;
      }
      e.replied = true;
      this.#refresh(nowMs, e);
      setIpv4Address(bytes, offset, length, IPV4_DST_OFFSET, e.insideAddr);
      setIcmpId(bytes, l4, e.insidePort);
      stats.translatedIn++;
      return NAT_TRANSLATED;
    }
    if (ICMP_ERROR_TYPES.has(type)) {
      const e = this.#errorEntry(nowMs, bytes, l4, end, outside, true);
      if (e === null) {
        stats.inboundUnmatched++;
        return NAT_PASS;
      }
      this.#translateError(nowMs, bytes, offset, length, outside, true);
      setIpv4Address(bytes, offset, length, IPV4_DST_OFFSET, e.insideAddr);
      stats.translatedIn++;
      return NAT_TRANSLATED;
    }
    stats.inboundUnmatched++;
    return NAT_PASS;
  }

  /**
   * Expires idle connections.
   *
   * @param nowMs current time
   */
  poll(nowMs: number): void {
    if (nowMs < this.#nextSweepMs) return;
    for (const e of this.#all) {
      if (e.expiresMs <= nowMs) this.#remove(e);
    }
    this.#nextSweepMs = this.#all.size === 0 ? Infinity : nowMs + NAT_SWEEP_INTERVAL_MS;
  }

  /**
   * When {@link poll} next has work.
   *
   * @returns the next sweep time, or Infinity without connections
   */
  nextDeadline(): number {
    return this.#nextSweepMs;
  }

  /**
   * The tracked connections (allocates; for CLIs and tests).
   *
   * @returns one record per connection
   */
  list(): NatEntryInfo[] {
    return [...this.#all].map((e) => ({
      protocol: e.protocol === IP_PROTO_TCP ? "tcp" : e.protocol === IP_PROTO_UDP ? "udp" : "icmp",
      inside: [e.insideAddr, e.insidePort],
      external: [e.externalAddr, e.externalPort],
      remote: [e.remoteAddr, e.remotePort],
      replied: e.replied,
      expiresMs: e.expiresMs,
    }));
  }

  /** Forgets every connection. */
  clear(): void {
    for (const e of [...this.#all]) this.#remove(e);
  }

  /**
   * The ICMP error at `l4` quotes a datagram of a tracked connection: which
   * one. `inbound`: the quote is ours going out (external → remote); else an
   * inside host's quote of a datagram it received (remote → inside).
   */
  #errorEntry(
    nowMs: number,
    bytes: Uint8Array,
    l4: number,
    end: number,
    outside: number,
    inbound: boolean,
  ): NatEntry | null {
    const q = l4 + ICMP_HEADER_LEN;
    if (q + IPV4_HEADER_LEN > end) return null;
    const qhl = (bytes[q] & 0x0f) << 2;
    if (qhl < IPV4_HEADER_LEN || q + qhl + 4 > end) return null;
    const qp = bytes[q + 9];
    const qsrc = readI32(bytes, q + IPV4_SRC_OFFSET);
    const qdst = readI32(bytes, q + IPV4_DST_OFFSET);
    const ql4 = q + qhl;
    let e: NatEntry | null;
    if (qp === IP_PROTO_TCP || qp === IP_PROTO_UDP) {
      const sport = (bytes[ql4] << 8) | bytes[ql4 + 1];
      const dport = (bytes[ql4 + 2] << 8) | bytes[ql4 + 3];
      if (inbound) {
        e = this.#byExternal(nowMs, outside, qp, sport);
        return e !== null && e.remoteAddr === qdst && e.remotePort === dport ? e : null;
      }
      e = this.#lookup(nowMs, qp, qdst, dport, qsrc, sport);
      return e !== null && e.outside === outside ? e : null;
    }
    if (qp === IP_PROTO_ICMP && q + qhl + ICMP_HEADER_LEN <= end && inbound) {
      if (bytes[ql4] !== ICMP_ECHO_REQUEST) return null;
      const id = (bytes[ql4 + ICMP_ID_OFFSET] << 8) | bytes[ql4 + ICMP_ID_OFFSET + 1];
      e = this.#byExternal(nowMs, outside, IP_PROTO_ICMP, id);
      return e !== null && e.remoteAddr === qdst ? e : null;
    }
    return null;
  }

  /**
   * Rewrites the quote of an ICMP error (RFC 5508 REQ-3): inbound, the
   * quote's source (external address, port) becomes the inside host's;
   * outbound, the quote's destination (inside) becomes the external one. The
   * quote's header checksum, its transport checksum where quoted, and the
   * ICMP checksum are fixed.
   *
   * @returns false when no tracked connection matches
   */
  #translateError(
    nowMs: number,
    bytes: Uint8Array,
    offset: number,
    length: number,
    outside: number,
    inbound: boolean,
  ): boolean {
    const hl = (bytes[offset] & 0x0f) << 2;
    const l4 = offset + hl;
    const end = offset + length;
    const e = this.#errorEntry(nowMs, bytes, l4, end, outside, inbound);
    if (e === null) return false;
    const q = l4 + ICMP_HEADER_LEN;
    const qhl = (bytes[q] & 0x0f) << 2;
    const qp = bytes[q + 9];
    const quoteLength = end - q;
    const which = inbound ? IPV4_SRC_OFFSET : IPV4_DST_OFFSET;
    const addr = inbound ? e.insideAddr : e.externalAddr;
    const port = inbound ? e.insidePort : e.externalPort;
    // The quote may be cut short: setIpv4Address fixes the transport checksum only when quoted.
    setIpv4Address(bytes, q, quoteLength, which, addr);
    const ql4 = q + qhl;
    if (qp === IP_PROTO_ICMP) {
      if (ql4 + ICMP_HEADER_LEN <= end) setIcmpId(bytes, ql4, port);
    } else {
      const portAt = inbound ? 0 : 2;
      const ckAt = ql4 + (qp === IP_PROTO_TCP ? TCP_CHECKSUM_OFFSET : UDP_CHECKSUM_OFFSET);
      if (ckAt + 2 <= end) setPort(bytes, ql4, portAt, port, qp);
      else {
        bytes[ql4 + portAt] = port >>> 8;
        bytes[ql4 + portAt + 1] = port & 0xff;
      }
    }
    // The ICMP checksum covers the whole message, quote included (RFC 792): recompute.
    bytes[l4 + ICMP_CHECKSUM_OFFSET] = 0;
    bytes[l4 + ICMP_CHECKSUM_OFFSET + 1] = 0;
    const ck = internetChecksum(bytes, l4, end - l4);
    bytes[l4 + ICMP_CHECKSUM_OFFSET] = ck >>> 8;
    bytes[l4 + ICMP_CHECKSUM_OFFSET + 1] = ck & 0xff;
    this.stats.icmpErrorsTranslated++;
    return true;
  }

  /** The connection of an outbound datagram: found, or made with a fresh external port. */
  #track(
    nowMs: number,
    protocol: number,
    src: number,
    sport: number,
    dst: number,
    dport: number,
    outside: number,
    externalAddr: number,
  ): NatEntry | null {
    const found = this.#lookup(nowMs, protocol, src, sport, dst, dport);
    if (found !== null && found.outside === outside && found.externalAddr === externalAddr) {
      return found;
    }
    if (found !== null) this.#remove(found); // the route or the address changed: start over
    if (this.#all.size >= this.#maxEntries) {
      this.poll(nowMs);
      if (this.#all.size >= this.#maxEntries) {
        this.stats.tableFull++;
        return null;
      }
    }
    const port = this.#allocatePort(nowMs, protocol, outside, sport);
    if (port < 0) {
      this.stats.portsExhausted++;
      return null;
    }
    const e = new NatEntry();
    e.protocol = protocol;
    e.insideAddr = src;
    e.insidePort = sport;
    e.remoteAddr = dst;
    e.remotePort = dport;
    e.outside = outside;
    e.externalAddr = externalAddr;
    e.externalPort = port;
    e.expiresMs = nowMs + this.#timeoutOf(e);
    const h = forwardHash(protocol, src, sport, dst, dport);
    e.next = this.#forward.get(h) ?? null;
    this.#forward.set(h, e);
    this.#reverse.set(reverseKey(outside, protocol, port), e);
    this.#all.add(e);
    this.stats.created++;
    this.stats.entries = this.#all.size;
    if (this.#nextSweepMs === Infinity) this.#nextSweepMs = nowMs + NAT_SWEEP_INTERVAL_MS;
    return e;
  }

  /**
   * A free external port: the inside one when it is in range and free, else
   * the first free one from a rolling start. ICMP identifiers use the whole
   * 16-bit space and skip the router's own ping identifiers.
   */
  #allocatePort(nowMs: number, protocol: number, outside: number, preferred: number): number {
    const icmp = protocol === IP_PROTO_ICMP;
    const min = icmp ? 0 : this.#portMin;
    const max = icmp ? PORT_SPACE - 1 : this.#portMax;
    const span = max - min + 1;
    if (
      preferred >= min && preferred <= max && this.#portFree(nowMs, protocol, outside, preferred)
    ) {
      return preferred;
    }
    const slot = protocolSlot(protocol);
    let port = this.#cursor[slot];
    if (port < min || port > max) port = min;
    for (let i = 0; i < span; i++) {
      if (this.#portFree(nowMs, protocol, outside, port)) {
        this.#cursor[slot] = port === max ? min : port + 1;
        return port;
      }
      port = port === max ? min : port + 1;
    }
    return -1;
  }

  #portFree(nowMs: number, protocol: number, outside: number, port: number): boolean {
    if (this.#byExternal(nowMs, outside, protocol, port) !== null) return false;
    if (protocol === IP_PROTO_ICMP && this.localIcmpIdInUse?.(outside, port) === true) {
      return false;
    }
    return true;
  }

  /** The live entry for an external port (an expired one is removed on the way). */
  #byExternal(nowMs: number, outside: number, protocol: number, port: number): NatEntry | null {
    const e = this.#reverse.get(reverseKey(outside, protocol, port));
    if (e === undefined) return null;
    if (e.expiresMs <= nowMs) {
      this.#remove(e);
      return null;
    }
    return e;
  }

  #lookup(
    nowMs: number,
    protocol: number,
    src: number,
    sport: number,
    dst: number,
    dport: number,
  ): NatEntry | null {
    let e = this.#forward.get(forwardHash(protocol, src, sport, dst, dport)) ?? null;
    while (e !== null) {
      if (
        e.protocol === protocol && e.insideAddr === src && e.insidePort === sport &&
        e.remoteAddr === dst && e.remotePort === dport
      ) {
        if (e.expiresMs <= nowMs) {
          this.#remove(e);
          return null;
        }
        return e;
      }
      e = e.next;
    }
    return null;
  }

  #remove(e: NatEntry): void {
    if (!this.#all.delete(e)) return;
    const h = forwardHash(e.protocol, e.insideAddr, e.insidePort, e.remoteAddr, e.remotePort);
    let head = this.#forward.get(h) ?? null;
    if (head === e) {
      if (e.next === null) this.#forward.delete(h);
      else this.#forward.set(h, e.next);
    } else {
      while (head !== null && head.next !== e) head = head.next;
      if (head !== null) head.next = e.next;
    }
    e.next = null;
    const rk = reverseKey(e.outside, e.protocol, e.externalPort);
    if (this.#reverse.get(rk) === e) this.#reverse.delete(rk);
    this.stats.expired++;
    this.stats.entries = this.#all.size;
  }

  #refresh(nowMs: number, e: NatEntry): void {
    e.expiresMs = nowMs + this.#timeoutOf(e);
  }

  /** Follows a TCP connection coarsely (SYN, established, closing, reset), Linux's timeouts per state. */
  #tcpSeen(nowMs: number, e: NatEntry, flags: number): void {
    if ((flags & TCP_RST) !== 0) e.tcp = TcpTrack.Closed;
    else if ((flags & TCP_FIN) !== 0) {
      if (e.tcp !== TcpTrack.Closed) e.tcp = TcpTrack.Closing;
    } else if (e.tcp === TcpTrack.Syn && e.replied && (flags & TCP_SYN) === 0) {
      e.tcp = TcpTrack.Established;
    }
    this.#refresh(nowMs, e);
  }

  #timeoutOf(e: NatEntry): number {
    const t = this.#timeouts;
    if (e.protocol === IP_PROTO_UDP) return e.replied ? t.udpRepliedMs : t.udpMs;
    if (e.protocol === IP_PROTO_ICMP) return t.icmpMs;
    switch (e.tcp) {
      case TcpTrack.Syn:
        return t.tcpSynMs;
      case TcpTrack.Established:
        return t.tcpEstablishedMs;
      case TcpTrack.Closing:
        return t.tcpClosingMs;
      default:
        return t.tcpClosedMs;
    }
  }
}

function laterFragment(bytes: Uint8Array, offset: number): boolean {
  const o = offset + IPV4_FLAGS_FRAGMENT_OFFSET;
  return (((bytes[o] << 8) | bytes[o + 1]) & FRAGMENT_OFFSET_MASK) !== 0;
}

function protocolSlot(protocol: number): number {
  return protocol === IP_PROTO_TCP ? 0 : protocol === IP_PROTO_UDP ? 1 : 2;
}

function reverseKey(outside: number, protocol: number, port: number): number {
  return outside * 0x40000 + protocolSlot(protocol) * PORT_SPACE + port;
}

function forwardHash(
  protocol: number,
  src: number,
  sport: number,
  dst: number,
  dport: number,
): number {
  let h = Math.imul(protocol ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ src, 0xc2b2ae35);
  h = Math.imul(h ^ ((sport << 16) | dport), 0x85ebca6b);
  h = Math.imul(h ^ dst, 0xc2b2ae35);
  return h ^ (h >>> 15);
}

/**
 * Writes a TCP/UDP port (`at` 0 source, 2 destination) and updates the
 * transport checksum incrementally (RFC 1624); a UDP checksum of 0 stays 0.
 * A partial checksum field (`partial`: the pseudo-header sum, completed by
 * the egress device over the header as it leaves) covers no port: unchanged
 * (Linux inet_proto_csum_replace2 with pseudohdr false on CHECKSUM_PARTIAL).
 */
function setPort(
  bytes: Uint8Array,
  l4: number,
  at: number,
  port: number,
  protocol: number,
  partial = false,
): void {
  const o = l4 + at;
  const old = (bytes[o] << 8) | bytes[o + 1];
  if (old === port) return;
  bytes[o] = port >>> 8;
  bytes[o + 1] = port & 0xff;
  if (partial) return;
  const ck = l4 + (protocol === IP_PROTO_TCP ? TCP_CHECKSUM_OFFSET : UDP_CHECKSUM_OFFSET);
  const c = (bytes[ck] << 8) | bytes[ck + 1];
  if (protocol === IP_PROTO_UDP && c === 0) return;
  let n = updateChecksum16(c, old, port);
  if (protocol === IP_PROTO_UDP && n === 0) n = 0xffff;
  bytes[ck] = n >>> 8;
  bytes[ck + 1] = n & 0xff;
}

/** Writes an ICMP echo identifier and updates the ICMP checksum incrementally. */
function setIcmpId(bytes: Uint8Array, l4: number, id: number): void {
  const o = l4 + ICMP_ID_OFFSET;
  const old = (bytes[o] << 8) | bytes[o + 1];
  if (old === id) return;
  bytes[o] = id >>> 8;
  bytes[o + 1] = id & 0xff;
  const ck = l4 + ICMP_CHECKSUM_OFFSET;
  const n = updateChecksum16((bytes[ck] << 8) | bytes[ck + 1], old, id);
  bytes[ck] = n >>> 8;
  bytes[ck + 1] = n & 0xff;
}
