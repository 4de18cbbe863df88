/**
 * {@link GroDevice}: generic receive offload in user space, as device
 * middleware. Within one `receive()` batch it merges a TCP flow's in-order,
 * MTU-sized IPv4 segments into one super-frame (up to 64 KiB) and delivers
 * that with GSO metadata in `rxInfo` — what Linux's GRO does in the driver's
 * poll (net/ipv4/tcp_offload.c `tcp_gro_receive`) before the stack, a
 * forwarding decision or a packet socket sees the packets. A router over it
 * then forwards one super-frame per merge (one GSO send: `router.ts`), and
 * the receiving host's kernel processes one packet instead of dozens.
 *
 * The rules follow Linux's: only IPv4 TCP without IP options, not a
 * fragment, with data, flags ACK or ACK|PSH; a segment joins the one held
 * when it has the same addresses, ports, TTL, TOS, DF, acknowledgement
 * number, window and TCP options (timestamps included), starts where it
 * ends, and carries `gsoSize` bytes — the first segment's length; a shorter
 * one or one with PSH joins and ends the merge. Every joining segment's
 * checksum must be known good: vouched for by the inner device
 * (`rxInfo` VALID, or PARTIAL from a local sender) or verified here
 * (RFC 9293 §3.1, RFC 1071); a segment with a bad checksum is delivered as
 * it is (the next hop or the stack drops it). Anything else is delivered at
 * once, after the merge held so far (order is kept).
 *
 * A merged frame's IPv4 header has the new total length and a fresh
 * checksum; its TCP checksum field is left as the first segment's (Linux
 * GRO leaves it too): `rxInfo` says VALID with `gsoType` TCPv4 and
 * `gsoSize`, and a forwarder lays down the pseudo-header sum for the device
 * that segments it. Frames are copied once into a merge buffer (the packet
 * arena when it has room).
 *
 * @module
 */

import {
  type Device,
  ETHERNET_HEADER_BYTES,
  type FrameSink,
  GSO_NONE,
  GSO_TCPV4,
  newRxFrameInfo,
  RX_CHECKSUM_PARTIAL,
  RX_CHECKSUM_UNKNOWN,
  RX_CHECKSUM_VALID,
  type RxFrameInfo,
} from "./device.ts";
import { ForwardingDevice } from "./forwarding_device.ts";
import { packetArena } from "../buffer/arena.ts";
import { internetChecksum, onesComplementSum, pseudoHeaderSum } from "../wire/checksum.ts";
import { ETHERTYPE_IPV4, ETHERTYPE_OFFSET } from "../wire/ethernet.ts";
import {
  IP_PROTO_TCP,
  IPV4_CHECKSUM_OFFSET,
  IPV4_DST_OFFSET,
  IPV4_FLAGS_FRAGMENT_OFFSET,
  IPV4_HEADER_LEN,
  IPV4_MAX_PACKET_LEN,
  IPV4_PROTOCOL_OFFSET,
  IPV4_SRC_OFFSET,
  IPV4_TOTAL_LENGTH_OFFSET,
  IPV4_TTL_OFFSET,
} from "../wire/ipv4.ts";
import {
  TCP_ACK,
  TCP_ACK_OFFSET,
  TCP_DATA_OFFSET_BYTE,
  TCP_FLAGS_OFFSET,
  TCP_HEADER_LEN,
  TCP_PSH,
  TCP_SEQ_OFFSET,
} from "../wire/tcp.ts";
import { readI32 } from "../wire/view.ts";

/** Version 4, header length 5 words: IPv4 without options. */
const IPV4_NO_OPTIONS = 0x45;
/** IPv4 flags: more fragments, and the fragment offset mask (RFC 791 §3.1). */
const IPV4_MF_OFFSET_MASK = 0x3fff;
/** TOS byte of the IPv4 header. */
const IPV4_TOS_OFFSET = 1;
/** TCP window field (RFC 9293 §3.1). */
const TCP_WINDOW_OFFSET = 14;
/** A merge buffer: the largest IPv4 packet behind its Ethernet header. */
const MERGE_BUFFER_BYTES = ETHERNET_HEADER_BYTES + IPV4_MAX_PACKET_LEN;

