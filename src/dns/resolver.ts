/**
 * A stub resolver (RFC 1035 §7, RFC 1123 §6.1.3) as a synchronous engine.
 *
 * `resolve(nowMs, name, type)` answers at once from a numeric literal, the
 * {@link HostsTable} or the {@link DnsCache}; otherwise it starts a
 * {@link DnsLookup}: a query with a random 16-bit id (RFC 5452 §9.2) sent to
 * the configured servers in turn, each attempt waiting `timeoutMs`, from a
 * fresh ephemeral UDP port (random, RFC 5452 §10) per server asked. Each
 * port is connected to its server, like glibc's one connected socket per
 * name server: it receives only that server's datagrams, and an ICMP port or
 * host unreachable about the query reaches the lookup, which then moves to
 * the next server at once (unconnected ports ignore ICMP errors). An answer is accepted only from
 * a server that was asked, with the query's id and question (RFC 5452 §4);
 * anything else is ignored and counted. CNAME chains inside the answer are
 * followed (RFC 1034 §3.6.2); results are cached by TTL, NXDOMAIN and NODATA
 * negatively per RFC 2308 §5. A truncated answer (TC) is asked again over TCP
 * from the same server when the owner gave a {@link DnsTcpTransport}
 * (RFC 7766 §5: a stub resolver must fall back to TCP; RFC 1035 §4.2.2: each
 * message is prefixed with its 16-bit length), within the same attempt's
 * deadline.
 *
 * The engine never reads a clock or sets a timer: the owner calls
 * {@link DnsResolver.poll} at {@link DnsResolver.nextDeadline} (and is told
 * of new deadlines through {@link DnsResolver.onSchedule}); answers arrive
 * through the UDP endpoints' `onReadable` hooks during packet input.
 *
 * @module
 */

import { type Ipv6Address, parseIpv6 } from "../wire/ipv6_address.ts";
import { formatIpv4, isIpv4Number, parseIpv4 } from "../wire/address.ts";
import {
  DNS_CLASS_IN,
  DNS_OPCODE_QUERY,
  DNS_PORT,
  DNS_RCODE_NOERROR,
  DNS_RCODE_NXDOMAIN,
  DNS_RCODE_REFUSED,
  DNS_RCODE_SERVFAIL,
  DNS_TYPE_A,
  DNS_TYPE_AAAA,
  DNS_TYPE_CNAME,
  DNS_TYPE_SOA,
  DnsMessage,
  type DnsRecord,
  encodeDnsQuery,
  formatIpv6,
  validateDnsName,
} from "../wire/dns.ts";
import { isWireError } from "../wire/error.ts";
import type { UdpBindOptions, UdpEndpoint } from "../udp/udp_layer.ts";
import { DnsCache, type DnsCacheOptions } from "./cache.ts";
import { DnsError, type DnsErrorCode } from "./dns_error.ts";
import { HostsTable } from "./hosts.ts";
import { canonicalIpLiteral } from "./ip_literal.ts";
import { type DnsRecordType, normalizeDnsName, recordTypeCode } from "./name.ts";

/** Default wait for an answer per attempt (ms). */
export const DEFAULT_DNS_TIMEOUT_MS = 2000;
/** Default number of rounds over the server list. */
export const DEFAULT_DNS_ATTEMPTS = 3;
/** Default bound on CNAME records followed within one answer. */
export const DEFAULT_MAX_CNAME_DEPTH = 8;
/** Largest answer read; we send no EDNS0 OPT, so servers keep to 512 (RFC 1035 §4.2.1). */
const DNS_RECEIVE_BYTES = 4096;
/** RFC 1035 §4.2.2: a message over TCP is prefixed with its length, a 16-bit field. */
const TCP_LENGTH_PREFIX_BYTES = 2;
/** Largest query we encode: header + 255-octet name + type/class. */
const DNS_QUERY_BYTES = 512;
/** Receive queue of a lookup's endpoint: a few answers in flight, stray copies dropped. */
const LOOKUP_QUEUE_DATAGRAMS = 8;
const LOOKUP_QUEUE_BYTES = 16 * 1024;
/** RFC 2181 §8: a TTL with the most significant bit set is treated as zero. */
const TTL_MAX_VALID = 0x7fff_ffff;
/** The SOA MINIMUM field is the last 32 bits of its RDATA (RFC 1035 §3.3.13). */
const SOA_MINIMUM_BYTES = 4;
/** Smallest SOA RDATA: two root names + five 32-bit fields. */
const SOA_MIN_RDATA_BYTES = 2 + 20;
const QUERY_ID_SPACE = 0x1_0000;

/** A DNS server: IPv4 address and UDP port. */
export interface DnsServer {
  /**
   * IPv4 address as a signed 32-bit integer (src/wire/address.ts); {@link parseDnsServer}
   * also accepts the unsigned form and normalises it.
   */
  addr: number;
  /** UDP port (53). */
  port: number;
  /** An IPv6 server (issue 18): its address; `addr` is then 0. */
  addr6?: Ipv6Address | null;
}

/**
 * A TCP connection as the resolver uses it for a truncated answer (a
 * `TcpConnection` fits).
 */
export interface DnsStream {
  /** Queues bytes; returns how many were taken (-1: the send side is closed). */
  write(src: Uint8Array, offset: number, length: number): number;
  /** Reads received bytes; 0 when none are buffered. */
  read(dst: Uint8Array, offset: number, length: number): number;
  /** The peer closed its side and every byte was read. */
  readonly eof: boolean;
  /** Graceful close (FIN). */
  close(): void;
  /** Abort (RST). */
  abort(): void;
}

