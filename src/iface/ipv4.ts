/**
 * IPv4 (RFC 791) for a host (RFC 1122 §3.2): input checks and protocol
 * demultiplexing, fragment reassembly hand-off, and output with routing,
 * identification, TTL, DF and fragmentation. {@link Ipv4Layer} implements the
 * {@link IpSender} that transports use.
 *
 * The link below (ARP resolution, Ethernet header, device) is reached through
 * {@link Ipv4LinkOutput}; ICMP error generation through
 * {@link Ipv4ErrorReporter} — both supplied by `NetworkInterface`.
 *
 * @module
 */

import { IPV4_LIMITED_BROADCAST } from "../wire/address.ts";
import { completePartialChecksum, internetChecksum } from "../wire/checksum.ts";
import { ICMP_DEST_UNREACHABLE, ICMP_UNREACH_PORT, ICMP_UNREACH_PROTOCOL } from "../wire/icmp.ts";
import {
  IP_PROTO_TCP,
  IPV4_CHECKSUM_OFFSET,
  IPV4_DST_OFFSET,
  IPV4_FRAGMENT_UNIT,
  IPV4_HEADER_LEN,
  IPV4_ID_OFFSET,
  IPV4_MAX_PACKET_LEN,
  IPV4_SRC_OFFSET,
  IPV4_TOTAL_LENGTH_OFFSET,
  IPV4_VERSION,
  Ipv4Packet,
  Ipv4Repr,
  newIpv4Repr,
} from "../wire/ipv4.ts";
import {
  fillTcpChecksum,
  TCP_CHECKSUM_OFFSET,
  TCP_CWR,
  TCP_FIN,
  TCP_FLAGS_OFFSET,
  TCP_PSH,
  TCP_SEQ_OFFSET,
} from "../wire/tcp.ts";
import { readI32, write32 } from "../wire/view.ts";
import { PacketBuffer } from "../buffer/packet_buffer.ts";
import { BufferPool } from "../buffer/buffer_pool.ts";
import type { InterfaceConfig } from "./config.ts";
import { NO_ROUTE } from "./routes.ts";
import { IpIdGenerator } from "./ip_id.ts";
import { Reassembler, type ReassemblyOptions } from "./reassembly.ts";
import type {
  BufferPoolLike,
  IpProtocolHandler,
  IpSender,
  IpSendOptions,
  PacketBufferLike,
} from "./types.ts";
import { LocalDeliveryQueue } from "./local_queue.ts";

/** Don't Fragment in the flags/fragment-offset word of {@link writeIpv4Header} (RFC 791 §3.1). */
const FLAG_DF = 0x4000;
/** More Fragments in that word. */
const FLAG_MF = 0x2000;
/** The fragment offset (in 8-byte units) in that word. */
const FRAGMENT_OFFSET_MASK = 0x1fff;
/**
 * 255.255.255.255 (RFC 919) as an int32 address (`0xffffffff | 0`): numeric
 * IPv4 addresses are signed 32-bit integers (see src/wire/address.ts).
 */
export const LIMITED_BROADCAST: number = IPV4_LIMITED_BROADCAST;
/** 224.0.0.1, the all-hosts group every host belongs to (RFC 1112 §4), int32. */
export const ALL_HOSTS_GROUP = 0xe0000001 | 0;
/** Default bound of the local-delivery queue (datagrams a host sends to its own address). */
export const LOCAL_QUEUE_DEFAULT_LENGTH = 256;

/** Counters of an {@link Ipv4Layer}; every drop has its own reason. */
export interface Ipv4Stats {
  /** Datagrams offered to input. */
  rxPackets: number;
  /** Delivered to a protocol handler (after reassembly). */
  rxDelivered: number;
  /** Dropped: shorter than a header, or than IHL, or than total length. */
  rxTruncated: number;
  /** Dropped: version not 4. */
  rxBadVersion: number;
  /** Dropped: IHL < 5 or beyond total length. */
  rxBadHeaderLength: number;
  /** Dropped: total length < header length. */
  rxBadTotalLength: number;
  /**
   * TCP super-frames above 64 KiB taken with Total Length 0 (Linux BIG TCP
   * for IPv4, 6.3+: the length is the frame's) from a frame the device
   * marked as GSO/GRO.
   */
  rxBigTcp: number;
  /** Dropped: header checksum wrong. */
  rxBadChecksum: number;
  /** Dropped: TTL 0 (RFC 791: "must be destroyed"). */
  rxTtlZero: number;
  /** Dropped: source is broadcast or multicast (RFC 1122 §3.2.1.3). */
  rxBadSource: number;
  /** Dropped: destination neither ours nor a broadcast we accept. */
  rxNotForUs: number;
  /** Dropped: no handler (ICMP protocol unreachable sent when allowed). */
  rxUnknownProtocol: number;
  /** Fragments handed to reassembly. */
  rxFragments: number;
  /** Datagrams reassembled. */
  rxReassembled: number;
  /**
   * Datagrams being reassembled dropped because the first fragment's header plus all data
   * would pass 65,535 bytes (RFC 791 §3.1; Linux ip_frag_reasm "oversized").
   */
  rxReassemblyTooLong: number;
  /** Datagrams sent (before fragmentation). */
  txPackets: number;
  /** Fragments sent. */
  txFragments: number;
  /** Dropped: no route to the destination. */
  txNoRoute: number;
  /** Dropped: packet buffer pool empty. */
  txNoBuffer: number;
  /** Dropped: larger than the MTU with DF set. */
  txNeedsFragmentation: number;
  /** Dropped: more than 65,535 bytes with the header. */
  txTooLong: number;
  /** Dropped: buffer without headroom for the IPv4 header. */
  txNoHeadroom: number;
  /** Dropped by the link (ARP queue full, device refused). */
  txLinkDropped: number;
  /** TCP super-segments handed to the link for segmentation offload (GSO). */
  txSuperSegments: number;
  /** {@link Ipv4Layer.allocateSegment} found no free segment buffer. */
  txNoSegmentBuffer: number;
  /** Datagrams to our own address queued for local delivery (never transmitted). */
  txLocal: number;
  /** Dropped: the local-delivery queue was full. */
  txLocalDropped: number;
  /** Locally sent datagrams handed to input. */
  rxLocal: number;
}

