/**
 * TCP segments (RFC 9293 §3.1): a zero-copy view ({@link TcpPacket}) and a
 * reusable plain representation ({@link TcpRepr}) with the options rawstack
 * speaks: MSS (RFC 9293 §3.2), window scale and timestamps (RFC 7323),
 * SACK-permitted and SACK blocks (RFC 2018), NOP and EOL.
 *
 * Sequence and acknowledgment numbers, SACK edges and timestamps are read as
 * signed 32-bit integers (`x | 0`) so that V8 keeps them as small integers;
 * `x >>> 0` gives the unsigned value people expect to see.
 *
 * Parsing fills a caller-owned repr in place (no allocation on the hot path);
 * emitting writes into a caller-owned buffer, laying options out the way
 * Linux does so that captured kernel segments round-trip byte for byte.
 *
 * @module
 */

import { onesComplementSum, transportPseudoHeaderSum } from "./checksum.ts";
import { WireError } from "./error.ts";
import { IP_PROTO_TCP } from "./ipv4.ts";
import {
  type ChecksumParseOptions,
  copyPayload,
  read16,
  readI32,
  storeChecksum,
  WireView,
  write16,
  write32,
} from "./view.ts";

/** FIN: no more data from sender (RFC 9293 §3.1). */
export const TCP_FIN = 0x01;
/** SYN: synchronize sequence numbers. */
export const TCP_SYN = 0x02;
/** RST: reset the connection. */
export const TCP_RST = 0x04;
/** PSH: push function. */
export const TCP_PSH = 0x08;
/** ACK: acknowledgment field is significant. */
export const TCP_ACK = 0x10;
/** URG: urgent pointer field is significant. */
export const TCP_URG = 0x20;
/** ECE: ECN-Echo (RFC 3168 §6.1). */
export const TCP_ECE = 0x40;
/** CWR: congestion window reduced (RFC 3168 §6.1). */
export const TCP_CWR = 0x80;
/** NS: ECN nonce sum (RFC 3540, historic), bit 8 of the flags. */
export const TCP_NS = 0x100;
/** All nine flag bits. */
export const TCP_FLAGS_MASK = 0x1ff;

/** Length of the fixed TCP header without options, in bytes. */
export const TCP_HEADER_LEN = 20;
/** Largest TCP header: data offset 15 words. */
export const TCP_MAX_HEADER_LEN = 60;
/** Most option bytes a header can carry. */
export const TCP_MAX_OPTIONS_LEN = TCP_MAX_HEADER_LEN - TCP_HEADER_LEN;

/** Option kind: end of option list (RFC 9293 §3.2). */
export const TCP_OPT_EOL = 0;
/** Option kind: no-operation (RFC 9293 §3.2). */
export const TCP_OPT_NOP = 1;
/** Option kind: maximum segment size (RFC 9293 §3.2). */
export const TCP_OPT_MSS = 2;
/** Option kind: window scale (RFC 7323 §2.2). */
export const TCP_OPT_WINDOW_SCALE = 3;
/** Option kind: SACK permitted (RFC 2018 §2). */
export const TCP_OPT_SACK_PERMITTED = 4;
/** Option kind: SACK blocks (RFC 2018 §3). */
export const TCP_OPT_SACK = 5;
/** Option kind: timestamps (RFC 7323 §3.2). */
export const TCP_OPT_TIMESTAMP = 8;

/** Bytes of one SACK block: left and right edge, 32 bits each (RFC 2018 §3). */
export const TCP_SACK_BLOCK_LEN = 8;