/** What a {@link DnsStream} tells the resolver; called after input processing, never re-entrantly. */
export interface DnsStreamEvents {
  /** The connection is established: the query can go. */
  onEstablished(): void;
  /** Data (or the peer's FIN) arrived. */
  onReadable(): void;
  /** Send-buffer room was freed after a short write. */
  onWritable(): void;
  /** The connection exchanges no more data; `error` for reset, refused, timed out. */
  onClosed(error: { message: string } | null): void;
}

/** Where truncated answers are asked again over TCP (the stack adapts its `TcpLayer`). */
export interface DnsTcpTransport {
  /**
   * Opens a connection to `addr:port`.
   *
   * @throws when no connection can be started (no route, no port): the attempt fails
   */
  connect(
    nowMs: number,
    addr: number,
    port: number,
    events: DnsStreamEvents,
    addr6?: Ipv6Address | null,
  ): DnsStream;
}

/** Where lookups get their UDP ports: a `UdpLayer` fits. */
export interface DnsTransport {
  /** Binds a port (0 = random ephemeral). */
  bind(port: number, opts?: UdpBindOptions): UdpEndpoint;
}

/** Options of {@link DnsResolver}. */
export interface DnsResolverOptions {
  /** Servers as `"192.0.2.1"`, `"192.0.2.1:5353"` or {@link DnsServer}. */
  servers?: readonly (string | DnsServer)[];
  /** Wait per attempt (ms, default 2000). */
  timeoutMs?: number;
  /** Rounds over the server list (default 3): a silent set of servers is asked `attempts × servers` times. */
  attempts?: number;
  /** CNAME records followed within one answer (default 8). */
  maxCnameDepth?: number;
  /** Static names consulted before DNS. */
  hosts?: HostsTable;
  /** Cache bounds. */
  cache?: DnsCacheOptions;
  /** Uniform random number in [0, 1) for query ids; default crypto-strong. */
  random?: () => number;
  /**
   * TCP for truncated answers (RFC 7766 §5). Without it a truncated answer
   * fails the attempt as MALFORMED.
   */
  tcp?: DnsTcpTransport;
}

/** Counters of a {@link DnsResolver}. */
export interface DnsResolverStats {
  /** Lookups started. */
  lookups: number;
  /** Answered from a numeric literal. */
  literalHits: number;
  /** Answered from the hosts table. */
  hostsHits: number;
  /** Answered from the cache. */
  cacheHits: number;
  /** Queries transmitted (retries included). */
  queriesSent: number;
  /** Queries the UDP layer refused to send. */
  sendErrors: number;
  /** Responses accepted as answers to a pending query. */
  responses: number;
  /** Attempts that timed out. */
  timeouts: number;
  /** Ignored: from an address/port we did not ask. */
  ignoredWrongServer: number;
  /** Ignored: the id did not match (or no id). */
  ignoredWrongId: number;
  /** Ignored: the question did not match ours. */
  ignoredWrongQuestion: number;
  /** Ignored: not a response to a standard query. */
  ignoredNotResponse: number;
  /** Answers that failed to parse. */
  malformed: number;
  /** Answers with TC set. */
  truncated: number;
  /** Queries asked again over TCP after a truncated answer. */
  tcpQueries: number;
  /** TCP exchanges that ended without an answer (refused, reset, closed early, timed out). */
  tcpFailures: number;
  /** Answers with SERVFAIL, REFUSED or another error RCODE. */
  errorRcodes: number;
  /** ICMP errors received on lookup ports. */
  icmpErrors: number;
}

/**
 * One lookup. When it finishes, {@link result} or {@link error} is set and
 * {@link onDone} is called once. Lookups answered without the network
 * (literal, hosts, cache) are already done when returned — check
 * {@link done} before setting {@link onDone}.
 *
 * @example
 * ```ts
 * import { DnsResolver } from "./resolver.ts";
 * const transport = { bind(): never { throw new Error("no network in this example"); } };
 * const resolver = new DnsResolver(transport, { servers: ["192.0.2.1"] });
 * const lookup = resolver.resolve(0, "192.0.2.9", "A");   // an IP literal: done at once
 * console.assert(lookup.done && lookup.source === "literal" && lookup.result![0] === "192.0.2.9");
 * ```
 */
export class DnsLookup {
  /** The name as asked. */
  readonly hostname: string;
  /** The record type asked for. */
  readonly recordType: DnsRecordType;
  /** Called once when the lookup finishes (synchronously, from resolve/poll/packet input). */
  onDone: ((lookup: DnsLookup) => void) | null = null;
  /** The addresses (possibly empty: the name has no records of this type) once done. */
  result: string[] | null = null;
  /** The failure once done. */
  error: DnsError | null = null;
  /** Where the answer came from. */
  source: "literal" | "hosts" | "cache" | "dns" | null = null;
  /** Queries sent so far. */
  queriesSent = 0;
  /** @internal */
  qname: string;
  /** @internal */
  qtype: number;
  /** @internal */
  id = 0;
  /** @internal the UDP port of each server asked (by server index), connected to it. */
  endpoints: (UdpEndpoint | null)[] = [];
  /** @internal attempts made (transmissions). */
  tries = 0;
  /** @internal index of the server of the current attempt. */
  serverIndex = 0;
  /** @internal indexes of the servers asked so far. */
  asked: Set<number> = new Set();
  /** @internal when the current attempt gives up (ms). */
  deadlineMs = Infinity;
  /** @internal the most telling failure so far. */
  lastFailure: DnsErrorCode | null = null;
  /** @internal */
  lastDetail = "";
  /** @internal the TCP exchange after a truncated answer, if one is running. */
  tcp: TcpExchange | null = null;

