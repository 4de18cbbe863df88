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

import { readIpv4, writeIpv4 } from "../wire/address.ts";
import { internetChecksum } from "../wire/checksum.ts";
import { PacketBuffer } from "../buffer/packet_buffer.ts";
import type { InterfaceConfig } from "./config.ts";
import { NO_ROUTE } from "./routes.ts";
import { Reassembler, type ReassemblyOptions } from "./reassembly.ts";
import {
  type BufferPoolLike,
  ICMP_CODE_PORT_UNREACHABLE,
  ICMP_CODE_PROTOCOL_UNREACHABLE,
  ICMP_DEST_UNREACHABLE,
  IP_CHECKSUM,
  IP_DST,
  IP_FLAG_DF,
  IP_FLAG_MF,
  IP_FRAG,
  IP_FRAG_OFFSET_MASK,
  IP_ID,
  IP_PROTO,
  IP_SRC,
  IP_TOS,
  IP_TOTAL_LEN,
  IP_TTL,
  IP_VER_IHL,
  type IpProtocolHandler,
  type IpSender,
  type IpSendOptions,
  IPV4_HEADER_LEN,
  type PacketBufferLike,
} from "./types.ts";

/** IP version 4 (RFC 791 §3.1). */
const IP_VERSION_4 = 4;
/** Smallest IHL (5 words = 20 bytes). */
const MIN_IHL = 5;
/** Largest IPv4 datagram. */
const MAX_DATAGRAM = 65535;
/** 255.255.255.255 (RFC 919). */
export const LIMITED_BROADCAST = 0xffffffff;
/** 224.0.0.1, the all-hosts group every host belongs to (RFC 1112 §4). */
export const ALL_HOSTS_GROUP = 0xe0000001;
/** Fragment data must be a multiple of this (RFC 791 §3.1: offset in 8-byte units). */
const FRAGMENT_UNIT = 8;

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
}

/** The link below IPv4: ARP resolution, Ethernet header, device. */
export interface Ipv4LinkOutput {
  /** Bytes the link needs in front of the IPv4 header (device headroom + Ethernet [+ VLAN]). */
  readonly linkHeadroom: number;
  /**
   * Sends an IPv4 packet (`buf[head, tail)` starts with the IPv4 header) to
   * the neighbour `nextHop` (or the link broadcast when `nextHop` is a
   * broadcast address). Takes ownership of `buf`.
   *
   * @returns false when dropped (counted by the link)
   */
  sendToNeighbour(buf: PacketBufferLike, nextHop: number): boolean;
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

/** Options of an {@link Ipv4Layer}. */
export interface Ipv4LayerOptions {
  /** Reassembly bounds and timeout. */
  reassembly?: ReassemblyOptions;
  /** First identification value (default random, RFC 6864 §4.1 allows any scheme for atomic datagrams). */
  initialIdentification?: number;
}

/**
 * Writes a 20-byte IPv4 header (no options) with its checksum.
 *
 * @param bytes destination buffer
 * @param offset where the header starts
 * @param tos type of service byte
 * @param totalLength header + data length
 * @param id identification
 * @param flagsFragment flags (DF/MF) and fragment offset in 8-byte units
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
  bytes[offset + IP_VER_IHL] = (IP_VERSION_4 << 4) | MIN_IHL;
  bytes[offset + IP_TOS] = tos;
  bytes[offset + IP_TOTAL_LEN] = totalLength >>> 8;
  bytes[offset + IP_TOTAL_LEN + 1] = totalLength & 0xff;
  bytes[offset + IP_ID] = id >>> 8;
  bytes[offset + IP_ID + 1] = id & 0xff;
  bytes[offset + IP_FRAG] = flagsFragment >>> 8;
  bytes[offset + IP_FRAG + 1] = flagsFragment & 0xff;
  bytes[offset + IP_TTL] = ttl;
  bytes[offset + IP_PROTO] = protocol;
  bytes[offset + IP_CHECKSUM] = 0;
  bytes[offset + IP_CHECKSUM + 1] = 0;
  writeIpv4(bytes, offset + IP_SRC, src);
  writeIpv4(bytes, offset + IP_DST, dst);
  const ck = internetChecksum(bytes, offset, IPV4_HEADER_LEN);
  bytes[offset + IP_CHECKSUM] = ck >>> 8;
  bytes[offset + IP_CHECKSUM + 1] = ck & 0xff;
  return IPV4_HEADER_LEN;
}

function newStats(): Ipv4Stats {
  return {
    rxPackets: 0,
    rxDelivered: 0,
    rxTruncated: 0,
    rxBadVersion: 0,
    rxBadHeaderLength: 0,
    rxBadTotalLength: 0,
    rxBadChecksum: 0,
    rxTtlZero: 0,
    rxBadSource: 0,
    rxNotForUs: 0,
    rxUnknownProtocol: 0,
    rxFragments: 0,
    rxReassembled: 0,
    txPackets: 0,
    txFragments: 0,
    txNoRoute: 0,
    txNoBuffer: 0,
    txNeedsFragmentation: 0,
    txTooLong: 0,
    txNoHeadroom: 0,
    txLinkDropped: 0,
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

  readonly #config: InterfaceConfig;
  readonly #pool: BufferPoolLike;
  readonly #link: Ipv4LinkOutput;
  readonly #handlers: (IpProtocolHandler | undefined)[] = new Array(256);
  readonly #large = new WeakSet<PacketBufferLike>();
  #nextId: number;
  /** The datagram being dispatched (for ICMP quoting from handlers). */
  #curBytes: Uint8Array | null = null;
  #curHeaderOffset = 0;
  #curLength = 0;
  #curPayloadOffset = 0;