const OPT_MSS_LEN = 4;
const OPT_WINDOW_SCALE_LEN = 3;
const OPT_SACK_PERMITTED_LEN = 2;
const OPT_TIMESTAMP_LEN = 10;
const OPT_SACK_BLOCK_LEN = TCP_SACK_BLOCK_LEN;
const OPT_SACK_HEADER_LEN = 2;
/** Largest shift count a window scale option may take (RFC 7323 §2.3). */
export const TCP_MAX_WINDOW_SCALE = 14;
/** Most SACK blocks an option can carry (RFC 2018 §3: 40 option bytes). */
export const TCP_MAX_SACK_BLOCKS = 4;
/** Offset of the acknowledgment number in a TCP header (RFC 9293 §3.1). */
export const TCP_ACK_OFFSET = 8;
/** Offset of the window field in a TCP header (RFC 9293 §3.1). */
export const TCP_WINDOW_OFFSET = 14;
/** Offset of the data-offset byte (header length in 32-bit words, high nibble) in a TCP header (RFC 9293 §3.1). */
export const TCP_DATA_OFFSET_BYTE = 12;
/** Offset of the checksum field in a TCP header (RFC 9293 §3.1). */
export const TCP_CHECKSUM_OFFSET = 16;
/** Offset of the source port in a TCP header (RFC 9293 §3.1). */
export const TCP_SRC_PORT_OFFSET = 0;
/** Offset of the destination port in a TCP header (RFC 9293 §3.1). */
export const TCP_DST_PORT_OFFSET = 2;
/** Offset of the sequence number in a TCP header (RFC 9293 §3.1). */
export const TCP_SEQ_OFFSET = 4;
/** Offset of the byte holding the eight low flag bits (CWR..FIN) in a TCP header (RFC 9293 §3.1). */
export const TCP_FLAGS_OFFSET = 13;

/** Aligned sizes of the option groups in Linux's layout (tcp_options_write). */
const ALIGNED_MSS = 4; // MSS
const ALIGNED_TIMESTAMP = 12; // NOP NOP TS, or SACK-permitted + TS
const ALIGNED_SACK_PERMITTED = 4; // NOP NOP SACK-permitted
const ALIGNED_WINDOW_SCALE = 4; // NOP WS
const ALIGNED_SACK_HEADER = 4; // NOP NOP SACK kind len

const OFF_SRC_PORT = TCP_SRC_PORT_OFFSET;
const OFF_DST_PORT = TCP_DST_PORT_OFFSET;
const OFF_SEQ = TCP_SEQ_OFFSET;
const OFF_ACK = TCP_ACK_OFFSET;
const OFF_DATA_OFFSET = TCP_DATA_OFFSET_BYTE;
const OFF_FLAGS = TCP_FLAGS_OFFSET;
const OFF_WINDOW = TCP_WINDOW_OFFSET;
const OFF_CHECKSUM = TCP_CHECKSUM_OFFSET;
const OFF_URGENT = 18;

const PROTOCOL = "tcp";
const EMPTY = new Uint8Array(0);

/**
 * A zero-copy view of a TCP segment at `offset` in `bytes`. Make one and
 * re-point it with {@link TcpPacket.reset} for every segment; call
 * {@link TcpPacket.check} before trusting any accessor.
 *
 * @example
 * ```ts
 * import { TCP_SYN, TcpPacket } from "./tcp.ts";
 * const bytes = new Uint8Array(20);
 * const view = new TcpPacket(bytes);
 * view.srcPort = 40000;
 * view.dstPort = 80;
 * view.headerLength = 20;
 * view.flags = TCP_SYN;
 * console.assert(view.check() === null);
 * console.assert(view.dstPort === 80 && view.flags === TCP_SYN && view.payloadLength === 0);
 * ```
 */
export class TcpPacket extends WireView {
  /**
   * Checks that the fixed header and the header length it claims fit in the
   * segment (RFC 9293 §3.1: data offset is at least 5 words). After `null`,
   * every accessor reads inside the segment. Options are checked by
   * {@link TcpRepr.parse}.
   *
   * @returns null when the header is well-formed, else the defect
   */
  check(): WireError | null {
    if (this.outsideBuffer()) {
      return new WireError(PROTOCOL, "truncated", "segment extends past the buffer");
    }
    if (this.length < TCP_HEADER_LEN) {
      return new WireError(PROTOCOL, "truncated", `${this.length} bytes < ${TCP_HEADER_LEN}`);
    }
    const headerLength = this.headerLength;
    if (headerLength < TCP_HEADER_LEN) {
      return new WireError(PROTOCOL, "bad-data-offset", `data offset ${headerLength >> 2} < 5`);
    }
    if (headerLength > this.length) {
      return new WireError(
        PROTOCOL,
        "bad-data-offset",
        `header length ${headerLength} > segment length ${this.length}`,
      );
    }
    return null;
  }

