/**
 * The IPv6 layer of one interface (RFC 8200): input checks, the
 * extension-header chain (via `walkIpv6Chain`: unknown headers and options
 * get an ICMPv6 Parameter Problem with the RFC 8200 §4 pointer when RFC 4443
 * §2.4 allows one; Routing type 0 is refused, RFC 5095), reassembly (RFC
 * 8200 §4.5, {@link Ipv6Reassembler}), demultiplexing to ICMPv6 and the
 * transports ({@link Ipv6ProtocolHandler}), output (source selection, next
 * hop, neighbour resolution, fragmentation with a Fragment header when the
 * path MTU needs it, RFC 8200 §5), local delivery to our own addresses,
 * and the glue of the IPv6 pieces: address table (RFC 4862, RFC 7217),
 * neighbour cache (NUD), neighbour discovery (routers, prefixes, MLD),
 * path MTU cache (RFC 8201) and ICMPv6.
 *
 * A synchronous state machine: frames and time come in as arguments; the
 * interface calls {@link Ipv6Layer.poll} at {@link Ipv6Layer.nextDeadline}.
 *
 * @module
 */

import { offloadMac6, segmentTcp6InSoftware } from "./ipv6_offload.ts";
import { fragmentIpv6, writeIpv6Header } from "./ipv6_output.ts";
import type {
  Ipv6LayerOptions,
  Ipv6Link,
  Ipv6RouterPort,
  Ipv6Stats,
  NdpSectionStats,
} from "./ipv6_types.ts";
import { TAGGED_TIME_SEED } from "../time/clock.ts";
import { PacketBuffer } from "../buffer/packet_buffer.ts";
import { completePartialChecksum, type Ipv6Words } from "../wire/checksum.ts";
import { TCP_DATA_OFFSET_BYTE } from "../wire/tcp.ts";
import { isWireError } from "../wire/error.ts";
import {
  ICMPV6_DEST_UNREACHABLE,
  ICMPV6_PARAMETER_PROBLEM,
  ICMPV6_TIME_EXCEEDED,
  ICMPV6_TIME_EXCEEDED_REASSEMBLY,
  ICMPV6_UNREACH_ADDRESS,
  ICMPV6_UNREACH_PORT,
} from "../wire/icmpv6.ts";
import {
  emitHopByHopRouterAlert,
  ICMPV6_PARAM_HEADER_FIELD,
  IP_PROTO_HOPOPTS,
  IP_PROTO_ICMPV6,
  IPV6_DEFAULT_HOP_LIMIT,
  IPV6_HEADER_LEN,
  IPV6_MAX_PAYLOAD_LEN,
  IPV6_MIN_MTU,
  IPV6_ROUTER_ALERT_HEADER_LEN,
  type Ipv6Chain,
  type Ipv6Jumbogram,
  Ipv6Packet,
  newIpv6Chain,
  newIpv6Jumbogram,
  readIpv6Jumbogram,
  walkIpv6Chain,
} from "../wire/ipv6.ts";
import { Ipv6Address, Ipv6Cidr } from "../wire/ipv6_address.ts";
import { MLD_HOP_LIMIT, type MldRecord, MldReportRepr } from "../wire/mld.ts";
import { NDP_HOP_LIMIT, NdpRepr } from "../wire/ndp.ts";
import { type Icmpv6Host, Icmpv6Layer, Ping6Session } from "./icmpv6.ts";
import type { PingOptions } from "./ping.ts";
import { type Ipv6AddressEntry, type Ipv6AddressInfo, Ipv6AddressTable } from "./ipv6_addresses.ts";
import { Ipv6Reassembler } from "./ipv6_reassembly.ts";
import { NeighbourCache, type NeighbourInfo } from "./neighbour_cache.ts";
import { type DnsServerInfo, NeighbourDiscovery, type RouterInfo } from "./ndp.ts";
import { PmtuCache } from "./pmtu_cache.ts";
import { ROUTER_CONSUMED, ROUTER_LOCAL } from "./ipv4.ts";
import { IP_PROTO_TCP, IP_PROTO_UDP } from "../wire/ipv4.ts";
import type {
  BufferPoolLike,
  IpTxOffloads,
  Ipv6ProtocolHandler,
  Ipv6Sender,
  Ipv6SendOptions,
  PacketBufferLike,
} from "./types.ts";
import { LocalDeliveryQueue } from "./local_queue.ts";
import {
  IPV6_DST_OFFSET,
  IPV6_HOP_LIMIT_OFFSET,
  IPV6_NEXT_HEADER_OFFSET,
  IPV6_PAYLOAD_LENGTH_OFFSET,
  IPV6_SRC_OFFSET,
} from "../wire/ipv6.ts";

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

