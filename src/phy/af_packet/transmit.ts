/**
 * The AF_PACKET driver's one-frame transmit, and the one place a send result
 * is counted: a plain frame leaves with one `send()` by address (the
 * address computed from its array's base, looked up once per array and
 * cached, plus the offset; the 64-bit arguments reused when a frame leaves
 * from the same place with the same length, so no allocation per frame); a
 * frame with a `virtio_net_hdr` (checksum or GSO request) leaves with one
 * `sendmsg()` of two iovecs, header and frame. Batching (tx_batch.ts)
 * stages frames instead when it can.
 *
 * @module
 */

import type { AfPacketStats } from "../af_packet.ts";
import { errno, libc, MSG_DONTWAIT } from "../libc.ts";
import { GSO_ECN, GSO_TCPV4, GSO_TCPV6 } from "../device.ts";
import { TCP_DATA_OFFSET_BYTE } from "../../wire/tcp.ts";
import {
  ETHERNET_HEADER_LEN,
  ETHERTYPE_OFFSET,
  ETHERTYPE_VLAN,
  VLAN_TAG_LEN,
} from "../../wire/ethernet.ts";
import {
  IOV_LEN_OFFSET,
  IOVEC_BYTES,
  MSG_HDR_BYTES,
  MSG_IOV,
  MSG_IOVLEN,
  tcpGsoType,
  TWO_POW_32,
  VNET_HDR_BYTES,
  writeU64,
  writeVnetHeader,
} from "./layout.ts";

// One off-heap buffer: struct msghdr, its 2 iovecs (header, frame), then the virtio_net_hdr.
const MSG_IOV0 = MSG_HDR_BYTES;
const MSG_IOV1 = MSG_HDR_BYTES + IOVEC_BYTES;
const MSG_VNET = MSG_HDR_BYTES + 2 * IOVEC_BYTES;
const MSG_BUFFER_BYTES = 128;
/** The frame iovec's `iov_base` and `iov_len` as 32-bit word indexes of the buffer. */
const IOV1_BASE_WORD = MSG_IOV1 >>> 2;
const IOV1_LEN_WORD = (MSG_IOV1 + IOV_LEN_OFFSET) >>> 2;
/** The TCP data offset counts 32-bit words (RFC 9293 §3.1). */
const TCP_WORD_SHIFT = 2;

/**
 * Counts a failed send (`n` its result: < 0 with errno set, or 0 when
 * nothing was sent): txErrors and the errno in txLastErrno. The caller
 * counts the frames it drops.
 */
export function countSendError(stats: AfPacketStats, n: number): void {
  stats.txErrors++;
  stats.txLastErrno = n < 0 ? errno() : 0;
}

/**
 * Writes the `virtio_net_hdr` of a frame sent with offloads at `into[at]`:
 * a checksum request at `csumStart + csumOffset` (`csumStart` 0: none) and,
 * with `gsoSize > 0`, TCP segmentation: `gso_type` by the IP version and CWR
 * ({@link tcpGsoType}), `hdr_len` the Ethernet, IP and TCP headers the kernel
 * copies into every segment. Counts the super-frame (`txSuperFrames` and its
 * IPv6/ECN parts). Shared by the one-frame send and the transmit thread's
 * staging of super-frames (tx_batch.ts).
 *
 * @param into buffer the header goes into
 * @param at its offset there
 * @param bytes frame buffer
 * @param offset start of the frame's Ethernet header
 * @param csumStart frame offset of the layer-4 header, 0 = no checksum request
 * @param csumOffset checksum field offset within it
 * @param gsoSize TCP payload bytes per segment, 0 = no segmentation
 * @param stats the device's counters
 */
export function writeOffloadHeader(
  into: Uint8Array,
  at: number,
  bytes: Uint8Array,
  offset: number,
  csumStart: number,
  csumOffset: number,
  gsoSize: number,
  stats: AfPacketStats,
): void {
  let headerLength = 0;
  let gsoType = 0;
  if (gsoSize > 0) {
    // TCP data offset (RFC 9293 §3.1): headers the kernel copies into every segment.
    const dataOffset = bytes[offset + csumStart + TCP_DATA_OFFSET_BYTE] >>> 4;
    headerLength = csumStart + (dataOffset << TCP_WORD_SHIFT);
    // The IP header follows the Ethernet header (and one 802.1Q tag).
    const type = (bytes[offset + ETHERTYPE_OFFSET] << 8) | bytes[offset + ETHERTYPE_OFFSET + 1];
    const ip = offset + ETHERNET_HEADER_LEN + (type === ETHERTYPE_VLAN ? VLAN_TAG_LEN : 0);
    gsoType = tcpGsoType(bytes, ip, offset + csumStart);
    stats.txSuperFrames++;
    if (gsoType !== GSO_TCPV4) {
      if ((gsoType & ~GSO_ECN) === GSO_TCPV6) stats.txSuperFrames6++;
      if ((gsoType & GSO_ECN) !== 0) stats.txSuperFramesEcn++;
    }
  }
  writeVnetHeader(into, at, csumStart, csumOffset, gsoType, gsoSize, headerLength);
}