/** The link below IPv4: ARP resolution, Ethernet header, device. */
export interface Ipv4LinkOutput {
  /** Bytes the link needs in front of the IPv4 header (device headroom + Ethernet [+ VLAN]). */
  readonly linkHeadroom: number;
  /**
   * The time the link was last given (ms), for the identification counters'
   * idle perturbation; absent: 0 (no perturbation).
   */
  readonly nowMs?: number;
  /**
   * Sends an IPv4 packet (`buf[head, tail)` starts with the IPv4 header) to
   * the neighbour `nextHop` (or the link broadcast when `nextHop` is a
   * broadcast address). Takes ownership of `buf`. With
   * `partialChecksumOffset > 0` the transport checksum is partial and, with
   * `gsoSize > 0`, the packet is a TCP super-segment (see
   * {@link IpSendOptions}): the link completes/segments it, by the device or
   * in software.
   *
   * @returns false when dropped (counted by the link)
   */
  sendToNeighbour(
    buf: PacketBufferLike,
    nextHop: number,
    partialChecksumOffset?: number,
    gsoSize?: number,
  ): boolean;
}

/** How IPv4 asks ICMP to report a problem with a received datagram. */
export interface Ipv4ErrorReporter {
  /**
   * Sends an ICMP error about the datagram whose IPv4 header starts at
   * `headerOffset` (RFC 1122 §3.2.2 rules and rate limiting apply).
   */
  sendError(
    nowMs: number,
    type: number,
    code: number,
    bytes: Uint8Array,
    headerOffset: number,
    datagramLength: number,
  ): void;
}

/** {@link Ipv4RouterPort.receive}: not the router's business; the host checks run (our address or a broadcast). */
export const ROUTER_CONTINUE = 0;
/** {@link Ipv4RouterPort.receive}: for this host (one of its addresses, maybe another interface's): deliver. */
export const ROUTER_LOCAL = 1;
/** {@link Ipv4RouterPort.receive}: taken by the router (forwarded, or dropped and counted). */
export const ROUTER_CONSUMED = 2;

/**
 * What a router (several interfaces, forwarding, packet hooks; `router.ts`)
 * attaches to each interface's IPv4 layer ({@link Ipv4Layer.router}). Absent
 * (null) on a single-interface host: its paths pay one comparison.
 */
export interface Ipv4RouterPort {
  /**
   * A received datagram whose header passed the checks (version, lengths,
   * checksum, TTL, source): prerouting hooks, then local delivery (input
   * hooks) or forwarding. May rewrite the datagram in place.
   *
   * @returns {@link ROUTER_CONTINUE}, {@link ROUTER_LOCAL} or {@link ROUTER_CONSUMED}
   */
  receive(
    nowMs: number,
    bytes: Uint8Array,
    offset: number,
    length: number,
    totalLength: number,
  ): number;
  /** A datagram we originate: the router picks the egress interface (longest prefix) and calls its {@link Ipv4Layer.sendRouted}. */
  output(
    src: number,
    buf: PacketBufferLike,
    dst: number,
    protocol: number,
    opts?: IpSendOptions,
  ): boolean;
  /** A datagram we originate, header written, about to go to the link: output and postrouting hooks; false = dropped. */
  localOut(buf: PacketBufferLike): boolean;
  /** Our source address toward `dst` by the router's table (0: no route). */
  sourceAddressFor(dst: number): number;
}

/** Options of an {@link Ipv4Layer}. */
export interface Ipv4LayerOptions {
  /** Reassembly bounds and timeout. */
  reassembly?: ReassemblyOptions;
  /**
   * First identification of every counter (default: a value per counter derived from
   * {@link identificationSecret}); tests use it to predict identifications.
   */
  initialIdentification?: number;
  /**
   * 16-byte key of the hashed identification counters (RFC 7739 §5.3, see
   * `ip_id.ts`); default random. Fixing it makes identifications reproducible.
   */
  identificationSecret?: Uint8Array;
  /**
   * Bound of the local-delivery queue (datagrams to our own address waiting
   * for {@link Ipv4Layer.poll}); default {@link LOCAL_QUEUE_DEFAULT_LENGTH}.
   */
  localQueueLength?: number;
}

/**
 * Writes a 20-byte IPv4 header (no options) with its checksum.
 *
 * @param bytes destination buffer
 * @param offset where the header starts
 * @param tos type of service byte
 * @param totalLength header + data length
 * @param id identification
 * @param flagsFragment DF (0x4000), MF (0x2000) and the fragment offset in 8-byte units
 * @param ttl time to live
 * @param protocol IP protocol number
 * @param src source address
 * @param dst destination address
 * @returns bytes written (20)
 *
 * @example
 * ```ts
 * import { writeIpv4Header } from "./ipv4.ts";
 * import { internetChecksum } from "../wire/checksum.ts";
 * const b = new Uint8Array(20);
 * writeIpv4Header(b, 0, 0, 28, 1, 0x4000, 64, 1, 0xc0000201, 0xc0000202);
 * console.assert(b[0] === 0x45 && internetChecksum(b, 0, 20) === 0);
 * ```
 */