  /**
   * Made by {@link DnsResolver.resolve}.
   *
   * @param hostname the name as asked
   * @param recordType A or AAAA
   * @param qname the normalized name queried
   */
  constructor(hostname: string, recordType: DnsRecordType, qname: string) {
    this.hostname = hostname;
    this.recordType = recordType;
    this.qname = qname;
    this.qtype = recordTypeCode(recordType);
  }

  /** True once {@link result} or {@link error} is set. */
  get done(): boolean {
    return this.result !== null || this.error !== null;
  }
}

/** One query over TCP (RFC 1035 §4.2.2): the length-prefixed query out, the answer in. */
class TcpExchange {
  /** The connection (set right after connect returns). */
  stream: DnsStream | null = null;
  /** Index of the server asked. */
  readonly serverIndex: number;
  /** The query with its length prefix, and how much of it was written. */
  readonly query: Uint8Array;
  written = 0;
  /** The answer's length prefix, then the answer (sized by it). */
  readonly prefix: Uint8Array = new Uint8Array(TCP_LENGTH_PREFIX_BYTES);
  prefixRead = 0;
  answer: Uint8Array | null = null;
  answerRead = 0;

  constructor(serverIndex: number, query: Uint8Array) {
    this.serverIndex = serverIndex;
    this.query = query;
  }
}

let cryptoWord: Uint32Array | null = null;
function cryptoRandom(): number {
  if (cryptoWord === null) cryptoWord = new Uint32Array(1);
  crypto.getRandomValues(cryptoWord);
  return cryptoWord[0] / 0x1_0000_0000;
}

/**
 * Parses a server given as text (`"a.b.c.d"` or `"a.b.c.d:port"`) or an object.
 *
 * @param server the server
 * @returns the numeric form
 * @throws {TypeError} when the address or port is invalid
 *
 * @example
 * ```ts
 * import { parseDnsServer } from "./resolver.ts";
 * const s = parseDnsServer("192.0.2.1:5353");
 * console.assert(s.addr === (0xc0000201 | 0) && s.port === 5353); // int32 address
 * console.assert(parseDnsServer({ addr: 0xc0000201, port: 53 }).addr === s.addr);
 * console.assert(parseDnsServer("192.0.2.1").port === 53);
 * ```
 */
export function parseDnsServer(server: string | DnsServer): DnsServer {
  let addr: number | null;
  let port: number;
  const six = typeof server === "string" ? parseIpv6Server(server) : null;
  if (six !== null) return six;
  if (typeof server !== "string" && server.addr6 != null) {
    port = server.port ?? DNS_PORT;
    if (!Number.isInteger(port) || port < 1 || port > 0xffff) {
      throw new TypeError(`invalid DNS server port: ${JSON.stringify(server)}`);
    }
    return { addr: 0, port, addr6: server.addr6 };
  }
  if (typeof server === "string") {
    const colon = server.indexOf(":");
    addr = parseIpv4(colon < 0 ? server : server.slice(0, colon));
    port = colon < 0 ? DNS_PORT : Number(server.slice(colon + 1));
  } else {
    addr = server.addr;
    port = server.port ?? DNS_PORT;
  }
  if (!isIpv4Number(addr) || addr === 0) {
    throw new TypeError(`invalid DNS server address: ${JSON.stringify(server)}`);
  }
  // Replies are matched with `===` against the int32 source address UDP reports.
  addr |= 0;
  if (!Number.isInteger(port) || port < 1 || port > 0xffff) {
    throw new TypeError(`invalid DNS server port: ${JSON.stringify(server)}`);
  }
  return { addr, port };
}

/**
 * The stub resolver engine.
 *
 * @example
 * ```ts
 * import { DnsResolver } from "./resolver.ts";
 * import { HostsTable } from "./hosts.ts";
 * const transport = { bind(): never { throw new Error("no network in this example"); } };
 * const hosts = HostsTable.parse("192.0.2.7 printer.test");
 * const resolver = new DnsResolver(transport, { servers: ["192.0.2.1"], hosts });
 * console.assert(resolver.resolve(0, "printer.test", "A").result![0] === "192.0.2.7");
 * console.assert(resolver.resolve(0, "192.0.2.9", "A").result![0] === "192.0.2.9");
 * console.assert(resolver.nextDeadline() === Infinity);
 * ```
 */