  /** Source port. */
  get srcPort(): number {
    return read16(this.bytes, this.offset + OFF_SRC_PORT);
  }
  set srcPort(v: number) {
    write16(this.bytes, this.offset + OFF_SRC_PORT, v);
  }

  /** Destination port. */
  get dstPort(): number {
    return read16(this.bytes, this.offset + OFF_DST_PORT);
  }
  set dstPort(v: number) {
    write16(this.bytes, this.offset + OFF_DST_PORT, v);
  }

  /** Sequence number as a signed 32-bit integer (`>>> 0` for the unsigned value); the setter takes either form. */
  get seq(): number {
    return readI32(this.bytes, this.offset + OFF_SEQ);
  }
  set seq(v: number) {
    write32(this.bytes, this.offset + OFF_SEQ, v);
  }

  /** Acknowledgment number as a signed 32-bit integer (`>>> 0` for the unsigned value); the setter takes either form. */
  get ack(): number {
    return readI32(this.bytes, this.offset + OFF_ACK);
  }
  set ack(v: number) {
    write32(this.bytes, this.offset + OFF_ACK, v);
  }

  /** Header length in bytes (data offset × 4); the setter rounds down to words. */
  get headerLength(): number {
    return (this.bytes[this.offset + OFF_DATA_OFFSET] >>> 4) << 2;
  }
  set headerLength(v: number) {
    const i = this.offset + OFF_DATA_OFFSET;
    this.bytes[i] = (((v >>> 2) & 0xf) << 4) | (this.bytes[i] & 0x0f);
  }

  /** The nine flag bits (TCP_FIN … TCP_NS); reserved bits read as 0 and are preserved. */
  get flags(): number {
    return ((this.bytes[this.offset + OFF_DATA_OFFSET] & 1) << 8) |
      this.bytes[this.offset + OFF_FLAGS];
  }
  set flags(v: number) {
    const i = this.offset + OFF_DATA_OFFSET;
    this.bytes[i] = (this.bytes[i] & 0xfe) | ((v >>> 8) & 1);
    this.bytes[i + 1] = v & 0xff;
  }

  /** Raw (unscaled) window field. */
  get window(): number {
    return read16(this.bytes, this.offset + OFF_WINDOW);
  }
  set window(v: number) {
    write16(this.bytes, this.offset + OFF_WINDOW, v);
  }

  /** Checksum field as stored. */
  get checksum(): number {
    return read16(this.bytes, this.offset + OFF_CHECKSUM);
  }
  set checksum(v: number) {
    write16(this.bytes, this.offset + OFF_CHECKSUM, v);
  }

  /** Urgent pointer. */
  get urgent(): number {
    return read16(this.bytes, this.offset + OFF_URGENT);
  }
  set urgent(v: number) {
    write16(this.bytes, this.offset + OFF_URGENT, v);
  }

  /** Where the data starts in {@link TcpPacket.bytes}. */
  get payloadOffset(): number {
    return this.offset + this.headerLength;
  }

  /** Number of data bytes after the header. */
  get payloadLength(): number {
    return this.length - this.headerLength;
  }

  /**
   * Verifies the checksum over the pseudo-header and the whole segment
   * (RFC 9293 §3.1; over IPv6, RFC 8200 §8.1).
   *
   * @param src IPv4 source address (int32 as the stack holds it, or the unsigned form)
   * @param dst IPv4 destination address
   * @param ipv6AddressSum over IPv6: `ipv6AddressSum(src, dst)` of the IPv6
   *   addresses (src and dst are then ignored); omit for IPv4
   * @returns true when the checksum is correct
   */
  verifyChecksum(src: number, dst: number, ipv6AddressSum?: number): boolean {
    const initial = transportPseudoHeaderSum(src, dst, IP_PROTO_TCP, this.length, ipv6AddressSum);
    return onesComplementSum(this.bytes, this.offset, this.length, initial) === 0xffff;
  }
}

