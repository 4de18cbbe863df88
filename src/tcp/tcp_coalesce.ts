/**
 * TCP receive coalescing, as Linux's GRO (`tcp_gro_receive`) does for a NAPI poll: the
 * {@link TcpReceiveCoalescer} a `TcpLayer` (tcp_layer.ts) owns holds one run of consecutive in-order
 * segments of one connection open for a receive batch, over IPv4 or IPv6. What joins a run
 * and what ends it is told at {@link TcpReceiveCoalescer.beginBatch}.
 *
 * The hot path allocates nothing: the run's state is a few fields and one header buffer
 * made once, and a segment that continues the run is compared with the run's first header
 * byte by byte instead of being parsed again.
 *
 * @module
 */

import type { Ipv6Address } from "../wire/ipv6_address.ts";
import { readI32 } from "../wire/view.ts";
import {
  TCP_ACK_OFFSET,
  TCP_CHECKSUM_OFFSET,
  TCP_FLAGS_OFFSET,
  TCP_MAX_HEADER_LEN,
  TCP_PSH,
  TCP_SEQ_OFFSET,
  TcpPacket,
  type TcpRepr,
} from "../wire/tcp.ts";
import type { TcpStats } from "./config.ts";
import type { TcpConnection } from "./connection.ts";
import { ECN_MASK } from "./ecn.ts";
import { seqAdd } from "./seq.ts";

/**
 * One receive batch's coalescing state for a `TcpLayer`: whether a batch is open and
 * the run, if any, held open in it. The layer decides which segment may start a run (see
 * {@link beginBatch}) and offers each later one to {@link append} / {@link append6} first.
 */
export class TcpReceiveCoalescer {
  /** Where `rxCoalescedRuns` and `rxCoalescedSegments` are counted. */
  readonly #stats: TcpStats;
  /** Scratch for the checksum of a segment the device did not vouch for. */
  readonly #packet = new TcpPacket(new Uint8Array(0), 0, 0);
  /** Between beginBatch and endBatch: runs may be held open. */
  #batching = false;
  /** The connection whose coalesced run is open, or null. */
  #run: TcpConnection | null = null;
  /** The run's IPv4 addresses (int32). */
  #runSrc = 0;
  #runDst = 0;
  /** The run's IPv6 addresses (immutable), or null for an IPv4 run. */
  #runSrc6: Ipv6Address | null = null;
  #runDst6: Ipv6Address | null = null;
  /** The run's first TCP header (its bytes but the sequence number are compared). */
  readonly #runHeader = new Uint8Array(TCP_MAX_HEADER_LEN);
  #runHeaderLength = 0;
  /** The sequence number the run's next segment must carry. */
  #runNextSeq = 0;
  /** The payload length of the run's first segment (Linux: a longer one ends the run). */
  #runMss = 0;
  /** The IP ECN field of the run's segments. */
  #runEcn = 0;
  /** Segments appended to the open run. */
  #runAppended = 0;

  /**
   * @param stats the layer's stats, where runs and appended segments are counted
   */
  constructor(stats: TcpStats) {
    this.#stats = stats;
  }

  /** Whether a batch is open (between {@link beginBatch} and {@link endBatch}). */
  get batching(): boolean {
    return this.#batching;
  }

  /** Whether a run is open: the next segment is offered to {@link append} / {@link append6}. */
  get open(): boolean {
    return this.#run !== null;
  }

  /**
   * Opens a receive batch. From here to {@link endBatch} (the event loop brackets each
   * `device.receive` batch with them) consecutive in-order segments of one connection with
   * the same header but the sequence number — the same ACK, window, flags (ACK only; a PSH is
   * taken and ends the run) and option bytes (the same TSval and TSecr, no SACK blocks), the
   * same ECN field and no CE — go through TCP input once: the first is processed in full, the
   * payloads of the others are appended to the receive ring as they come (a frame's bytes
   * live only while it is handed over), and the run's end makes one ACK decision, one output
   * decision and one wake-up of the reader. A gap, a retransmission, another connection, a
   * changed header (window, ACK, options), a FIN, RST, SYN or URG, a segment longer than the
   * first, or the batch's end ends the run (a shorter one or a PSH is taken first, as Linux's
   * flush rules). RFC 5681 §4.2 still holds: the run's data is acknowledged by one ACK, as
   * Linux acknowledges a GRO super-segment; quick-ACK and out-of-order segments are unchanged
   * (the latter never join a run). Over IPv6 only segments the device vouched for join.
   * Counted in `rxCoalescedRuns` and `rxCoalescedSegments`.
   */
  beginBatch(): void {
    this.#batching = true;
  }