export class DnsResolver {
  /** The static hosts table (mutable). */
  readonly hosts: HostsTable;
  /** The answer cache. */
  readonly cache: DnsCache;
  /** The configured servers, in order (replaced by {@link setServers}). */
  get servers(): readonly DnsServer[] {
    return this.#servers;
  }
  #servers: readonly DnsServer[];
  /** Wait per attempt (ms). */
  readonly timeoutMs: number;
  /** Rounds over the server list. */
  readonly attempts: number;
  /** CNAME records followed within one answer. */
  readonly maxCnameDepth: number;
  /** Told the deadline of every attempt started, so the owner can arm a timer. */
  onSchedule: ((deadlineMs: number) => void) | null = null;
  /** Counters. */
  readonly stats: DnsResolverStats = {
    lookups: 0,
    literalHits: 0,
    hostsHits: 0,
    cacheHits: 0,
    queriesSent: 0,
    sendErrors: 0,
    responses: 0,
    timeouts: 0,
    ignoredWrongServer: 0,
    ignoredWrongId: 0,
    ignoredWrongQuestion: 0,
    ignoredNotResponse: 0,
    malformed: 0,
    truncated: 0,
    tcpQueries: 0,
    tcpFailures: 0,
    errorRcodes: 0,
    icmpErrors: 0,
  };
  #transport: DnsTransport;
  #tcp: DnsTcpTransport | null;
  #random: () => number;
  #pending = new Set<DnsLookup>();
  #nextServer = 0;
  #nowMs = 0;
  #txBuffer = new Uint8Array(DNS_QUERY_BYTES);
  #rxBuffer = new Uint8Array(DNS_RECEIVE_BYTES);

  /**
   * Creates a resolver.
   *
   * @param transport where lookups bind their random ephemeral UDP ports (a `UdpLayer`)
   * @param opts servers, timeouts, hosts table, cache bounds
   * @throws {TypeError} on an invalid server or option
   */
  constructor(transport: DnsTransport, opts: DnsResolverOptions = {}) {
    this.#transport = transport;
    this.#servers = (opts.servers ?? []).map(parseDnsServer);
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_DNS_TIMEOUT_MS;
    this.attempts = opts.attempts ?? DEFAULT_DNS_ATTEMPTS;
    this.maxCnameDepth = opts.maxCnameDepth ?? DEFAULT_MAX_CNAME_DEPTH;
    if (!(this.timeoutMs > 0)) throw new TypeError(`timeoutMs must be > 0, got ${this.timeoutMs}`);
    if (!Number.isInteger(this.attempts) || this.attempts < 1) {
      throw new TypeError(`attempts must be an integer ≥ 1, got ${this.attempts}`);
    }
    this.hosts = opts.hosts ?? new HostsTable();
    this.cache = new DnsCache(opts.cache);
    this.#random = opts.random ?? cryptoRandom;
    this.#tcp = opts.tcp ?? null;
  }

  /** Lookups waiting for the network. */
  get pendingCount(): number {
    return this.#pending.size;
  }