/**
 * The plain, reusable representation of a TCP segment. The shape is fixed
 * (all fields always present) so one object per connection can be refilled
 * by {@link TcpRepr.parse} without allocation.
 */
export interface TcpRepr {
  /** Source port. */
  srcPort: number;
  /** Destination port. */
  dstPort: number;
  /**
   * Sequence number. {@link TcpRepr.parse} yields a signed 32-bit integer (`x | 0`, so V8
   * keeps it a small integer; `x >>> 0` is the unsigned value); emit takes either form.
   */
  seq: number;
  /** Acknowledgment number; signed 32-bit like {@link TcpRepr.seq}. */
  ack: number;
  /** Bit set of TCP_FIN … TCP_NS. */
  flags: number;
  /** Raw 16-bit window field (unscaled). */
  window: number;
  /** Urgent pointer. */
  urgent: number;
  /** MSS option value; 0 = option absent. */
  mss: number;
  /** Window scale shift; -1 = absent, else 0..14 (clamped per RFC 7323 §2.3). */
  windowScale: number;
  /** SACK-permitted option present. */
  sackPermitted: boolean;
  /** Number of SACK blocks (0..4) used in {@link TcpRepr.sackBlocks}. */
  sackCount: number;
  /** Flat `[left0, right0, left1, right1, …]`, preallocated length 8; parsed as signed 32-bit. */
  sackBlocks: number[];
  /** Timestamps option present. */
  hasTimestamp: boolean;
  /** TSval (RFC 7323 §3.2); parsed as signed 32-bit. */
  tsVal: number;
  /** TSecr (RFC 7323 §3.2); parsed as signed 32-bit. */
  tsEcr: number;
  /** Buffer holding the data (zero-copy: the parsed segment's buffer). */
  payload: Uint8Array;
  /** Where the data starts in {@link TcpRepr.payload}. */
  payloadOffset: number;
  /** Number of data bytes. */
  payloadLength: number;
}

/**
 * A repr with every field at its default (no options, no data), meant to be
 * allocated once and reused.
 *
 * @returns a fresh repr
 *
 * @example
 * ```ts
 * import { newTcpRepr } from "./tcp.ts";
 * const r = newTcpRepr();
 * console.assert(r.windowScale === -1 && r.mss === 0 && r.sackBlocks.length === 8);
 * ```
 */
export function newTcpRepr(): TcpRepr {
  return {
    srcPort: 0,
    dstPort: 0,
    seq: 0,
    ack: 0,
    flags: 0,
    window: 0,
    urgent: 0,
    mss: 0,
    windowScale: -1,
    sackPermitted: false,
    sackCount: 0,
    sackBlocks: [0, 0, 0, 0, 0, 0, 0, 0],
    hasTimestamp: false,
    tsVal: 0,
    tsEcr: 0,
    payload: EMPTY,
    payloadOffset: 0,
    payloadLength: 0,
  };
}

/** Option bytes before the SACK blocks, in Linux's layout. */
function fixedOptionsLength(repr: TcpRepr): number {
  let n = 0;
  if (repr.mss > 0) n += ALIGNED_MSS;
  if (repr.hasTimestamp) n += ALIGNED_TIMESTAMP;
  else if (repr.sackPermitted) n += ALIGNED_SACK_PERMITTED;
  if (repr.windowScale >= 0) n += ALIGNED_WINDOW_SCALE;
  return n;
}

/** SACK blocks that are emitted: as many of repr.sackCount as fit in 40 option bytes. */
function emittedSackBlocks(repr: TcpRepr, fixed: number): number {
  let count = repr.sackCount;
  if (count <= 0) return 0;
  if (count > TCP_MAX_SACK_BLOCKS) count = TCP_MAX_SACK_BLOCKS;
  const room = ((TCP_MAX_OPTIONS_LEN - fixed - ALIGNED_SACK_HEADER) / OPT_SACK_BLOCK_LEN) | 0;
  return count < room ? count : room < 0 ? 0 : room;
}