const EMPTY = new Uint8Array(0);
/** NDP's "no link-layer address option" (a point-to-point IP link has no addresses). */
const NO_LINK_LAYER_ADDRESS = -1;
/** No transmit offloads. */
const NO_TX_OFFLOADS: IpTxOffloads = Object.freeze({ checksum: false, gsoMaxBytes: 0 });

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

  readonly #link: Ipv6Link;
  readonly #pool: BufferPoolLike;
  readonly #handlers: (Ipv6ProtocolHandler | undefined)[] = new Array(256);
  readonly #large = new WeakSet<PacketBufferLike>();
  readonly #static: Ipv6Cidr[];
  readonly #rxView = new Ipv6Packet(EMPTY);
  readonly #chain: Ipv6Chain = newIpv6Chain();
  readonly #jumbo: Ipv6Jumbogram = newIpv6Jumbogram();
  /**
   * The packet being input came from the device as a TCP GSO/GRO super-frame
   * (its virtio_net_hdr said so): only then is a Payload Length of 0 read as
   * a jumbogram (RFC 2675; Linux BIG TCP), see `readIpv6Jumbogram`. Set by
   * the interface around `input()` for device frames; false otherwise.
   */
  rxSuperFrame = false;
  readonly #walk = {
    isUpperLayer: (nh: number) => nh === IP_PROTO_ICMPV6 || this.#handlers[nh] !== undefined,
  };
  readonly #localQueue: LocalDeliveryQueue;
  /** The packet being handed to a transport (for {@link portUnreachableCurrent}). */
  #curBytes: Uint8Array | null = null;
  #curOffset = 0;
  #curLength = 0;
  #curLinkMulticast = false;
  #rxSrc: Ipv6Address = Ipv6Address.UNSPECIFIED;
  #rxDst: Ipv6Address = Ipv6Address.UNSPECIFIED;
  #hopLimit: number;
  #fragmentId: number;
  /** Time of the packet or poll being handled (tagged: see TAGGED_TIME_SEED, src/time/clock.ts). */
  #nowMs: number = TAGGED_TIME_SEED;
  #sessions = new Set<Ping6Session>();
  #nextPingId: number;
  /** A point-to-point IP link (see {@link Ipv6LayerOptions.pointToPoint}). */
  readonly #pointToPoint: boolean;
  /** Options of the segments `segmentTcp6InSoftware` cuts (made once). */
  readonly #segmentOpts: Ipv6SendOptions = { hopLimit: 0, trafficClass: 0, dontFragment: false };

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
    this.#nowMs = 0;
    this.#link = link;
    this.#pool = pool;
    const random = options.random ?? Math.random;
    this.#static = (options.addresses ?? []).map((a) => {
      const cidr = typeof a === "string" ? Ipv6Cidr.parse(a) : a;
      const x = cidr.address;
      if (x.isMulticast() || x.isUnspecified() || x.isLoopback() || cidr.prefixLength === 0) {
        throw new TypeError(`IPv6 address ${cidr} is not a unicast address with a prefix`);
      }
      return cidr;
    });
    this.#hopLimit = options.hopLimit ?? IPV6_DEFAULT_HOP_LIMIT;
    this.#fragmentId = Math.floor(random() * 0x1_0000_0000) | 0;
    this.#nextPingId = Math.floor(random() * 0x10000);
    this.#localQueue = new LocalDeliveryQueue(options.localQueueLength ?? IPV6_LOCAL_QUEUE_LENGTH);
    this.pmtu = new PmtuCache(options.mtu, options.pmtu);
    this.reassembler = new Ipv6Reassembler(options.reassembly);
    this.icmp = new Icmpv6Layer(this, { random, ...options.icmp });
    this.icmp.largeBuffer = (n) => this.allocateLarge(n);
    this.icmp.release = (b) => this.release(b);
    const p2p = options.pointToPoint === true;
    this.#pointToPoint = p2p;
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
      transmitResolved: (buf, mac) => this.#transmit(buf, mac),
      resolutionFailed: (now, _t, buf) => this.#resolutionFailed(now, buf),
      free: (buf) => this.release(buf),
      isProtected: (a) => this.ndp.isRouter(a),
      routerLost: (a) => this.ndp.removeRouter(a),
    }, { random, ...options.neighbours });
    this.ndp = new NeighbourDiscovery(
      p2p ? NO_LINK_LAYER_ADDRESS : options.mac,
      options.mtu,
      {
        sendNdp: (repr, src, dst, mac) => this.#sendNdp(repr, src, dst, mac),
        sendMldReport: (records) => this.#sendMldReport(records),
        linkMtuChanged: (mtu) => this.pmtu.setLinkMtu(mtu),
        hopLimitChanged: (h) => {
          this.#hopLimit = h;
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
    return this.#link.linkHeadroom + IPV6_HEADER_LEN;
  }

  /** The static addresses given (the router's connected IPv6 routes). */
  get staticAddresses(): readonly Ipv6Cidr[] {
    return this.#static;
  }

  /** The hop limit of packets we originate (RA Cur Hop Limit or the default). */
  get hopLimit(): number {
    return this.#hopLimit;
  }

  /**
   * Configures the link-local and static addresses (DAD starts) and router solicitation.
   *
   * @param nowMs current time
   */
  start(nowMs: number): void {
    this.#nowMs = nowMs;
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
    const buf = this.#pool.alloc(this.headroom);
    if (buf === null) this.stats.txNoBuffer++;
    return buf;
  }

  /**
   * A buffer for our own control traffic (NDP, MLD, ICMPv6): may take the pool's reserve.
   *
   * @returns the buffer, or null (counted)
   */
  allocateControl(): PacketBufferLike | null {
    const pool = this.#pool;
    const headroom = this.headroom + IPV6_ROUTER_ALERT_HEADER_LEN;
    const buf = pool.allocReserved !== undefined
      ? pool.allocReserved(headroom)
      : pool.alloc(headroom);
    if (buf === null) {
      this.stats.txNoBuffer++;
      return null;
    }
    if (pool.available !== undefined && pool.available < (pool.reserved ?? 0)) {
      this.stats.txControlReserve++;
    }
    return buf;
  }

  /**
   * A standalone buffer for a payload larger than a pool slot (fragmented on send).
   *
   * @param payloadBytes transport bytes
   * @returns the buffer, or null above 65,535 bytes
   */
  allocateLarge(payloadBytes: number): PacketBufferLike | null {
    if (payloadBytes > IPV6_MAX_PAYLOAD_LEN) {
      this.stats.txTooLong++;
      return null;
    }
    const buf = new PacketBuffer(new Uint8Array(this.headroom + payloadBytes));
    buf.reset(this.headroom);
    this.#large.add(buf);
    return buf;
  }

  /**
   * The link's transmit offloads for IPv6 packets (see {@link Ipv6SendOptions.partialChecksumOffset}).
   *
   * @returns checksum completion and the largest TCP super-segment (0: no GSO)
   */
  get txOffloads(): IpTxOffloads {
    return this.#link.txOffloads6 ?? NO_TX_OFFLOADS;
  }

  /**
   * A buffer for one TCP super-segment of up to `txOffloads.gsoMaxBytes`
   * transport bytes, headroom for the IPv6 and link headers.
   *
   * @returns the buffer, or null without GSO or when none is free
   */
  allocateSegment(): PacketBufferLike | null {
    return this.#link.allocateSegment6?.() ?? null;
  }

  /**
   * Returns a buffer (pool or large).
   *
   * @param buf the buffer
   */
  release(buf: PacketBufferLike): void {
    if (this.#large.has(buf)) this.#large.delete(buf);
    else this.#link.releaseBuffer(buf);
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
    return this.pmtu.pathMtu(this.#nowMs, dst);
  }

  /**
   * The path MTU toward `dst` by this interface's own cache (the router's
   * answer for its egress interface).
   *
   * @param dst destination words
   * @returns bytes, ≥ 1280
   */
  ownPathMtu(dst: Ipv6Words): number {
    return this.pmtu.pathMtu(this.#nowMs, dst);
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
    if (from !== this && from.#large.has(buf)) {
      from.#large.delete(buf);
      this.#large.add(buf);
    }
    const stats = this.stats;
    const payload = buf.length;
    if (payload > IPV6_MAX_PAYLOAD_LEN) {
      stats.txTooLong++;
      this.release(buf);
      return false;
    }
    const hopLimit = opts?.hopLimit ?? this.#hopLimit;
    const tc = opts?.trafficClass ?? 0;
    const partial = opts?.partialChecksumOffset ?? 0;
    if (partial > 0) {
      const gsoSize = opts?.gsoSize ?? 0;
      const mac = offloadMac6(this, this.#nowMs, this.#pointToPoint, dst, payload, gsoSize);
      if (mac >= 0) {
        const at = buf.prepend(IPV6_HEADER_LEN);
        if (at < 0) {
          stats.txNoHeadroom++;
          this.release(buf);
          return false;
        }
        writeIpv6Header(buf.bytes, at, tc, payload, protocol, hopLimit, src, dst);
        stats.txPackets++;
        if (this.#link.transmitIpv6(buf, mac, partial, gsoSize)) return true;
        stats.txLinkDropped++;
        return false;
      }
      stats.txOffloadSoftware++;
      if (gsoSize > 0) {
        const headerLength = (buf.bytes[buf.head + TCP_DATA_OFFSET_BYTE] >>> 4) << 2;
        if (payload - headerLength > gsoSize) {
          const segOpts = this.#segmentOpts;
          segOpts.hopLimit = hopLimit;
          segOpts.trafficClass = tc;
          segOpts.dontFragment = opts!.dontFragment;
          return segmentTcp6InSoftware(this, src, buf, dst, protocol, gsoSize, segOpts);
        }
      }
      completePartialChecksum(buf.bytes, buf.head, payload, partial);
    }
    if (!dst.isMulticast() && this.addresses.isUsable(dst)) {
      return this.#sendLocal(src, buf, dst, protocol, hopLimit, tc);
    }
    const now = this.#nowMs;
    const mtu = dst.isMulticast() ? this.pmtu.linkMtu : this.pmtu.pathMtu(now, dst);
    // (The path MTU of this, the egress, interface: its cache learnt the Packet Too Bigs.)
    const large = this.#large.has(buf);
    if (IPV6_HEADER_LEN + payload > mtu || large) {
      if (opts?.dontFragment === true) {
        stats.txTooBig++;
        this.release(buf);
        return false;
      }
      const ok = this.#fragment(src, buf, dst, protocol, hopLimit, tc, mtu, hop);
      this.release(buf);
      return ok;
    }
    const at = buf.prepend(IPV6_HEADER_LEN);
    if (at < 0) {
      stats.txNoHeadroom++;
      this.release(buf);
      return false;
    }
    writeIpv6Header(buf.bytes, at, tc, payload, protocol, hopLimit, src, dst);
    stats.txPackets++;
    return this.#route(buf, dst, -1, hop);
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
    if (this.#curBytes === null) return;
    this.icmp.sendError(
      nowMs,
      ICMPV6_DEST_UNREACHABLE,
      ICMPV6_UNREACH_PORT,
      0,
      this.#curBytes,
      this.#curOffset,
      this.#curLength,
      this.#curLinkMulticast,
    );
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
    this.#nowMs = nowMs;
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
    this.#nowMs = nowMs;
    const stats = this.stats;
    stats.rxPackets++;
    if (length < IPV6_HEADER_LEN) {
      stats.rxTooShort++;
      return;
    }
    if (bytes[offset] >>> 4 !== 6) {
      stats.rxBadVersion++;
      return;
    }
    let payload = (bytes[offset + IPV6_PAYLOAD_LENGTH_OFFSET] << 8) |
      bytes[offset + IPV6_PAYLOAD_LENGTH_OFFSET + 1];
    if (IPV6_HEADER_LEN + payload > length) {
      stats.rxBadLength++;
      return;
    }
    let jumbo: Ipv6Jumbogram | null = null;
    if (payload === 0 && this.rxSuperFrame && !reassembled) {
      jumbo = this.#jumbogram(nowMs, bytes, offset, length, linkMulticast);
      if (jumbo === null) return;
      payload = jumbo.upperOffset + jumbo.upperLength - offset - IPV6_HEADER_LEN;
    }
    const srcAt = offset + IPV6_SRC_OFFSET;
    if (
      bytes[srcAt] === 0xff || (bytes[srcAt] === 0 && Ipv6Address.LOOPBACK.equalsAt(bytes, srcAt))
    ) {
      // RFC 4291 §2.7: a multicast address is never a source; §2.5.3: ::1 never comes from a link.
      stats.rxBadSource++;
      return;
    }
    const dstAt = offset + IPV6_DST_OFFSET;
    const toMulticast = bytes[dstAt] === 0xff;
    // A reassembled packet's fragments were found for this host already.
    let local = reassembled && this.router !== null;
    if (jumbo !== null && this.router !== null) {
      // A jumbogram is only for this host's TCP: the router's paths keep 16-bit lengths.
      stats.rxBadJumbograms++;
      return;
    }
    if (this.router !== null && !toMulticast && !reassembled) {
      // Several interfaces: prerouting hooks, then for this host (any interface's address) or
      // forwarded (router6.ts).
      const verdict = this.router.receive6(nowMs, bytes, offset, length, IPV6_HEADER_LEN + payload);
      if (verdict === ROUTER_CONSUMED) return;
      local = verdict === ROUTER_LOCAL;
    }
    if (toMulticast) {
      if (!this.ndp.isMemberAt(bytes, dstAt)) {
        stats.rxNotMember++;
        return;
      }
    } else if (!local && !this.addresses.isOursAt(bytes, dstAt)) {
      stats.rxNotForUs++; // includes tentative addresses (RFC 4862 §5.4)
      return;
    }
    const nextHeader = bytes[offset + IPV6_NEXT_HEADER_OFFSET];
    let protocol = nextHeader;
    let upperOffset = offset + IPV6_HEADER_LEN;
    let upperLength = payload;
    let fragmented = reassembled;
    if (jumbo !== null) {
      protocol = jumbo.protocol;
      upperOffset = jumbo.upperOffset;
      upperLength = jumbo.upperLength;
      if (this.#handlers[protocol] === undefined) {
        stats.rxBadJumbograms++;
        return;
      }
    } else if (
      (nextHeader !== IP_PROTO_TCP && nextHeader !== IP_PROTO_UDP) ||
      this.#handlers[nextHeader] === undefined
    ) {
      // Extension headers, ICMPv6 or an unknown Next Header: the walk decides. (A registered
      // TCP or UDP right after the fixed header is what it delivers as is, the checks above
      // being its own: the per-packet path skips it, as Linux's ip6_protocol_deliver_rcu
      // reaches the transport at once when nexthdr is no extension header.)
      const chain = this.#walkChain(nowMs, bytes, offset, payload, linkMulticast, reassembled);
      if (chain === null) return;
      protocol = chain.protocol;
      upperOffset = chain.upperOffset;
      upperLength = chain.upperLength;
      fragmented ||= chain.hasFragmentHeader;
    }
    // "deliver": one flow keeps its address objects (no allocation per packet).
    if (!this.#rxSrc.equalsAt(bytes, srcAt)) this.#rxSrc = Ipv6Address.fromBytes(bytes, srcAt);
    if (!this.#rxDst.equalsAt(bytes, dstAt)) this.#rxDst = Ipv6Address.fromBytes(bytes, dstAt);
    stats.rxDelivered++;
    if (protocol === IP_PROTO_ICMPV6) {
      this.icmp.input(
        nowMs,
        this.#rxSrc,
        this.#rxDst,
        bytes[offset + IPV6_HOP_LIMIT_OFFSET],
        fragmented,
        bytes,
        upperOffset,
        upperLength,
        checksumVerified,
      );
      return;
    }
    this.#curBytes = bytes;
    this.#curOffset = offset;
    this.#curLength = IPV6_HEADER_LEN + payload;
    this.#curLinkMulticast = linkMulticast;
    this.#handlers[protocol]!.onPacket6(
      nowMs,
      this.#rxSrc,
      this.#rxDst,
      bytes,
      upperOffset,
      upperLength,
      checksumVerified,
      toMulticast,
    );
    this.#curBytes = null;
  }

  /**
   * A super-frame's Payload Length of 0 read as a jumbogram
   * (`readIpv6Jumbogram`, RFC 2675): RFC 2675 §3's errors answered with a
   * Parameter Problem (when RFC 4443 §2.4 allows one), all failures counted.
   *
   * @returns the jumbogram to deliver, or null when it was dropped
   */
  #jumbogram(
    nowMs: number,
    bytes: Uint8Array,
    offset: number,
    length: number,
    linkMulticast: boolean,
  ): Ipv6Jumbogram | null {
    const stats = this.stats;
    const jumbo = readIpv6Jumbogram(bytes, offset, length, this.#jumbo);
    if (jumbo.verdict === "deliver") {
      stats.rxJumbograms++;
      return jumbo;
    }
    stats.rxBadJumbograms++;
    if (jumbo.verdict === "parameter-problem") {
      stats.rxParameterProblem++;
      this.icmp.sendError(
        nowMs,
        ICMPV6_PARAMETER_PROBLEM,
        ICMPV6_PARAM_HEADER_FIELD,
        jumbo.pointer,
        bytes,
        offset,
        length,
        linkMulticast,
      );
    }
    return null;
  }

  /**
   * The extension-header chain of a received packet (`walkIpv6Chain`): its
   * verdicts other than "deliver" are handled here (Parameter Problem,
   * discard, reassembly).
   *
   * @returns the chain of a packet to deliver, or null when it was handled
   */
  #walkChain(
    nowMs: number,
    bytes: Uint8Array,
    offset: number,
    payload: number,
    linkMulticast: boolean,
    reassembled: boolean,
  ): Ipv6Chain | null {
    const stats = this.stats;
    const view = this.#rxView.reset(bytes, offset, IPV6_HEADER_LEN + payload);
    const chain = walkIpv6Chain(view, this.#chain, this.#walk);
    if (isWireError(chain)) {
      stats.rxBadHeader++;
      return null;
    }
    switch (chain.verdict) {
      case "parameter-problem":
        stats.rxParameterProblem++;
        if (chain.icmpAllowed) {
          this.icmp.sendError(
            nowMs,
            ICMPV6_PARAMETER_PROBLEM,
            chain.icmpCode,
            chain.pointer,
            bytes,
            offset,
            IPV6_HEADER_LEN + payload,
            linkMulticast,
          );
        }
        return null;
      case "discard":
        stats.rxDiscarded++;
        return null;
      case "reassemble": {
        if (reassembled) {
          stats.rxNestedFragment++;
          return null;
        }
        stats.rxFragments++;
        const r = this.reassembler;
        const whole = r.input(
          nowMs,
          bytes,
          offset,
          chain.fragmentHeaderPointer,
          chain.fragmentNextHeaderPointer,
          chain.fragmentOffset,
          chain.moreFragments,
          chain.fragmentId,
          chain.protocol,
          linkMulticast,
        );
        if (whole !== null) {
          stats.rxReassembled++;
          // Like Linux (the reassembled skb is the first fragment's): its link-layer destination.
          this.input(nowMs, whole, r.headerOffset, r.length, false, r.linkMulticast, true);
        }
        return null;
      }
    }
    return chain;
  }

  // ---- time ----

  /**
   * Runs due work: local delivery, neighbour and address timers, NDP,
   * reassembly timeouts, ping sessions.
   *
   * @param nowMs current time
   */
  poll(nowMs: number): void {
    this.#nowMs = nowMs;
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
    let t = this.#localQueue.length > 0 ? this.#nowMs : Infinity;
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
    return this.addresses.list(this.#nowMs);
  }

  /**
   * The neighbour cache (allocates).
   *
   * @returns one record per neighbour
   */
  neighbourList(): NeighbourInfo[] {
    return this.neighbours.list(this.#nowMs);
  }

  /**
   * The default router list with each router's M and O flags (allocates).
   *
   * @returns one record per router
   */
  routerList(): RouterInfo[] {
    return this.ndp.routers(this.#nowMs);
  }

  /**
   * The recursive DNS servers learned from RAs, with lifetimes (allocates).
   *
   * @returns one record per server
   */
  dnsServerList(): DnsServerInfo[] {
    return this.ndp.dnsServers(this.#nowMs);
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

  /**
   * Sends a finished packet (header at `buf.head`) toward `dst`: the other end
   * of a point-to-point link, multicast MAC, `mac`, or resolution of `routed`
   * (the router's next hop) or of neighbour discovery's; a router's output and
   * postrouting hooks first.
   */
  #route(
    buf: PacketBufferLike,
    dst: Ipv6Address,
    mac: number,
    routed: Ipv6Address | null = null,
  ): boolean {
    if (this.router !== null && !this.router.localOut6(this, buf)) {
      this.release(buf);
      return false;
    }
    // A point-to-point IP link: every packet goes to the other end, nothing to resolve.
    if (this.#pointToPoint) return this.#transmit(buf, 0);
    if (dst.isMulticast()) return this.#transmit(buf, dst.multicastMac());
    if (mac >= 0) return this.#transmit(buf, mac);
    const hop = routed ?? this.ndp.nextHop(this.#nowMs, dst);
    if (hop === null) {
      this.stats.txNoRoute++;
      this.release(buf);
      return false;
    }
    if (this.neighbours.send(this.#nowMs, hop, buf)) return true;
    this.stats.txLinkDropped++;
    return false;
  }

  #transmit(buf: PacketBufferLike, mac: number): boolean {
    if (this.#link.transmitIpv6(buf, mac)) return true;
    this.stats.txLinkDropped++;
    return false;
  }

  /**
   * RFC 8200 §4.5 fragmentation ({@link fragmentIpv6}) with the next
   * identification of this layer (a random start and a counter: RFC 7739 §5
   * asks for unpredictable values); each fragment is routed as `buf` would be.
   */
  #fragment(
    src: Ipv6Address,
    buf: PacketBufferLike,
    dst: Ipv6Address,
    protocol: number,
    hopLimit: number,
    tc: number,
    mtu: number,
    hop: Ipv6Address | null,
  ): boolean {
    const id = this.#fragmentId;
    this.#fragmentId = (id + 1) | 0;
    return fragmentIpv6(
      this.#pool,
      this.headroom,
      this.stats,
      buf,
      src,
      dst,
      protocol,
      hopLimit,
      tc,
      mtu,
      id,
      (frag) => this.#route(frag, dst, -1, hop),
      (frag) => this.release(frag),
    );
  }

  #sendLocal(
    src: Ipv6Address,
    buf: PacketBufferLike,
    dst: Ipv6Address,
    protocol: number,
    hopLimit: number,
    tc: number,
  ): boolean {
    const queue = this.#localQueue;
    if (queue.full || this.#large.has(buf)) {
      this.stats.txLocalDropped++;
      this.release(buf);
      return false;
    }
    const at = buf.prepend(IPV6_HEADER_LEN);
    if (at < 0) {
      this.stats.txNoHeadroom++;
      this.release(buf);
      return false;
    }
    writeIpv6Header(buf.bytes, at, tc, buf.length - IPV6_HEADER_LEN, protocol, hopLimit, src, dst);
    this.stats.txPackets++;
    this.stats.txLocal++;
    queue.push(buf);
    return true;
  }

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

  #sendNdp(repr: NdpRepr, src: Ipv6Address, dst: Ipv6Address, mac: number): void {
    const buf = this.allocateControl();
    if (buf === null) return;
    const length = NdpRepr.bufferLength(repr);
    const at = buf.append(length);
    const ip = at < 0 ? -1 : buf.prepend(IPV6_HEADER_LEN);
    if (ip < 0) {
      this.stats.txNoHeadroom++;
      this.release(buf);
      return;
    }
    NdpRepr.emit(repr, buf.bytes, at, src, dst);
    writeIpv6Header(buf.bytes, ip, 0, length, IP_PROTO_ICMPV6, NDP_HOP_LIMIT, src, dst);
    this.stats.txPackets++;
    this.#route(buf, dst, mac);
  }

  /** RFC 3810 §5.2: a report to ff02::16, hop limit 1, Router Alert, from our link-local (or ::). */
  #sendMldReport(records: MldRecord[]): void {
    const buf = this.allocateControl();
    if (buf === null) return;
    const report = { records };
    const length = MldReportRepr.bufferLength(report);
    const at = buf.append(length);
    const hbh = at < 0 ? -1 : buf.prepend(IPV6_ROUTER_ALERT_HEADER_LEN);
    const ip = hbh < 0 ? -1 : buf.prepend(IPV6_HEADER_LEN);
    if (ip < 0) {
      this.stats.txNoHeadroom++;
      this.release(buf);
      return;
    }
    let src = Ipv6Address.UNSPECIFIED;
    for (const e of this.addresses.entries) {
      if (e.origin === "link-local" && e.usable) src = e.address;
    }
    const dst = Ipv6Address.ALL_MLDV2_ROUTERS;
    MldReportRepr.emit(report, buf.bytes, at, src, dst);
    emitHopByHopRouterAlert(buf.bytes, hbh, IP_PROTO_ICMPV6);
    writeIpv6Header(
      buf.bytes,
      ip,
      0,
      IPV6_ROUTER_ALERT_HEADER_LEN + length,
      IP_PROTO_HOPOPTS,
      MLD_HOP_LIMIT,
      src,
      dst,
    );
    this.stats.txPackets++;
    this.#transmit(buf, dst.multicastMac());
  }
}