  /**
   * Starts a lookup of `name`. Numeric literals return themselves; then the
   * hosts table, then the cache are consulted; otherwise a query goes out.
   *
   * @param nowMs current time (ms)
   * @param name host name (trailing dot optional) or address literal
   * @param type `"A"` or `"AAAA"`
   * @returns the lookup (already done unless it needs the network)
   */
  resolve(nowMs: number, name: string, type: DnsRecordType): DnsLookup {
    this.#nowMs = nowMs;
    this.stats.lookups++;
    const qname = normalizeDnsName(name);
    const lookup = new DnsLookup(name, type, qname);
    if (type !== "A" && type !== "AAAA") {
      return this.#fail(lookup, "BADNAME", `unsupported record type ${JSON.stringify(type)}`);
    }
    const literal = canonicalIpLiteral(name);
    if (literal !== null) {
      this.stats.literalHits++;
      return this.#succeed(lookup, [literal], "literal");
    }
    const invalid = validateDnsName(qname);
    if (invalid !== null || qname === "" || qname === ".") {
      return this.#fail(lookup, "BADNAME", invalid ?? "empty name");
    }
    const fromHosts = this.hosts.lookup(qname, type);
    if (fromHosts !== null) {
      this.stats.hostsHits++;
      return this.#succeed(lookup, fromHosts, "hosts");
    }
    const cached = this.cache.get(nowMs, qname, type);
    if (cached !== null) {
      this.stats.cacheHits++;
      if (cached.negative === "NXDOMAIN") {
        lookup.source = "cache";
        return this.#fail(lookup, "NXDOMAIN", "name does not exist (cached)");
      }
      return this.#succeed(lookup, cached.addresses.slice(), "cache");
    }
    if (this.servers.length === 0) {
      return this.#fail(lookup, "UNREACHABLE", "no DNS servers configured");
    }
    lookup.id = Math.floor(this.#random() * QUERY_ID_SPACE) % QUERY_ID_SPACE;
    // Round robin: successive lookups start at successive servers.
    lookup.serverIndex = this.#nextServer;
    this.#nextServer = (this.#nextServer + 1) % this.servers.length;
    this.#pending.add(lookup);
    this.#transmit(lookup, nowMs, false);
    return lookup;
  }

  /**
   * The earliest attempt deadline (ms), or Infinity when nothing is pending.
   *
   * @returns when to call {@link poll}
   */
  nextDeadline(): number {
    let next = Infinity;
    // A for-of over a Set allocates an iterator: this runs every loop iteration.
    if (this.#pending.size === 0) return next;
    for (const lookup of this.#pending) if (lookup.deadlineMs < next) next = lookup.deadlineMs;
    return next;
  }

  /**
   * Runs due timeouts: retries with the next server, or fails with TIMEOUT
   * (or the most telling earlier failure) after the last attempt.
   *
   * @param nowMs current time (ms)
   */
  poll(nowMs: number): void {
    this.#nowMs = nowMs;
    if (this.#pending.size === 0) return; // no copy of an empty set every loop iteration
    for (const lookup of [...this.#pending]) {
      if (lookup.deadlineMs <= nowMs && !lookup.done) {
        this.stats.timeouts++;
        if (lookup.tcp !== null) {
          this.stats.tcpFailures++;
          lookup.lastFailure = "TIMEOUT";
          lookup.lastDetail = `${
            serverText(this.servers[lookup.tcp.serverIndex])
          }: no answer over TCP within ${this.timeoutMs} ms`;
          this.#endTcp(lookup, true);
        }
        this.#transmit(lookup, nowMs, true);
      }
    }
  }

  /**
   * Replaces the servers (e.g. those a DHCP lease names, RFC 2132 §3.8).
   *
   * @param servers `"192.0.2.1"` or `"192.0.2.1:5353"` strings or parsed servers
   * @throws {TypeError} on an invalid server
   */
  setServers(servers: readonly (string | DnsServer)[]): void {
    const next = servers.map(parseDnsServer);
    // Lookups in flight hold indexes into the old list: they fail (as if every server were
    // silent) rather than ask a server at a stale index.
    if (this.#pending.size > 0 && next.length !== this.#servers.length) {
      for (const lookup of [...this.#pending]) {
        this.#fail(lookup, "CANCELLED", "the DNS servers changed (a new DHCP lease)");
      }
    }
    this.#servers = next;
    this.#nextServer = 0;
  }

  /** Fails every pending lookup with CANCELLED and releases its port. */
  close(): void {
    for (const lookup of [...this.#pending]) {
      this.#fail(lookup, "CANCELLED", "resolver closed");
    }
  }

  /** Sends the next attempt, or finishes the lookup when attempts are exhausted. */
  #transmit(lookup: DnsLookup, nowMs: number, advance: boolean): void {
    const total = this.attempts * this.servers.length;
    // A loop, not recursion: a send that fails at once moves straight to the next attempt.
    while (!lookup.done) {
      if (advance) lookup.serverIndex = (lookup.serverIndex + 1) % this.servers.length;
      advance = true;
      if (lookup.tries >= total) {
        const code = lookup.lastFailure ?? "TIMEOUT";
        const detail = lookup.lastFailure === null
          ? `no answer after ${lookup.tries} queries (${this.timeoutMs} ms each)`
          : lookup.lastDetail;
        this.#fail(lookup, code, detail);
        return;
      }
      lookup.tries++;
      const server = this.servers[lookup.serverIndex];
      const length = this.#encodeQuery(lookup);
      lookup.asked.add(lookup.serverIndex);
      const attempt = lookup.tries;
      const endpoint = this.#endpointFor(lookup, lookup.serverIndex);
      if (endpoint instanceof Error) {
        this.stats.sendErrors++;
        lookup.lastFailure = "UNREACHABLE";
        lookup.lastDetail = `${serverText(server)}: ${endpoint.message}`;
        continue;
      }
      const sent = server.addr6 != null
        ? endpoint.send6(nowMs, this.#txBuffer.subarray(0, length), server.addr6, server.port)
        : endpoint.send(nowMs, this.#txBuffer.subarray(0, length), server.addr, server.port);
      if (typeof sent === "number") {
        this.stats.queriesSent++;
        lookup.queriesSent++;
        // A link that delivers synchronously may already have answered (or
        // moved on to a later attempt) inside send(): keep that outcome.
        if (lookup.done || lookup.tries !== attempt) return;
        lookup.deadlineMs = nowMs + this.timeoutMs;
        this.onSchedule?.(lookup.deadlineMs);
        return;
      }
      this.stats.sendErrors++;
      lookup.lastFailure = "UNREACHABLE";
      lookup.lastDetail = `${serverText(server)}: ${sent.message}`;
    }
  }

  /** Encodes the lookup's query into the transmit buffer; returns its length. */
  #encodeQuery(lookup: DnsLookup): number {
    return encodeDnsQuery(
      { id: lookup.id, name: lookup.qname, type: lookup.qtype },
      this.#txBuffer,
      0,
    );
  }

  /**
   * The lookup's port for server `serverIndex`: bound and connected to the
   * server the first time it is asked, then reused by retries to it.
   *
   * @returns the endpoint, or why there is none (no port, no route)
   */
  #endpointFor(lookup: DnsLookup, serverIndex: number): UdpEndpoint | Error {
    const known = lookup.endpoints[serverIndex];
    if (known !== undefined && known !== null) return known;
    const server = this.servers[serverIndex];
    let endpoint: UdpEndpoint;
    try {
      endpoint = this.#transport.bind(0, {
        queueBytes: LOOKUP_QUEUE_BYTES,
        queueDatagrams: LOOKUP_QUEUE_DATAGRAMS,
      });
    } catch (e) {
      return new Error(`no UDP port: ${(e as Error).message}`);
    }
    // Connected (glibc's send_dg connects each name server's socket): only this server's
    // datagrams arrive, and ICMP errors about the query are delivered (unconnected ports
    // ignore them, as Linux's do).
    const error = server.addr6 != null
      ? endpoint.connect6(server.addr6, server.port)
      : endpoint.connect(server.addr, server.port);
    if (error !== null) {
      endpoint.close();
      return error;
    }
    endpoint.onReadable = () => this.#onReadable(lookup, serverIndex);
    while (lookup.endpoints.length < serverIndex) lookup.endpoints.push(null);
    lookup.endpoints[serverIndex] = endpoint;
    return endpoint;
  }

  /** Drains a lookup's endpoint for one server: answers, stray datagrams, ICMP errors. */
  #onReadable(lookup: DnsLookup, serverIndex: number): void {
    const endpoint = lookup.endpoints[serverIndex];
    if (endpoint === undefined || endpoint === null) return;
    while (!lookup.done) {
      const icmp = endpoint.takeError();
      if (icmp !== null) {
        this.stats.icmpErrors++;
        const current = this.servers[lookup.serverIndex];
        if (serverIndex === lookup.serverIndex) {
          // RFC 1122 §4.1.3.3: the server's host/port is unreachable: try the next one now.
          lookup.lastFailure = "UNREACHABLE";
          lookup.lastDetail = `${serverText(current)}: ${icmp.message}`;
          this.#transmit(lookup, this.#nowMs, true);
        }
        continue;
      }
      const n = endpoint.receiveInto(this.#rxBuffer, 0);
      if (n < 0) return;
      this.#onDatagram(
        lookup,
        n,
        endpoint.lastLength,
        endpoint.lastSrcAddr,
        endpoint.lastSrcPort,
        endpoint.lastSrcAddr6,
      );
    }
  }

  #onDatagram(
    lookup: DnsLookup,
    length: number,
    fullLength: number,
    srcAddr: number,
    srcPort: number,
    srcAddr6: Ipv6Address | null,
  ): void {
    const stats = this.stats;
    const bytes = this.#rxBuffer;
    // RFC 5452 §4.1: only an answer from a server we asked, to the port we asked from.
    const serverIndex = this.#askedServer(lookup, srcAddr, srcPort, srcAddr6);
    if (serverIndex < 0) {
      stats.ignoredWrongServer++;
      return;
    }
    this.#onMessage(lookup, serverIndex, bytes, length, fullLength > length, false);
  }

  /**
   * An answer from server `serverIndex` (over UDP, or over TCP when `viaTcp`):
   * checked against the query, then used.
   *
   * @returns false when it was ignored (another id, question or kind of
   *   message): the attempt still waits for its answer
   */
  #onMessage(
    lookup: DnsLookup,
    serverIndex: number,
    bytes: Uint8Array,
    length: number,
    tooLong: boolean,
    viaTcp: boolean,
  ): boolean {
    const stats = this.stats;
    // The id can be checked before parsing; a malformed packet with the wrong id is just noise.
    if (length < 2 || ((bytes[0] << 8) | bytes[1]) !== lookup.id) {
      stats.ignoredWrongId++;
      return false;
    }
    const server = this.servers[serverIndex];
    const msg = tooLong ? null : DnsMessage.parse(bytes, 0, length);
    if (msg === null || isWireError(msg)) {
      stats.malformed++;
      this.#attemptFailed(
        lookup,
        "MALFORMED",
        `${serverText(server)}: ${msg ?? "answer too long"}`,
      );
      return true;
    }
    if (!msg.qr || msg.opcode !== DNS_OPCODE_QUERY) {
      stats.ignoredNotResponse++;
      return false;
    }
    // RFC 5452 §4.2: the question section must repeat ours.
    const q = msg.questions;
    if (
      q.length !== 1 || q[0].type !== lookup.qtype || q[0].class !== DNS_CLASS_IN ||
      normalizeDnsName(q[0].name) !== lookup.qname
    ) {
      stats.ignoredWrongQuestion++;
      return false;
    }
    if (msg.tc && !viaTcp && lookup.tcp !== null) return false; // a copy of the one re-asked
    stats.responses++;
    if (msg.tc) {
      // RFC 2181 §9: a truncated answer is not to be used. RFC 7766 §5: ask again over TCP.
      stats.truncated++;
      if (!viaTcp && this.#tcp !== null) {
        this.#startTcp(lookup, serverIndex);
        return true;
      }
      this.#attemptFailed(
        lookup,
        "MALFORMED",
        `${serverText(server)}: truncated answer (TC)${viaTcp ? " over TCP" : ""}`,
      );
      return true;
    }
    switch (msg.rcode) {
      case DNS_RCODE_NOERROR:
        this.#onAnswer(lookup, msg.answers, msg.authorities);
        return true;
      case DNS_RCODE_NXDOMAIN: {
        // RFC 2308 §5: cache for the SOA-derived TTL; without an SOA, do not cache.
        const ttl = negativeTtl(msg.authorities);
        if (ttl > 0) {
          this.cache.putNegative(this.#nowMs, lookup.qname, lookup.recordType, "NXDOMAIN", ttl);
        }
        this.#fail(lookup, "NXDOMAIN", `${serverText(server)}: name does not exist`);
        return true;
      }
      case DNS_RCODE_REFUSED:
        stats.errorRcodes++;
        this.#attemptFailed(lookup, "REFUSED", `${serverText(server)}: query refused`);
        return true;
      case DNS_RCODE_SERVFAIL:
      default:
        // RFC 1035 §7.3 / RFC 1034 §5.3.3: a server failure sends us to the next server.
        stats.errorRcodes++;
        this.#attemptFailed(
          lookup,
          "SERVFAIL",
          `${serverText(server)}: server failure (RCODE ${msg.rcode})`,
        );
        return true;
    }
  }

  /** NOERROR: follow the CNAME chain from the question name (RFC 1034 §3.6.2, §4.3.2). */
  #onAnswer(lookup: DnsLookup, answers: DnsRecord[], authorities: DnsRecord[]): void {
    let current = lookup.qname;
    let ttl = TTL_MAX_VALID;
    for (let depth = 0;; depth++) {
      const addresses: string[] = [];
      let cname: string | null = null;
      for (const rr of answers) {
        if (rr.class !== DNS_CLASS_IN || normalizeDnsName(rr.name) !== current) continue;
        if (rr.type === lookup.qtype) {
          const text = formatAddress(rr);
          if (text === null) continue;
          if (!addresses.includes(text)) addresses.push(text);
          ttl = Math.min(ttl, validTtl(rr.ttl));
        } else if (rr.type === DNS_TYPE_CNAME && rr.target !== undefined && cname === null) {
          cname = normalizeDnsName(rr.target);
          ttl = Math.min(ttl, validTtl(rr.ttl));
        }
      }
      if (addresses.length > 0) {
        this.cache.putPositive(this.#nowMs, lookup.qname, lookup.recordType, addresses, ttl);
        this.#succeed(lookup, addresses, "dns");
        return;
      }
      if (cname === null) break;
      if (depth >= this.maxCnameDepth) {
        this.#attemptFailed(lookup, "SERVFAIL", `CNAME chain longer than ${this.maxCnameDepth}`);
        return;
      }
      current = cname;
    }
    // NODATA (RFC 2308 §2.2): the name exists without records of this type.
    const negTtl = negativeTtl(authorities);
    if (negTtl > 0) {
      this.cache.putNegative(this.#nowMs, lookup.qname, lookup.recordType, "NODATA", negTtl);
    }
    this.#succeed(lookup, [], "dns");
  }

  /**
   * Asks server `serverIndex` again over TCP (RFC 7766 §5) within the current
   * attempt's deadline: the query, length-prefixed (RFC 1035 §4.2.2), goes
   * once the connection is established.
   */
  #startTcp(lookup: DnsLookup, serverIndex: number): void {
    const server = this.servers[serverIndex];
    const length = this.#encodeQuery(lookup);
    const query = new Uint8Array(TCP_LENGTH_PREFIX_BYTES + length);
    query[0] = length >>> 8;
    query[1] = length & 0xff;
    query.set(this.#txBuffer.subarray(0, length), TCP_LENGTH_PREFIX_BYTES);
    const exchange = new TcpExchange(serverIndex, query);
    lookup.tcp = exchange;
    this.stats.tcpQueries++;
    const events: DnsStreamEvents = {
      onEstablished: () => this.#tcpWrite(lookup, exchange),
      onWritable: () => this.#tcpWrite(lookup, exchange),
      onReadable: () => this.#tcpRead(lookup, exchange),
      onClosed: (error) => {
        if (lookup.tcp !== exchange) return;
        this.#tcpFailed(
          lookup,
          error === null ? "closed before a complete answer" : error.message,
        );
      },
    };
    try {
      exchange.stream = this.#tcp!.connect(
        this.#nowMs,
        server.addr,
        server.port,
        events,
        server.addr6,
      );
    } catch (e) {
      this.#tcpFailed(lookup, `cannot connect: ${(e as Error).message}`);
    }
  }

  /** Writes what is left of the query (all of it, but for a send buffer that is full). */
  #tcpWrite(lookup: DnsLookup, exchange: TcpExchange): void {
    const stream = exchange.stream;
    if (lookup.tcp !== exchange || stream === null) return;
    const left = exchange.query.length - exchange.written;
    if (left === 0) return;
    const n = stream.write(exchange.query, exchange.written, left);
    if (n < 0) {
      this.#tcpFailed(lookup, "connection closed before the query was sent");
      return;
    }
    exchange.written += n;
  }

  /** Reads the length prefix, then the answer it announces; uses it when complete. */
  #tcpRead(lookup: DnsLookup, exchange: TcpExchange): void {
    const stream = exchange.stream;
    if (lookup.tcp !== exchange || stream === null) return;
    for (;;) {
      let answer = exchange.answer;
      if (answer === null) {
        const n = stream.read(
          exchange.prefix,
          exchange.prefixRead,
          TCP_LENGTH_PREFIX_BYTES - exchange.prefixRead,
        );
        if (n === 0) break;
        exchange.prefixRead += n;
        if (exchange.prefixRead < TCP_LENGTH_PREFIX_BYTES) continue;
        const length = (exchange.prefix[0] << 8) | exchange.prefix[1];
        if (length === 0) {
          this.stats.malformed++;
          this.#tcpFailed(lookup, "empty answer over TCP", "MALFORMED");
          return;
        }
        answer = exchange.answer = new Uint8Array(length);
      }
      const n = stream.read(answer, exchange.answerRead, answer.length - exchange.answerRead);
      if (n === 0) break;
      exchange.answerRead += n;
      if (exchange.answerRead === answer.length) {
        // One answer per query (RFC 7766 §6.2.1 lets the client close when it has it).
        this.#endTcp(lookup, false);
        if (!this.#onMessage(lookup, exchange.serverIndex, answer, answer.length, false, true)) {
          // Ignored (wrong id or question): this server gave no usable answer.
          this.stats.tcpFailures++;
          this.#attemptFailed(
            lookup,
            "MALFORMED",
            `${serverText(this.servers[exchange.serverIndex])}: answer over TCP does not match`,
          );
        }
        return;
      }
    }
    if (stream.eof) this.#tcpFailed(lookup, "closed before a complete answer");
  }

  /** The TCP exchange ended without an answer: the attempt failed, on to the next one. */
  #tcpFailed(lookup: DnsLookup, why: string, code: DnsErrorCode = "UNREACHABLE"): void {
    const exchange = lookup.tcp;
    if (exchange === null) return;
    this.stats.tcpFailures++;
    this.#endTcp(lookup, true);
    this.#attemptFailed(
      lookup,
      code,
      `${serverText(this.servers[exchange.serverIndex])}: TCP: ${why}`,
    );
  }

  /** Forgets the lookup's TCP exchange: closes its connection, or aborts it (`abort`). */
  #endTcp(lookup: DnsLookup, abort: boolean): void {
    const stream = lookup.tcp?.stream ?? null;
    lookup.tcp = null;
    if (stream === null) return;
    if (abort) stream.abort();
    else stream.close();
  }

  /** Index of the asked server that `addr:port` is, or -1. */
  #askedServer(
    lookup: DnsLookup,
    addr: number,
    port: number,
    addr6: Ipv6Address | null,
  ): number {
    for (const i of lookup.asked) {
      const s = this.servers[i];
      if (s.port !== port) continue;
      if (
        s.addr6 != null
          ? addr6 !== null && s.addr6.equals(addr6)
          : addr6 === null && s.addr === addr
      ) {
        return i;
      }
    }
    return -1;
  }

  /** An answer said "failed": remember why and go to the next attempt now. */
  #attemptFailed(lookup: DnsLookup, code: DnsErrorCode, detail: string): void {
    lookup.lastFailure = code;
    lookup.lastDetail = detail;
    this.#transmit(lookup, this.#nowMs, true);
  }

  #succeed(lookup: DnsLookup, addresses: string[], source: DnsLookup["source"]): DnsLookup {
    lookup.result = addresses;
    lookup.source = source;
    this.#finish(lookup);
    return lookup;
  }

  #fail(lookup: DnsLookup, code: DnsErrorCode, detail: string): DnsLookup {
    lookup.error = new DnsError(code, lookup.hostname, lookup.recordType, detail);
    lookup.source ??= "dns";
    this.#finish(lookup);
    return lookup;
  }

  #finish(lookup: DnsLookup): void {
    this.#pending.delete(lookup);
    lookup.deadlineMs = Infinity;
    if (lookup.tcp !== null) this.#endTcp(lookup, true);
    for (const endpoint of lookup.endpoints) endpoint?.close();
    lookup.endpoints = [];
    const done = lookup.onDone;
    lookup.onDone = null;
    done?.(lookup);
  }
}