/** Counters of a {@link GroDevice}. */
export interface GroStats {
  /** Super-frames delivered (two segments or more merged). */
  merged: number;
  /** Segments that went into those super-frames. */
  segmentsMerged: number;
  /** Segments verified in software before joining (the inner device vouched for none). */
  checksumsVerified: number;
  /** Segments with a bad TCP checksum: delivered as they were, never merged. */
  badChecksum: number;
}

/**
 * Generic receive offload over any Ethernet {@link Device} (see the module
 * documentation).
 *
 * @example
 * ```ts
 * import { GroDevice } from "./gro.ts";
 * import { MemoryLink } from "./memory_link.ts";
 * const [a, b] = MemoryLink.pair();
 * const gro = new GroDevice(a);
 * b.transmit(new Uint8Array(60), 0, 60); // not TCP: delivered as it is
 * let n = 0;
 * gro.receive({ onFrame: () => n++ }, 8);
 * console.assert(n === 1 && gro.groStats.merged === 0);
 * gro.close(); b.close();
 * ```
 */
export class GroDevice extends ForwardingDevice {
  /** What was merged. */
  readonly groStats: GroStats = {
    merged: 0,
    segmentsMerged: 0,
    checksumsVerified: 0,
    badChecksum: 0,
  };
  readonly #info: RxFrameInfo = newRxFrameInfo();
  /** Delivering a merge buffer: `rxInfo` is ours, not the inner device's. */
  #ours = false;
  #sink: FrameSink | null = null;
  readonly #collect: FrameSink = { onFrame: (b, o, n) => this.#onFrame(b, o, n) };
  readonly #buffer: Uint8Array;
  readonly #fromArena: boolean;
  /** Bytes held in the merge buffer (0: nothing held). */
  #held = 0;
  /** Segments held. */
  #segments = 0;
  /** Data bytes of the first segment held: the merge's gso_size. */
  #gsoSize = 0;
  /** Sequence number the next joining segment must start at. */
  #nextSeq = 0;
  /** TCP header length of the held segments. */
  #tcpHeader = 0;
  /** Checksum state of a single held segment (delivered unmerged). */
  #heldChecksum = RX_CHECKSUM_UNKNOWN;
  #heldCsumStart = 0;
  #heldCsumOffset = 0;
  #released = false;

  /**
   * Wraps a device.
   *
   * @param inner the device whose received frames are merged
   */
  constructor(inner: Device) {
    super(inner);
    const view = packetArena().allocView(MERGE_BUFFER_BYTES);
    this.#fromArena = view !== null;
    this.#buffer = view ?? new Uint8Array(MERGE_BUFFER_BYTES);
  }

  /** The merged frame's metadata while one is delivered, else the inner device's. */
  override get rxInfo(): RxFrameInfo | undefined {
    return this.#ours ? this.#info : this.inner.rxInfo;
  }

