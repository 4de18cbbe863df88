/**
 * The IPv6 layer of one interface (RFC 8200): the glue of the IPv6 pieces
 * and its public face. Input (checks, jumbograms, the extension-header
 * chain, reassembly, demultiplexing) is its input half, `ipv6_input.ts`;
 * output (buffers, offloads, local delivery, fragmentation, neighbour
 * resolution, NDP and MLD messages) its output half, `ipv6_output.ts`. Here:
 * source selection (RFC 6724), the address table (RFC 4862, RFC 7217), the
 * neighbour cache (NUD), neighbour discovery (routers, prefixes, MLD), the
 * path MTU cache (RFC 8201), ICMPv6, ping, local delivery's poll and timers.
 *
 * A synchronous state machine: frames and time come in as arguments; the
 * interface calls {@link Ipv6Layer.poll} at {@link Ipv6Layer.nextDeadline}.
 *
 * @module
 */

import { Ipv6Input } from "./ipv6_input.ts";
import { Ipv6Output } from "./ipv6_output.ts";
import type {
  Ipv6LayerOptions,
  Ipv6Link,
  Ipv6RouterPort,
  Ipv6Stats,
  NdpSectionStats,
} from "./ipv6_types.ts";
import type { Ipv6Words } from "../wire/checksum.ts";
import {
  ICMPV6_DEST_UNREACHABLE,
  ICMPV6_TIME_EXCEEDED,
  ICMPV6_TIME_EXCEEDED_REASSEMBLY,
  ICMPV6_UNREACH_ADDRESS,
  ICMPV6_UNREACH_PORT,
} from "../wire/icmpv6.ts";
import {
  IP_PROTO_ICMPV6,
  IPV6_DEFAULT_HOP_LIMIT,
  IPV6_HEADER_LEN,
  IPV6_MIN_MTU,
  IPV6_SRC_OFFSET,
} from "../wire/ipv6.ts";
import { Ipv6Address, Ipv6Cidr } from "../wire/ipv6_address.ts";
import { type Icmpv6Host, Icmpv6Layer, Ping6Session } from "./icmpv6.ts";
import type { PingOptions } from "./ping.ts";
import { type Ipv6AddressEntry, type Ipv6AddressInfo, Ipv6AddressTable } from "./ipv6_addresses.ts";
import { Ipv6Reassembler } from "./ipv6_reassembly.ts";
import { NeighbourCache, type NeighbourInfo } from "./neighbour_cache.ts";
import { type DnsServerInfo, NeighbourDiscovery, type RouterInfo } from "./ndp.ts";
import { PmtuCache } from "./pmtu_cache.ts";
import type {
  BufferPoolLike,
  IpTxOffloads,
  Ipv6ProtocolHandler,
  Ipv6Sender,
  Ipv6SendOptions,
  PacketBufferLike,
} from "./types.ts";
import { LocalDeliveryQueue } from "./local_queue.ts";

/** Default bound of the queue of packets to our own addresses. */
export const IPV6_LOCAL_QUEUE_LENGTH = 256;

export type {
  Ipv6LayerOptions,
  Ipv6Link,
  Ipv6RouterPort,
  Ipv6Stats,
  NdpSectionStats,
} from "./ipv6_types.ts";
export { writeTcp6Segment } from "./ipv6_offload.ts";

/** NDP's "no link-layer address option" (a point-to-point IP link has no addresses). */
const NO_LINK_LAYER_ADDRESS = -1;

/**
 * The IPv6 layer. See the module documentation.
 *
 * @example
 * ```ts
 * import { Ipv6Layer } from "./ipv6.ts";
 * console.assert(typeof Ipv6Layer === "function"); // see tests/iface/ipv6_test.ts
 * ```
 */