export function writeIpv4Header(
  bytes: Uint8Array,
  offset: number,
  tos: number,
  totalLength: number,
  id: number,
  flagsFragment: number,
  ttl: number,
  protocol: number,
  src: number,
  dst: number,
): number {
  const repr = txHeader;
  repr.tos = tos;
  repr.payloadLength = totalLength - IPV4_HEADER_LEN;
  repr.identification = id;
  repr.dontFragment = (flagsFragment & FLAG_DF) !== 0;
  repr.moreFragments = (flagsFragment & FLAG_MF) !== 0;
  repr.fragmentOffset = (flagsFragment & FRAGMENT_OFFSET_MASK) * IPV4_FRAGMENT_UNIT;
  repr.ttl = ttl;
  repr.protocol = protocol;
  repr.source = src;
  repr.destination = dst;
  return Ipv4Repr.emit(repr, bytes, offset);
}

/** The repr {@link writeIpv4Header} fills and emits (module-wide; emitting is synchronous). */
const txHeader = newIpv4Repr();

function newStats(): Ipv4Stats {
  return {
    rxPackets: 0,
    rxDelivered: 0,
    rxTruncated: 0,
    rxBadVersion: 0,
    rxBadHeaderLength: 0,
    rxBadTotalLength: 0,
    rxBigTcp: 0,
    rxBadChecksum: 0,
    rxTtlZero: 0,
    rxBadSource: 0,
    rxNotForUs: 0,
    rxUnknownProtocol: 0,
    rxFragments: 0,
    rxReassembled: 0,
    rxReassemblyTooLong: 0,
    txPackets: 0,
    txFragments: 0,
    txNoRoute: 0,
    txNoBuffer: 0,
    txNeedsFragmentation: 0,
    txTooLong: 0,
    txNoHeadroom: 0,
    txLinkDropped: 0,
    txSuperSegments: 0,
    txNoSegmentBuffer: 0,
    txLocal: 0,
    txLocalDropped: 0,
    rxLocal: 0,
  };
}

/**
 * The IPv4 layer of one interface.
 *
 * @example
 * ```ts
 * import { Ipv4Layer, type Ipv4LinkOutput } from "./ipv4.ts";
 * import { resolveInterfaceConfig } from "./config.ts";
 * import { BufferPool } from "../buffer/buffer_pool.ts";
 * const pool = new BufferPool({ slots: 8 });
 * const sent: number[] = [];
 * const link: Ipv4LinkOutput = {
 *   linkHeadroom: 14,
 *   sendToNeighbour(buf, nextHop) { sent.push(nextHop, buf.length); pool.free(buf as never); return true; },
 * };
 * const config = resolveInterfaceConfig({ mac: "02:00:00:00:00:02", ipv4: "192.0.2.2/24" });
 * const ip = new Ipv4Layer(config, pool, link);
 * const buf = ip.allocate()!;
 * buf.append(8);
 * console.assert(ip.send(buf, 0xc0000201, 17));
 * console.assert(sent[0] === 0xc0000201 && sent[1] === 28);
 * ```
 */
export class Ipv4Layer implements IpSender {
  /** Counters. */
  readonly stats: Ipv4Stats = newStats();
  /** The reassembler (exposed for its counters and bounds). */
  readonly reassembler: Reassembler;
  /** Reports errors about received datagrams (set by the owner; null = none sent). */
  errorReporter: Ipv4ErrorReporter | null = null;
  /** The router this interface belongs to (several interfaces, forwarding, hooks); null: a plain host. */
  router: Ipv4RouterPort | null = null;

  readonly #config: InterfaceConfig;
  readonly #pool: BufferPoolLike;
  readonly #link: Ipv4LinkOutput;
  readonly #handlers: (IpProtocolHandler | undefined)[] = new Array(256);
  readonly #large = new WeakSet<PacketBufferLike>();
  /** Buffers for TCP super-segments (made on first use, see {@link allocateSegmentBuffer}). */
  #segmentPool: BufferPool | null = null;
  /** Identifications: hashed per (source, destination, protocol) counters (RFC 7739 §5.3). */
  readonly #ids: IpIdGenerator;
  /** The datagram being dispatched (for ICMP quoting from handlers). */
  #curBytes: Uint8Array | null = null;
  #curHeaderOffset = 0;
  #curLength = 0;
  #curPayloadOffset = 0;
  /** Reads received datagrams (made once, re-pointed per datagram). */
  readonly #rxView = new Ipv4Packet(new Uint8Array(0));
  /**
   * The datagram being input came from the device as a TCP GSO/GRO
   * super-frame (its virtio_net_hdr said so): only then is a Total Length of
   * 0 in one longer than 65,535 octets read as "the frame's length", as Linux
   * BIG TCP writes it (`iph_set_totlen`, read back by `skb_ip_totlen` in
   * `ip_rcv_core`). Set by the interface around `input()`; false otherwise.
   */
  rxSuperFrame = false;
  /** Ring of datagrams to our own address, delivered by {@link poll} (made once). */
  readonly #localQueue: LocalDeliveryQueue;