function fail(kind: "bad-option", message: string): WireError {
  return new WireError(PROTOCOL, kind, message);
}

/**
 * Parses the options in bytes[start, end) into `out`. Returns null or the defect.
 * RFC 9293 §3.2: options other than EOL/NOP carry a length octet covering
 * kind and length; unknown kinds are skipped by that length (§3.2 MUST).
 */
function parseOptions(b: Uint8Array, start: number, end: number, out: TcpRepr): WireError | null {
  let i = start;
  while (i < end) {
    const kind = b[i];
    if (kind === TCP_OPT_EOL) break; // RFC 9293 §3.2: end of option list
    if (kind === TCP_OPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= end) return fail("bad-option", `option ${kind} has no length octet`);
    const len = b[i + 1];
    if (len < 2) return fail("bad-option", `option ${kind} length ${len} < 2`);
    if (i + len > end) {
      return fail("bad-option", `option ${kind} length ${len} runs past the header`);
    }
    switch (kind) {
      case TCP_OPT_MSS:
        if (len !== OPT_MSS_LEN) return fail("bad-option", `MSS option length ${len} != 4`);
        out.mss = read16(b, i + 2);
        break;
      case TCP_OPT_WINDOW_SCALE: {
        if (len !== OPT_WINDOW_SCALE_LEN) {
          return fail("bad-option", `window scale option length ${len} != 3`);
        }
        // RFC 7323 §2.3: a shift above 14 MUST be treated as 14.
        const shift = b[i + 2];
        out.windowScale = shift > TCP_MAX_WINDOW_SCALE ? TCP_MAX_WINDOW_SCALE : shift;
        break;
      }
      case TCP_OPT_SACK_PERMITTED:
        if (len !== OPT_SACK_PERMITTED_LEN) {
          return fail("bad-option", `SACK-permitted option length ${len} != 2`);
        }
        out.sackPermitted = true;
        break;
      case TCP_OPT_SACK: {
        // RFC 2018 §3: length 2 + 8n, n ≥ 1 (at most 4 fit in 40 option bytes).
        const blockBytes = len - OPT_SACK_HEADER_LEN;
        if (blockBytes === 0 || blockBytes % OPT_SACK_BLOCK_LEN !== 0) {
          return fail("bad-option", `SACK option length ${len} is not 2 + 8n`);
        }
        let n = blockBytes / OPT_SACK_BLOCK_LEN;
        if (n > TCP_MAX_SACK_BLOCKS) n = TCP_MAX_SACK_BLOCKS;
        const blocks = out.sackBlocks;
        for (let k = 0; k < n; k++) {
          blocks[2 * k] = readI32(b, i + 2 + k * OPT_SACK_BLOCK_LEN);
          blocks[2 * k + 1] = readI32(b, i + 6 + k * OPT_SACK_BLOCK_LEN);
        }
        out.sackCount = n;
        break;
      }
      case TCP_OPT_TIMESTAMP:
        if (len !== OPT_TIMESTAMP_LEN) {
          return fail("bad-option", `timestamp option length ${len} != 10`);
        }
        out.hasTimestamp = true;
        out.tsVal = readI32(b, i + 2);
        out.tsEcr = readI32(b, i + 6);
        break;
      default:
        // Unknown option: skipped by its length (RFC 9293 §3.2).
        break;
    }
    i += len;
  }
  return null;
}

/**
 * Options of {@link TcpRepr.parse}: `verifyChecksum` (default true) and,
 * for a segment that came over IPv6, the `ipv6AddressSum` of its addresses
 * (RFC 8200 §8.1 pseudo-header; the IPv4 `src`/`dst` are then ignored).
 */
export interface TcpParseOptions extends ChecksumParseOptions {
  /** `ipv6AddressSum(src, dst)` (checksum.ts) of the IPv6 addresses; omit for IPv4. */
  ipv6AddressSum?: number;
}

