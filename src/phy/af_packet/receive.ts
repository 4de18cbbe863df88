/**
 * The AF_PACKET driver's receive paths: reading a mapped TPACKET_V2 ring
 * (one frame per slot) or TPACKET_V3 ring (frames packed in blocks) in
 * place, or `recvfrom()` into one buffer (socket mode); filtering frames
 * this host sent and truncated ones; and each delivered frame's offload
 * metadata (`rxInfo`: checksum state and GSO from the virtio_net_hdr or the
 * ring's status bits), completing partial checksums in place when asked.
 * The ring itself is set up and given back by socket.ts.
 *
 * @module
 */

import {
  ETHERNET_HEADER_BYTES,
  type FrameSink,
  GSO_NONE,
  RX_CHECKSUM_PARTIAL,
  RX_CHECKSUM_UNKNOWN,
  RX_CHECKSUM_VALID,
  type RxFrameInfo,
} from "../device.ts";
import {
  CHECKSUM_FIELD_BYTES,
  completePartialChecksum,
  UDP_CHECKSUM_OFFSET,
} from "../../wire/checksum.ts";
import { ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_OFFSET } from "../../wire/ethernet.ts";
import { IPV6_HEADER_LEN, IPV6_NEXT_HEADER_OFFSET } from "../../wire/ipv6.ts";
import {
  IP_PROTO_TCP,
  IP_PROTO_UDP,
  IPV4_HEADER_LEN,
  IPV4_IHL_MASK,
  IPV4_MAX_PACKET_LEN,
  IPV4_PROTOCOL_OFFSET,
} from "../../wire/ipv4.ts";
import { TCP_CHECKSUM_OFFSET } from "../../wire/tcp.ts";
import type { AfPacketStats } from "../af_packet.ts";
import {
  libc,
  MSG_DONTWAIT,
  MSG_TRUNC,
  PACKET_OUTGOING,
  TP_STATUS_CSUM_VALID,
  TP_STATUS_CSUMNOTREADY,
  TP_STATUS_KERNEL,
  TP_STATUS_LOSING,
  TP_STATUS_USER,
} from "../libc.ts";
import {
  readLe16,
  RX_SLACK_BYTES,
  SLL_PKTTYPE_OFFSET,
  SOCKADDR_LL_BYTES,
  V2_HDR_BYTES,
  V2_LEN,
  V2_MAC,
  V2_SNAPLEN,
  V2_STATUS,
  V3_BLOCK_FIRST_PKT,
  V3_BLOCK_NUM_PKTS,
  V3_BLOCK_STATUS,
  V3_HDR_BYTES,
  V3_LEN,
  V3_MAC,
  V3_NEXT_OFFSET,
  V3_SNAPLEN,
  V3_STATUS,
  VNET_CSUM_OFFSET,
  VNET_CSUM_START,
  VNET_F_DATA_VALID,
  VNET_F_NEEDS_CSUM,
  VNET_FLAGS,
  VNET_GSO_SIZE,
  VNET_GSO_TYPE,
  VNET_HDR_BYTES,
  VNET_HDR_LEN,
} from "./layout.ts";
import { type KernelStats, MAX_GSO_FRAME_BYTES, type RingMapping } from "./socket.ts";

/** recvfrom buffer: any frame the socket could deliver (GRO is off on veth by default). */
const SOCKET_RX_BUFFER_BYTES = 65536;
/** The IPv4 IHL counts 32-bit words (RFC 791 §3.1). */
const IPV4_WORD_BYTES = 4;

/** One receive path of the device (see the module documentation). */
export interface Receiver {
  /** Delivers up to `budget` ready frames to `sink`; returns how many. */
  receive(sink: FrameSink, budget: number): number;
  /** Whether a frame is ready right now (no system call in ring modes). */
  ready(): boolean;
  /** Set by the device's `close()`: the loop stops after the frame being delivered. */
  closed: boolean;
  /** Drops the views over the ring (before its memory is given back). */
  detach(): void;
}