/** Sends single frames on one packet socket (see the module documentation). */
export class Transmitter {
  readonly #fd: number;
  readonly #stats: AfPacketStats;
  // Address cache of the last array sent from.
  #lastBytes: Uint8Array | null = null;
  #lastBase = 0n;
  #bases = new WeakMap<Uint8Array, bigint>();
  #lastBaseNumber = 0;
  /** The last plain transmit's offset in `#lastBytes`, its address and its length as BigInts. */
  #lastOffset = -1;
  #lastAddress = 0n;
  #lastLength = -1;
  #lastLengthBig = 0n;
  // vnetHeader transmit: msghdr, iovecs and the header, viewed as 32-bit words.
  #msg = new Uint8Array(0);
  #msg32 = new Uint32Array(0);

  /**
   * @param fd the packet socket
   * @param vnetHeader frames go out behind a virtio_net_hdr ({@link sendVnet})
   * @param stats the device's counters
   */
  constructor(fd: number, vnetHeader: boolean, stats: AfPacketStats) {
    this.#fd = fd;
    this.#stats = stats;
    if (vnetHeader) {
      this.#msg = new Uint8Array(new ArrayBuffer(MSG_BUFFER_BYTES));
      this.#msg32 = new Uint32Array(this.#msg.buffer);
      const base = Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(this.#msg)));
      writeU64(this.#msg32, MSG_IOV, base + MSG_IOV0);
      writeU64(this.#msg32, MSG_IOVLEN, 2);
      writeU64(this.#msg32, MSG_IOV0, base + MSG_VNET);
      writeU64(this.#msg32, MSG_IOV0 + IOV_LEN_OFFSET, VNET_HDR_BYTES);
    }
  }

  #base(bytes: Uint8Array): bigint {
    let base = this.#bases.get(bytes);
    if (base === undefined) {
      // Touching .buffer moves a small on-heap typed array off-heap, so its address is stable.
      void bytes.buffer;
      base = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(bytes)));
      this.#bases.set(bytes, base);
    }
    this.#lastBytes = bytes;
    this.#lastBase = base;
    this.#lastBaseNumber = Number(base);
    this.#lastOffset = -1;
    return base;
  }

  /**
   * Sends one plain frame (checked by the caller) with `send()`.
   *
   * @returns false when the kernel refused it (counted)
   */
  send(bytes: Uint8Array, offset: number, length: number): boolean {
    // 64-bit FFI arguments are BigInts: reuse the last ones when a frame goes out from the same
    // place with the same length (a pool hands back the slot just freed), allocating none.
    if (bytes !== this.#lastBytes) this.#base(bytes);
    if (offset !== this.#lastOffset) {
      this.#lastOffset = offset;
      this.#lastAddress = this.#lastBase + BigInt(offset);
    }
    if (length !== this.#lastLength) {
      this.#lastLength = length;
      this.#lastLengthBig = BigInt(length);
    }
    const n = libc().sendAddress(this.#fd, this.#lastAddress, this.#lastLengthBig, MSG_DONTWAIT);
    return this.#counted(n, length);
  }

  /**
   * Sends one frame (checked by the caller) behind a virtio_net_hdr asking
   * for checksum completion at `csumStart + csumOffset` (`csumStart` 0: none)
   * and, with `gsoSize > 0`, TCP segmentation (GSO_TCPV4 or GSO_TCPV6 by the
   * IP version, | GSO_ECN with CWR: {@link tcpGsoType}), with `sendmsg()`.
   *
   * @returns false when the kernel refused it (counted)
   */
  sendVnet(
    bytes: Uint8Array,
    offset: number,
    length: number,
    csumStart: number,
    csumOffset: number,
    gsoSize: number,
  ): boolean {
    if (bytes !== this.#lastBytes) this.#base(bytes);
    const address = this.#lastBaseNumber + offset;
    const m32 = this.#msg32;
    const m8 = this.#msg;
    // The frame's iovec: base and length, each a u64 as two 32-bit words.
    m32[IOV1_BASE_WORD] = address % TWO_POW_32;
    m32[IOV1_BASE_WORD + 1] = Math.floor(address / TWO_POW_32);
    m32[IOV1_LEN_WORD] = length;
    m32[IOV1_LEN_WORD + 1] = 0;
    writeOffloadHeader(m8, MSG_VNET, bytes, offset, csumStart, csumOffset, gsoSize, this.#stats);
    const n = libc().sendmsg(this.#fd, m8, MSG_DONTWAIT);
    return this.#counted(n, length);
  }

  /** Counts the result `n` of sending one frame of `length` bytes; returns whether it left. */
  #counted(n: number, length: number): boolean {
    const stats = this.#stats;
    if (n < 0) {
      countSendError(stats, n);
      stats.txDropped++;
      return false;
    }
    stats.txFrames++;
    stats.txBytes += length;
    return true;
  }
}