  /**
   * Delivers up to `budget` frames of the inner device, merged where they can be.
   *
   * @param sink where frames go
   * @param budget most inner frames to take
   * @returns inner frames taken
   */
  override receive(sink: FrameSink, budget: number): number {
    this.#sink = sink;
    try {
      return this.inner.receive(this.#collect, budget);
    } finally {
      this.#deliverHeld();
      this.#sink = null;
    }
  }

  /** Closes the inner device and gives the merge buffer back. Idempotent. */
  override close(): void {
    super.close();
    if (this.#fromArena && !this.#released) packetArena().freeView(this.#buffer);
    this.#released = true;
  }

  #onFrame(bytes: Uint8Array, offset: number, length: number): void {
    const ip = offset + ETHERNET_HEADER_BYTES;
    const l4 = ip + IPV4_HEADER_LEN;
    if (
      length < ETHERNET_HEADER_BYTES + IPV4_HEADER_LEN + TCP_HEADER_LEN ||
      bytes[offset + ETHERTYPE_OFFSET] !== ETHERTYPE_IPV4 >>> 8 ||
      bytes[offset + ETHERTYPE_OFFSET + 1] !== (ETHERTYPE_IPV4 & 0xff) ||
      bytes[ip] !== IPV4_NO_OPTIONS || bytes[ip + IPV4_PROTOCOL_OFFSET] !== IP_PROTO_TCP ||
      (this.inner.rxInfo?.gsoSize ?? 0) !== 0
    ) {
      return this.#passThrough(bytes, offset, length);
    }
    const total = (bytes[ip + IPV4_TOTAL_LENGTH_OFFSET] << 8) |
      bytes[ip + IPV4_TOTAL_LENGTH_OFFSET + 1];
    const fragment = ((bytes[ip + IPV4_FLAGS_FRAGMENT_OFFSET] << 8) |
      bytes[ip + IPV4_FLAGS_FRAGMENT_OFFSET + 1]) & IPV4_MF_OFFSET_MASK;
    const tcpHeader = (bytes[l4 + TCP_DATA_OFFSET_BYTE] >>> 4) << 2;
    const flags = bytes[l4 + TCP_FLAGS_OFFSET];
    const data = total - IPV4_HEADER_LEN - tcpHeader;
    if (
      fragment !== 0 || tcpHeader < TCP_HEADER_LEN || data <= 0 ||
      ETHERNET_HEADER_BYTES + total > length ||
      (flags & ~TCP_PSH) !== TCP_ACK
    ) {
      return this.#passThrough(bytes, offset, length);
    }
    const checksum = this.#checksumState(bytes, ip, total);
    if (checksum === RX_CHECKSUM_UNKNOWN) {
      // A bad segment stays as it came: never hidden inside a merge with a fresh header.
      this.groStats.badChecksum++;
      return this.#passThrough(bytes, offset, length);
    }
    const seq = readI32(bytes, l4 + TCP_SEQ_OFFSET);
    if (this.#held > 0 && this.#joins(bytes, ip, tcpHeader, data, seq)) {
      const at = this.#held;
      this.#buffer.set(bytes.subarray(l4 + tcpHeader, l4 + tcpHeader + data), at);
      this.#held = at + data;
      this.#segments++;
      this.#nextSeq = (seq + data) | 0;
      // PSH: the last segment's (a merge ends with a PSH or a short segment), as Linux keeps it.
      this.#buffer[ETHERNET_HEADER_BYTES + IPV4_HEADER_LEN + TCP_FLAGS_OFFSET] |= flags & TCP_PSH;
      if ((flags & TCP_PSH) !== 0 || data < this.#gsoSize) this.#deliverHeld();
      return;
    }
    this.#deliverHeld();
    // Start a merge with this segment: its whole frame into the buffer.
    this.#buffer.set(
      bytes.subarray(offset, offset + ETHERNET_HEADER_BYTES + total),
      0,
    );
    this.#held = ETHERNET_HEADER_BYTES + total;
    this.#segments = 1;
    this.#gsoSize = data;
    this.#tcpHeader = tcpHeader;
    this.#nextSeq = (seq + data) | 0;
    this.#heldChecksum = checksum;
    this.#heldCsumStart = this.inner.rxInfo?.csumStart ?? 0;
    this.#heldCsumOffset = this.inner.rxInfo?.csumOffset ?? 0;
    if ((flags & TCP_PSH) !== 0) this.#deliverHeld();
  }

  /**
   * Whether the segment at `ip` continues the held merge (Linux
   * tcp_gro_receive's flush conditions) and fits in it.
   */
  #joins(bytes: Uint8Array, ip: number, tcpHeader: number, data: number, seq: number): boolean {
    const h = this.#buffer;
    const hip = ETHERNET_HEADER_BYTES;
    const l4 = ip + IPV4_HEADER_LEN;
    const hl4 = hip + IPV4_HEADER_LEN;
    if (
      seq !== this.#nextSeq || tcpHeader !== this.#tcpHeader || data > this.#gsoSize ||
      this.#held + data > MERGE_BUFFER_BYTES
    ) {
      return false;
    }
    // Same addresses, same TOS, TTL and DF/flags word.
    if (
      bytes[ip + IPV4_TOS_OFFSET] !== h[hip + IPV4_TOS_OFFSET] ||
      bytes[ip + IPV4_TTL_OFFSET] !== h[hip + IPV4_TTL_OFFSET] ||
      bytes[ip + IPV4_FLAGS_FRAGMENT_OFFSET] !== h[hip + IPV4_FLAGS_FRAGMENT_OFFSET] ||
      readI32(bytes, ip + IPV4_SRC_OFFSET) !== readI32(h, hip + IPV4_SRC_OFFSET) ||
      readI32(bytes, ip + IPV4_DST_OFFSET) !== readI32(h, hip + IPV4_DST_OFFSET)
    ) {
      return false;
    }
    // Same ports, acknowledgement number, window, and options byte for byte.
    if (
      readI32(bytes, l4) !== readI32(h, hl4) ||
      readI32(bytes, l4 + TCP_ACK_OFFSET) !== readI32(h, hl4 + TCP_ACK_OFFSET) ||
      bytes[l4 + TCP_WINDOW_OFFSET] !== h[hl4 + TCP_WINDOW_OFFSET] ||
      bytes[l4 + TCP_WINDOW_OFFSET + 1] !== h[hl4 + TCP_WINDOW_OFFSET + 1]
    ) {
      return false;
    }
    for (let i = TCP_HEADER_LEN; i < tcpHeader; i += 4) {
      if (readI32(bytes, l4 + i) !== readI32(h, hl4 + i)) return false;
    }
    return true;
  }