/**
 * Fills a device's {@link RxFrameInfo} for each delivered frame and counts
 * checksum states; completes partial checksums in place when `complete`.
 */
export class RxFrameMeta {
  /** The device's `rxInfo`, rewritten for every frame. */
  readonly info: RxFrameInfo;
  /** Fill in partial checksums before delivery (option `completeRxChecksums`). */
  complete: boolean;
  readonly #vnetHeader: boolean;
  readonly #stats: AfPacketStats;

  /**
   * @param info the object the device publishes as `rxInfo`
   * @param vnetHeader frames carry a virtio_net_hdr
   * @param complete initial {@link complete}
   * @param stats the device's counters
   */
  constructor(info: RxFrameInfo, vnetHeader: boolean, complete: boolean, stats: AfPacketStats) {
    this.info = info;
    this.#vnetHeader = vnetHeader;
    this.complete = complete;
    this.#stats = stats;
  }

  /**
   * Fills {@link info} for the frame at `bytes[mac, mac + length)` from its
   * virtio_net_hdr at `vnetAt` (vnetHeader) or from the ring `status` bits,
   * and completes a partial checksum when asked to.
   */
  fill(bytes: Uint8Array, mac: number, length: number, status: number, vnetAt: number): void {
    const info = this.info;
    const stats = this.#stats;
    if (this.#vnetHeader) {
      // struct virtio_net_hdr, little-endian fields (virtio 1.0 / vio_le() on x86-64).
      const flags = bytes[vnetAt + VNET_FLAGS];
      info.gsoType = bytes[vnetAt + VNET_GSO_TYPE];
      info.headerLength = readLe16(bytes, vnetAt + VNET_HDR_LEN);
      info.gsoSize = readLe16(bytes, vnetAt + VNET_GSO_SIZE);
      if (info.gsoSize !== 0) {
        stats.rxSuperFrames++;
        // Linux BIG TCP: the IP header's length field cannot hold it (see rxBigSuperFrames).
        if (length > ETHERNET_HEADER_BYTES + IPV4_MAX_PACKET_LEN) stats.rxBigSuperFrames++;
      }
      if ((flags & VNET_F_NEEDS_CSUM) !== 0) {
        info.checksum = RX_CHECKSUM_PARTIAL;
        info.csumStart = readLe16(bytes, vnetAt + VNET_CSUM_START);
        info.csumOffset = readLe16(bytes, vnetAt + VNET_CSUM_OFFSET);
      } else {
        info.checksum = (flags & VNET_F_DATA_VALID) !== 0 ? RX_CHECKSUM_VALID : RX_CHECKSUM_UNKNOWN;
        info.csumStart = 0;
        info.csumOffset = 0;
      }
    } else {
      info.gsoType = GSO_NONE;
      info.gsoSize = 0;
      info.headerLength = 0;
      info.csumStart = 0;
      info.csumOffset = 0;
      if ((status & TP_STATUS_CSUMNOTREADY) !== 0) {
        info.checksum = RX_CHECKSUM_PARTIAL;
        this.#locateLayer4Checksum(bytes, mac, length);
      } else {
        info.checksum = (status & TP_STATUS_CSUM_VALID) !== 0
          ? RX_CHECKSUM_VALID
          : RX_CHECKSUM_UNKNOWN;
      }
    }
    if (info.checksum === RX_CHECKSUM_VALID) {
      stats.rxChecksumValid++;
    } else if (info.checksum === RX_CHECKSUM_PARTIAL) {
      stats.rxChecksumPartial++;
      if (this.complete && this.#completeChecksum(bytes, mac, length)) {
        info.checksum = RX_CHECKSUM_VALID;
        stats.rxChecksumsCompleted++;
      }
    }
  }