  /**
   * Ends the batch begun with {@link beginBatch}: the open run, if any, ends.
   *
   * @param nowMs current time
   */
  endBatch(nowMs: number): void {
    this.#batching = false;
    if (this.#run !== null) this.endRun(nowMs);
  }

  /**
   * Takes `seg` whole as the first segment of a run on `conn` and opens the run (see
   * beginBatch), unless the connection's input ends it at once. IPv4 addresses as int32, or
   * IPv6 ones (`src6`/`dst6`, immutable) for a run over IPv6.
   *
   * @param nowMs current time
   * @param conn the connection the segment is for
   * @param seg the parsed segment
   * @param bytes the buffer holding the segment
   * @param offset the segment's start in `bytes`
   * @param src IPv4 source (int32), 0 for IPv6
   * @param dst IPv4 destination (int32), 0 for IPv6
   * @param src6 IPv6 source, or null for IPv4
   * @param dst6 IPv6 destination, or null for IPv4
   * @param ipTos the datagram's TOS byte (its ECN field must stay the same over the run)
   */
  start(
    nowMs: number,
    conn: TcpConnection,
    seg: TcpRepr,
    bytes: Uint8Array,
    offset: number,
    src: number,
    dst: number,
    src6: Ipv6Address | null,
    dst6: Ipv6Address | null,
    ipTos: number,
  ): void {
    // What the run needs of the segment, before TCP input may reuse the parse scratch.
    const headerLength = seg.payloadOffset - offset;
    const nextSeq = seqAdd(seg.seq, seg.payloadLength);
    const mss = seg.payloadLength;
    if (!conn.onSegmentStartingRun(nowMs, seg)) return;
    const h = this.#runHeader;
    for (let i = 0; i < headerLength; i++) h[i] = bytes[offset + i];
    this.#runHeaderLength = headerLength;
    this.#run = conn;
    this.#runSrc = src;
    this.#runDst = dst;
    this.#runSrc6 = src6;
    this.#runDst6 = dst6;
    this.#runNextSeq = nextSeq;
    this.#runMss = mss;
    this.#runEcn = ipTos & ECN_MASK;
    this.#runAppended = 0;
  }

  /**
   * Appends an IPv4 segment to the open run when it continues it (see beginBatch); its header
   * is compared with the run's first byte by byte, as Linux's `tcp_gro_receive` does, so it is
   * not parsed again. Call only while {@link open}.
   *
   * @param nowMs current time
   * @param src IPv4 source (int32)
   * @param dst IPv4 destination (int32)
   * @param bytes the buffer holding the segment
   * @param offset segment start
   * @param length segment length
   * @param checksumVerified the device validated the TCP checksum
   * @param ipTos the datagram's TOS byte
   * @returns true when the segment was taken
   */
  append(
    nowMs: number,
    src: number,
    dst: number,
    bytes: Uint8Array,
    offset: number,
    length: number,
    checksumVerified: boolean,
    ipTos: number,
  ): boolean {
    if (
      this.#runSrc6 !== null || src !== this.#runSrc || dst !== this.#runDst ||
      (ipTos & ECN_MASK) !== this.#runEcn
    ) return false;
    return this.#appendSegment(nowMs, src, dst, bytes, offset, length, checksumVerified);
  }

  /**
   * {@link append} for a segment over IPv6: only when the device vouched for its checksum
   * (the kernel's GRO super-frames, a local peer's CHECKSUM_PARTIAL); any other segment ends
   * the run and takes the full path, which checks the RFC 8200 §8.1 sum.
   *
   * @param nowMs current time
   * @param src IPv6 source
   * @param dst IPv6 destination
   * @param bytes the buffer holding the segment
   * @param offset segment start
   * @param length segment length
   * @param checksumVerified the device validated the TCP checksum
   * @returns true when the segment was taken
   */
  append6(
    nowMs: number,
    src: Ipv6Address,
    dst: Ipv6Address,
    bytes: Uint8Array,
    offset: number,
    length: number,
    checksumVerified: boolean,
  ): boolean {
    const runSrc = this.#runSrc6;
    if (
      runSrc === null || !checksumVerified || !runSrc.equals(src) || !this.#runDst6!.equals(dst)
    ) {
      return false;
    }
    return this.#appendSegment(nowMs, 0, 0, bytes, offset, length, true);
  }

  /** The family-independent part of {@link append}: header, sequence, checksum, data. */
  #appendSegment(
    nowMs: number,
    src: number,
    dst: number,
    bytes: Uint8Array,
    offset: number,
    length: number,
    checksumVerified: boolean,
  ): boolean {
    const headerLength = this.#runHeaderLength;
    const payload = length - headerLength;
    if (payload <= 0 || payload > this.#runMss) return false;
    const h = this.#runHeader;
    // Ports; then everything after the sequence number up to the checksum (ACK, data offset,
    // flags but PSH, window); then the urgent pointer and the options.
    for (let i = 0; i < TCP_SEQ_OFFSET; i++) if (bytes[offset + i] !== h[i]) return false;
    for (let i = TCP_ACK_OFFSET; i < TCP_CHECKSUM_OFFSET; i++) {
      const d = bytes[offset + i] ^ h[i];
      if (d !== 0 && (i !== TCP_FLAGS_OFFSET || d !== TCP_PSH)) return false;
    }
    for (let i = TCP_CHECKSUM_OFFSET + 2; i < headerLength; i++) {
      if (bytes[offset + i] !== h[i]) return false;
    }
    const seq = readI32(bytes, offset + TCP_SEQ_OFFSET);
    if (seq !== this.#runNextSeq) return false;
    if (!checksumVerified && !this.#packet.reset(bytes, offset, length).verifyChecksum(src, dst)) {
      return false; // the full path counts it as malformed
    }
    const conn = this.#run!;
    if (
      !conn.appendToRun(
        nowMs,
        seq,
        readI32(bytes, offset + TCP_ACK_OFFSET),
        bytes,
        offset + headerLength,
        payload,
      )
    ) return false;
    this.#runNextSeq = seqAdd(seq, payload);
    this.#runAppended++;
    this.#stats.rxCoalescedSegments++;
    // Linux's flush rules: a PSH or a segment shorter than the first ends the run after it.
    if ((bytes[offset + TCP_FLAGS_OFFSET] & TCP_PSH) !== 0 || payload < this.#runMss) {
      this.endRun(nowMs);
    }
    return true;
  }

  /**
   * Ends the open run: one ACK decision, output and wake-up for all its segments. Call only
   * while {@link open}.
   *
   * @param nowMs current time
   */
  endRun(nowMs: number): void {
    const conn = this.#run!;
    const appended = this.#runAppended > 0;
    this.#run = null;
    this.#runAppended = 0;
    if (appended) this.#stats.rxCoalescedRuns++;
    conn.endRun(nowMs, appended);
  }
}