export class Ipv6Layer implements Ipv6Sender, Icmpv6Host {
  /** Counters. */
  readonly stats: Ipv6Stats = {
    rxPackets: 0,
    rxTooShort: 0,
    rxBadVersion: 0,
    rxBadLength: 0,
    rxJumbograms: 0,
    rxBadJumbograms: 0,
    rxBadSource: 0,
    rxNotForUs: 0,
    rxNotMember: 0,
    rxBadHeader: 0,
    rxParameterProblem: 0,
    rxDiscarded: 0,
    rxFragments: 0,
    rxReassembled: 0,
    rxNestedFragment: 0,
    rxDelivered: 0,
    rxLocal: 0,
    txPackets: 0,
    txFragments: 0,
    txTooLong: 0,
    txTooBig: 0,
    txNoRoute: 0,
    txNoSource: 0,
    txNoBuffer: 0,
    txNoHeadroom: 0,
    txLinkDropped: 0,
    txLocal: 0,
    txLocalDropped: 0,
    txControlReserve: 0,
    txOffloadSoftware: 0,
  };
  /** Our addresses. */
  readonly addresses: Ipv6AddressTable;
  /** The neighbour cache. */
  readonly neighbours: NeighbourCache;
  /** Neighbour discovery: routers, prefixes, groups. */
  readonly ndp: NeighbourDiscovery;
  /** Path MTU estimates. */
  readonly pmtu: PmtuCache;
  /** Fragment reassembly. */
  readonly reassembler: Ipv6Reassembler;
  /** ICMPv6. */
  readonly icmp: Icmpv6Layer;
  /** Called when an address of ours is found duplicate (after it is marked). */
  onDuplicateAddress: ((address: Ipv6Address) => void) | null = null;
  /**
   * Called when the recursive DNS servers learned from RAs change (RFC 8106
   * §6): the servers now, in the order learned (the stack's resolver takes
   * them when no `dns` option was given).
   */
  onDnsServersChanged: ((servers: readonly Ipv6Address[]) => void) | null = null;
  /** The router this interface belongs to (several interfaces); null: a plain host. */
  router: Ipv6RouterPort | null = null;

  readonly #handlers: (Ipv6ProtocolHandler | undefined)[] = new Array(256);
  readonly #static: Ipv6Cidr[];
  /**
   * The packet being input came from the device as a TCP GSO/GRO super-frame
   * (its virtio_net_hdr said so): only then is a Payload Length of 0 read as
   * a jumbogram (RFC 2675; Linux BIG TCP), see `readIpv6Jumbogram`. Set by
   * the interface around `input()` for device frames; false otherwise.
   */
  rxSuperFrame = false;
  readonly #localQueue: LocalDeliveryQueue;
  /** The output half: buffers, sending, the time of the packet or poll being handled. */
  readonly #out: Ipv6Output;
  /** The input half. */
  readonly #in: Ipv6Input;
  #sessions = new Set<Ping6Session>();
  #nextPingId: number;