  /**
   * Without a vnet header: csum start/offset of an IPv4 TCP/UDP frame, or of an
   * IPv6 one whose Next Header is TCP/UDP (no extension headers: what a local
   * Linux sender's CHECKSUM_PARTIAL packets carry); else left 0.
   */
  #locateLayer4Checksum(bytes: Uint8Array, mac: number, length: number): void {
    const info = this.info;
    if (length < ETHERNET_HEADER_BYTES + IPV4_HEADER_LEN) return;
    const etherType = (bytes[mac + ETHERTYPE_OFFSET] << 8) | bytes[mac + ETHERTYPE_OFFSET + 1];
    const ip = mac + ETHERNET_HEADER_BYTES;
    let headerLength: number;
    let protocol: number;
    if (etherType === ETHERTYPE_IPV4) {
      headerLength = (bytes[ip] & IPV4_IHL_MASK) * IPV4_WORD_BYTES;
      protocol = bytes[ip + IPV4_PROTOCOL_OFFSET];
      if (headerLength < IPV4_HEADER_LEN) return;
    } else if (etherType === ETHERTYPE_IPV6) {
      if (length < ETHERNET_HEADER_BYTES + IPV6_HEADER_LEN) return;
      headerLength = IPV6_HEADER_LEN;
      protocol = bytes[ip + IPV6_NEXT_HEADER_OFFSET];
    } else return;
    const offset = protocol === IP_PROTO_TCP
      ? TCP_CHECKSUM_OFFSET
      : protocol === IP_PROTO_UDP
      ? UDP_CHECKSUM_OFFSET
      : 0;
    if (offset === 0) return;
    info.csumStart = ETHERNET_HEADER_BYTES + headerLength;
    info.csumOffset = offset;
  }

  /**
   * Completes a CHECKSUM_PARTIAL checksum in place: the field holds the folded
   * pseudo-header sum, so the one's complement of the sum from csumStart to
   * the end of the frame is the real checksum (RFC 1071; RFC 768 maps 0 to
   * 0xffff for UDP). Returns false when the offsets do not fit the frame.
   */
  #completeChecksum(bytes: Uint8Array, mac: number, length: number): boolean {
    const info = this.info;
    const start = info.csumStart;
    if (start < ETHERNET_HEADER_BYTES || start + info.csumOffset + CHECKSUM_FIELD_BYTES > length) {
      return false;
    }
    completePartialChecksum(bytes, mac + start, length - start, info.csumOffset);
    return true;
  }
}

/** What both ring receivers share: the views over the ring and the slot cursor. */
abstract class RingReceiver implements Receiver {
  closed = false;
  protected ring8: Uint8Array;
  protected ring16: Uint16Array;
  protected ring32: Uint32Array;
  /** V2 frame size or V3 block size. */
  protected readonly slotBytes: number;
  /** V2 frame count or V3 block count. */
  protected readonly slotCount: number;
  /** The slot (V2 frame, V3 block) read next. */
  protected slot = 0;
  protected readonly meta: RxFrameMeta;
  protected readonly stats: AfPacketStats;
  protected readonly kernel: KernelStats;

  constructor(ring: RingMapping, meta: RxFrameMeta, stats: AfPacketStats, kernel: KernelStats) {
    this.ring8 = new Uint8Array(ring.buffer, ring.offset, ring.length);
    this.ring16 = new Uint16Array(ring.buffer, ring.offset, ring.length >>> 1);
    this.ring32 = new Uint32Array(ring.buffer, ring.offset, ring.length >>> 2);
    this.slotBytes = ring.slotBytes;
    this.slotCount = ring.slotCount;
    this.meta = meta;
    this.stats = stats;
    this.kernel = kernel;
  }

  abstract receive(sink: FrameSink, budget: number): number;
  abstract ready(): boolean;

  detach(): void {
    this.ring8 = new Uint8Array(0);
    this.ring16 = new Uint16Array(0);
    this.ring32 = new Uint32Array(0);
  }

  /** Moves to the next slot, wrapping at the end of the ring. */
  protected advance(): void {
    this.slot = this.slot + 1 === this.slotCount ? 0 : this.slot + 1;
  }
}

