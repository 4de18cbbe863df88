/**
 * Receive-buffer autotuning, "Dynamic Right-Sizing" as Linux does it (tcp_input.c:
 * tcp_rcv_space_adjust, with the receiver's own RTT estimate of tcp_rcv_rtt_measure and
 * tcp_rcv_rtt_measure_ts): once per receiver RTT, the bytes the application read in that
 * RTT tell how large a window the sender needs; the receive buffer (and with it the window
 * we advertise) grows to cover twice that plus the sender's growth, up to
 * `TcpConfig.receiveBufferMaxBytes`. It never shrinks, so the right edge of the window
 * never moves left (RFC 9293 §3.8.6). RFC 7323 §2.3: the window scale of the SYN is chosen
 * for the largest buffer (tcb.ts announcedWindowShift), as Linux's tcp_select_initial_window
 * chooses it for tcp_rmem[2].
 *
 * Synchronous; time comes in as an argument. One {@link ReceiveSpace} per connection, made
 * when its first in-order data arrives, so an idle connection carries none.
 *
 * @module
 */

import { seqLe } from "./seq.ts";

/** Linux TCP_INIT_CWND: the first measure assumes the application reads ten segments per RTT. */
export const INITIAL_SPACE_SEGMENTS = 10;
/** Linux tcp_rcv_space_adjust: segments of cushion added to twice the bytes read per RTT. */
export const SPACE_CUSHION_SEGMENTS = 16;
/** Linux tcp_rcv_rtt_measure_ts: a timestamp RTT of 0 ticks counts as this much, ms. */
export const MIN_TS_RTT_MS = 1;
/** Linux tcp_rcv_rtt_update: the smoothed estimate moves by 1/8 of the difference. */
const RTT_GAIN_SHIFT = 3;

/**
 * The next buffer size for a wanted window: the initial size doubled until it covers
 * `wantBytes`, capped at `maxBytes`. Whole doublings keep the sizes few, so ring storage is
 * reused between connections (ByteRingStoragePool keeps storage by exact size) and a busy
 * connection moves its bytes at most log2(max / initial) times.
 *
 * @param initialBytes the configured initial buffer
 * @param wantBytes the buffer the measurement asks for
 * @param maxBytes the limit
 * @returns bytes, at most `maxBytes`
 *
 * @example
 * ```ts
 * import { bufferSizeFor } from "./rcv_space.ts";
 * console.assert(bufferSizeFor(1000, 2500, 10_000) === 4000);
 * console.assert(bufferSizeFor(1000, 9000, 6000) === 6000);
 * ```
 */
export function bufferSizeFor(initialBytes: number, wantBytes: number, maxBytes: number): number {
  let size = initialBytes;
  while (size < wantBytes && size < maxBytes) size *= 2;
  return Math.min(size, maxBytes);
}

/**
 * One connection's receiver RTT estimate and bytes-read-per-RTT measure (Linux
 * `rcv_rtt_est` and `rcvq_space`).
 *
 * @example
 * ```ts
 * import { ReceiveSpace } from "./rcv_space.ts";
 * const s = new ReceiveSpace(14480, 0);
 * s.sampleTimestampRtt(1000, 2, true);
 * // 100 kB read within one RTT: a buffer of 2 × 100 kB + cushion + growth is wanted.
 * console.assert(s.onRead(2, 100_000, 1448) > 200_000);
 * console.assert(s.onRead(3, 100_000, 1448) === 0); // not a whole RTT later
 * ```
 */
export class ReceiveSpace {
  /** Smoothed receiver RTT, ms (Linux rcv_rtt_est.rtt_us); 0 until the first sample. */
  rttMs = 0;
  /** Bytes the application read in the last measured RTT (Linux rcvq_space.space). */
  spaceBytes: number;
  /** Without timestamps: data beyond this sequence number ends the sample (rcv_rtt_est.seq). */
  #rttSeq = 0;
  /** When that sample started, ms; -1: none running (rcv_rtt_est.time). */
  #rttStartMs = -1;
  /** The TSecr of the last timestamp sample (rcv_rtt_last_tsecr). */
  #lastTsEcr = 0;
  /** Bytes the application has read (Linux copied_seq, counted from the first data). */
  #bytesRead = 0;
  /** {@link #bytesRead} when the current measure began (rcvq_space.seq). */
  #readMark = 0;
  /** When the current measure began, ms (rcvq_space.time). */
  #markMs: number;