/** The shape of {@link TcpRepr}: parse and emit TCP segments (RFC 9293). */
export interface TcpCodec {
  /**
   * Fills `out` (or a new repr) from a segment view: header fields, options
   * and a zero-copy payload reference. Verifies the checksum over the IPv4
   * pseudo-header unless `opts.verifyChecksum === false`. Allocates nothing
   * when `out` is given and the segment is valid.
   *
   * @param packet the segment view
   * @param src IPv4 source address (int32, or the unsigned form) for the pseudo-header
   * @param dst IPv4 destination address
   * @param out a repr to refill (its sackBlocks array is reused)
   * @param opts `verifyChecksum: false` skips the checksum (e.g. RX offload); `ipv6AddressSum` over IPv6
   * @returns `out` (or a new repr), or the defect
   *
   * @example
   * ```ts
   * import { isWireError } from "./error.ts";
   * import { newTcpRepr, TCP_SYN, TcpPacket, TcpRepr } from "./tcp.ts";
   * const r = newTcpRepr();
   * r.srcPort = 40000; r.dstPort = 80; r.seq = 0xfffffff0; r.flags = TCP_SYN; r.window = 64240;
   * r.mss = 1460; r.windowScale = 7; r.sackPermitted = true;
   * const bytes = new Uint8Array(64);
   * const n = TcpRepr.emit(r, bytes, 0, 0xc0000201, 0xc0000202);
   * const back = TcpRepr.parse(new TcpPacket(bytes, 0, n), 0xc0000201, 0xc0000202);
   * console.assert(!isWireError(back) && back.mss === 1460 && back.windowScale === 7);
   * // Sequence numbers come back as signed 32-bit integers: 0xfffffff0 | 0.
   * console.assert(!isWireError(back) && back.seq === -16 && back.seq >>> 0 === 0xfffffff0);
   * ```
   */
  parse(
    packet: TcpPacket,
    src: number,
    dst: number,
    out?: TcpRepr,
    opts?: TcpParseOptions,
  ): TcpRepr | WireError;

  /**
   * Header length the repr emits: 20 plus its options, a multiple of 4.
   * SACK blocks beyond what fits in 40 option bytes are left out.
   *
   * @param repr the segment
   * @returns header length in bytes, 20..60
   *
   * @example
   * ```ts
   * import { newTcpRepr, TcpRepr } from "./tcp.ts";
   * const r = newTcpRepr();
   * r.hasTimestamp = true;
   * console.assert(TcpRepr.headerLength(r) === 32);
   * ```
   */
  headerLength(repr: TcpRepr): number;

  /**
   * Writes the header and options at `offset`, laid out like Linux's
   * tcp_options_write: MSS; SACK-permitted+TS or NOP NOP TS (or NOP NOP
   * SACK-permitted); NOP WS; NOP NOP SACK blocks. The checksum field is
   * left 0. Reserved bits are written as 0.
   *
   * @param repr the segment
   * @param bytes the buffer (must have room for {@link TcpRepr.headerLength})
   * @param offset where the header starts
   * @returns the header length written
   *
   * @example
   * ```ts
   * import { newTcpRepr, TcpRepr } from "./tcp.ts";
   * const r = newTcpRepr();
   * r.hasTimestamp = true; r.tsVal = 5;
   * const b = new Uint8Array(40);
   * console.assert(TcpRepr.emitHeader(r, b, 0) === 32);
   * console.assert(b[20] === 1 && b[21] === 1 && b[22] === 8 && b[23] === 10);
   * ```
   */
  emitHeader(repr: TcpRepr, bytes: Uint8Array, offset: number): number;

  /**
   * Writes the header, copies `repr.payload[payloadOffset, +payloadLength)`
   * behind it (skipped when the data is already in place) and stores the
   * checksum over the pseudo-header (IPv4, or IPv6 with `ipv6AddressSum`).
   *
   * @param repr the segment
   * @param bytes the buffer (room for header plus data)
   * @param offset where the segment starts
   * @param src IPv4 source address (int32, or the unsigned form)
   * @param dst IPv4 destination address
   * @param ipv6AddressSum over IPv6: `ipv6AddressSum` of the IPv6 addresses
   *   (RFC 8200 §8.1; src and dst are then ignored); omit for IPv4
   * @returns the segment length written
   *
   * @example
   * ```ts
   * import { newTcpRepr, TCP_ACK, TcpPacket, TcpRepr } from "./tcp.ts";
   * const r = newTcpRepr();
   * r.flags = TCP_ACK;
   * r.payload = new TextEncoder().encode("hi");
   * r.payloadLength = 2;
   * const b = new Uint8Array(32);
   * const n = TcpRepr.emit(r, b, 0, 1, 2);
   * console.assert(n === 22 && new TcpPacket(b, 0, n).verifyChecksum(1, 2));
   * ```
   */
  emit(
    repr: TcpRepr,
    bytes: Uint8Array,
    offset: number,
    src: number,
    dst: number,
    ipv6AddressSum?: number,
  ): number;
}