/** TPACKET_V2: one frame per slot, handed back to the kernel as soon as it was delivered. */
export class RingV2Receiver extends RingReceiver {
  ready(): boolean {
    const status = this.ring32[(this.slot * this.slotBytes + V2_STATUS) >>> 2];
    return (status & TP_STATUS_USER) !== 0;
  }

  receive(sink: FrameSink, budget: number): number {
    const r8 = this.ring8;
    const r16 = this.ring16;
    const r32 = this.ring32;
    const stats = this.stats;
    const slotBytes = this.slotBytes;
    let count = 0;
    while (count < budget && !this.closed) {
      const frame = this.slot * slotBytes;
      const status = r32[(frame + V2_STATUS) >>> 2];
      if ((status & TP_STATUS_USER) === 0) break;
      if ((status & TP_STATUS_LOSING) !== 0) this.kernel.refresh(stats);
      const len = r32[(frame + V2_LEN) >>> 2];
      const snaplen = r32[(frame + V2_SNAPLEN) >>> 2];
      const mac = frame + r16[(frame + V2_MAC) >>> 1];
      const pkttype = r8[frame + V2_HDR_BYTES + SLL_PKTTYPE_OFFSET];
      if (pkttype === PACKET_OUTGOING) {
        stats.rxOutgoingFiltered++;
      } else if (snaplen < len || mac + snaplen > frame + slotBytes) {
        stats.rxTruncated++;
        stats.rxDropped++;
      } else {
        stats.rxFrames++;
        stats.rxBytes += snaplen;
        count++;
        this.meta.fill(r8, mac, snaplen, status, mac - VNET_HDR_BYTES);
        sink.onFrame(r8, mac, snaplen);
        if (this.closed) break;
      }
      r32[(frame + V2_STATUS) >>> 2] = TP_STATUS_KERNEL;
      this.advance();
    }
    return count;
  }
}

/**
 * TPACKET_V3: frames packed in blocks; a block goes back to the kernel once
 * all its frames were delivered.
 */
export class RingV3Receiver extends RingReceiver {
  /** Frames left in the current block. */
  #left = 0;
  /** Ring offset of the next frame in the current block. */
  #offset = 0;

  ready(): boolean {
    if (this.#left > 0) return true;
    const status = this.ring32[(this.slot * this.slotBytes + V3_BLOCK_STATUS) >>> 2];
    return (status & TP_STATUS_USER) !== 0;
  }

  receive(sink: FrameSink, budget: number): number {
    const r8 = this.ring8;
    const r16 = this.ring16;
    const r32 = this.ring32;
    const stats = this.stats;
    let count = 0;
    while (count < budget && !this.closed) {
      const block = this.slot * this.slotBytes;
      if (this.#left === 0) {
        const status = r32[(block + V3_BLOCK_STATUS) >>> 2];
        if ((status & TP_STATUS_USER) === 0) break;
        if ((status & TP_STATUS_LOSING) !== 0) this.kernel.refresh(stats);
        this.#left = r32[(block + V3_BLOCK_NUM_PKTS) >>> 2];
        this.#offset = block + r32[(block + V3_BLOCK_FIRST_PKT) >>> 2];
        if (this.#left === 0) {
          this.#releaseBlock(block);
          continue;
        }
      }
      const frame = this.#offset;
      const snaplen = r32[(frame + V3_SNAPLEN) >>> 2];
      const len = r32[(frame + V3_LEN) >>> 2];
      const mac = frame + r16[(frame + V3_MAC) >>> 1];
      const pkttype = r8[frame + V3_HDR_BYTES + SLL_PKTTYPE_OFFSET];
      if (pkttype === PACKET_OUTGOING) {
        stats.rxOutgoingFiltered++;
      } else if (snaplen < len || mac + snaplen > block + this.slotBytes) {
        stats.rxTruncated++;
        stats.rxDropped++;
      } else {
        stats.rxFrames++;
        stats.rxBytes += snaplen;
        count++;
        this.meta.fill(r8, mac, snaplen, r32[(frame + V3_STATUS) >>> 2], mac - VNET_HDR_BYTES);
        sink.onFrame(r8, mac, snaplen);
        if (this.closed) break;
      }
      this.#offset = frame + r32[(frame + V3_NEXT_OFFSET) >>> 2];
      if (--this.#left === 0) this.#releaseBlock(block);
    }
    return count;
  }

  #releaseBlock(block: number): void {
    this.ring32[(block + V3_BLOCK_STATUS) >>> 2] = TP_STATUS_KERNEL;
    this.advance();
  }
}

/** Socket mode: one `recvfrom()` per frame into one buffer; readiness by a zero-timeout poll(). */
export class SocketReceiver implements Receiver {
  closed = false;
  readonly #fd: number;
  readonly #vnetHeader: boolean;
  readonly #buffer: Uint8Array;
  readonly #capacity: bigint;
  readonly #address = new Uint8Array(SOCKADDR_LL_BYTES);
  readonly #addressLength = new Uint32Array(1);
  readonly #addressLengthBytes = new Uint8Array(this.#addressLength.buffer);
  readonly #pollFd: Uint8Array;
  readonly #meta: RxFrameMeta;
  readonly #stats: AfPacketStats;