/** RFC 2181 §8: TTL values with the top bit set count as zero. */
function validTtl(ttl: number): number {
  return ttl > TTL_MAX_VALID ? 0 : ttl;
}

/** RFC 2308 §5: the negative TTL is min(SOA TTL, SOA MINIMUM); 0 without an SOA. */
function negativeTtl(authorities: DnsRecord[]): number {
  for (const rr of authorities) {
    if (rr.type !== DNS_TYPE_SOA || rr.class !== DNS_CLASS_IN) continue;
    const rdata = rr.rdata;
    if (rdata === undefined || rdata.length < SOA_MIN_RDATA_BYTES) continue;
    const m = rdata.length - SOA_MINIMUM_BYTES;
    const minimum =
      ((rdata[m] << 24) | (rdata[m + 1] << 16) | (rdata[m + 2] << 8) | rdata[m + 3]) >>>
      0;
    return Math.min(validTtl(rr.ttl), validTtl(minimum));
  }
  return 0;
}

function formatAddress(rr: DnsRecord): string | null {
  if (rr.type === DNS_TYPE_A && rr.address !== undefined) return formatIpv4(rr.address);
  if (rr.type === DNS_TYPE_AAAA && rr.address6 !== undefined && rr.address6.length === 16) {
    return formatIpv6(rr.address6, 0);
  }
  return null;
}