/** Parse, emit and size TCP segments. */
export const TcpRepr: TcpCodec = {
  parse(
    packet: TcpPacket,
    src: number,
    dst: number,
    out?: TcpRepr,
    opts?: TcpParseOptions,
  ): TcpRepr | WireError {
    const problem = packet.check();
    if (problem !== null) return problem;
    if (
      opts?.verifyChecksum !== false && !packet.verifyChecksum(src, dst, opts?.ipv6AddressSum)
    ) {
      return new WireError(PROTOCOL, "bad-checksum", `checksum 0x${packet.checksum.toString(16)}`);
    }
    const r = out ?? newTcpRepr();
    const b = packet.bytes;
    const o = packet.offset;
    const headerLength = packet.headerLength;
    r.srcPort = read16(b, o + OFF_SRC_PORT);
    r.dstPort = read16(b, o + OFF_DST_PORT);
    r.seq = readI32(b, o + OFF_SEQ);
    r.ack = readI32(b, o + OFF_ACK);
    r.flags = ((b[o + OFF_DATA_OFFSET] & 1) << 8) | b[o + OFF_FLAGS];
    r.window = read16(b, o + OFF_WINDOW);
    r.urgent = read16(b, o + OFF_URGENT);
    r.mss = 0;
    r.windowScale = -1;
    r.sackPermitted = false;
    r.sackCount = 0;
    r.hasTimestamp = false;
    r.tsVal = 0;
    r.tsEcr = 0;
    const optionError = parseOptions(b, o + TCP_HEADER_LEN, o + headerLength, r);
    if (optionError !== null) return optionError;
    r.payload = b;
    r.payloadOffset = o + headerLength;
    r.payloadLength = packet.length - headerLength;
    return r;
  },

  headerLength(repr: TcpRepr): number {
    const fixed = fixedOptionsLength(repr);
    const sack = emittedSackBlocks(repr, fixed);
    return TCP_HEADER_LEN + fixed +
      (sack > 0 ? ALIGNED_SACK_HEADER + sack * OPT_SACK_BLOCK_LEN : 0);
  },

  emitHeader(repr: TcpRepr, bytes: Uint8Array, offset: number): number {
    const fixed = fixedOptionsLength(repr);
    const sack = emittedSackBlocks(repr, fixed);
    const headerLength = TCP_HEADER_LEN + fixed +
      (sack > 0 ? ALIGNED_SACK_HEADER + sack * OPT_SACK_BLOCK_LEN : 0);
    const b = bytes;
    const o = offset;
    write16(b, o + OFF_SRC_PORT, repr.srcPort);
    write16(b, o + OFF_DST_PORT, repr.dstPort);
    write32(b, o + OFF_SEQ, repr.seq);
    write32(b, o + OFF_ACK, repr.ack);
    b[o + OFF_DATA_OFFSET] = ((headerLength >>> 2) << 4) | ((repr.flags >>> 8) & 1);
    b[o + OFF_FLAGS] = repr.flags & 0xff;
    write16(b, o + OFF_WINDOW, repr.window);
    write16(b, o + OFF_CHECKSUM, 0);
    write16(b, o + OFF_URGENT, repr.urgent);
    let i = o + TCP_HEADER_LEN;
    if (repr.mss > 0) {
      b[i] = TCP_OPT_MSS;
      b[i + 1] = OPT_MSS_LEN;
      write16(b, i + 2, repr.mss);
      i += ALIGNED_MSS;
    }
    if (repr.hasTimestamp) {
      if (repr.sackPermitted) {
        b[i] = TCP_OPT_SACK_PERMITTED;
        b[i + 1] = OPT_SACK_PERMITTED_LEN;
      } else {
        b[i] = TCP_OPT_NOP;
        b[i + 1] = TCP_OPT_NOP;
      }
      b[i + 2] = TCP_OPT_TIMESTAMP;
      b[i + 3] = OPT_TIMESTAMP_LEN;
      write32(b, i + 4, repr.tsVal);
      write32(b, i + 8, repr.tsEcr);
      i += ALIGNED_TIMESTAMP;
    } else if (repr.sackPermitted) {
      b[i] = TCP_OPT_NOP;
      b[i + 1] = TCP_OPT_NOP;
      b[i + 2] = TCP_OPT_SACK_PERMITTED;
      b[i + 3] = OPT_SACK_PERMITTED_LEN;
      i += ALIGNED_SACK_PERMITTED;
    }
    if (repr.windowScale >= 0) {
      b[i] = TCP_OPT_NOP;
      b[i + 1] = TCP_OPT_WINDOW_SCALE;
      b[i + 2] = OPT_WINDOW_SCALE_LEN;
      b[i + 3] = repr.windowScale > TCP_MAX_WINDOW_SCALE ? TCP_MAX_WINDOW_SCALE : repr.windowScale;
      i += ALIGNED_WINDOW_SCALE;
    }
    if (sack > 0) {
      b[i] = TCP_OPT_NOP;
      b[i + 1] = TCP_OPT_NOP;
      b[i + 2] = TCP_OPT_SACK;
      b[i + 3] = OPT_SACK_HEADER_LEN + sack * OPT_SACK_BLOCK_LEN;
      i += ALIGNED_SACK_HEADER;
      const blocks = repr.sackBlocks;
      for (let k = 0; k < sack; k++) {
        write32(b, i, blocks[2 * k]);
        write32(b, i + 4, blocks[2 * k + 1]);
        i += OPT_SACK_BLOCK_LEN;
      }
    }
    return headerLength;
  },

  emit(
    repr: TcpRepr,
    bytes: Uint8Array,
    offset: number,
    src: number,
    dst: number,
    ipv6AddressSum?: number,
  ): number {
    const headerLength = TcpRepr.emitHeader(repr, bytes, offset);
    const dataAt = offset + headerLength;
    const n = repr.payloadLength;
    copyPayload(repr.payload, repr.payloadOffset, bytes, dataAt, n);
    const total = headerLength + n;
    fillTcpChecksum(bytes, offset, total, src, dst, ipv6AddressSum);
    return total;
  },
};