  /**
   * Starts measuring (Linux tcp_init_buffer_space).
   *
   * @param initialSpaceBytes min(window, {@link INITIAL_SPACE_SEGMENTS} × MSS)
   * @param nowMs current time
   */
  constructor(initialSpaceBytes: number, nowMs: number) {
    this.spaceBytes = initialSpaceBytes;
    this.#markMs = nowMs;
  }

  /**
   * Linux tcp_rcv_rtt_update: a new sample. The smaller of sample and estimate is taken at
   * once; a larger one is smoothed in only when it is not window-dependent and the receive
   * queue is empty (else it measures the application, not the path).
   */
  #update(sampleMs: number, windowDependent: boolean, queueEmpty: boolean): void {
    const old = this.rttMs;
    if (old === 0 || sampleMs < old) this.rttMs = sampleMs;
    else if (!windowDependent && queueEmpty) {
      this.rttMs = old + (sampleMs - old) / (1 << RTT_GAIN_SHIFT);
    }
  }

  /**
   * Linux tcp_rcv_rtt_measure_ts: a full-sized in-order segment echoes our TSval (RFC 7323
   * §4.1); the time since we sent it is one RTT as the receiver sees it. One sample per
   * echoed TSval (rcv_rtt_last_tsecr): later segments echoing it measure the sender's pace.
   *
   * @param tsEcr the segment's TSecr
   * @param rttMs now minus `tsEcr` in our timestamp ticks (ms); 0 counts as
   *   {@link MIN_TS_RTT_MS}
   * @param queueEmpty whether the application had read everything before this segment
   */
  sampleTimestampRtt(tsEcr: number, rttMs: number, queueEmpty: boolean): void {
    if (tsEcr === this.#lastTsEcr || rttMs < 0) return;
    this.#lastTsEcr = tsEcr;
    this.#update(rttMs === 0 ? MIN_TS_RTT_MS : rttMs, false, queueEmpty);
  }

  /**
   * Linux tcp_rcv_rtt_measure, for connections without timestamps: data beyond the right
   * edge advertised when a sample starts can only come after a later ACK, so its arrival
   * is at least one RTT after the start; the estimate only ever falls to such a sample.
   *
   * @param nowMs current time
   * @param rcvNxt RCV.NXT after the data
   * @param rightEdge the right edge advertised so far (RCV.NXT + RCV.WND)
   */
  sampleWindowRtt(nowMs: number, rcvNxt: number, rightEdge: number): void {
    if (this.#rttStartMs >= 0) {
      if (seqLe(rcvNxt, this.#rttSeq)) return;
      const sample = nowMs - this.#rttStartMs;
      if (sample > 0) this.#update(sample, true, false);
    }
    this.#rttSeq = rightEdge;
    this.#rttStartMs = nowMs;
  }

  /**
   * Linux tcp_rcv_space_adjust, after the application read `n` bytes: once an RTT has passed since
   * the measure began, the bytes read in it (`copied`) ask for a window of
   * `2 × copied + 16 × MSS` (room for a lost segment's round and small variations), plus
   * twice the growth over the previous RTT's figure scaled by the window (a sender in
   * slow start doubles each RTT, and the window we advertise now is for the next one).
   *
   * @param nowMs current time
   * @param n bytes just read
   * @param advMss our MSS, bytes
   * @returns the buffer wanted in bytes when reading grew, else 0
   */
  onRead(nowMs: number, n: number, advMss: number): number {
    const bytesRead = this.#bytesRead += n;
    if (this.rttMs === 0 || nowMs - this.#markMs < this.rttMs) return 0;
    const copied = bytesRead - this.#readMark;
    const space = this.spaceBytes;
    let want = 0;
    if (copied > space) {
      const window = 2 * copied + SPACE_CUSHION_SEGMENTS * advMss;
      const growth = Math.floor(window * (copied - space) / space);
      want = window + 2 * growth;
      this.spaceBytes = copied;
    }
    this.#readMark = bytesRead;
    this.#markMs = nowMs;
    return want;
  }
}
