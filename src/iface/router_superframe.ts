/**
 * The offload side of IPv4 forwarding (`router.ts`): what each interface's
 * device can take (partial checksums, TCP super-frames, its largest frame),
 * the ingress device's offload metadata for the datagram being forwarded
 * (`rxInfo`: a partial checksum, a TCPv4 super-frame from a sender's TSO, GRO
 * or `GroDevice`), and the software cutting of a super-frame the egress device
 * cannot take — as Linux forwards an skb: a GSO skb leaves whole when the
 * egress device segments it, and `tcp_gso_segment` cuts it otherwise.
 *
 * @module
 */

import { readI32 } from "../wire/view.ts";
import {
  CHECKSUM_FIELD_BYTES,
  completePartialChecksum,
  pseudoHeaderSum,
  UDP_CHECKSUM_OFFSET,
} from "../wire/checksum.ts";
import { GSO_ECN, GSO_TCPV4, RX_CHECKSUM_PARTIAL } from "../phy/device.ts";
import type { NetworkInterface } from "./interface.ts";
import { type ForwardStats, fragmentForwarded } from "./forward.ts";
import type { BufferPoolLike } from "./types.ts";
import { writeTcp4Segment } from "./ipv4.ts";
import {
  IP_PROTO_TCP,
  IP_PROTO_UDP,
  IPV4_DST_OFFSET,
  IPV4_FLAG_MF,
  IPV4_FLAGS_FRAGMENT_OFFSET,
  IPV4_FRAGMENT_OFFSET_MASK,
  IPV4_PROTOCOL_OFFSET,
  IPV4_SRC_OFFSET,
} from "../wire/ipv4.ts";
import { TCP_CHECKSUM_OFFSET, TCP_DATA_OFFSET_BYTE, TCP_HEADER_LEN } from "../wire/tcp.ts";

/**
 * The router's offload state: per interface, what its device takes; for the
 * datagram being forwarded, its segment size, headers and partial checksum
 * field (set by {@link read}, valid until the next datagram). One per router;
 * nothing is allocated per datagram but the buffers of a super-frame cut here.
 */
export class ForwardOffloads {
  readonly #interfaces: readonly NetworkInterface[];
  /** The pool the interfaces share (the buffers of cut segments). */
  readonly #pool: BufferPoolLike;
  readonly #stats: ForwardStats;
  /** Per interface: bytes of link header in front of the IPv4 header (csum_start counts them). */
  readonly #linkHeader: number[];
  /** Per interface: its device completes partial checksums (`transmitOffload`, checksumOffloadTx). */
  readonly #checksumOffload: boolean[];
  /** Per interface: its device also takes TCP super-frames to segment (`gso`). */
  readonly #gso: boolean[];
  /** Per interface: the largest frame its device takes (`maxSegmentBytes`). */
  readonly #maxSegment: number[];
  // The offload state of the datagram being forwarded (see read).
  #gsoSize = 0;
  #segmentHeaders = 0;
  #csumField = 0;