/**
 * Computes and stores the checksum of a segment already laid out at
 * `[offset, offset + length)` (RFC 9293 §3.1: pseudo-header, header, data).
 *
 * @param bytes the buffer
 * @param offset where the segment starts
 * @param length header plus data, in bytes
 * @param src IPv4 source address (int32, or the unsigned form)
 * @param dst IPv4 destination address
 * @param ipv6AddressSum over IPv6: `ipv6AddressSum` of the IPv6 addresses
 *   (RFC 8200 §8.1; src and dst are then ignored); omit for IPv4
 *
 * @example
 * ```ts
 * import { fillTcpChecksum, TcpPacket } from "./tcp.ts";
 * const b = new Uint8Array(20);
 * b[12] = 5 << 4;
 * fillTcpChecksum(b, 0, 20, 0xc0000201, 0xc0000202);
 * console.assert(new TcpPacket(b).verifyChecksum(0xc0000201, 0xc0000202));
 * ```
 */
export function fillTcpChecksum(
  bytes: Uint8Array,
  offset: number,
  length: number,
  src: number,
  dst: number,
  ipv6AddressSum?: number,
): void {
  const initial = transportPseudoHeaderSum(src, dst, IP_PROTO_TCP, length, ipv6AddressSum);
  storeChecksum(bytes, offset, length, offset + OFF_CHECKSUM, initial);
}