  /**
   * Creates the IPv4 layer of one interface.
   *
   * @param config validated interface configuration
   * @param pool the packet buffer pool
   * @param link the link output (ARP + Ethernet + device)
   * @param options reassembly bounds, identification secret and initial value
   */
  constructor(
    config: InterfaceConfig,
    pool: BufferPoolLike,
    link: Ipv4LinkOutput,
    options: Ipv4LayerOptions = {},
  ) {
    this.#config = config;
    this.#pool = pool;
    this.#link = link;
    this.reassembler = new Reassembler(options.reassembly);
    this.#ids = new IpIdGenerator({
      secret: options.identificationSecret,
      initial: options.initialIdentification,
    });
    const localLength = options.localQueueLength ?? LOCAL_QUEUE_DEFAULT_LENGTH;
    if (!Number.isInteger(localLength) || localLength < 1) {
      throw new TypeError(`localQueueLength must be a positive integer, got ${localLength}`);
    }
    this.#localQueue = new LocalDeliveryQueue(localLength);
  }

  /** Datagrams waiting in the local-delivery queue. */
  get localQueued(): number {
    return this.#localQueue.length;
  }

  /** Bytes to reserve in front of a transport header: link headroom + IPv4 header. */
  get headroom(): number {
    return this.#link.linkHeadroom + IPV4_HEADER_LEN;
  }

  /**
   * Registers the handler for an IP protocol number (replacing any).
   *
   * @param protocol 0..255, e.g. 17 for UDP
   * @param handler the transport
   * @throws {TypeError} for a protocol outside 0..255
   */
  registerProtocol(protocol: number, handler: IpProtocolHandler): void {
    if (!Number.isInteger(protocol) || protocol < 0 || protocol > 255) {
      throw new TypeError(`IP protocol number must be 0..255, got ${protocol}`);
    }
    this.#handlers[protocol] = handler;
  }

  /**
   * The transport registered for an IP protocol number.
   *
   * @param protocol IP protocol number
   * @returns the registered handler, if any
   */
  handlerFor(protocol: number): IpProtocolHandler | undefined {
    return this.#handlers[protocol & 0xff];
  }

  /**
   * A pool buffer with headroom for the IPv4 and link headers.
   *
   * @returns the buffer, or null when the pool is empty (counted)
   */
  allocate(): PacketBufferLike | null {
    const buf = this.#pool.alloc(this.headroom);
    if (buf === null) this.stats.txNoBuffer++;
    return buf;
  }

  /**
   * A standalone buffer for a transport datagram larger than a pool slot
   * (up to 65,515 bytes); {@link send} fragments it into pool buffers.
   * Slow path: allocates.
   *
   * @param payloadBytes transport bytes to hold
   * @returns the buffer, or null when the datagram can never fit in IPv4
   */
  allocateLarge(payloadBytes: number): PacketBufferLike | null {
    if (payloadBytes + IPV4_HEADER_LEN > IPV4_MAX_PACKET_LEN) {
      this.stats.txTooLong++;
      return null;
    }
    const buf = new PacketBuffer(new Uint8Array(this.headroom + payloadBytes));
    buf.reset(this.headroom);
    this.#large.add(buf);
    return buf;
  }

  /**
   * A buffer for one transport segment of up to `maxBytes` bytes (a TCP
   * super-segment for segmentation offload), headroom as {@link allocate},
   * from a small pool of large slots made on the first call (slow path once,
   * then no allocation).
   *
   * @param maxBytes largest transport segment the link accepts (≤ 65,515)
   * @param headroom bytes in front of the transport header (default: link + IPv4 header;
   *   the IPv6 layer's super-segments ask for link + 40 with a 20-byte smaller `maxBytes`)
   * @returns the buffer, or null when none is free (counted)
   */
  allocateSegmentBuffer(maxBytes: number, headroom = this.headroom): PacketBufferLike | null {
    let pool = this.#segmentPool;
    if (pool === null || pool.slotSize < headroom + maxBytes) {
      if (pool !== null && pool.inUse > 0) {
        this.stats.txNoSegmentBuffer++;
        return null;
      }
      pool = new BufferPool({ slotSize: headroom + maxBytes, slots: SEGMENT_POOL_SLOTS });
      this.#segmentPool = pool;
    }
    const buf = pool.alloc(headroom);
    if (buf === null) this.stats.txNoSegmentBuffer++;
    return buf;
  }

  /**
   * Returns a buffer from {@link allocate}, {@link allocateSegmentBuffer} or
   * {@link allocateLarge} (unsent, or sent by the link).
   *
   * @param buf the buffer
   */
  release(buf: PacketBufferLike): void {
    if (buf.owner === this.#pool) {
      // The usual case, told apart from the set lookups below by one comparison.
      this.#pool.free(buf);
      return;
    }
    const segments = this.#segmentPool;
    if (segments !== null && segments.owns(buf as PacketBuffer)) segments.free(buf as PacketBuffer);
    else if (this.#large.has(buf)) this.#large.delete(buf);
    else this.#pool.free(buf);
  }

  /**
   * Our source address toward `dst`.
   *
   * @param dst destination address (int32; the unsigned form is accepted)
   * @returns our address (int32), or 0 when there is no route
   */
  sourceAddressFor(dst: number): number {
    if (this.router !== null) return this.router.sourceAddressFor(dst);
    if ((dst | 0) === LIMITED_BROADCAST) return this.#config.address;
    return this.#config.routes.lookup(dst) === NO_ROUTE ? 0 : this.#config.address;
  }

  /**
   * The IPv4 MTU toward `dst` (the interface MTU; TCP MSS = MTU − 40).
   *
   * @param _dst destination address
   * @returns the MTU in bytes
   */
  mtuFor(_dst: number): number {
    return this.#config.mtu;
  }

  /**
   * Sends `buf[head, tail)` as the payload of an IPv4 datagram (RFC 791 §3.2
   * "Transmission"). Fragments when larger than the MTU and DF is clear.
   * Takes ownership of `buf`.
   *
   * @param buf transport header + data, with headroom for IPv4 and the link
   * @param dst destination address
   * @param protocol IP protocol number
   * @param opts ttl, dontFragment, tos, source (default this interface's address)
   * @returns false when dropped (counted)
   */
  send(buf: PacketBufferLike, dst: number, protocol: number, opts?: IpSendOptions): boolean {
    return this.sendFrom(opts?.source || this.#config.address, buf, dst, protocol, opts);
  }

  /**
   * {@link send} with an explicit source address (used for ICMP replies to
   * broadcasts and by tests).
   *
   * @param src source address to write
   * @param buf payload buffer (ownership taken)
   * @param dst destination
   * @param protocol IP protocol number
   * @param opts ttl, dontFragment, tos
   * @returns false when dropped (counted)
   */
  sendFrom(
    src: number,
    buf: PacketBufferLike,
    dst: number,
    protocol: number,
    opts?: IpSendOptions,
  ): boolean {
    // Addresses are int32 (src/wire/address.ts); a caller's unsigned form is normalised here so
    // the local-delivery test and the ARP cache key below see one form.
    src |= 0;
    dst |= 0;
    if (this.router !== null) return this.router.output(src, buf, dst, protocol, opts);
    return this.sendRouted(src, buf, dst, protocol, opts);
  }

  /**
   * {@link sendFrom} on this interface, the router having chosen it: to
   * `nextHop` when given (its routing table's answer), else by this
   * interface's own routes.
   *
   * @param src source address to write
   * @param buf payload buffer (ownership taken)
   * @param dst destination
   * @param protocol IP protocol number
   * @param opts ttl, dontFragment, tos
   * @param routedNextHop the neighbour to send to; absent: look it up here
   * @returns false when dropped (counted)
   */
  sendRouted(
    src: number,
    buf: PacketBufferLike,
    dst: number,
    protocol: number,
    opts?: IpSendOptions,
    routedNextHop?: number,
  ): boolean {
    src |= 0;
    dst |= 0;
    const config = this.#config;
    // RFC 1122 §3.3.5 (and Linux's local route through lo): a datagram to our own
    // address is not transmitted; it loops back to input.
    if (dst === config.address && dst !== 0) return this.#sendLocal(src, buf, dst, protocol, opts);
    // RFC 919 §7: the limited broadcast goes onto the local link, never through a route.
    // (Its int32 form -1 equals NO_ROUTE, so it must not reach the check below.)
    const nextHop = routedNextHop !== undefined
      ? routedNextHop
      : dst === LIMITED_BROADCAST
      ? dst
      : config.routes.nextHop(dst);
    if (nextHop === NO_ROUTE && dst !== LIMITED_BROADCAST) {
      this.stats.txNoRoute++;
      this.release(buf);
      return false;
    }
    const payload = buf.length;
    const total = IPV4_HEADER_LEN + payload;
    if (total > IPV4_MAX_PACKET_LEN) {
      this.stats.txTooLong++;
      this.release(buf);
      return false;
    }
    const ttl = opts?.ttl ?? config.ttl;
    const tos = opts?.tos ?? 0;
    const df = opts?.dontFragment === true;
    const partial = opts?.partialChecksumOffset ?? 0;
    const gsoSize = partial > 0 ? opts?.gsoSize ?? 0 : 0;
    // RFC 7739 §5.3 (Linux __ip_select_ident): a counter per hashed (src, dst, protocol). A
    // TCP super-segment the link splits takes one identification per segment; the kernel
    // gives segment i the identification id + i (RFC 6864 §4.1).
    const segments = gsoSize > 0 && total > config.mtu ? Math.ceil(payload / gsoSize) : 1;
    const id = this.#ids.next(this.#link.nowMs ?? 0, src, dst, protocol, segments);
    this.stats.txPackets++;
    if (
      (total <= config.mtu || gsoSize > 0) && (buf.owner === this.#pool || !this.#large.has(buf))
    ) {
      const at = buf.prepend(IPV4_HEADER_LEN);
      if (at < 0) {
        this.stats.txNoHeadroom++;
        this.release(buf);
        return false;
      }
      writeIpv4Header(buf.bytes, at, tos, total, id, df ? FLAG_DF : 0, ttl, protocol, src, dst);
      if (total > config.mtu) {
        // A TCP super-segment: the total length covers it whole, as the kernel expects for GSO.
        this.stats.txSuperSegments++;
        return this.#toLink(buf, nextHop, partial, gsoSize);
      }
      return this.#toLink(buf, nextHop, partial, 0);
    }
    if (partial > 0) completePartialChecksum(buf.bytes, buf.head, payload, partial);
    if (total > config.mtu && df) {
      // RFC 791 §3.2: a datagram that must not be fragmented and does not fit is discarded.
      this.stats.txNeedsFragmentation++;
      this.release(buf);
      return false;
    }
    const ok = this.#fragment(buf, src, dst, protocol, ttl, tos, id, df, nextHop);
    this.release(buf);
    return ok;
  }

  /**
   * Queues a datagram to our own address for {@link poll} to hand to
   * {@link input}: whole (no MTU on loopback, so no fragmentation), its
   * transport checksum trusted (possibly partial, as on Linux's lo).
   */
  #sendLocal(
    src: number,
    buf: PacketBufferLike,
    dst: number,
    protocol: number,
    opts: IpSendOptions | undefined,
  ): boolean {
    const stats = this.stats;
    const total = IPV4_HEADER_LEN + buf.length;
    if (total > IPV4_MAX_PACKET_LEN) {
      stats.txTooLong++;
      this.release(buf);
      return false;
    }
    const queue = this.#localQueue;
    if (queue.full) {
      stats.txLocalDropped++;
      this.release(buf);
      return false;
    }
    const at = buf.prepend(IPV4_HEADER_LEN);
    if (at < 0) {
      stats.txNoHeadroom++;
      this.release(buf);
      return false;
    }
    const id = this.#ids.next(this.#link.nowMs ?? 0, src, dst, protocol);
    const flags = opts?.dontFragment === true ? FLAG_DF : 0;
    const ttl = opts?.ttl ?? this.#config.ttl;
    writeIpv4Header(buf.bytes, at, opts?.tos ?? 0, total, id, flags, ttl, protocol, src, dst);
    stats.txPackets++;
    stats.txLocal++;
    queue.push(buf);
    return true;
  }

  /**
   * Hands the datagrams queued for local delivery before this call to
   * {@link input} (what handlers send meanwhile waits for the next poll, so a
   * ping-pong on one host cannot loop forever), freeing each buffer after.
   */
  #deliverLocal(nowMs: number): void {
    const queue = this.#localQueue;
    for (let n = queue.length; n > 0 && queue.length > 0; n--) {
      const buf = queue.shift();
      this.stats.rxLocal++;
      try {
        // Linux's loopback marks its packets CHECKSUM_UNNECESSARY: treat as verified.
        this.input(nowMs, buf.bytes, buf.head, buf.length, true);
      } finally {
        this.release(buf);
      }
    }
  }

  /**
   * Frees the datagrams waiting for local delivery (when the interface closes).
   *
   * @returns how many were discarded
   */
  discardLocal(): number {
    return this.#localQueue.clear((buf) => this.release(buf));
  }

  /**
   * RFC 791 §3.2 "Fragmentation": copy the payload into MTU-sized fragments,
   * each with the header, the same identification, MF on all but the last and
   * the offset in 8-byte units.
   */
  #fragment(
    buf: PacketBufferLike,
    src: number,
    dst: number,
    protocol: number,
    ttl: number,
    tos: number,
    id: number,
    df: boolean,
    nextHop: number,
  ): boolean {
    const payload = buf.length;
    const mtu = this.#config.mtu;
    const maxData = maxFragmentData(mtu);
    const headroom = this.#link.linkHeadroom + IPV4_HEADER_LEN;
    const src0 = buf.head;
    let ok = true;
    for (let off = 0; off < payload; off += maxData) {
      const chunk = Math.min(maxData, payload - off);
      const last = off + chunk >= payload;
      const frag = this.#pool.alloc(headroom);
      if (frag === null) {
        this.stats.txNoBuffer++;
        return false;
      }
      const at = frag.append(chunk);
      if (at < 0) {
        this.stats.txNoHeadroom++;
        this.#pool.free(frag);
        return false;
      }
      frag.bytes.set(buf.bytes.subarray(src0 + off, src0 + off + chunk), at);
      const hdr = frag.prepend(IPV4_HEADER_LEN);
      const flags = (df ? FLAG_DF : 0) | (last ? 0 : FLAG_MF) |
        ((off / IPV4_FRAGMENT_UNIT) & FRAGMENT_OFFSET_MASK);
      writeIpv4Header(
        frag.bytes,
        hdr,
        tos,
        IPV4_HEADER_LEN + chunk,
        id,
        flags,
        ttl,
        protocol,
        src,
        dst,
      );
      this.stats.txFragments++;
      if (!this.#toLink(frag, nextHop)) ok = false;
    }
    return ok;
  }

  #toLink(buf: PacketBufferLike, nextHop: number, partial = 0, gsoSize = 0): boolean {
    if (this.router !== null && !this.router.localOut(buf)) {
      this.release(buf);
      return false;
    }
    if (this.#link.sendToNeighbour(buf, nextHop, partial, gsoSize)) return true;
    this.stats.txLinkDropped++;
    return false;
  }

  /**
   * Processes one received IPv4 datagram (the bytes after the link header).
   * RFC 1122 §3.2.1: check version, header length, total length, checksum;
   * accept only our address and broadcasts; reassemble fragments; demultiplex
   * by protocol. Never throws; drops are counted.
   *
   * @param nowMs current time
   * @param bytes buffer holding the datagram
   * @param offset start of the IPv4 header
   * @param length bytes available (may include link padding)
   * @param checksumVerified the device vouched for the transport checksum
   *   (passed on to the handler; not for reassembled datagrams)
   */
  input(
    nowMs: number,
    bytes: Uint8Array,
    offset: number,
    length: number,
    checksumVerified = false,
  ): void {
    const stats = this.stats;
    stats.rxPackets++;
    if (length < IPV4_HEADER_LEN) {
      stats.rxTruncated++;
      return;
    }
    // Each defect has its own counter (no WireError): the view is read only
    // within the lengths tested here, in the order of RFC 1122 §3.2.1.
    const packet = this.#rxView.reset(bytes, offset, length);
    // RFC 1122 §3.2.1.1: silently discard a datagram whose version is not 4.
    if (packet.version !== IPV4_VERSION) {
      stats.rxBadVersion++;
      return;
    }
    const headerLength = packet.headerLength;
    if (headerLength < IPV4_HEADER_LEN) {
      stats.rxBadHeaderLength++;
      return;
    }
    if (headerLength > length) {
      stats.rxTruncated++;
      return;
    }
    let totalLength = packet.totalLength;
    if (
      totalLength === 0 && this.rxSuperFrame && length > IPV4_MAX_PACKET_LEN &&
      packet.protocol === IP_PROTO_TCP && !packet.isFragment && this.router === null
    ) {
      // Only for this host's TCP: the router's paths keep 16-bit lengths.
      totalLength = length;
      stats.rxBigTcp++;
    }
    if (totalLength < headerLength) {
      stats.rxBadTotalLength++;
      return;
    }
    // Total length beyond the frame: truncated. Shorter: the rest is link padding.
    if (totalLength > length) {
      stats.rxTruncated++;
      return;
    }
    // RFC 1122 §3.2.1.2: verify the header checksum, discard on failure.
    if (!packet.verifyChecksum()) {
      stats.rxBadChecksum++;
      return;
    }
    if (packet.ttl === 0) {
      stats.rxTtlZero++;
      return;
    }
    const src = packet.source;
    let dst = packet.destination;
    const config = this.#config;
    // RFC 1122 §3.2.1.3: a source that is broadcast or multicast is discarded.
    if (
      src === LIMITED_BROADCAST || (src >>> 28) === 0xe ||
      (config.directedBroadcast !== 0 && src === config.directedBroadcast)
    ) {
      stats.rxBadSource++;
      return;
    }
    let local = false;
    if (this.router !== null) {
      const verdict = this.router.receive(nowMs, bytes, offset, length, totalLength);
      if (verdict === ROUTER_CONSUMED) return;
      local = verdict === ROUTER_LOCAL;
      dst = packet.reset(bytes, offset, length).destination; // a hook may have rewritten it
    }
    if (
      !local && (dst !== config.address || dst === 0) && dst !== LIMITED_BROADCAST &&
      dst !== ALL_HOSTS_GROUP &&
      (config.directedBroadcast === 0 || dst !== config.directedBroadcast)
    ) {
      stats.rxNotForUs++;
      return;
    }
    if (packet.isFragment) {
      // RFC 791 §3.2 "Reassembly".
      stats.rxFragments++;
      const r = this.reassembler;
      const tooLong = r.stats.tooLong;
      const whole = r.input(nowMs, bytes, offset, headerLength, totalLength);
      if (whole === null) {
        if (r.stats.tooLong !== tooLong) stats.rxReassemblyTooLong++;
        return;
      }
      stats.rxReassembled++;
      this.#deliver(nowMs, whole, r.headerOffset, r.length, src, dst, false);
      return;
    }
    this.#deliver(nowMs, bytes, offset, totalLength, src, dst, checksumVerified);
  }

  /**
   * @internal A datagram the router defragmented before connection tracking
   * (`router.ts`, as Linux's nf_defrag_ipv4) comes back for the host checks
   * and delivery that {@link input} does after the router's verdict.
   *
   * @param nowMs current time
   * @param bytes the reassembled datagram's buffer
   * @param offset its IPv4 header
   * @param totalLength header + data
   * @param local the router found it addressed to this host
   */
  deliverDefragmented(
    nowMs: number,
    bytes: Uint8Array,
    offset: number,
    totalLength: number,
    local: boolean,
  ): void {
    const packet = this.#rxView.reset(bytes, offset, totalLength);
    const src = packet.source;
    const dst = packet.destination;
    const config = this.#config;
    if (
      !local && (dst !== config.address || dst === 0) && dst !== LIMITED_BROADCAST &&
      dst !== ALL_HOSTS_GROUP &&
      (config.directedBroadcast === 0 || dst !== config.directedBroadcast)
    ) {
      this.stats.rxNotForUs++;
      return;
    }
    this.stats.rxReassembled++;
    this.#deliver(nowMs, bytes, offset, totalLength, src, dst, false);
  }

  #deliver(
    nowMs: number,
    bytes: Uint8Array,
    offset: number,
    totalLength: number,
    src: number,
    dst: number,
    checksumVerified: boolean,
  ): void {
    // The header was validated by input() (or built by the reassembler).
    const packet = this.#rxView.reset(bytes, offset, totalLength);
    const hl = packet.headerLength;
    const protocol = packet.protocol;
    const handler = this.#handlers[protocol];
    if (handler === undefined) {
      this.stats.rxUnknownProtocol++;
      // RFC 1122 §3.2.2.1: protocol unreachable for an unknown transport.
      this.errorReporter?.sendError(
        nowMs,
        ICMP_DEST_UNREACHABLE,
        ICMP_UNREACH_PROTOCOL,
        bytes,
        offset,
        totalLength,
      );
      return;
    }
    this.stats.rxDelivered++;
    // input() accepted `dst` as ours or as one of these; the handler is told which.
    const directed = this.#config.directedBroadcast;
    const toBroadcast = dst === LIMITED_BROADCAST || (dst >>> 28) === 0xe ||
      (directed !== 0 && dst === directed);
    const prevBytes = this.#curBytes;
    const prevHeader = this.#curHeaderOffset;
    const prevLength = this.#curLength;
    const prevPayload = this.#curPayloadOffset;
    this.#curBytes = bytes;
    this.#curHeaderOffset = offset;
    this.#curLength = totalLength;
    this.#curPayloadOffset = offset + hl;
    try {
      handler.onPacket(
        nowMs,
        src,
        dst,
        bytes,
        offset + hl,
        totalLength - hl,
        checksumVerified,
        toBroadcast,
        bytes[offset + 1], // TOS: the ECN field is the transport's (RFC 3168 §5)
      );
    } finally {
      this.#curBytes = prevBytes;
      this.#curHeaderOffset = prevHeader;
      this.#curLength = prevLength;
      this.#curPayloadOffset = prevPayload;
    }
  }

  /**
   * Asks ICMP to report `type`/`code` about the datagram currently being
   * delivered, identified by the payload slice its handler received (for
   * example port unreachable for a closed UDP port, RFC 1122 §4.1.3.1).
   *
   * @param nowMs current time
   * @param type ICMP type
   * @param code ICMP code
   * @param bytes the bytes the handler got
   * @param payloadOffset the offset the handler got
   * @returns false when the slice is not the datagram being delivered
   */
  reportCurrent(
    nowMs: number,
    type: number,
    code: number,
    bytes: Uint8Array,
    payloadOffset: number,
  ): boolean {
    if (bytes !== this.#curBytes || payloadOffset !== this.#curPayloadOffset) return false;
    this.errorReporter?.sendError(nowMs, type, code, bytes, this.#curHeaderOffset, this.#curLength);
    return true;
  }

  /**
   * UDP's closed-port hook (`UdpUnreachableReporter` in src/udp): sends ICMP
   * port unreachable about the datagram being delivered.
   *
   * @param nowMs current time
   * @param _src source of the datagram
   * @param _dst destination of the datagram
   * @param bytes the bytes UDP got
   * @param offset the offset UDP got
   * @param _length the length UDP got
   */
  portUnreachable(
    nowMs: number,
    _src: number,
    _dst: number,
    bytes: Uint8Array,
    offset: number,
    _length: number,
  ): void {
    this.reportCurrent(nowMs, ICMP_DEST_UNREACHABLE, ICMP_UNREACH_PORT, bytes, offset);
  }

  /**
   * Delivers datagrams sent to our own address, runs reassembly timeouts.
   *
   * @param nowMs current time
   */
  poll(nowMs: number): void {
    if (this.#localQueue.length > 0) this.#deliverLocal(nowMs);
    this.reassembler.poll(nowMs);
  }

  /**
   * When the layer next needs {@link Ipv4Layer.poll}: at once (0) while
   * datagrams wait for local delivery, else a reassembly timeout.
   *
   * @returns when {@link Ipv4Layer.poll} next has work, or Infinity
   */
  nextDeadline(): number {
    return this.#localQueue.length > 0 ? 0 : this.reassembler.nextDeadline();
  }
}

/** Re-exported from src/wire/checksum.ts (its home) for this module's users. */
export { completePartialChecksum };

/** Slots of the super-segment pool (sends are synchronous; a few cover ARP-queued fallbacks). */
const SEGMENT_POOL_SLOTS = 8;
/**
 * Largest fragment data size (a multiple of 8) that fits `mtu` with a 20-byte header.
 *
 * @param mtu the IPv4 MTU (≥ 68)
 * @returns data bytes per fragment
 *
 * @example
 * ```ts
 * import { maxFragmentData } from "./ipv4.ts";
 * console.assert(maxFragmentData(1500) === 1480 && maxFragmentData(68) === 48);
 * ```
 */
export function maxFragmentData(mtu: number): number {
  return Math.max(IPV4_FRAGMENT_UNIT, (mtu - IPV4_HEADER_LEN) & ~(IPV4_FRAGMENT_UNIT - 1));
}

/**
 * Writes the `i`th segment cut from a TCP super-frame over IPv4 (the IPv4 header at `ip` of
 * `from`, `hl` bytes, options kept; then the TCP header; `headers` bytes of both) at `at` of
 * `out`: the headers, then data bytes `off` to `off + n` of the super-frame's `dataLength`;
 * its total length, identification + i (RFC 6864 §4.1) and header checksum; the sequence number
 * advanced by `off`, FIN/PSH only on the last and CWR only on the first, and a fresh TCP
 * checksum — as Linux's tcp_gso_segment. One writer for the interface's software segmentation
 * and the router's cutting of forwarded super-frames (IPv6: `writeTcp6Segment`).
 *
 * @param out the segment's buffer
 * @param at where its IPv4 header goes
 * @param from the super-frame's buffer
 * @param ip its IPv4 header
 * @param hl its IPv4 header length
 * @param headers its IPv4 + TCP header length
 * @param dataLength its data bytes
 * @param off the segment's first data byte
 * @param n the segment's data bytes
 * @param i the segment's index
 */
export function writeTcp4Segment(
  out: Uint8Array,
  at: number,
  from: Uint8Array,
  ip: number,
  hl: number,
  headers: number,
  dataLength: number,
  off: number,
  n: number,
  i: number,
): void {
  out.set(from.subarray(ip, ip + headers), at);
  const data = ip + headers + off;
  out.set(from.subarray(data, data + n), at + headers);
  const total = headers + n;
  out[at + IPV4_TOTAL_LENGTH_OFFSET] = total >>> 8;
  out[at + IPV4_TOTAL_LENGTH_OFFSET + 1] = total & 0xff;
  const id = ((from[ip + IPV4_ID_OFFSET] << 8) | from[ip + IPV4_ID_OFFSET + 1]) + i;
  out[at + IPV4_ID_OFFSET] = (id >>> 8) & 0xff;
  out[at + IPV4_ID_OFFSET + 1] = id & 0xff;
  out[at + IPV4_CHECKSUM_OFFSET] = 0;
  out[at + IPV4_CHECKSUM_OFFSET + 1] = 0;
  const ipck = internetChecksum(out, at, hl);
  out[at + IPV4_CHECKSUM_OFFSET] = ipck >>> 8;
  out[at + IPV4_CHECKSUM_OFFSET + 1] = ipck & 0xff;
  const l4 = ip + hl;
  const t = at + hl;
  write32(out, t + TCP_SEQ_OFFSET, (readI32(from, l4 + TCP_SEQ_OFFSET) + off) | 0);
  let f = from[l4 + TCP_FLAGS_OFFSET];
  if (off + n < dataLength) f &= ~(TCP_FIN | TCP_PSH);
  if (i > 0) f &= ~TCP_CWR;
  out[t + TCP_FLAGS_OFFSET] = f;
  out[t + TCP_CHECKSUM_OFFSET] = 0;
  out[t + TCP_CHECKSUM_OFFSET + 1] = 0;
  fillTcpChecksum(
    out,
    t,
    headers - hl + n,
    readI32(from, ip + IPV4_SRC_OFFSET),
    readI32(from, ip + IPV4_DST_OFFSET),
  );
}