  /**
   * @param fd the packet socket
   * @param vnetHeader frames start with a virtio_net_hdr
   * @param pollFd a `struct pollfd` for `fd` (POLLIN)
   * @param meta fills the device's rxInfo
   * @param stats the device's counters
   * @param maxFrameBytes with the vnet header: the largest frame taken
   *   (`rxMaxFrameBytes` for BIG TCP super-frames; at least 14 + 65535)
   */
  constructor(
    fd: number,
    vnetHeader: boolean,
    pollFd: Uint8Array,
    meta: RxFrameMeta,
    stats: AfPacketStats,
    maxFrameBytes = MAX_GSO_FRAME_BYTES,
  ) {
    this.#fd = fd;
    this.#vnetHeader = vnetHeader;
    this.#buffer = new Uint8Array(
      vnetHeader
        ? VNET_HDR_BYTES + Math.max(MAX_GSO_FRAME_BYTES, maxFrameBytes) + RX_SLACK_BYTES
        : SOCKET_RX_BUFFER_BYTES,
    );
    this.#capacity = BigInt(this.#buffer.length);
    this.#pollFd = pollFd;
    this.#meta = meta;
    this.#stats = stats;
  }

  ready(): boolean {
    return libc().poll(this.#pollFd, 1n, 0) > 0;
  }

  detach(): void {}

  receive(sink: FrameSink, budget: number): number {
    const c = libc();
    const buffer = this.#buffer;
    const stats = this.#stats;
    let count = 0;
    while (count < budget && !this.closed) {
      this.#addressLength[0] = SOCKADDR_LL_BYTES;
      const n = c.recvfrom(
        this.#fd,
        buffer,
        this.#capacity,
        MSG_DONTWAIT | MSG_TRUNC,
        this.#address,
        this.#addressLengthBytes,
      );
      // Any failure (EAGAIN; or a bogus errno during JIT warm-up) means "nothing now".
      if (n < 0) break;
      if (this.#address[SLL_PKTTYPE_OFFSET] === PACKET_OUTGOING) {
        stats.rxOutgoingFiltered++;
        continue;
      }
      if (n > buffer.length) {
        stats.rxTruncated++;
        stats.rxDropped++;
        continue;
      }
      const start = this.#vnetHeader ? VNET_HDR_BYTES : 0;
      if (n <= start) {
        stats.rxDropped++;
        continue;
      }
      stats.rxFrames++;
      stats.rxBytes += n - start;
      count++;
      this.#meta.fill(buffer, start, n - start, 0, 0);
      sink.onFrame(buffer, start, n - start);
    }
    return count;
  }
}