/**
 * An IPv6 server: `"2001:db8::53"`, `"[2001:db8::53]"` or `"[2001:db8::53]:5353"`; null when
 * the text is not IPv6 (an IPv4 form); throws on a malformed IPv6 form.
 */
function parseIpv6Server(text: string): DnsServer | null {
  let host = text;
  let port = DNS_PORT;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0) throw new TypeError(`invalid DNS server address: ${JSON.stringify(text)}`);
    host = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (rest !== "") {
      port = rest.startsWith(":") && /^\d+$/.test(rest.slice(1)) ? Number(rest.slice(1)) : NaN;
    }
  } else if (text.indexOf(":") === text.lastIndexOf(":")) {
    return null; // IPv4, maybe with a port
  }
  const addr6 = parseIpv6(host);
  if (addr6 === null || addr6.isUnspecified() || addr6.isMulticast()) {
    throw new TypeError(`invalid DNS server address: ${JSON.stringify(text)}`);
  }
  if (!Number.isInteger(port) || port < 1 || port > 0xffff) {
    throw new TypeError(`invalid DNS server port: ${JSON.stringify(text)}`);
  }
  return { addr: 0, port, addr6 };
}

function serverText(server: DnsServer): string {
  if (server.addr6 != null) return `[${server.addr6}]:${server.port}`;
  return `${formatIpv4(server.addr)}:${server.port}`;
}