  /**
   * @param interfaces the router's interfaces (index = position)
   * @param pool the pool they share
   * @param stats the router's forwarding counters
   */
  constructor(
    interfaces: readonly NetworkInterface[],
    pool: BufferPoolLike,
    stats: ForwardStats,
  ) {
    this.#interfaces = interfaces;
    this.#pool = pool;
    this.#stats = stats;
    this.#linkHeader = interfaces.map((i) => i.linkHeadroom - i.device.capabilities.headroom);
    this.#checksumOffload = interfaces.map((i) =>
      typeof i.device.transmitOffload === "function" && i.device.capabilities.checksumOffloadTx
    );
    this.#gso = interfaces.map((i, n) => this.#checksumOffload[n] && i.device.capabilities.gso);
    this.#maxSegment = interfaces.map((i, n) =>
      i.device.capabilities.maxSegmentBytes ?? i.config.mtu + this.#linkHeader[n]
    );
  }

  /** The datagram's data bytes per segment when it is a TCP super-frame, else 0. */
  get gsoSize(): number {
    return this.#gsoSize;
  }

  /** A super-frame's IPv4 + TCP header bytes (valid when {@link gsoSize} > 0). */
  get segmentHeaders(): number {
    return this.#segmentHeaders;
  }

  /** The partial checksum's field offset in the transport header; 0: the checksum is complete. */
  get csumField(): number {
    return this.#csumField;
  }

  /**
   * Whether interface `e`'s device completes partial checksums.
   *
   * @param e interface index
   * @returns true when a partial checksum may leave as one
   */
  checksumOffload(e: number): boolean {
    return this.#checksumOffload[e];
  }

  /**
   * Whether the super-frame being forwarded must be cut here rather than leave whole by
   * interface `e`: its segments exceed the link MTU (they need fragments), or the device
   * takes no super-frames or none this large. False for a datagram that is no super-frame.
   *
   * @param e egress interface index
   * @param size the largest segment's IPv4 length (headers + gsoSize)
   * @param linkMtu the egress link MTU
   * @param total the super-frame's IPv4 length
   * @returns true when {@link segment} must cut it
   */
  mustSegment(e: number, size: number, linkMtu: number, total: number): boolean {
    return this.#gsoSize > 0 &&
      (size > linkMtu || !this.#gso[e] || this.#linkHeader[e] + total > this.#maxSegment[e]);
  }

  /**
   * Reads the received frame's offload metadata (`rxInfo` of interface `n`'s
   * device, valid while the frame is being delivered) into {@link gsoSize},
   * {@link segmentHeaders} and {@link csumField}.
   * A TCPv4 super-frame whose checksum is not partial (GRO: DATA_VALID, the
   * field holds the first segment's checksum) gets the pseudo-header sum
   * of the whole, as Linux tcp4_gso_segment lays it down, so it leaves as a
   * NEEDS_CSUM super-frame. Partial offsets that are not the TCP/UDP field
   * right after the IPv4 header are completed here.
   *
   * @param n ingress interface index
   * @param bytes buffer holding the datagram
   * @param offset its IPv4 header
   * @param total its length
   * @param fragmentSize > 0: a datagram defragmented here (no device metadata)
   * @returns false (counted in `badOffload`, `dropped`) when the metadata does not fit the
   *   datagram
   */
  read(
    n: number,
    bytes: Uint8Array,
    offset: number,
    total: number,
    fragmentSize: number,
  ): boolean {
    this.#gsoSize = 0;
    this.#csumField = 0;
    const info = this.#interfaces[n].device.rxInfo;
    // A defragmented datagram is ours, not the device's last frame: nothing to carry over.
    if (info === undefined || fragmentSize > 0) return true;
    const stats = this.#stats;
    const hl = (bytes[offset] & 0x0f) << 2;
    const protocol = bytes[offset + IPV4_PROTOCOL_OFFSET];
    if (info.checksum === RX_CHECKSUM_PARTIAL) {
      // csum_start counts from the frame: the link header comes first.
      const l4 = info.csumStart - this.#linkHeader[n];
      const field = info.csumOffset;
      const standard = l4 === hl &&
        ((protocol === IP_PROTO_TCP && field === TCP_CHECKSUM_OFFSET) ||
          (protocol === IP_PROTO_UDP && field === UDP_CHECKSUM_OFFSET));
      if (l4 < hl || l4 + field + CHECKSUM_FIELD_BYTES > total) {
        stats.badOffload++;
        stats.dropped++;
        return false;
      }
      if (standard) this.#csumField = field;
      else this.complete(bytes, offset, l4, total, field);
    }
    if (info.gsoSize === 0) return true;
    const l4 = offset + hl;
    const tcpHeader = hl + TCP_HEADER_LEN <= total
      ? (bytes[l4 + TCP_DATA_OFFSET_BYTE] >>> 4) << 2
      : 0;
    const fragment = (((bytes[offset + IPV4_FLAGS_FRAGMENT_OFFSET] << 8) |
      bytes[offset + IPV4_FLAGS_FRAGMENT_OFFSET + 1]) &
      (IPV4_FLAG_MF | IPV4_FRAGMENT_OFFSET_MASK)) !== 0;
    if (
      (info.gsoType & ~GSO_ECN) !== GSO_TCPV4 || protocol !== IP_PROTO_TCP || fragment ||
      tcpHeader < TCP_HEADER_LEN || hl + tcpHeader >= total
    ) {
      stats.badOffload++;
      stats.dropped++;
      return false;
    }
    this.#gsoSize = info.gsoSize;
    this.#segmentHeaders = hl + tcpHeader;
    if (this.#csumField === 0) {
      const sum = pseudoHeaderSum(
        readI32(bytes, offset + IPV4_SRC_OFFSET) >>> 0,
        readI32(bytes, offset + IPV4_DST_OFFSET) >>> 0,
        IP_PROTO_TCP,
        total - hl,
      );
      bytes[l4 + TCP_CHECKSUM_OFFSET] = sum >>> 8;
      bytes[l4 + TCP_CHECKSUM_OFFSET + 1] = sum & 0xff;
      this.#csumField = TCP_CHECKSUM_OFFSET;
    }
    return true;
  }

  /**
   * Completes the partial checksum at `field` of the transport header `l4` bytes into the
   * datagram (counted in `checksumsCompleted`).
   *
   * @param bytes buffer holding the datagram
   * @param offset its IPv4 header
   * @param l4 the transport header's offset from `offset`
   * @param total the datagram's length
   * @param field the checksum field's offset in the transport header
   */
  complete(bytes: Uint8Array, offset: number, l4: number, total: number, field: number): void {
    completePartialChecksum(bytes, offset + l4, total - l4, field);
    this.#stats.checksumsCompleted++;
  }

  /**
   * Cuts the TCP super-frame being forwarded into segments of `gsoSize` data
   * bytes in pool buffers, as Linux tcp_gso_segment does — each with its total
   * length, identification + i (RFC 6864 §4.1), sequence number, FIN/PSH only
   * on the last and CWR only on the first, IPv4 options copied, fresh
   * checksums — and sends them on (fragmenting a segment that is still too big,
   * DF clear).
   *
   * @param egress the interface they leave by
   * @param bytes buffer holding the super-frame
   * @param offset its IPv4 header
   * @param total its length
   * @param hl its IPv4 header length
   * @param gsoSize data bytes per segment
   * @param nextHop the next hop's address (int32)
   */
  segment(
    egress: NetworkInterface,
    bytes: Uint8Array,
    offset: number,
    total: number,
    hl: number,
    gsoSize: number,
    nextHop: number,
  ): void {
    const stats = this.#stats;
    const pool = this.#pool;
    const headers = this.#segmentHeaders;
    const mtu = egress.config.mtu;
    const ipFlags = (bytes[offset + IPV4_FLAGS_FRAGMENT_OFFSET] << 8) |
      bytes[offset + IPV4_FLAGS_FRAGMENT_OFFSET + 1];
    const dataLength = total - headers;
    stats.superFramesSegmented++;
    let sent = 0;
    for (let off = 0, i = 0; off < dataLength; off += gsoSize, i++) {
      const chunk = Math.min(gsoSize, dataLength - off);
      const len = headers + chunk;
      const buf = pool.alloc(egress.linkHeadroom);
      const at = buf === null ? -1 : buf.append(len);
      if (buf === null || at < 0) {
        if (buf !== null) pool.free(buf);
        stats.noBuffer++;
        break;
      }
      const b = buf.bytes;
      writeTcp4Segment(b, at, bytes, offset, hl, headers, dataLength, off, chunk, i);
      if (len > mtu) {
        // DF clear (checked by the caller): the segment's fragments are counted there.
        fragmentForwarded(pool, stats, egress, b, at, len, ipFlags, nextHop, mtu);
        pool.free(buf);
      } else if (egress.sendToNeighbour(buf, nextHop)) sent++;
      else stats.linkDropped++;
    }
    if (sent > 0) stats.forwarded++;
  }
}