  /**
   * Creates the IPv6 layer of one interface (addresses are configured by `start`).
   *
   * @param link the interface below
   * @param pool the buffer pool
   * @param options MAC, MTU, addresses, tunables
   * @throws {TypeError} on an invalid static address or an MTU below 1280
   */
  constructor(link: Ipv6Link, pool: BufferPoolLike, options: Ipv6LayerOptions) {
    if (!(options.mtu >= IPV6_MIN_MTU)) {
      throw new TypeError(`IPv6 needs a link MTU of at least ${IPV6_MIN_MTU}, got ${options.mtu}`);
    }
    const random = options.random ?? Math.random;
    this.#static = (options.addresses ?? []).map((a) => {
      const cidr = typeof a === "string" ? Ipv6Cidr.parse(a) : a;
      const x = cidr.address;
      if (x.isMulticast() || x.isUnspecified() || x.isLoopback() || cidr.prefixLength === 0) {
        throw new TypeError(`IPv6 address ${cidr} is not a unicast address with a prefix`);
      }
      return cidr;
    });
    const hopLimit = options.hopLimit ?? IPV6_DEFAULT_HOP_LIMIT;
    const fragmentId = Math.floor(random() * 0x1_0000_0000) | 0;
    this.#nextPingId = Math.floor(random() * 0x10000);
    this.#localQueue = new LocalDeliveryQueue(options.localQueueLength ?? IPV6_LOCAL_QUEUE_LENGTH);
    const p2p = options.pointToPoint === true;
    this.#out = new Ipv6Output(this, link, pool, this.#localQueue, p2p, hopLimit, fragmentId);
    this.#in = new Ipv6Input(this, this.#handlers);
    this.pmtu = new PmtuCache(options.mtu, options.pmtu);
    this.reassembler = new Ipv6Reassembler(options.reassembly);
    this.icmp = new Icmpv6Layer(this, { random, ...options.icmp });
    this.icmp.largeBuffer = (n) => this.allocateLarge(n);
    this.icmp.release = (b) => this.release(b);
    const addressOptions = p2p
      ? { random, ...options.addressOptions, dadTransmits: 0, maxDadDelayMs: 0 }
      : { random, ...options.addressOptions };
    this.addresses = new Ipv6AddressTable(options.mac, {
      solicitedNodeGroup: (a, join) => this.ndp.setGroup(a.solicitedNode(), join),
      sendDadSolicitation: (t, nonce) => this.ndp.solicitDad(t, nonce),
      addressReady: (e: Ipv6AddressEntry) => this.ndp.announce(e.address),
      duplicateFound: (e: Ipv6AddressEntry) => this.onDuplicateAddress?.(e.address),
    }, addressOptions);
    this.neighbours = new NeighbourCache({
      sendSolicitation: (t, mac) => this.ndp.solicit(t, mac),
      transmitResolved: (buf, mac) => this.#out.transmit(buf, mac),
      resolutionFailed: (now, _t, buf) => this.#resolutionFailed(now, buf),
      free: (buf) => this.release(buf),
      isProtected: (a) => this.ndp.isRouter(a),
      routerLost: (a) => this.ndp.removeRouter(a),
    }, { random, ...options.neighbours });
    this.ndp = new NeighbourDiscovery(
      p2p ? NO_LINK_LAYER_ADDRESS : options.mac,
      options.mtu,
      {
        sendNdp: (repr, src, dst, mac) => this.#out.sendNdp(repr, src, dst, mac),
        sendMldReport: (records) => this.#out.sendMldReport(records),
        linkMtuChanged: (mtu) => this.pmtu.setLinkMtu(mtu),
        hopLimitChanged: (h) => {
          this.#out.hopLimit = h;
        },
        dnsServersChanged: (servers) => this.onDnsServersChanged?.(servers),
      },
      this.addresses,
      this.neighbours,
      {
        random,
        slaac: options.slaac,
        ...options.ndp,
      },
    );
    this.reassembler.onTimeout = (now, bytes, off, len, linkMulticast) => {
      // RFC 8200 §4.5: Time Exceeded, code 1, about the first fragment (and as it came:
      // not when that came in a link-layer multicast frame, RFC 4443 §2.4 (e.4), (e.5)).
      this.icmp.sendError(
        now,
        ICMPV6_TIME_EXCEEDED,
        ICMPV6_TIME_EXCEEDED_REASSEMBLY,
        0,
        bytes,
        off,
        len,
        linkMulticast,
      );
    };
  }

  /** Bytes in front of the transport header in a buffer from {@link allocate}. */
  get headroom(): number {
    return this.#out.headroom;
  }

  /** The static addresses given (the router's connected IPv6 routes). */
  get staticAddresses(): readonly Ipv6Cidr[] {
    return this.#static;
  }

  /** The hop limit of packets we originate (RA Cur Hop Limit or the default). */
  get hopLimit(): number {
    return this.#out.hopLimit;
  }

  /**
   * Configures the link-local and static addresses (DAD starts) and router solicitation.
   *
   * @param nowMs current time
   */
  start(nowMs: number): void {
    this.#out.nowMs = nowMs;
    this.ndp.start(nowMs);
    this.addresses.addLinkLocal(nowMs);
    for (const cidr of this.#static) this.addresses.addStatic(nowMs, cidr);
  }

  /**
   * Registers a transport for a Next Header value.
   *
   * @param protocol e.g. 17
   * @param handler the transport
   */
  registerProtocol(protocol: number, handler: Ipv6ProtocolHandler): void {
    this.#handlers[protocol & 0xff] = handler;
  }

  /**
   * The handler registered for `protocol`.
   *
   * @param protocol a Next Header value
   * @returns the handler or undefined
   */
  handlerFor(protocol: number): Ipv6ProtocolHandler | undefined {
    return this.#handlers[protocol & 0xff];
  }

  // ---- buffers ----

  /**
   * A pool buffer with headroom for the IPv6 and link headers.
   *
   * @returns the buffer, or null when the pool is empty (counted)
   */
  allocate(): PacketBufferLike | null {
    return this.#out.allocate();
  }

  /**
   * A buffer for our own control traffic (NDP, MLD, ICMPv6): may take the pool's reserve.
   *
   * @returns the buffer, or null (counted)
   */
  allocateControl(): PacketBufferLike | null {
    return this.#out.allocateControl();
  }

  /**
   * A standalone buffer for a payload larger than a pool slot (fragmented on send).
   *
   * @param payloadBytes transport bytes
   * @returns the buffer, or null above 65,535 bytes
   */
  allocateLarge(payloadBytes: number): PacketBufferLike | null {
    return this.#out.allocateLarge(payloadBytes);
  }

  /**
   * The link's transmit offloads for IPv6 packets (see {@link Ipv6SendOptions.partialChecksumOffset}).
   *
   * @returns checksum completion and the largest TCP super-segment (0: no GSO)
   */
  get txOffloads(): IpTxOffloads {
    return this.#out.txOffloads;
  }

  /**
   * A buffer for one TCP super-segment of up to `txOffloads.gsoMaxBytes`
   * transport bytes, headroom for the IPv6 and link headers.
   *
   * @returns the buffer, or null without GSO or when none is free
   */
  allocateSegment(): PacketBufferLike | null {
    return this.#out.allocateSegment();
  }

  /**
   * Returns a buffer (pool or large).
   *
   * @param buf the buffer
   */
  release(buf: PacketBufferLike): void {
    this.#out.release(buf);
  }

  // ---- Ipv6Sender ----

  /**
   * Our source address toward `dst` (RFC 6724).
   *
   * @param dst destination
   * @returns the address or null
   */
  sourceAddressFor6(dst: Ipv6Address): Ipv6Address | null {
    if (this.router !== null && !dst.isLinkLocal() && !dst.isMulticast()) {
      return this.router.sourceFor6(dst);
    }
    return this.addresses.selectSource(dst);
  }

  /**
   * Icmpv6Host: same as {@link sourceAddressFor6}.
   *
   * @param dst destination
   * @returns the address or null
   */
  sourceFor(dst: Ipv6Address): Ipv6Address | null {
    return this.sourceAddressFor6(dst);
  }

  /**
   * Icmpv6Host: whether the address at `bytes[offset]` is a usable one of ours.
   *
   * @param bytes buffer
   * @param offset address start
   * @returns true when ours
   */
  isOursAt(bytes: Uint8Array, offset: number): boolean {
    return this.addresses.isOursAt(bytes, offset);
  }

  /**
   * Icmpv6Host: whether the address at `bytes[offset]` is one we know to be
   * anycast ({@link Ipv6AddressTable.isAnycastAt}).
   *
   * @param bytes buffer
   * @param offset address start
   * @returns true when anycast
   */
  isAnycastAt(bytes: Uint8Array, offset: number): boolean {
    return this.addresses.isAnycastAt(bytes, offset);
  }

  /**
   * The path MTU toward `dst` (RFC 8201).
   *
   * @param dst destination words
   * @returns bytes, ≥ 1280
   */
  pathMtu(dst: Ipv6Words): number {
    if (this.router !== null) return this.router.pathMtu6(dst);
    return this.pmtu.pathMtu(this.#out.nowMs, dst);
  }

  /**
   * The path MTU toward `dst` by this interface's own cache (the router's
   * answer for its egress interface).
   *
   * @param dst destination words
   * @returns bytes, ≥ 1280
   */
  ownPathMtu(dst: Ipv6Words): number {
    return this.pmtu.pathMtu(this.#out.nowMs, dst);
  }

  /**
   * Icmpv6Host: a Packet Too Big arrived.
   *
   * @param nowMs current time
   * @param dst the quoted packet's destination
   * @param mtu the reported MTU
   */
  packetTooBig(nowMs: number, dst: Ipv6Address, mtu: number): void {
    this.pmtu.update(nowMs, dst, mtu);
  }

  /**
   * Icmpv6Host: NDP and MLD messages.
   *
   * @param nowMs current time
   * @param src source
   * @param dst destination
   * @param hopLimit hop limit
   * @param fragmented had a Fragment header
   * @param bytes buffer
   * @param offset message start
   * @param length message length
   * @param checksumVerified device-verified
   */
  neighbourDiscovery(
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
    this.ndp.input(nowMs, src, dst, hopLimit, fragmented, bytes, offset, length, checksumVerified);
  }

  /**
   * Icmpv6Host: sends an ICMPv6 message.
   *
   * @param buf the message (ownership taken)
   * @param src source
   * @param dst destination
   * @returns false when dropped
   */
  sendIcmpv6(buf: PacketBufferLike, src: Ipv6Address, dst: Ipv6Address): boolean {
    return this.sendFrom(src, buf, dst, IP_PROTO_ICMPV6);
  }

  /**
   * Sends `buf[head, tail)` as the payload of an IPv6 packet (ownership taken).
   *
   * @param buf transport header + data
   * @param dst destination
   * @param protocol Next Header
   * @param opts hop limit, traffic class, source, dontFragment
   * @returns false when dropped (counted)
   */
  send6(
    buf: PacketBufferLike,
    dst: Ipv6Address,
    protocol: number,
    opts?: Ipv6SendOptions,
  ): boolean {
    const src = opts?.source ?? this.sourceAddressFor6(dst);
    if (src === null) {
      this.stats.txNoSource++;
      this.release(buf);
      return false;
    }
    return this.sendFrom(src, buf, dst, protocol, opts);
  }

  /**
   * {@link send6} with the source given.
   *
   * @param src source address
   * @param buf payload (ownership taken)
   * @param dst destination
   * @param protocol Next Header
   * @param opts hop limit, traffic class, dontFragment
   * @returns false when dropped (counted)
   */
  sendFrom(
    src: Ipv6Address,
    buf: PacketBufferLike,
    dst: Ipv6Address,
    protocol: number,
    opts?: Ipv6SendOptions,
  ): boolean {
    if (this.router !== null && !dst.isMulticast() && !dst.isLinkLocal()) {
      return this.router.output6(this, src, buf, dst, protocol, opts);
    }
    return this.sendRouted6(src, buf, dst, protocol, opts, null, this);
  }

  /**
   * {@link sendFrom} on this interface, the router having chosen it: to
   * `hop` when given (its routing table's answer), else by neighbour
   * discovery's next hop.
   *
   * @param src source address
   * @param buf payload (ownership taken)
   * @param dst destination
   * @param protocol Next Header
   * @param opts hop limit, traffic class, dontFragment
   * @param hop the neighbour to send to, or null
   * @param from the layer that allocated `buf` (its large buffers move here)
   * @returns false when dropped (counted)
   */
  sendRouted6(
    src: Ipv6Address,
    buf: PacketBufferLike,
    dst: Ipv6Address,
    protocol: number,
    opts: Ipv6SendOptions | undefined,
    hop: Ipv6Address | null,
    from: Ipv6Layer,
  ): boolean {
    return this.#out.sendRouted6(src, buf, dst, protocol, opts, hop, from.#out);
  }

  /**
   * UDP's closed-port hook: ICMPv6 Destination Unreachable, code 4 (RFC 4443 §3.1).
   *
   * @param nowMs current time
   * @param bytes buffer holding the packet UDP got
   * @param ipOffset where its IPv6 header starts
   * @param ipLength the packet's length
   */
  portUnreachable(nowMs: number, bytes: Uint8Array, ipOffset: number, ipLength: number): void {
    this.icmp.sendError(
      nowMs,
      ICMPV6_DEST_UNREACHABLE,
      ICMPV6_UNREACH_PORT,
      0,
      bytes,
      ipOffset,
      ipLength,
    );
  }

  /**
   * {@link portUnreachable} for the packet being delivered to a transport right
   * now (UDP's closed-port answer over IPv6; only valid during `onPacket6`).
   *
   * @param nowMs current time
   */
  portUnreachableCurrent(nowMs: number): void {
    this.#in.portUnreachableCurrent(nowMs);
  }

  // ---- ping ----

  /**
   * Starts pinging `dst` (echo requests over ICMPv6); polled by {@link poll} until done.
   *
   * @param nowMs current time
   * @param dst destination
   * @param options count, size, interval, timeout
   * @returns the session
   */
  ping(nowMs: number, dst: Ipv6Address, options: PingOptions = {}): Ping6Session {
    let id = this.#nextPingId;
    for (let i = 0; i < 0x10000 && this.icmp.hasEchoListener(id); i++) id = (id + 1) & 0xffff;
    this.#nextPingId = (id + 1) & 0xffff;
    const session = new Ping6Session(this.icmp, dst, id, options, (n) => this.allocateLarge(n));
    this.#sessions.add(session);
    this.#out.nowMs = nowMs;
    session.poll(nowMs);
    return session;
  }

  // ---- input ----

  /**
   * Processes one received IPv6 packet (the bytes after the link header).
   * Never throws; drops are counted.
   *
   * @param nowMs current time
   * @param bytes buffer
   * @param offset start of the IPv6 header
   * @param length bytes available (may include link padding)
   * @param checksumVerified the device vouched for the transport checksum
   * @param linkMulticast the frame's link-layer destination was a multicast or
   *   broadcast address (no ICMPv6 error about it, RFC 4443 §2.4 (e.4), (e.5))
   * @param reassembled internal: the packet was rebuilt from fragments
   */
  input(
    nowMs: number,
    bytes: Uint8Array,
    offset: number,
    length: number,
    checksumVerified = false,
    linkMulticast = false,
    reassembled = false,
  ): void {
    this.#out.nowMs = nowMs;
    this.#in.input(nowMs, bytes, offset, length, checksumVerified, linkMulticast, reassembled);
  }

  // ---- time ----

  /**
   * Runs due work: local delivery, neighbour and address timers, NDP,
   * reassembly timeouts, ping sessions.
   *
   * @param nowMs current time
   */
  poll(nowMs: number): void {
    this.#out.nowMs = nowMs;
    if (this.#localQueue.length > 0) this.#deliverLocal(nowMs);
    this.addresses.poll(nowMs);
    this.neighbours.poll(nowMs);
    this.ndp.poll(nowMs);
    this.reassembler.poll(nowMs);
    if (this.#sessions.size === 0) return;
    for (const s of this.#sessions) {
      if (nowMs >= s.nextDeadline()) s.poll(nowMs);
      if (s.done) this.#sessions.delete(s);
    }
  }

  /**
   * When {@link poll} next has work.
   *
   * @returns the earliest deadline, or Infinity
   */
  nextDeadline(): number {
    let t = this.#localQueue.length > 0 ? this.#out.nowMs : Infinity;
    t = Math.min(
      t,
      this.addresses.nextDeadline(),
      this.neighbours.nextDeadline(),
      this.ndp.nextDeadline(),
      this.reassembler.nextDeadline(),
    );
    for (const s of this.#sessions) t = Math.min(t, s.nextDeadline());
    return t;
  }

  /** Frees queued packets, reassembly buffers, ping sessions. */
  close(): void {
    this.neighbours.clear();
    this.reassembler.clear();
    this.#localQueue.clear((buf) => this.release(buf));
    for (const s of this.#sessions) s.close();
    this.#sessions.clear();
  }

  // ---- listings ----

  /**
   * Our addresses (allocates).
   *
   * @returns one record per address
   */
  addressList(): Ipv6AddressInfo[] {
    return this.addresses.list(this.#out.nowMs);
  }

  /**
   * The neighbour cache (allocates).
   *
   * @returns one record per neighbour
   */
  neighbourList(): NeighbourInfo[] {
    return this.neighbours.list(this.#out.nowMs);
  }

  /**
   * The default router list with each router's M and O flags (allocates).
   *
   * @returns one record per router
   */
  routerList(): RouterInfo[] {
    return this.ndp.routers(this.#out.nowMs);
  }

  /**
   * The recursive DNS servers learned from RAs, with lifetimes (allocates).
   *
   * @returns one record per server
   */
  dnsServerList(): DnsServerInfo[] {
    return this.ndp.dnsServers(this.#out.nowMs);
  }

  /**
   * The `ndp` stats section (copies).
   *
   * @returns the counters
   */
  ndpStats(): NdpSectionStats {
    return {
      ...this.ndp.stats,
      neighbours: { ...this.neighbours.stats },
      addresses: { ...this.addresses.stats },
      pmtu: { ...this.pmtu.stats },
      reassembly: { ...this.reassembler.stats },
    };
  }

  // ---- internals ----

  /** Delivers what was queued before this call (what handlers send meanwhile waits). */
  #deliverLocal(nowMs: number): void {
    const queue = this.#localQueue;
    for (let n = queue.length; n > 0 && queue.length > 0; n--) {
      const buf = queue.shift();
      this.stats.rxLocal++;
      try {
        this.input(nowMs, buf.bytes, buf.head, buf.length, true);
      } finally {
        this.release(buf);
      }
    }
  }

  /** RFC 4861 §7.2.2: packets waiting for an unresolved neighbour: address unreachable. */
  #resolutionFailed(nowMs: number, buf: PacketBufferLike): void {
    if (buf.length < IPV6_HEADER_LEN) return;
    if (this.router !== null && !this.addresses.isOursAt(buf.bytes, buf.head + IPV6_SRC_OFFSET)) {
      // A packet a router forwarded: the error goes to its source (RFC 4443 §3.1 code 3, as
      // Linux's ip6_link_failure).
      this.icmp.sendError(
        nowMs,
        ICMPV6_DEST_UNREACHABLE,
        ICMPV6_UNREACH_ADDRESS,
        0,
        buf.bytes,
        buf.head,
        buf.length,
      );
      return;
    }
    this.icmp.localError(
      nowMs,
      ICMPV6_DEST_UNREACHABLE,
      ICMPV6_UNREACH_ADDRESS,
      buf.bytes,
      buf.head,
      buf.length,
    );
  }
}