  /**
   * The segment's checksum state: what the inner device says (VALID, or
   * PARTIAL from a local sender), else verified here (VALID, or UNKNOWN when wrong).
   */
  #checksumState(bytes: Uint8Array, ip: number, total: number): number {
    const c = this.inner.rxInfo?.checksum ?? RX_CHECKSUM_UNKNOWN;
    if (c === RX_CHECKSUM_VALID || c === RX_CHECKSUM_PARTIAL) return c;
    this.groStats.checksumsVerified++;
    const l4Length = total - IPV4_HEADER_LEN;
    const pseudo = pseudoHeaderSum(
      readI32(bytes, ip + IPV4_SRC_OFFSET) >>> 0,
      readI32(bytes, ip + IPV4_DST_OFFSET) >>> 0,
      IP_PROTO_TCP,
      l4Length,
    );
    // RFC 1071: the sum over a correct segment and its pseudo-header is all ones.
    return onesComplementSum(bytes, ip + IPV4_HEADER_LEN, l4Length, pseudo) === 0xffff
      ? RX_CHECKSUM_VALID
      : RX_CHECKSUM_UNKNOWN;
  }

  /** Delivers a frame the merge does not take, after what is held. */
  #passThrough(bytes: Uint8Array, offset: number, length: number): void {
    this.#deliverHeld();
    this.#sink!.onFrame(bytes, offset, length);
  }

  /** Delivers the held merge (one segment as it was, several as a super-frame). */
  #deliverHeld(): void {
    const held = this.#held;
    if (held === 0) return;
    this.#held = 0;
    const h = this.#buffer;
    const info = this.#info;
    info.csumStart = 0;
    info.csumOffset = 0;
    info.headerLength = 0;
    if (this.#segments > 1) {
      const ip = ETHERNET_HEADER_BYTES;
      const total = held - ETHERNET_HEADER_BYTES;
      h[ip + IPV4_TOTAL_LENGTH_OFFSET] = total >>> 8;
      h[ip + IPV4_TOTAL_LENGTH_OFFSET + 1] = total & 0xff;
      h[ip + IPV4_CHECKSUM_OFFSET] = 0;
      h[ip + IPV4_CHECKSUM_OFFSET + 1] = 0;
      const ck = internetChecksum(h, ip, IPV4_HEADER_LEN);
      h[ip + IPV4_CHECKSUM_OFFSET] = ck >>> 8;
      h[ip + IPV4_CHECKSUM_OFFSET + 1] = ck & 0xff;
      info.checksum = RX_CHECKSUM_VALID;
      info.gsoType = GSO_TCPV4;
      info.gsoSize = this.#gsoSize;
      info.headerLength = ETHERNET_HEADER_BYTES + IPV4_HEADER_LEN + this.#tcpHeader;
      this.groStats.merged++;
      this.groStats.segmentsMerged += this.#segments;
    } else {
      // One segment: as it came (a partial checksum stays partial, where it was).
      info.checksum = this.#heldChecksum;
      info.gsoType = GSO_NONE;
      info.gsoSize = 0;
      if (this.#heldChecksum === RX_CHECKSUM_PARTIAL) {
        info.csumStart = this.#heldCsumStart;
        info.csumOffset = this.#heldCsumOffset;
      }
    }
    this.#ours = true;
    try {
      this.#sink!.onFrame(h, 0, held);
    } finally {
      this.#ours = false;
    }
  }
}