  /**
   * @param config validated interface configuration
   * @param pool the packet buffer pool
   * @param link the link output (ARP + Ethernet + device)
   * @param options reassembly bounds, initial identification
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
    this.#nextId = options.initialIdentification !== undefined
      ? options.initialIdentification & 0xffff
      : crypto.getRandomValues(new Uint16Array(1))[0];
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
   * @param protocol IP protocol number
   * @returns the registered handler, if any
   */
  handlerFor(protocol: number): IpProtocolHandler | undefined {
    return this.#handlers[protocol & 0xff];
  }

  /** @inheritdoc */
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
    if (payloadBytes + IPV4_HEADER_LEN > MAX_DATAGRAM) {
      this.stats.txTooLong++;
      return null;
    }
    const buf = new PacketBuffer(new Uint8Array(this.headroom + payloadBytes));
    buf.reset(this.headroom);
    this.#large.add(buf);
    return buf;
  }

  /**
   * Returns a buffer from {@link allocate} or {@link allocateLarge} unsent.
   *
   * @param buf the buffer
   */
  release(buf: PacketBufferLike): void {
    if (this.#large.has(buf)) this.#large.delete(buf);
    else this.#pool.free(buf);
  }

  /** @inheritdoc */
  sourceAddressFor(dst: number): number {
    if (dst === LIMITED_BROADCAST) return this.#config.address;
    return this.#config.routes.lookup(dst) === NO_ROUTE ? 0 : this.#config.address;
  }

  /** @inheritdoc */
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
   * @param opts ttl, dontFragment, tos
   * @returns false when dropped (counted)
   */
  send(buf: PacketBufferLike, dst: number, protocol: number, opts?: IpSendOptions): boolean {
    return this.sendFrom(this.#config.address, buf, dst, protocol, opts);
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
    const config = this.#config;
    const nextHop = dst === LIMITED_BROADCAST ? dst : config.routes.nextHop(dst);
    if (nextHop === NO_ROUTE) {
      this.stats.txNoRoute++;
      this.release(buf);
      return false;
    }
    const payload = buf.length;
    const total = IPV4_HEADER_LEN + payload;
    if (total > MAX_DATAGRAM) {
      this.stats.txTooLong++;
      this.release(buf);
      return false;
    }
    const ttl = opts?.ttl ?? config.ttl;
    const tos = opts?.tos ?? 0;
    const df = opts?.dontFragment === true;
    const id = this.#nextId;
    this.#nextId = (id + 1) & 0xffff;
    this.stats.txPackets++;
    if (total <= config.mtu && !this.#large.has(buf)) {
      const at = buf.prepend(IPV4_HEADER_LEN);
      if (at < 0) {
        this.stats.txNoHeadroom++;
        this.release(buf);
        return false;
      }
      writeIpv4Header(buf.bytes, at, tos, total, id, df ? IP_FLAG_DF : 0, ttl, protocol, src, dst);
      return this.#toLink(buf, nextHop);
    }
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
      const flags = (df ? IP_FLAG_DF : 0) | (last ? 0 : IP_FLAG_MF) |
        ((off / FRAGMENT_UNIT) & IP_FRAG_OFFSET_MASK);
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

  #toLink(buf: PacketBufferLike, nextHop: number): boolean {
    if (this.#link.sendToNeighbour(buf, nextHop)) return true;
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
   */
  input(nowMs: number, bytes: Uint8Array, offset: number, length: number): void {
    const stats = this.stats;
    stats.rxPackets++;
    if (length < IPV4_HEADER_LEN) {
      stats.rxTruncated++;
      return;
    }
    const verIhl = bytes[offset + IP_VER_IHL];
    // RFC 1122 §3.2.1.1: silently discard a datagram whose version is not 4.
    if (verIhl >>> 4 !== IP_VERSION_4) {
      stats.rxBadVersion++;
      return;
    }
    const headerLength = (verIhl & 0x0f) * 4;
    if (headerLength < IPV4_HEADER_LEN) {
      stats.rxBadHeaderLength++;
      return;
    }
    if (headerLength > length) {
      stats.rxTruncated++;
      return;
    }
    const totalLength = (bytes[offset + IP_TOTAL_LEN] << 8) | bytes[offset + IP_TOTAL_LEN + 1];
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
    if (internetChecksum(bytes, offset, headerLength) !== 0) {
      stats.rxBadChecksum++;
      return;
    }
    if (bytes[offset + IP_TTL] === 0) {
      stats.rxTtlZero++;
      return;
    }
    const src = readIpv4(bytes, offset + IP_SRC);
    const dst = readIpv4(bytes, offset + IP_DST);
    const config = this.#config;
    // RFC 1122 §3.2.1.3: a source that is broadcast or multicast is discarded.
    if (
      src === LIMITED_BROADCAST || (src >>> 28) === 0xe ||
      (config.directedBroadcast !== 0 && src === config.directedBroadcast)
    ) {
      stats.rxBadSource++;
      return;
    }
    if (
      dst !== config.address && dst !== LIMITED_BROADCAST && dst !== ALL_HOSTS_GROUP &&
      (config.directedBroadcast === 0 || dst !== config.directedBroadcast)
    ) {
      stats.rxNotForUs++;
      return;
    }
    const frag = (bytes[offset + IP_FRAG] << 8) | bytes[offset + IP_FRAG + 1];
    if ((frag & (IP_FLAG_MF | IP_FRAG_OFFSET_MASK)) !== 0) {
      // RFC 791 §3.2 "Reassembly".
      stats.rxFragments++;
      const whole = this.reassembler.input(nowMs, bytes, offset, headerLength, totalLength);
      if (whole === null) return;
      stats.rxReassembled++;
      const r = this.reassembler;
      this.#deliver(nowMs, whole, r.headerOffset, r.length, src, dst);
      return;
    }
    this.#deliver(nowMs, bytes, offset, totalLength, src, dst);
  }

  #deliver(
    nowMs: number,
    bytes: Uint8Array,
    offset: number,
    totalLength: number,
    src: number,
    dst: number,
  ): void {
    const hl = (bytes[offset + IP_VER_IHL] & 0x0f) * 4;
    const protocol = bytes[offset + IP_PROTO];
    const handler = this.#handlers[protocol];
    if (handler === undefined) {
      this.stats.rxUnknownProtocol++;
      // RFC 1122 §3.2.2.1: protocol unreachable for an unknown transport.
      this.errorReporter?.sendError(
        nowMs,
        ICMP_DEST_UNREACHABLE,
        ICMP_CODE_PROTOCOL_UNREACHABLE,
        bytes,
        offset,
        totalLength,
      );
      return;
    }
    this.stats.rxDelivered++;
    const prevBytes = this.#curBytes;
    const prevHeader = this.#curHeaderOffset;
    const prevLength = this.#curLength;
    const prevPayload = this.#curPayloadOffset;
    this.#curBytes = bytes;
    this.#curHeaderOffset = offset;
    this.#curLength = totalLength;
    this.#curPayloadOffset = offset + hl;
    try {
      handler.onPacket(nowMs, src, dst, bytes, offset + hl, totalLength - hl);
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
    this.reportCurrent(nowMs, ICMP_DEST_UNREACHABLE, ICMP_CODE_PORT_UNREACHABLE, bytes, offset);
  }

  /**
   * Runs reassembly timeouts.
   *
   * @param nowMs current time
   */
  poll(nowMs: number): void {
    this.reassembler.poll(nowMs);
  }

  /** @returns when {@link poll} next has work, or Infinity */
  nextDeadline(): number {
    return this.reassembler.nextDeadline();
  }
}

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
  return Math.max(FRAGMENT_UNIT, (mtu - IPV4_HEADER_LEN) & ~(FRAGMENT_UNIT - 1));
}
